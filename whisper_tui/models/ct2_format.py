"""Reader for CTranslate2's `model.bin`, so the bundled faster-whisper model can be used by transformers.

We parse the file ourselves instead of loading it with `ctranslate2`: the runtime only executes
models and gives no access to the weights. Layout (little-endian, as written by
`ctranslate2.specs.model_spec.ModelSpec._serialize`):

    u32 binary version, string spec name, u32 revision, u32 variable count,
    per variable: string name, u8 rank, rank x u32 dims, u8 dtype id, u32 byte count, bytes
    u32 alias count, then (alias, target) string pairs

A string is a u16 length (counting a trailing NUL) followed by the bytes. Equal tensors are stored
once and the other names are aliases, so every lookup goes through the alias table.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whisper_tui.errors import ModelError

# Order of CTranslate2's DataType enum (include/ctranslate2/types.h); bfloat16 has no numpy dtype.
_DTYPES: dict[int, str] = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
# Whisper support arrived with binary version 6; 5 has the same layout (aliases already existed).
_SUPPORTED_BINARY_VERSIONS = (5, 6)


@dataclass
class CT2Model:
    """The variables of one CTranslate2 model, looked up by name through the alias table."""

    path: Path
    spec_name: str
    binary_version: int
    revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str] = field(default_factory=dict)

    def resolve(self, name: str) -> str:
        """Follow alias links to the name the tensor is stored under (aliases may chain)."""
        seen = set()
        while name in self.aliases and name not in self.variables:
            if name in seen:
                raise ModelError(f"{self.path}: alias loop at '{name}'", "the model file is corrupt; re-export it")
            seen.add(name)
            name = self.aliases[name]
        return name

    def has(self, name: str) -> bool:
        return self.resolve(name) in self.variables

    def names(self) -> list[str]:
        """Every name that can be looked up: stored variables and aliases."""
        return sorted(set(self.variables) | set(self.aliases))

    def get(self, name: str) -> np.ndarray:
        """The raw stored array (still quantized if it was quantized)."""
        key = self.resolve(name)
        if key not in self.variables:
            raise ModelError(f"{self.path} has no variable '{name}'",
                             "the file is not a complete CTranslate2 Whisper model; re-export it", where=name)
        return self.variables[key]

    def scalar(self, name: str, default: float | int | None = None) -> float | int:
        if not self.has(name):
            if default is None:
                self.get(name)  # raises the ModelError naming the variable
            return default
        value = self.get(name)
        if value.size != 1:
            raise ModelError(f"{self.path}: '{name}' should be a scalar but has shape {value.shape}",
                             "the model file is corrupt; re-export it", where=name)
        return value.reshape(()).item()

    def float_weight(self, name: str) -> np.ndarray:
        """A float32 tensor; int8/int16 weights are de-quantized with their `<name>_scale`.

        CTranslate2 stores `q = round(w * scale)` with one scale per output row for int8 (so
        `w = q / scale[:, None]`) and a single scale for int16.
        """
        value = self.get(name)
        if value.dtype.kind == "f":
            return value.astype(np.float32)
        # An alias shares the stored tensor, so its scale is the stored tensor's scale.
        scale_name = next((n for n in (f"{self.resolve(name)}_scale", f"{name}_scale") if self.has(n)), None)
        if scale_name is None:
            return value.astype(np.float32)
        scale = self.get(scale_name).astype(np.float32)
        if scale.ndim == 0 or scale.size == 1:
            return value.astype(np.float32) / scale.reshape(())
        if scale.shape[0] != value.shape[0]:
            raise ModelError(f"{self.path}: '{scale_name}' has {scale.shape[0]} rows but '{name}' has {value.shape[0]}",
                             "the model file is corrupt; re-export it", where=scale_name)
        return value.astype(np.float32) / scale.reshape((-1,) + (1,) * (value.ndim - 1))

    def layer_count(self, prefix: str) -> int:
        """How many `prefix/layer_N` blocks exist (`layer_norm` is not a layer)."""
        pattern = re.compile(rf"^{re.escape(prefix)}/layer_(\d+)/")
        indices = {int(m.group(1)) for name in self.names() if (m := pattern.match(name))}
        if indices and indices != set(range(len(indices))):
            raise ModelError(f"{self.path}: {prefix} layers are not numbered 0..{len(indices) - 1}",
                             "the model file is corrupt; re-export it", where=prefix)
        return len(indices)


class _Cursor:
    def __init__(self, data: memoryview, path: Path) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ModelError(f"{self.path} ends early (at byte {self.pos}, wanted {n} more)",
                             "the file is truncated or not a CTranslate2 model.bin; copy or export it again",
                             where=str(self.path))
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))[0]

    def string(self) -> str:
        length = self.unpack("H")
        raw = bytes(self.take(length))
        return raw.rstrip(b"\0").decode("utf-8", errors="replace")


def _array(raw: memoryview, dtype_name: str, shape: tuple[int, ...]) -> np.ndarray:
    if dtype_name == "bfloat16":
        # bfloat16 is the upper half of a float32: widen it by shifting into the high bits.
        halves = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return halves.view(np.float32).reshape(shape)
    return np.frombuffer(raw, dtype=np.dtype(dtype_name).newbyteorder("<")).reshape(shape)


def read_model_bin(path: str | Path) -> CT2Model:
    """Parse a CTranslate2 `model.bin` into numpy arrays (views into one read of the file)."""
    path = Path(path)
    try:
        data = memoryview(path.read_bytes())
    except FileNotFoundError as exc:
        raise ModelError(f"{path} does not exist", "point to a CTranslate2 model folder that has model.bin",
                         where=str(path)) from exc
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}", "check the file's permissions",
                         where=str(path)) from exc
    cur = _Cursor(data, path)
    version = cur.unpack("I")
    if version not in _SUPPORTED_BINARY_VERSIONS:
        raise ModelError(f"{path} is not a CTranslate2 model.bin (binary version {version})",
                         "use a Whisper model exported by ctranslate2 >= 3 / faster-whisper", where=str(path))
    spec_name = cur.string()
    revision = cur.unpack("I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(cur.unpack("I")):
        name = cur.string()
        rank = cur.unpack("B")
        shape = tuple(cur.unpack("I") for _ in range(rank))
        dtype_id = cur.unpack("B")
        if dtype_id not in _DTYPES:
            raise ModelError(f"{path}: variable '{name}' has unknown dtype id {dtype_id}",
                             "the file is corrupt or from a newer CTranslate2; re-export it", where=name)
        nbytes = cur.unpack("I")
        expected = int(np.prod(shape, dtype=np.int64)) * (2 if _DTYPES[dtype_id] == "bfloat16"
                                                          else np.dtype(_DTYPES[dtype_id]).itemsize)
        if nbytes != expected:
            raise ModelError(f"{path}: variable '{name}' has {nbytes} bytes, expected {expected} for shape {shape}",
                             "the model file is corrupt; re-export it", where=name)
        variables[name] = _array(cur.take(nbytes), _DTYPES[dtype_id], shape)
    aliases: dict[str, str] = {}
    for _ in range(cur.unpack("I")):
        alias = cur.string()
        aliases[alias] = cur.string()
    return CT2Model(path, spec_name, version, revision, variables, aliases)
