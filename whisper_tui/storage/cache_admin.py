"""Everything whisper-tui keeps under `locations.cache_dir()`: list it, keep the encoder caches under a size
limit (least recently used go first), prune what is old, and clean up after killed builds. The `whisper-tui
cache` command that prints them is cli/cache_command.py.

What a cache is, by kind:
- encoder: the frozen encoder layers' output for a dataset (`training/encoder_cache.py`):
  `encoder-cache/<key>.npy` + `<key>.json`;
- views: the same for the augmentation views of the training clips (`training/views.py`), in the same folder;
- converted: a CTranslate2 model converted to transformers (`convert.py`): `models/<name>-<fingerprint>/`;
- ct2: a model exported to CTranslate2 for `transcribe --backend ct2` (`transcribe.py`): `ct2/<fingerprint>/`;
- cross-kv: a run's cross-attention cache (`training/cross_kv.py`); each run removes its own, so only a
  killed run's remains show here;
- leftover: the temp file or folder of a build that was killed (the pid in its name is dead);
- building: a build in progress in another process (its pid is alive): never touched;
- other: anything else (the keep set's synthesised sentences, a folder kept during a swap): counted in the
  total, never removed.

Encoder caches are used least-recently-used: a reuse touches the .npy's mtime (`last used`). A process that
uses one holds a lock file `.<key>.<pid>.<n>.lock` beside it for as long as it has it open, so eviction and
`whisper-tui cache prune/clear` never remove a cache a running process reads (Linux would keep the mapped
file readable anyway, but its disk space would not come back). A lock whose pid is dead is stale: the next
build removes it, as it removes the temp files of killed builds.

Torch-free (the Train setup screen's estimate reads the sizes here).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from whisper_tui.errors import DiskFull, ProfileError
from whisper_tui.config.locations import (
    CONVERTED_FOLDER, CONVERTED_MARKER, CROSS_KV_FOLDER, CT2_FOLDER, ENCODER_FOLDER, EXPORT_MARKER, cache_dir,
)
from whisper_tui.system.processes import pid_alive

GB = 10**9  # finetuning.encoder_cache_max_gb and the messages use decimal GB, like disk sizes
DISK_RESERVE_BYTES = 256 * 1024**2  # never fill a disk to its last byte: checkpoints and logs still need room
KINDS = ("encoder", "views", "converted", "ct2")  # what `--kind` chooses; leftovers always go with prune/clear
REMOVABLE = KINDS + ("cross-kv", "leftover")

_LOCK = re.compile(r"^\.(?P<key>[^.]+)\.(?P<pid>\d+)\.(?P<n>\d+)\.lock$")
_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<rest>[^.]+)\.tmp$")  # .NAME.<pid>.<suffix>.tmp
_CROSS_RUN = re.compile(r"^run-(?P<pid>\d+)-\d+$")
_lock_numbers = itertools.count()


@dataclass(frozen=True)
class CacheEntry:
    kind: str
    name: str
    paths: tuple[Path, ...]  # the files/folders that make it up (removed together)
    size: int  # bytes on disk
    last_used: float  # epoch seconds: the mtime (an encoder cache's is touched on every reuse)
    clips: int | None = None
    belongs_to: str = ""  # model / data folder / source it was made from
    in_use: bool = False  # a live process holds it: never removed
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def removable(self) -> bool:
        return self.kind in REMOVABLE and not self.in_use


# -- helpers ------------------------------------------------------------------------------------------------

def encoder_root() -> Path:
    return cache_dir() / ENCODER_FOLDER


def _file_bytes(st: os.stat_result) -> int:
    """Bytes a file takes: its size, or less for a sparse file (a killed memmap build)."""
    blocks = getattr(st, "st_blocks", None)
    return min(st.st_size, blocks * 512) if blocks is not None else st.st_size


def _tree_bytes(path: Path) -> int:
    try:
        st = path.lstat()
    except OSError:
        return 0
    if not path.is_dir() or path.is_symlink():
        return _file_bytes(st)
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += _file_bytes(os.lstat(os.path.join(root, name)))
            except OSError:
                pass
    return total


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    return pid == os.getpid() or pid_alive(pid)


def parse_age(text: str) -> float:
    """'30d', '12h', '90m', '45s', '2w' or a plain number of days -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text).lower())
    if not match:
        raise ValueError(f"not an age: {text!r} (use e.g. 30d, 12h, 90m)")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "": 86400}[match.group(2)]
    return float(match.group(1)) * unit


def format_size(n: int) -> str:
    from whisper_tui.system.sysmon import format_bytes

    return format_bytes(n)


def format_age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds / span:.0f}{unit} ago"
    return "just now"


# -- locks on encoder caches -----------------------------------------------------------------------------------

def hold(root: Path, key: str) -> Path:
    """Mark the cache `key` as in use by this process; returns the lock file (`release` it when done)."""
    lock = Path(root) / f".{key}.{os.getpid()}.{next(_lock_numbers)}.lock"
    try:
        lock.touch()
    except OSError:
        pass  # a read-only cache can be used, it just cannot be protected (nor pruned by us)
    return lock


def release(lock: Path) -> None:
    try:
        Path(lock).unlink(missing_ok=True)
    except OSError:
        pass


def _live_holders(root: Path) -> dict[str, set[int]]:
    held: dict[str, set[int]] = {}
    for path in _hidden(root, "*.lock"):
        m = _LOCK.match(path.name)
        if m and _alive(int(m["pid"])):
            held.setdefault(m["key"], set()).add(int(m["pid"]))
    return held


def _hidden(root: Path, pattern: str) -> list[Path]:
    try:
        return [p for p in Path(root).glob(pattern) if p.name.startswith(".")]
    except OSError:
        return []


def clean_leftovers(root: Path, *, dry_run: bool = False) -> list[Path]:
    """Remove the temp files/folders (`.NAME.<pid>.X.tmp`) and locks of processes that are gone; returns
    the temp files/folders removed (stale locks take no space and go silently)."""
    removed = []
    for path in _hidden(root, "*.tmp"):
        m = _TMP.match(path.name)
        if m and not _alive(int(m["pid"])):
            if not dry_run:
                _remove(path)
            removed.append(path)
    if not dry_run:
        for path in _hidden(root, "*.lock"):
            m = _LOCK.match(path.name)
            if m and not _alive(int(m["pid"])):
                release(path)
    return removed


# -- listing ---------------------------------------------------------------------------------------------------

def encoder_entries(root: Path | None = None) -> list[CacheEntry]:
    """The encoder and view caches in `root` (default: the user cache's), builds in progress and leftovers."""
    root = Path(root or encoder_root())
    if not root.is_dir():
        return []
    held = _live_holders(root)
    entries = []
    for npy in sorted(root.glob("*.npy")):
        if npy.name.startswith("."):
            continue
        key = npy.stem
        meta_path = npy.with_suffix(".json")
        meta = _read_json(meta_path)
        try:
            st = npy.stat()
        except OSError:
            continue
        paths = (npy, meta_path) if meta_path.exists() else (npy,)
        entries.append(CacheEntry(
            kind="views" if meta.get("kind") == "views" else "encoder", name=key, paths=paths,
            size=_file_bytes(st) + (_tree_bytes(meta_path) if meta_path.exists() else 0), last_used=st.st_mtime,
            clips=meta.get("clips"), belongs_to=_belongs_to(meta), in_use=key in held, extra=meta))
    for tmp in _hidden(root, "*.tmp"):
        m = _TMP.match(tmp.name)
        if not m:
            continue
        try:
            st = tmp.stat()
        except OSError:
            continue
        alive = _alive(int(m["pid"]))
        # a live build will grow to its full size (the memmap is sparse until written): count that
        entries.append(CacheEntry(kind="building" if alive else "leftover", name=tmp.name, paths=(tmp,),
                                  size=st.st_size if alive else _file_bytes(st), last_used=st.st_mtime,
                                  belongs_to=f"pid {m['pid']}" + ("" if alive else " (ended)"), in_use=alive,
                                  extra={"allocated": _file_bytes(st)}))
    return entries


def _belongs_to(meta: dict) -> str:
    parts = [str(meta[k]) for k in ("data", "model") if meta.get(k)]
    return ", ".join(parts)


def _folder_entries(folder: Path, kind: str, marker: str, source_keys: tuple[str, ...]) -> list[CacheEntry]:
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            m = _TMP.match(path.name)
            if m:
                alive = _alive(int(m["pid"]))
                entries.append(CacheEntry("building" if alive else "leftover", path.name, (path,), _tree_bytes(path),
                                          _mtime(path), belongs_to=f"{kind}, pid {m['pid']}", in_use=alive))
            else:  # e.g. `.NAME.old` kept during a folder swap: `atomic.recover_directory` may need it
                entries.append(CacheEntry("other", path.name, (path,), _tree_bytes(path), _mtime(path)))
            continue
        if not path.is_dir():
            entries.append(CacheEntry("other", path.name, (path,), _tree_bytes(path), _mtime(path)))
            continue
        meta = _read_json(path / marker)
        source = next((str(meta[k]) for k in source_keys if meta.get(k)), "")
        entries.append(CacheEntry(kind, path.name, (path,), _tree_bytes(path), _mtime(path), belongs_to=source))
    return entries


def _cross_kv_entries(folder: Path) -> list[CacheEntry]:
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.iterdir()):
        m = _CROSS_RUN.match(path.name)
        if not m:
            entries.append(CacheEntry("other", path.name, (path,), _tree_bytes(path), _mtime(path)))
            continue
        entries.append(CacheEntry("cross-kv", path.name, (path,), _tree_bytes(path), _mtime(path),
                                  belongs_to=f"run pid {m['pid']}", in_use=_alive(int(m["pid"]))))
    return entries


def list_caches(root: Path | None = None) -> list[CacheEntry]:
    """Every cache under the cache folder (default `locations.cache_dir()`), by kind then name. Reads only."""
    root = Path(root or cache_dir())
    entries = encoder_entries(root / ENCODER_FOLDER)
    entries += _folder_entries(root / CONVERTED_FOLDER, "converted", CONVERTED_MARKER, ("source",))
    entries += _folder_entries(root / CT2_FOLDER, "ct2", EXPORT_MARKER, ("exported_from", "resolved"))
    entries += _cross_kv_entries(root / CROSS_KV_FOLDER)
    known = {ENCODER_FOLDER, CONVERTED_FOLDER, CT2_FOLDER, CROSS_KV_FOLDER}
    if root.is_dir():
        for path in sorted(root.iterdir()):
            if path.name not in known:
                entries.append(CacheEntry("other", path.name, (path,), _tree_bytes(path), _mtime(path)))
    order = {k: i for i, k in enumerate(("encoder", "views", "converted", "ct2", "cross-kv", "building", "leftover",
                                          "other"))}
    return sorted(entries, key=lambda e: (order.get(e.kind, 99), -e.last_used, e.name))


# -- the encoder cache's size limit ----------------------------------------------------------------------------

def limit_bytes(max_gb: float | None) -> int:
    """`finetuning.encoder_cache_max_gb` in bytes; 0 = no limit."""
    return int(max(0.0, float(max_gb or 0)) * GB)


def gb(n: float) -> str:
    return f"{n / GB:.1f}"


def remove_entry(entry: CacheEntry) -> None:
    if entry.in_use:
        raise ValueError(f"{entry.name} is in use")
    for path in entry.paths:
        _remove(path)


def _disk_free(root: Path) -> int:
    return int(shutil.disk_usage(root).free)


def existing_ancestor(path: str | os.PathLike) -> Path:
    """`path`, or its nearest folder that exists: a folder made on first use is not there yet, its disk is."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def make_room(root: Path, need: int, max_bytes: int, *, keep: Iterable[str] = (), what: str = "the encoder cache",
              detail: str = "") -> list[CacheEntry]:
    """Before writing `need` bytes of cache into `root`: remove least-recently-used encoder/view caches until
    the caches stay within `max_bytes` (0 = no limit) and the disk has room; returns what was removed.

    Raises, before removing anything, when even removing every cache not in use would not do:
    `ProfileError` (finetuning.encoder_cache_max_gb) or `DiskFull`, each naming the folder, the sizes and
    what to do. Caches named in `keep` and caches a live process holds are never removed.
    """
    root = Path(root)
    keep = set(keep)
    entries = encoder_entries(root)
    counted = [e for e in entries if e.kind in ("encoder", "views", "building")]
    total = sum(e.size for e in counted)
    evictable = sorted((e for e in counted if e.removable and e.name not in keep), key=lambda e: e.last_used)
    reclaimable = sum(e.size for e in evictable)
    # builds in progress elsewhere still have to write the part of their file not yet on disk
    pending = sum(e.size - e.extra.get("allocated", e.size) for e in entries if e.kind == "building")
    free = _disk_free(root) - pending
    if max_bytes and total - reclaimable + need > max_bytes:
        held = total - reclaimable
        raise ProfileError(
            f"{what} needs {gb(need)} GB{detail}, more than finetuning.encoder_cache_max_gb = {max_bytes / GB:g} "
            f"allows" + (f" beside the {gb(held)} GB of caches in use in {root}" if held else f" ({root})"),
            "raise finetuning.encoder_cache_max_gb (0 = no limit), lower training.augment_views, "
            "or turn finetuning.encoder_cache off", where="finetuning.encoder_cache_max_gb")
    if free + reclaimable < need + DISK_RESERVE_BYTES:
        more = f" (and {gb(reclaimable)} GB in older caches it may remove)" if reclaimable else ""
        raise DiskFull(
            f"{what} needs {gb(need)} GB{detail} in {root}, and that disk has {gb(max(0, free))} GB free{more}",
            "free some space on that disk, lower training.augment_views, turn finetuning.encoder_cache off, "
            "or set WHISPER_TUI_CACHE_DIR to a folder on a bigger disk", where="finetuning.encoder_cache")
    removed = []
    for entry in evictable:
        if (not max_bytes or total + need <= max_bytes) and free >= need + DISK_RESERVE_BYTES:
            break
        remove_entry(entry)
        removed.append(entry)
        total -= entry.size
        free += entry.size
    return removed


def evict_to_limit(root: Path, max_bytes: int, *, keep: Iterable[str] = ()) -> list[CacheEntry]:
    """Remove least-recently-used encoder/view caches (not `keep`, not in use) until the total is within
    `max_bytes`; 0 = no limit. Never raises: what cannot be removed stays."""
    if not max_bytes:
        return []
    keep = set(keep)
    counted = [e for e in encoder_entries(root) if e.kind in ("encoder", "views", "building")]
    total = sum(e.size for e in counted)
    removed = []
    for entry in sorted((e for e in counted if e.removable and e.name not in keep), key=lambda e: e.last_used):
        if total <= max_bytes:
            break
        remove_entry(entry)
        removed.append(entry)
        total -= entry.size
    return removed


# -- prune / clear ---------------------------------------------------------------------------------------------

def select(entries: list[CacheEntry], kinds: Iterable[str], older_than_s: float | None = None,
           now: float | None = None) -> list[CacheEntry]:
    """What prune (`older_than_s` set) or clear (None) removes: removable caches of `kinds` not used since
    `older_than_s`, plus every leftover of a killed build or run (whatever its age or kind)."""
    kinds = set(kinds)
    now = time.time() if now is None else now
    chosen = []
    for e in entries:
        if not e.removable:
            continue
        if e.kind in ("leftover", "cross-kv"):
            chosen.append(e)
        elif e.kind in kinds and (older_than_s is None or now - e.last_used >= older_than_s):
            chosen.append(e)
    return chosen


def prune(kinds: Iterable[str] = KINDS, older_than_s: float | None = None, *, dry_run: bool = False,
          root: Path | None = None) -> list[CacheEntry]:
    """Remove (or with `dry_run` only return) what `select` chooses; stale locks go too."""
    chosen = select(list_caches(root), kinds, older_than_s)
    if not dry_run:
        for entry in chosen:
            remove_entry(entry)
        encoder = Path(root or cache_dir()) / ENCODER_FOLDER
        if encoder.is_dir():
            clean_leftovers(encoder)
    return chosen
