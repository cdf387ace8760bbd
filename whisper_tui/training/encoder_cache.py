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

Disk: the size is known before anything is encoded (clips x frames x d_model x 2 bytes,
`estimate.encoder_cache_file_bytes`). Before a build, least-recently-used caches are removed until the
caches fit `finetuning.encoder_cache_max_gb` and the disk has room; when even that cannot make room the
build is refused at once with a message saying what to do (`cache_admin.make_room`), instead of failing
half way (a memory-mapped write to a full disk kills the process). A cache in use holds a lock file, so
no other process evicts it; leftovers of killed builds are removed by the next build (`cache_admin`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import weakref
from collections import Counter
from pathlib import Path

import numpy as np

from whisper_tui.storage.atomic import atomic_write_text
from whisper_tui.storage.cache_admin import ENCODER_FOLDER, clean_leftovers, evict_to_limit, gb, hold, limit_bytes, make_room, release
from whisper_tui.training.estimate import encoder_cache_file_bytes
from whisper_tui.config.locations import cache_dir
from whisper_tui.models.parts import base_of, encoder_of
from whisper_tui.models.window import POSITIONS_PER_SECOND
from whisper_tui.training.augment import CACHE_OFF_REASON, augments_encoder_input
from whisper_tui.system.threads import ThreadTuner, tuning_enabled

BUILD_BATCH = 4


def default_max_gb() -> float:
    from whisper_tui.config.profile_schema import FinetuningSettings

    return float(FinetuningSettings().encoder_cache_max_gb)


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

    enc = encoder_of(model)
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
    """Maps a clip to the hidden states after frozen layer K (fp16, a .npy file on disk).

    Rows are read with pread and the file is written with plain writes, never through a memory
    map: mapped pages count in the process's RSS, so a 10,000-clip cache would make a run's memory
    grow with the dataset; read this way the rows live in the page cache, which the kernel may drop.
    """

    def __init__(self, path: Path, index: dict[str, int], k: int, n_layers: int, lock: Path | None = None):
        self.path = path
        self.index = index
        self.k = k
        self.n_layers = n_layers
        header = np.load(path, mmap_mode="r")  # shape, dtype and data offset only; rows are read with pread
        self.shape, self.dtype, self._offset = header.shape, header.dtype, header.offset
        del header
        self._row_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        self._fd: int | None = None
        self._close_fd = None
        self.build_seconds = 0.0
        self.reused = False
        self.evicted: list = []  # cache_admin.CacheEntry of older caches removed to make room for this one
        # the lock keeps other processes' eviction and `whisper-tui cache prune` off this file while it is used
        self._release = weakref.finalize(self, release, lock) if lock is not None else None

    def close(self) -> None:
        """Let the cache be evicted again (also done when this object is collected or the process exits)."""
        if self._release is not None:
            self._release()
        if self._close_fd is not None:
            self._close_fd()
        self._fd = None  # a later get() opens it again (no lock: eviction may have removed the file)

    def _reader(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
            self._close_fd = weakref.finalize(self, os.close, self._fd)
        return self._fd

    @property
    def is_full(self) -> bool:
        return self.k == self.n_layers

    def get(self, clip) -> np.ndarray:
        """A fresh, writable copy of the clip's row."""
        row = np.empty(self.shape[1:], self.dtype)
        offset = self._offset + self.index[_clip_identity(clip)] * self._row_bytes
        if os.preadv(self._reader(), [row], offset) != self._row_bytes:
            raise OSError(f"{self.path} is shorter than its header says (a cache file cut short)")
        return row

    @classmethod
    def build(cls, model, dataset, k: int, *, batch_size: int = 8, device: str = "cpu",
              on_progress=None, root: Path | None = None, max_gb: float | None = None,
              reserve_clips: int = 0) -> EncoderCache:
        """Encode every clip once (or reuse the cache built for the same weights and clips).

        `on_progress(done, total)` is called after every batch; an exception it raises (a cancelled
        run) stops the build within one batch and removes the partial file.
        `max_gb` is `finetuning.encoder_cache_max_gb` (None: its default; 0: no limit). `reserve_clips`
        counts clips of a cache built right after this one (the augmentation views), so a run whose caches
        cannot fit together is refused before this one is encoded, not after.
        Raises `DiskFull` / `ProfileError` (before encoding anything) when the cache cannot fit.
        """
        import torch

        enc = encoder_of(model)
        n_layers = len(enc.layers)
        root = Path(root or cache_dir() / ENCODER_FOLDER)
        root.mkdir(parents=True, exist_ok=True)
        clean_leftovers(root)  # temp files of killed builds, locks of processes that are gone
        limit = limit_bytes(default_max_gb() if max_gb is None else max_gb)
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
            lock = hold(root, key)
            try:
                os.utime(path)  # last used: eviction removes the least recently used first
                cache = cls(path, index, k, n_layers, lock=lock)
            except FileNotFoundError:  # another process evicted it just now: build it again
                release(lock)
            else:
                cache.reused = True
                cache.evicted = evict_to_limit(root, limit, keep={key})  # the limit may have been lowered
                return cache

        d_model = enc.config.d_model
        frames = int(round(float(fe.chunk_length) * POSITIONS_PER_SECOND))  # the window's (model.windows: one of several)
        views = any(getattr(c, "view_key", "") for c in dataset.clips[:1])
        need = encoder_cache_file_bytes(len(unique), frames, d_model)
        reserve = encoder_cache_file_bytes(reserve_clips, frames, d_model) if reserve_clips > 0 else 0
        what = (f"the augmentation views' encoder cache ({len(unique)} clips)" if views
                else f"the encoder cache of {len(unique)} clips")
        detail = f" (with {gb(reserve)} GB for the augmentation views built after it)" if reserve else ""
        evicted = make_room(root, need + reserve, limit, keep={key}, what=what, detail=detail)
        lock = hold(root, key)

        started = time.perf_counter()
        first_of = {}
        for i, cid in enumerate(ids):
            first_of.setdefault(cid, i)
        order = [first_of[cid] for cid in unique]
        tmp = root / f".{key}.{os.getpid()}.npy.tmp"
        param = next(enc.parameters())
        was_training = enc.training
        enc.eval()
        # Small batches: per clip the encoder costs the same at 4 as at 16 on a CPU, the activations
        # are 4x smaller, and the thread tuner gets enough batches to measure.
        batch_size = max(1, min(batch_size, BUILD_BATCH))
        threads_before = torch.get_num_threads()
        tuner = ThreadTuner(probe_steps=1, hold_steps=8) if tuning_enabled(str(device)) else None
        out = None
        try:
            out = open(tmp, "wb")
            np.lib.format.write_array_header_1_0(out, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)),
                                                       "fortran_order": False,
                                                       "shape": (len(unique), frames, d_model)})
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    rows = order[start:start + batch_size]
                    if tuner:
                        tuner.before()
                    feats = torch.from_numpy(np.stack([dataset.features(r) for r in rows]))
                    feats = feats.to(device=device, dtype=param.dtype if param.is_floating_point() else torch.float32)
                    hidden = encode_bottom(enc, feats, k)
                    out.write(np.ascontiguousarray(hidden.float().cpu().numpy().astype(np.float16)).tobytes())
                    if tuner:
                        tuner.after()
                    if on_progress:
                        on_progress(min(start + len(rows), len(order)), len(order))
            out.flush()
            os.fsync(out.fileno())
            out.close()
            os.replace(tmp, path)
        except BaseException:
            if out is not None and not out.closed:
                out.close()
            Path(tmp).unlink(missing_ok=True)
            release(lock)
            raise
        finally:
            enc.train(was_training)
            torch.set_num_threads(threads_before)
        atomic_write_text(root / f"{key}.json", json.dumps({
            "k": k, "clips": len(unique), "created": time.time(), "kind": "views" if views else "encoder",
            "model": _model_name(model), "data": _data_folders(dataset.clips)}))
        evicted += evict_to_limit(root, limit, keep={key})
        cache = cls(path, index, k, n_layers, lock=lock)
        cache.build_seconds = time.perf_counter() - started
        cache.evicted = evicted
        return cache


def _model_name(model) -> str:
    return str(getattr(getattr(base_of(model), "config", None), "_name_or_path", "") or "")


def _data_folders(clips) -> str:
    """The folder most clips come from (+ how many others): what `whisper-tui cache` says a cache belongs to."""
    folders = Counter(str(Path(c.path).resolve().parent) for c in clips)
    if not folders:
        return ""
    top, _n = folders.most_common(1)[0]
    return top + (f" +{len(folders) - 1} folder{'s' if len(folders) > 2 else ''}" if len(folders) > 1 else "")


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
