"""Cross-attention keys and values, computed once: the decoder's share of the 30 s padding.

With the whole encoder frozen and cached, the decoder still projects all 1500 encoder frames
(30 s, mostly padding for short clips) through every cross-attention `k_proj` and `v_proj` at every
step: 8 x 1500 x 384 x 384 multiply-adds per clip for tiny, more than the rest of the decoder
together. Those projections are frozen under LoRA, so their output is the same every epoch: we
compute it once per training clip (fp16, a temporary .npy file written batch by batch and read back row by
row with pread, so its 9 MB a clip at 30 s sit in the page cache, never in the process's RSS, however many
clips there are) and the cross-attention runs from it. LoRA adapters on `k_proj`/`v_proj` still train: their low-rank delta is applied on
the attention side, `P @ (V + s * drop(h) A^T B^T) = P @ V + s * ((P @ drop(h) A^T) @ B^T)`, which is
exact and never materialises a 1500-frame tensor per head.

`FastCrossAttention` swaps in that forward only while a batch that carries cached values runs
(it checks the identity of the encoder states); generation and evaluation use the stock code.
"""

from __future__ import annotations

import os
import shutil
import time
import types
from pathlib import Path

import numpy as np

from whisper_tui.config.locations import CROSS_KV_FOLDER, cache_dir
from whisper_tui.models.parts import base_of, decoder_of
from whisper_tui.system.processes import pid_alive

_STALE_AFTER_S = 24 * 3600


def _decoder_cross_attentions(model) -> list:
    return [layer.encoder_attn for layer in decoder_of(model).layers]


def _lora_parts(module):
    """(base linear, lora or None) where lora = (A weight, B weight, dropout, scaling); None when unsupported."""
    if not hasattr(module, "base_layer"):
        return module, None
    if getattr(module, "merged", False) or getattr(module, "disable_adapters", False):
        return None
    active = [a for a in getattr(module, "active_adapters", []) if a in module.lora_A]
    if len(active) > 1 or any(a in getattr(module, "lora_variant", {}) for a in active):
        return None  # several adapters at once, DoRA & co: keep the stock path
    if not active:
        return module.base_layer, None
    a = active[0]
    return module.base_layer, (module.lora_A[a].weight, module.lora_B[a].weight, module.lora_dropout[a],
                               module.scaling[a])


def cross_kv_is_valid(model) -> tuple[bool, str]:
    """Whether every decoder layer's cross-attention k/v projections are frozen (LoRA on top is fine)."""
    for attn in _decoder_cross_attentions(model):
        for name in ("k_proj", "v_proj"):
            parts = _lora_parts(getattr(attn, name))
            if parts is None:
                return False, f"the cross-attention {name} carries an adapter setup other than one plain LoRA"
            base, _lora = parts
            if any(p.requires_grad for p in base.parameters()):
                return False, "the decoder's cross-attention projections are trained (strategy full)"
    return True, ""


def _kv_shape(model) -> tuple[int, int, int, int]:
    attn = _decoder_cross_attentions(model)[0]
    return (len(decoder_of(model).layers), attn.num_heads, base_of(model).config.max_source_positions, attn.head_dim)


def estimated_bytes(model, n_clips: int) -> int:
    layers, heads, frames, head_dim = _kv_shape(model)
    return n_clips * layers * 2 * heads * frames * head_dim * 2


class CrossKVCache:
    """Row i = the frozen cross-attention keys and values of dataset clip i: (layers, 2, heads, frames, head_dim)."""

    def __init__(self, path: Path, array: np.ndarray):
        self.path = path
        self.array = array  # a memmap, used for its shape and offset; rows are read with pread
        self.build_seconds = 0.0
        self._row_bytes = int(np.prod(array.shape[1:])) * array.dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)

    def get(self, i: int) -> np.ndarray:
        """A fresh copy of row i. Read with pread rather than through the mapping: the rows (9 MB per
        clip for tiny) then stay in the page cache, which the kernel may drop, instead of in our RSS."""
        buf = os.pread(self._fd, self._row_bytes, self.array.offset + i * self._row_bytes)
        return np.frombuffer(buf, dtype=self.array.dtype).reshape(self.array.shape[1:])

    def close(self) -> None:
        self.array = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        shutil.rmtree(self.path.parent, ignore_errors=True)

    @classmethod
    def build(cls, model, hidden_of, n_clips: int, *, batch_size: int = 8, root: Path | None = None,
              on_progress=None) -> CrossKVCache:
        """`hidden_of(i)` gives clip i's cached encoder output (frames, d_model), fp16 or fp32.

        `on_progress(done, total)` is called after every batch; an exception it raises (a cancelled run)
        stops the build and removes the partial file.
        """
        import torch

        root = Path(root or cache_dir() / CROSS_KV_FOLDER)
        root.mkdir(parents=True, exist_ok=True)
        _sweep(root)
        folder = root / f"run-{os.getpid()}-{time.time_ns()}"
        folder.mkdir()
        path = folder / "kv.npy"
        layers, heads, frames, head_dim = _kv_shape(model)
        started = time.perf_counter()
        try:
            attns = _decoder_cross_attentions(model)
            param = next(p for p in decoder_of(model).parameters())
            shape = (n_clips, layers, 2, heads, frames, head_dim)
            with open(path, "wb") as f, torch.inference_mode():
                np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)),
                                                         "fortran_order": False, "shape": shape})
                for start in range(0, n_clips, batch_size):
                    rows = range(start, min(start + batch_size, n_clips))
                    hidden = torch.from_numpy(np.stack([np.asarray(hidden_of(i)) for i in rows]))
                    hidden = hidden.to(param.device, torch.float32)
                    b = hidden.shape[0]
                    block = np.empty((b, *shape[1:]), np.float16)
                    for layer, attn in enumerate(attns):
                        for slot, name in enumerate(("k_proj", "v_proj")):
                            base, _lora = _lora_parts(getattr(attn, name))
                            proj = base(hidden).view(b, frames, heads, head_dim).transpose(1, 2)
                            block[:, layer, slot] = proj.float().cpu().numpy()
                    f.write(block.data)  # plain writes: the rows go to the page cache, not this process's RSS
                    del block, hidden
                    if on_progress:
                        on_progress(start + b, n_clips)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        cache = cls(path, np.load(path, mmap_mode="r"))
        cache.build_seconds = time.perf_counter() - started
        return cache


def _sweep(root: Path) -> None:
    """Remove folders of runs that died without cleaning up (their pid is gone, or they are old)."""
    for folder in root.glob("run-*"):
        try:
            pid = int(folder.name.split("-")[1])
            alive = pid_alive(pid) and time.time() - folder.stat().st_mtime < _STALE_AFTER_S
        except (ValueError, IndexError, OSError):
            alive = False
        if not alive and pid != os.getpid():
            shutil.rmtree(folder, ignore_errors=True)


class FastCrossAttention:
    """Installs the cached-keys forward on every decoder cross-attention; `set_batch` arms it per step."""

    def __init__(self, model):
        self.attns = _decoder_cross_attentions(model)
        self.hidden = None
        self.kv = None
        for index, attn in enumerate(self.attns):
            original = attn.forward
            attn.forward = types.MethodType(_make_forward(self, index, original), attn)

    def set_batch(self, hidden, kv) -> None:
        """`hidden` is the exact tensor the decoder will get as encoder states; kv: (batch, layers, 2, H, S, dh)."""
        self.hidden = hidden
        self.kv = kv

    def clear(self) -> None:
        self.hidden = None
        self.kv = None

    def remove(self) -> None:
        for attn in self.attns:
            attn.__dict__.pop("forward", None)
        self.clear()


def _make_forward(fast: FastCrossAttention, index: int, original):
    def forward(attn, hidden_states, key_value_states=None, cache=None, attention_mask=None,
                output_attentions=False, **kwargs):
        if (key_value_states is None or key_value_states is not fast.hidden or fast.kv is None or cache is not None
                or attention_mask is not None or output_attentions or kwargs.get("past_key_values") is not None):
            return original(hidden_states, key_value_states=key_value_states, cache=cache,
                            attention_mask=attention_mask, output_attentions=output_attentions, **kwargs)
        return _cached_cross_attention(attn, hidden_states, key_value_states, fast.kv[:, index])
    return forward


def _cached_cross_attention(attn, x, h, kv):
    """Whisper cross-attention with precomputed base keys/values (kv: batch, 2, H, S, dh)."""
    import torch

    b, t, _ = x.shape
    heads, head_dim = attn.num_heads, attn.head_dim
    q = (attn.q_proj(x) * attn.scaling).view(b, t, heads, head_dim).transpose(1, 2)  # b H t dh
    keys = kv[:, 0].to(q.dtype)
    values = kv[:, 1].to(q.dtype)
    _k_base, k_lora = _lora_parts(attn.k_proj)
    _v_base, v_lora = _lora_parts(attn.v_proj)
    scores = q @ keys.transpose(-1, -2)  # b H t S
    if k_lora is not None:
        a_w, b_w, dropout, scaling = k_lora
        u = dropped_projection(h, dropout, a_w)  # b S r
        qb = q @ b_w.view(heads, head_dim, -1)  # b H t r
        scores = scores + scaling * (qb @ u.transpose(-1, -2).unsqueeze(1))
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    if attn.training and attn.dropout > 0:
        probs = torch.nn.functional.dropout(probs, p=attn.dropout)
    out = probs @ values  # b H t dh
    if v_lora is not None:
        a_w, b_w, dropout, scaling = v_lora
        u = dropped_projection(h, dropout, a_w)  # b S r
        pu = probs @ u.unsqueeze(1)  # b H t r
        out = out + scaling * (pu @ b_w.view(heads, head_dim, -1).transpose(-1, -2))
    out = out.transpose(1, 2).reshape(b, t, heads * head_dim)
    return attn.out_proj(out), None


def dropped_projection(h, dropout, weight):
    """`dropout(h) @ weight.T` for LoRA's input dropout on the 1500-frame encoder states.

    torch's dropout draws one float per element (~10 ns each on CPU: 4 x 40 ms per batch of 8
    here, a third of a step). This draws 16 random bits per element from the same generator
    (four per 64-bit draw) and drops where they fall under round(p * 65536): an element-wise
    Bernoulli mask with p rounded to 1/65536 (0.05 -> 0.050003), and the 1/(1-p) rescale applied
    to the small projected result instead of the large input.
    """
    import torch

    p = float(getattr(dropout, "p", 0.0))
    if not isinstance(dropout, torch.nn.Dropout) or not dropout.training or p <= 0.0:
        return dropout(h) @ weight.t()
    threshold = min(65536, int(round(p * 65536)))
    if threshold >= 65536:
        return h.new_zeros(*h.shape[:-1], weight.shape[0])
    n = h.numel()
    bits = torch.randint(-2**63, 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64, device=h.device)
    bits = bits.view(torch.int16)[:n].view(h.shape)
    dropped = bits < threshold - 32768
    return (h.masked_fill(dropped, 0.0) @ weight.t()) * (65536 / (65536 - threshold))
