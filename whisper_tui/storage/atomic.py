"""Crash-safe writes: a reader sees the old version or the new one, never half of either.

Files are written to a temp file in the same folder, fsynced, then renamed over the target.
Folders (checkpoints, converted models, exports) are built under a temp name beside the target
and swapped in with one `renameat2(RENAME_EXCHANGE)`: there is no moment when the target is
missing. Where the kernel or file system cannot exchange (not Linux, some network file systems)
the old folder is moved aside to `.NAME.old` first; a kill between the two renames then leaves
only `.NAME.old`, which `recover_directory` (called by writers and by model readers) puts back.

A folder is only ever replaced when whisper-tui wrote it (`OWNER_MARK`, or a marker file the
caller names for folders written by older versions): `--force` and re-used output folders must
never delete a user's own files. A disk-full error is re-raised as `DiskFull` after the temp
copy is removed, so the previous version stays. Files created here get the permissions the
umask gives (mkstemp's 0600 would hide a user's metadata.csv from their group).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from whisper_tui.errors import DiskFull, NotOurFolder
from whisper_tui.system.processes import pid_alive

OWNER_MARK = ".whisper-tui-folder"  # written into every folder atomic_directory makes
OURS_BEFORE_THE_MARK = ("whisper_tui.json",)  # model folders and exports written before OWNER_MARK existed

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV}


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _tmp_prefix(name: str) -> str:
    """Temp names carry the writer's pid, so leftovers of a killed writer can be told from a live one's."""
    return f".{name}.{os.getpid()}."


def _clean_leftovers(parent: Path, name: str) -> None:
    """Remove `.NAME.<pid>.*.tmp` files and folders whose writer is dead (a kill mid-write)."""
    try:
        entries = list(parent.glob(f".{name}.*.tmp"))
    except OSError:
        return
    for entry in entries:
        pid_text = entry.name[len(name) + 2:].split(".", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or pid_alive(int(pid_text)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path.name), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"Disk full while writing {path}", "free some space; the previous version was kept",
                           where=str(path)) from exc
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def exchange_paths(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Swap two existing paths in one step (Linux renameat2 RENAME_EXCHANGE).

    Returns False when this system or file system cannot (the caller falls back to two renames);
    raises OSError for real failures.
    """
    func = _renameat2()
    if func is None:
        return False
    if func(_AT_FDCWD, os.fsencode(os.fspath(a)), _AT_FDCWD, os.fsencode(os.fspath(b)), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in _NO_EXCHANGE:
        return False
    raise OSError(err, os.strerror(err), os.fspath(a), None, os.fspath(b))


_RENAMEAT2 = None


def _renameat2():
    global _RENAMEAT2
    if _RENAMEAT2 is None:
        try:
            func = ctypes.CDLL(None, use_errno=True).renameat2
        except (AttributeError, OSError):
            func = False
        else:
            func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            func.restype = ctypes.c_int
        _RENAMEAT2 = func
    return _RENAMEAT2 or None


def old_copy(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def recover_directory(target: str | os.PathLike) -> bool:
    """Put `.NAME.old` back as NAME when a swap was killed between its two renames; True if it did.

    Only the fallback swap (no RENAME_EXCHANGE) can leave this state. Cheap when nothing is wrong.
    """
    target = Path(target)
    old = old_copy(target)
    if target.exists() or target.is_symlink() or not old.is_dir():
        return False
    try:
        os.rename(old, target)
    except OSError:
        return False
    _fsync_dir(target.parent)
    return True


def is_ours(folder: Path, ours: Iterable[str] = OURS_BEFORE_THE_MARK) -> bool:
    """True when whisper-tui wrote `folder` (or it is empty): only such folders may be replaced."""
    try:
        names = {p.name for p in folder.iterdir()}
    except OSError:
        return False
    return not names or OWNER_MARK in names or any(mark in names for mark in ours)


def check_replaceable(target: str | os.PathLike, ours: Iterable[str] = OURS_BEFORE_THE_MARK) -> None:
    """Raise NotOurFolder when `target` exists and holds something whisper-tui did not write."""
    target = Path(target)
    if not target.exists() and not target.is_symlink():
        return
    if target.is_symlink() or not target.is_dir():
        raise NotOurFolder(f"{target} exists and is not a folder", "choose another path; nothing was changed",
                           where=str(target))
    if not is_ours(target, ours):
        raise NotOurFolder(
            f"{target} holds files whisper-tui did not write, so it will not replace them",
            "choose a new or empty folder, or move that folder away yourself; nothing was changed",
            where=str(target))


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, *, ours: Iterable[str] | None = OURS_BEFORE_THE_MARK
                     ) -> Iterator[Path]:
    """Yield a temp folder beside `target`; on success it replaces `target` in one step.

    An existing `target` is replaced only when whisper-tui wrote it (`check_replaceable` with
    `ours`, the marker files that also count as ours); `ours=None` skips the check, for folders
    in whisper-tui's own cache. Leftovers of killed writers (`.NAME.<pid>.*.tmp`, `.NAME.old`)
    are cleaned here, and a lone `.NAME.old` is first put back.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_directory(target)
    if ours is not None:
        check_replaceable(target, ours)
    _clean_leftovers(target.parent, target.name)
    old = old_copy(target)
    if old.exists() and target.exists():
        shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(target.name), suffix=".tmp", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        (tmp / OWNER_MARK).write_text("written by whisper-tui; it may replace this folder as a whole\n")
        for root, _dirs, files in os.walk(tmp):
            for name in files:
                with contextlib.suppress(OSError):
                    fd = os.open(os.path.join(root, name), os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
        _fsync_dir(tmp)
        if target.is_dir() and exchange_paths(tmp, target):
            _fsync_dir(target.parent)
            shutil.rmtree(tmp, ignore_errors=True)  # now the old version
            return
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"Disk full while saving {target}", "free some space; the previous version was kept",
                           where=str(target)) from exc
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
