"""Encoder-output cache: pay the frozen part of the encoder once, not every epoch.

Whisper pads every clip to a 30 s window, so the encoder costs the same ~37 GFLOP per clip (tiny)
however short the clip is. When the bottom K encoder layers are frozen and nothing perturbs their
input (no SpecAugment, `augment.py`), their output is the same every epoch: we compute it once, batched and
without grad, store it fp16 in a memory-mapped file under the user cache, and train the rest
(top encoder layers + decoder) from it. The file name is a hash of everything the output depends
on (the frozen weights, K, the feature extractor settings and each clip's bytes identity), so a
changed model, dataset or setting never reuses a stale cache, and a repeated run reuses it.
Perturbed copies of the training clips (`views.py`) are cached the same way, in a cache of their own
whose clip identities also name the view settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..locations import cache_dir
from .augment import CACHE_OFF_REASON, augments_encoder_input
from .threads import ThreadTuner, tuning_enabled

KEEP_CACHES = 4
BUILD_BATCH = 4


def _encoder(model):
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model.encoder


def encoder_layer_count(model) -> int:
    return len(_encoder(model).layers)


def cache_is_valid(profile, n_encoder_layers: int) -> tuple[bool, str]:
    """Whether the cache may be used, and why not (shown in the log)."""
    ft = profile.finetuning
    k = frozen_layer_count(profile, n_encoder_layers)
    if not ft.encoder_cache:
        return False, "encoder cache disabled in the profile"
    if k == 0:
        return False, "no encoder layers are frozen, so there is nothing to cache"
    if augments_encoder_input(profile):
        return False, CACHE_OFF_REASON
    return True, ""


def frozen_layer_count(profile, n_encoder_layers: int) -> int:
    ft = profile.finetuning
    if ft.freeze_encoder:
        return n_encoder_layers
    return max(0, min(int(ft.frozen_encoder_layers), n_encoder_layers))


def _weights_digest(model, k: int) -> str:
    import torch

    enc = _encoder(model)
    h = hashlib.blake2b(digest_size=16)
    modules = [enc.conv1, enc.conv2, enc.embed_positions] + list(enc.layers[:k])
    if k == len(enc.layers):
        modules.append(enc.layer_norm)
    for mod in modules:
        for name, p in sorted(mod.state_dict().items()):
            h.update(name.encode())
            t = p.detach().to("cpu", torch.float32).contiguous()
            h.update(t.numpy().tobytes())
    return h.hexdigest()


def _clip_identity(clip) -> str:
    """The file's path, size and mtime; a perturbed copy (`views.ViewClip`) adds what perturbed it."""
    st = os.stat(clip.path)
    identity = f"{Path(clip.path).resolve()}:{st.st_size}:{st.st_mtime_ns}"
    view_key = getattr(clip, "view_key", "")
    return f"{identity}#{view_key}" if view_key else identity


class EncoderCache:
    """Maps a clip to the hidden states after frozen layer K (fp16, memory-mapped)."""

    def __init__(self, path: Path, index: dict[str, int], k: int, n_layers: int):
        self.path = path
        self.index = index
        self.k = k
        self.n_layers = n_layers
        self.array = np.load(path, mmap_mode="r")
        self.build_seconds = 0.0
        self.reused = False

    @property
    def is_full(self) -> bool:
        return self.k == self.n_layers

    def get(self, clip) -> np.ndarray:
        return np.array(self.array[self.index[_clip_identity(clip)]])  # a writable copy, not a view

    @classmethod
    def build(cls, model, dataset, k: int, *, batch_size: int = 8, device: str = "cpu",
              on_progress=None, root: Path | None = None) -> EncoderCache:
        """Encode every clip once (or reuse the cache built for the same weights and clips).

        `on_progress(done, total)` is called after every batch; an exception it raises (a cancelled
        run) stops the build within one batch and removes the partial file.
        """
        import torch

        enc = _encoder(model)
        n_layers = len(enc.layers)
        root = Path(root or cache_dir() / "encoder-cache")
        root.mkdir(parents=True, exist_ok=True)
        fe = dataset.processor.feature_extractor
        ids = [_clip_identity(c) for c in dataset.clips]
        key_src = json.dumps({
            "weights": _weights_digest(model, k), "k": k, "n_layers": n_layers,
            "fe": {"sr": fe.sampling_rate, "n_mels": fe.feature_size, "n_fft": fe.n_fft, "hop": fe.hop_length,
                   "chunk": fe.chunk_length},
            "clips": sorted(set(ids)),
        }, sort_keys=True)
        key = hashlib.blake2b(key_src.encode(), digest_size=12).hexdigest()
        path = root / f"{key}.npy"
        unique = sorted(set(ids))
        index = {cid: i for i, cid in enumerate(unique)}
        if path.exists() and (root / f"{key}.json").exists():
            os.utime(path)
            cache = cls(path, index, k, n_layers)
            cache.reused = True
            return cache

        started = time.perf_counter()
        first_of = {}
        for i, cid in enumerate(ids):
            first_of.setdefault(cid, i)
        order = [first_of[cid] for cid in unique]
        d_model = enc.config.d_model
        frames = enc.config.max_source_positions
        tmp = root / f".{key}.{os.getpid()}.npy.tmp"
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(len(unique), frames, d_model))
        param = next(enc.parameters())
        was_training = enc.training
        enc.eval()
        # Small batches: per clip the encoder costs the same at 4 as at 16 on a CPU, the activations
        # are 4x smaller, and the thread tuner gets enough batches to measure.
        batch_size = max(1, min(batch_size, BUILD_BATCH))
        threads_before = torch.get_num_threads()
        tuner = ThreadTuner(probe_steps=1, hold_steps=8) if tuning_enabled(str(device)) else None
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    rows = order[start:start + batch_size]
                    if tuner:
                        tuner.before()
                    feats = torch.from_numpy(np.stack([dataset.features(r) for r in rows]))
                    feats = feats.to(device=device, dtype=param.dtype if param.is_floating_point() else torch.float32)
                    hidden = encode_bottom(enc, feats, k)
                    out[start:start + len(rows)] = hidden.float().cpu().numpy().astype(np.float16)
                    if tuner:
                        tuner.after()
                    if on_progress:
                        on_progress(min(start + len(rows), len(order)), len(order))
            out.flush()
            del out
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        finally:
            enc.train(was_training)
            torch.set_num_threads(threads_before)
        atomic_write_text(root / f"{key}.json", json.dumps({"k": k, "clips": len(unique), "created": time.time()}))
        _prune(root, keep=path)
        cache = cls(path, index, k, n_layers)
        cache.build_seconds = time.perf_counter() - started
        return cache


def encode_bottom(enc, input_features, k: int):
    """Run conv stem + positions + the first k layers (+ final norm when k is all layers)."""
    import torch.nn.functional as F

    x = F.gelu(enc.conv1(input_features))
    x = F.gelu(enc.conv2(x))
    x = x.permute(0, 2, 1)
    x = x + enc.embed_positions.weight[: x.shape[1]].to(x.dtype)
    for layer in enc.layers[:k]:
        x = _layer(layer, x)
    if k == len(enc.layers):
        x = enc.layer_norm(x)
    return x


def encode_top(enc, hidden, k: int):
    """Run the trainable top layers on cached layer-k output (with grad when training)."""
    x = hidden
    for layer in enc.layers[k:]:
        x = _layer(layer, x)
    return enc.layer_norm(x)


def _layer(layer, x):
    out = layer(x, attention_mask=None)
    return out[0] if isinstance(out, tuple) else out


def _prune(root: Path, keep: Path) -> None:
    files = sorted(root.glob("*.npy"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP_CACHES:]:
        if old != keep:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)
