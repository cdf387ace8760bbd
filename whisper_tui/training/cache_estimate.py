"""The encoder cache on disk (training/encoder_cache.py): its size before it is built, and whether it fits.

Torch-free like estimate.py (the Train setup screen shows it next to the memory estimate, which re-exports these
names); clip counts come from the data's metadata.csv rows, so they are instant even for large sets.
"""

from __future__ import annotations

from dataclasses import dataclass

NPY_HEADER_BYTES = 128  # the .npy header numpy writes for a 3-d float16 array


def encoder_cache_file_bytes(n_clips: int, frames: int, d_model: int) -> int:
    """Bytes of one encoder cache file: clips x frames x d_model float16 values + the .npy header."""
    return int(n_clips) * int(frames) * int(d_model) * 2 + NPY_HEADER_BYTES if n_clips > 0 else 0


@dataclass(frozen=True)
class CacheEstimate:
    """What the encoder cache(s) of a profile will take on disk, and whether that fits.

    `clips` are encoded once (training + test + keep set); `view_clips` are the augmentation views of
    the training clips, at most (views longer than the encoder window are skipped). `free_bytes` is the
    cache folder's free disk space; `reclaimable_bytes` what older caches not in use hold (they are removed
    first when room is needed); `limit_bytes` is `finetuning.encoder_cache_max_gb` (0 = no limit).
    """

    clips: int
    view_clips: int
    bytes_per_clip: int
    root: str
    free_bytes: int | None
    reclaimable_bytes: int = 0
    held_bytes: int = 0  # caches in use by a running process (they stay)
    limit_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        """The clean cache and the views' cache: one file each."""
        return sum(n * self.bytes_per_clip + NPY_HEADER_BYTES for n in (self.clips, self.view_clips) if n > 0)

    def verdict(self) -> tuple[bool, str]:
        """(fits, one line): the size limit first, then the disk."""
        from whisper_tui.storage.cache_admin import DISK_RESERVE_BYTES, gb

        need = self.total_bytes
        if self.limit_bytes and self.held_bytes + need > self.limit_bytes:
            return False, f"over the {self.limit_bytes / 1e9:g} GB cache limit (finetuning.encoder_cache_max_gb)"
        if self.free_bytes is not None and self.free_bytes + self.reclaimable_bytes < need + DISK_RESERVE_BYTES:
            return False, f"won't fit: {gb(max(0, self.free_bytes))} GB free in {self.root}"
        limit = f" (limit {self.limit_bytes / 1e9:g} GB)" if self.limit_bytes else ""
        return True, f"fits on disk{limit}"

    def summary(self) -> str:
        from whisper_tui.system.sysmon import format_bytes

        views = f" + {self.view_clips} views" if self.view_clips else ""
        return f"disk cache ~{format_bytes(self.total_bytes)} ({self.clips} clips{views})"


def _metadata_rows(folder: str) -> int | None:
    """Rows of a dataset folder's metadata.csv (lines after the header), or None when it has none.

    Counts lines only (instant even for large sets); the real count can be lower (bad rows are skipped)."""
    from pathlib import Path

    path = Path(folder).expanduser() / "metadata.csv"
    try:
        with path.open("rb") as fh:
            lines = sum(1 for line in fh if line.strip())
    except OSError:
        return None
    return max(0, lines - 1)


def dataset_clip_counts(profile) -> tuple[int, int]:
    """(clips encoded once, training clips) for a profile's data, by counting metadata rows.

    An empty `data.train_dir` means the bundled sample data (its size when not generated yet).
    The keep set (jfk + everyday sentences + keep_dir) is added when it is evaluated."""
    from whisper_tui.config.locations import default_sample_data_dir

    data = profile.data
    if data.train_dir:
        rows = _metadata_rows(data.train_dir) or 0
    else:
        from whisper_tui.data.sample_data import DEFAULT_CLIPS

        found = _metadata_rows(str(default_sample_data_dir()))
        rows = DEFAULT_CLIPS if found is None else found
    test = (_metadata_rows(data.test_dir) or 0) if data.test_dir else 0
    train = rows if data.test_dir else rows - int(round(rows * data.test_split))
    keep = 0
    if data.keep_set and (test or train < rows):
        from whisper_tui.data.sample_data import EVERYDAY_SENTENCES

        keep = 1 + len(EVERYDAY_SENTENCES) + ((_metadata_rows(data.keep_dir) or 0) if data.keep_dir else 0)
    return rows + test + keep, max(0, train)


def estimate_encoder_cache(profile, *, clips: int | None = None, train_clips: int | None = None,
                           root=None) -> CacheEstimate | None:
    """The encoder cache a run of `profile` builds, or None when it builds none (cache off, nothing frozen,
    SpecAugment). Clip counts default to `dataset_clip_counts`; `root` to the user's encoder cache folder."""
    import shutil
    from pathlib import Path

    from whisper_tui.models.window import POSITIONS_PER_SECOND
    from whisper_tui.storage.cache_admin import encoder_entries, encoder_root, existing_ancestor, limit_bytes
    from whisper_tui.training.augment import augments_encoder_input

    ft = profile.finetuning
    frozen = ft.freeze_encoder or ft.frozen_encoder_layers > 0
    windows = profile.model.trained_windows
    if not ft.encoder_cache or not frozen or augments_encoder_input(profile):
        return None
    if len(windows) > 1 and profile.training.augment_views > 0:
        return None  # trainer_setup: several windows perturb the views as drawn, with the cache off
    if clips is None or train_clips is None:
        counted, counted_train = dataset_clip_counts(profile)
        clips = counted if clips is None else clips
        train_clips = counted_train if train_clips is None else train_clips
    from whisper_tui.training.estimate import _profile_shape

    shape, _note = _profile_shape(profile)
    root = Path(root or encoder_root())
    try:
        free = int(shutil.disk_usage(existing_ancestor(root)).free)  # the cache folder may not exist yet
    except OSError:
        free = None
    caches = [e for e in encoder_entries(root) if e.kind in ("encoder", "views", "building")]
    return CacheEstimate(
        clips=int(clips), view_clips=int(train_clips) * max(0, int(profile.training.augment_views)),
        # several windows: one cache per window, and a short clip is in all of them
        bytes_per_clip=(sum(windows) * POSITIONS_PER_SECOND if len(windows) > 1 else shape.max_source_positions)
        * shape.d_model * 2, root=str(root), free_bytes=free,
        reclaimable_bytes=sum(e.size for e in caches if e.removable),
        held_bytes=sum(e.size for e in caches if not e.removable),
        limit_bytes=limit_bytes(ft.encoder_cache_max_gb))
