"""Turn whatever the user typed in "model" into a loaded Whisper: one resolver for CLI, TUI and training.

Accepted names: `tiny.en` (also "", "embedded", "bundled") for the bundled model; a folder with
a transformers Whisper (config.json), a LoRA adapter (adapter_config.json), a CTranslate2 export
(model.bin) or a training run (final/ or best/); or a Hub id like `openai/whisper-tiny`, which
works only if it is already in the local Hugging Face cache or the Hub can be reached.

Loading never runs code from a model folder (`trust_remote_code` stays off) and reads weights
from safetensors when a folder has them; otherwise transformers' torch.load with weights_only.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from whisper_tui.models import convert
from whisper_tui.storage.atomic import recover_directory
from whisper_tui.errors import ModelError, OfflineError
from whisper_tui.config.locations import converted_models_dir

log = logging.getLogger(__name__)

EMBEDDED_MODEL = convert.EMBEDDED_NAME
EMBEDDED_ALIASES = frozenset({"", "tiny.en", "embedded", "bundled"})
OUR_METADATA = "whisper_tui.json"  # written by training next to an adapter: {"base_model": "<what the user gave>"}
QUANTIZATIONS = ("none", "nf4")

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_USE_HINT = "use tiny.en (bundled) or the path of a local model folder"
_MAX_ADAPTER_DEPTH = 4

Kind = Literal["embedded", "hf_dir", "adapter", "hub"]


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: `path` is the folder to load (None for a Hub model not cached yet)."""

    name: str
    kind: Kind
    path: Path | None
    base: ModelRef | None = None

    def describe(self) -> str:
        if self.kind == "embedded":
            return f"{EMBEDDED_MODEL} (bundled)"
        if self.kind == "adapter" and self.base is not None:
            return f"LoRA adapter {self.path} on {self.base.describe()}"
        return f"{self.name}" if self.kind == "hub" else str(self.path)


def embedded_model_dir() -> Path:
    """The bundled tiny.en as a transformers folder (converted on first use, then cached)."""
    return convert.ensure_embedded_converted()


def device_for(preference: str = "auto") -> str:
    """"cuda" when asked for (or on auto) and usable, else "cpu"."""
    preference = (preference or "auto").lower()
    if preference == "cpu":
        return "cpu"
    import torch

    if preference.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError("CUDA was requested but no usable NVIDIA GPU was found",
                             "choose device cpu (or auto), or check the NVIDIA driver", where="device")
        return preference
    if preference != "auto":
        raise ModelError(f"unknown device '{preference}'", "use auto, cpu or cuda", where="device")
    return "cuda" if torch.cuda.is_available() else "cpu"


def model_summary(model) -> tuple[int, int]:
    """(trainable, total) parameter counts; 4-bit weights count as the values they pack."""
    trainable = total = 0
    for param in model.parameters():
        n = param.numel()
        if param.__class__.__name__ == "Params4bit":
            n *= 2  # two 4-bit values per stored byte
        total += n
        if param.requires_grad:
            trainable += n
    return trainable, total


# --- resolving ----------------------------------------------------------------------------------

def resolve_model(name: str | Path | None) -> ModelRef:
    return _resolve(str(name if name is not None else "").strip(), depth=0)


def _resolve(name: str, depth: int) -> ModelRef:
    if name.lower() in EMBEDDED_ALIASES:
        return ModelRef(EMBEDDED_MODEL, "embedded", embedded_model_dir())
    path = Path(name).expanduser()
    if not path.exists():
        recover_directory(path)  # a save killed between its two renames left only .NAME.old (atomic.py)
    if path.exists():
        return _resolve_path(name, path, depth)
    if _HUB_ID.match(name) and not name.startswith((".", "~")):
        return ModelRef(name, "hub", _cached_hub_snapshot(name))
    raise ModelError(f"model '{name}' not found: no such folder", _USE_HINT + ", or a Hub id like openai/whisper-tiny",
                     where=name)


def _resolve_path(name: str, path: Path, depth: int) -> ModelRef:
    path = path.resolve()
    if not path.is_dir():
        raise ModelError(f"{path} is a file, not a model folder", "give the folder that holds config.json "
                         "(or adapter_config.json / model.bin)", where=str(path))
    if (path / "adapter_config.json").is_file():
        return _resolve_adapter(name, path, depth)
    config = path / "config.json"
    if (path / "model.bin").is_file() and not _has_hf_weights(path):
        # A CTranslate2 / faster-whisper export: use its cached transformers conversion.
        return ModelRef(name, "hf_dir", convert.ensure_converted(path, _safe_name(path.name)))
    if config.is_file():
        model_type = _read_json(config).get("model_type")
        if model_type != "whisper":
            raise ModelError(f"{path} holds a '{model_type or 'unknown'}' model, not Whisper "
                             f"(config.json model_type)", _USE_HINT, where=str(config))
        if not _has_hf_weights(path):
            raise ModelError(f"{path} has a Whisper config.json but no weights (model.safetensors)",
                             "the folder was not saved completely; save or copy the model again", where=str(path))
        return ModelRef(name, "hf_dir", path)
    for sub in ("final", "best"):
        recover_directory(path / sub)
        if (path / sub).is_dir():
            return _resolve_path(str(path / sub), path / sub, depth)
    raise ModelError(f"{path} is not a Whisper model folder",
                     "expected config.json (model_type whisper), adapter_config.json, a CTranslate2 model.bin, "
                     "or a training run folder with final/ or best/", where=str(path))


def _resolve_adapter(name: str, path: Path, depth: int) -> ModelRef:
    if depth >= _MAX_ADAPTER_DEPTH:
        raise ModelError(f"adapter {path} sits on a chain of more than {_MAX_ADAPTER_DEPTH} adapters",
                         "merge the adapters into a full model first", where=str(path))
    ours = _read_json(path / OUR_METADATA) if (path / OUR_METADATA).is_file() else {}
    peft_base = _read_json(path / "adapter_config.json").get("base_model_name_or_path")
    recorded = ours.get("base_model") or peft_base
    if recorded is None:
        raise ModelError(f"adapter {path} does not say which base model it was trained on",
                         "add base_model_name_or_path to its adapter_config.json",
                         where=str(path / "adapter_config.json"))
    try:
        base = _resolve(str(recorded).strip(), depth + 1)
    except ModelError as exc:
        if _names_embedded(str(recorded)) or (peft_base and _names_embedded(str(peft_base))):
            log.info("adapter %s: recorded base %s is gone; using the bundled %s", path, recorded, EMBEDDED_MODEL)
            base = _resolve(EMBEDDED_MODEL, depth + 1)
        else:
            raise ModelError(f"the base model '{recorded}' of adapter {path} cannot be found ({exc.message})",
                             "restore that model, or edit base_model in the adapter's whisper_tui.json",
                             where=str(path)) from exc
    return ModelRef(name, "adapter", path, base)


def _names_embedded(recorded: str) -> bool:
    """True for the bundled model's names and for paths of its converted copy (which move when the cache is rebuilt)."""
    if recorded.strip().lower() in EMBEDDED_ALIASES:
        return True
    path = Path(recorded).expanduser()
    return path.name.startswith(f"{EMBEDDED_MODEL}-") and (
        path.parent == converted_models_dir() or path.parent.name == converted_models_dir().name)


def _has_hf_weights(path: Path) -> bool:
    return any(path.glob("*.safetensors")) or any(path.glob("pytorch_model*.bin"))


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name) or "model"


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}", "the file is damaged; restore or re-save the model",
                         where=str(path)) from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path} is not a JSON object", "the file is damaged; restore or re-save the model",
                         where=str(path))
    return data


def _cached_hub_snapshot(repo_id: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    hit = try_to_load_from_cache(repo_id, "config.json")
    return Path(hit).parent if isinstance(hit, str) else None


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """A quick TCP probe, so an offline machine fails in seconds instead of a minute of retries."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout_s):
            return True
    except OSError:
        return False


# --- loading ------------------------------------------------------------------------------------

def load_model(name_or_ref: str | Path | ModelRef | None, device: str = "cpu", dtype=None,
               quantization: str | None = None, merge: bool = False):
    """(model, processor) ready for inference or training; adapters stay unmerged unless `merge`."""
    ref = name_or_ref if isinstance(name_or_ref, ModelRef) else resolve_model(name_or_ref)
    device = device_for(device)
    quantization = _check_quantization(quantization, merge)
    if ref.kind == "adapter":
        return _load_adapter(ref, device, dtype, quantization, merge)
    model, processor = _load_full(ref, device, dtype, quantization)
    return model, processor


def _check_quantization(quantization: str | None, merge: bool) -> str | None:
    q = (quantization or "none").lower()
    if q not in QUANTIZATIONS:
        raise ModelError(f"unknown quantization '{quantization}'", f"use one of: {', '.join(QUANTIZATIONS)}",
                         where="quantization")
    if q == "nf4" and merge:
        raise ModelError("cannot merge a LoRA adapter into a 4-bit base model",
                         "load with quantization none to merge (merging needs the fp32 base)", where="quantization")
    return None if q == "none" else q


def _torch_dtype(dtype, device: str):
    import torch

    if dtype is None or dtype == "auto":
        return torch.float32
    if isinstance(dtype, torch.dtype):
        result = dtype
    else:
        names = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
                 "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
        if str(dtype).lower() not in names:
            raise ModelError(f"unknown dtype '{dtype}'", "use float32, float16 or bfloat16", where="dtype")
        result = names[str(dtype).lower()]
    if result == torch.float16 and device == "cpu":
        raise ModelError("float16 needs a CUDA GPU", "use float32 (or bfloat16) on CPU", where="dtype")
    return result


def _quantization_config(device: str):
    import torch
    from transformers import BitsAndBytesConfig

    if device == "cpu":
        compute = torch.float32
    else:
        compute = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute)


def _from_pretrained(cls, source: str, local_only: bool, **kwargs):
    with convert.quiet_progress():
        return cls.from_pretrained(source, trust_remote_code=False, local_files_only=local_only, **kwargs)


def _load_full(ref: ModelRef, device: str, dtype, quantization: str | None):
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    kwargs: dict = {"dtype": _torch_dtype(dtype, device)}
    if quantization == "nf4":
        kwargs["quantization_config"] = _quantization_config(device)
        kwargs["device_map"] = {"": device}
    if ref.kind == "hub":
        model = _load_from_hub(WhisperForConditionalGeneration, ref.name, **kwargs)
        processor = _load_from_hub(WhisperProcessor, ref.name)
    else:
        if any(ref.path.glob("*.safetensors")):
            kwargs["use_safetensors"] = True
        try:
            model = _from_pretrained(WhisperForConditionalGeneration, str(ref.path), True, **kwargs)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load the Whisper model in {ref.path}: {exc}",
                             "the folder is incomplete or damaged; save or copy the model again",
                             where=str(ref.path)) from exc
        processor = _load_processor(ref.path) or _bundled_processor_for(model, ref.path)
    from whisper_tui.models.window import match_processor_window

    match_processor_window(model, processor)
    if quantization is None:
        model = model.to(device)
    model.eval()
    return model, processor


def _load_from_hub(cls, repo_id: str, **kwargs):
    try:
        return _from_pretrained(cls, repo_id, True, **kwargs)
    except OSError:
        pass
    offline = OfflineError(f"model '{repo_id}' is not in the local Hugging Face cache and the Hub cannot be reached",
                           _USE_HINT + " (or download it once while online)", where=repo_id)
    if not hub_reachable():
        raise offline
    try:
        return _from_pretrained(cls, repo_id, False, **kwargs)
    except OSError as exc:
        raise offline from exc


def _load_processor(folder: Path):
    """The folder's own processor, or None when it was saved without one (a bare Trainer checkpoint)."""
    from transformers import WhisperProcessor

    if not any(folder.glob("tokenizer*.json")):
        return None
    try:
        return _from_pretrained(WhisperProcessor, str(folder), True)
    except (OSError, ValueError, TypeError) as exc:
        log.warning("cannot load the processor saved in %s: %s", folder, exc)
        return None


def _bundled_processor_for(model, folder: Path):
    """Borrow tiny.en's processor when the model uses the same vocabulary and mel bins."""
    processor = _load_processor(embedded_model_dir())
    if (processor is None or len(processor.tokenizer) != model.config.vocab_size
            or processor.feature_extractor.feature_size != model.config.num_mel_bins):
        raise ModelError(f"{folder} has no tokenizer/feature extractor files and its vocabulary differs from tiny.en's",
                         "save the WhisperProcessor into the folder (processor.save_pretrained)", where=str(folder))
    log.warning("%s has no processor files; using the bundled %s processor", folder, EMBEDDED_MODEL)
    return processor


def _load_adapter(ref: ModelRef, device: str, dtype, quantization: str | None, merge: bool):
    from peft import PeftModel

    if ref.base.kind == "adapter":
        if quantization:
            raise ModelError(f"adapter {ref.path} sits on another adapter, which cannot be 4-bit quantized",
                             "load it with quantization none", where="quantization")
        base, processor = _load_adapter(ref.base, device, dtype, None, merge=True)
    else:
        base, processor = _load_full(ref.base, device, dtype, quantization)
    try:
        with convert.quiet_progress():
            model = PeftModel.from_pretrained(base, str(ref.path), is_trainable=False)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelError(f"cannot load the LoRA adapter in {ref.path}: {exc}",
                         "the adapter does not match its base model or is damaged", where=str(ref.path)) from exc
    processor = _load_processor(ref.path) or processor
    from whisper_tui.models.window import match_processor_window

    match_processor_window(model, processor)  # an adapter trained at a shorter window than its base
    if merge:
        model = model.merge_and_unload()
    model.eval()
    return model, processor
