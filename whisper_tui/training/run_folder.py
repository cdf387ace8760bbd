"""A training run's folder: lock, status file, metrics stream and log (layout in docs/ENGINE_API.md).

The lock stops two processes from training into the same folder: `.lock` is held with flock for the
whole run (the kernel frees it when the process dies) and says who holds it (JSON: pid, host, start
time; earlier versions wrote a bare pid, still understood). `run.json` is rewritten
atomically on every status change, so a crash leaves the last good status; a folder whose
status says "running" but whose lock holder is dead is reported as interrupted, never loaded
as if it had finished.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from whisper_tui.storage.atomic import atomic_write_text
from whisper_tui.errors import RunFolderError
from whisper_tui.system.processes import pid_alive, process_start_ticks, process_start_time, same_process

LOCK_FILE = ".lock"  # held with flock while a run trains into the folder
CHECKPOINT_MARK = "whisper_tui_complete"


def now_iso() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class LockHolder:
    """Who a run folder's `.lock` file says holds the folder."""

    pid: int
    host: str = ""  # "" in lock files from before issue 13
    started: str = ""
    proc_start: int | None = None  # the holder's start time in clock ticks since boot (Linux)
    legacy: bool = False  # plain pid text, written by a whisper-tui that held no flock

    def gone(self) -> bool | None:
        """True when the holder has surely ended (or its pid is now another program's), False when it
        is running, None when this machine cannot tell (another host's run)."""
        if self.host and self.host != socket.gethostname():
            return None
        if not self.pid:
            return None
        alive = same_process(self.pid, self.proc_start)
        return alive is False


def read_lock(lock_file: Path) -> LockHolder | None:
    """What a `.lock` file says (both the JSON written now and the plain pid of earlier versions);
    None when it is missing, empty or unreadable."""
    try:
        return _parse_lock(Path(lock_file).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


def stale_lock_reason(run_dir: Path, status: dict) -> str:
    """Why a folder whose run.json says "running" is not really running ("" when it may well be): no
    lock file, or a holder that has ended (or whose pid is now another program's). Another host's run
    cannot be checked from here, so it counts as running. For the Runs list (runs.py)."""
    lock_file = Path(run_dir) / LOCK_FILE
    if not lock_file.exists():
        return "the training process stopped without finishing (no .lock file)"
    holder = read_lock(lock_file)
    host = (holder.host if holder is not None else "") or status.get("host")
    if isinstance(host, str) and host and host != socket.gethostname():
        return ""  # another machine's process: we can't tell
    if holder is None:  # empty (being written) or unreadable: go by the pid run.json recorded
        try:
            pid = int(status.get("pid") or 0)
        except (TypeError, ValueError):
            return ""
        gone = bool(pid) and not pid_alive(pid)
    else:
        pid = holder.pid
        gone = _legacy_holder_gone(pid, lock_file) if holder.legacy else bool(holder.gone())
    return f"the training process (pid {pid}) is gone; resume from the latest checkpoint" if gone and pid else ""


def _parse_lock(text: str) -> LockHolder | None:
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return LockHolder(pid=int(text), legacy=True)
    try:
        data = json.loads(text)
        pid = int(data["pid"])
        proc_start = data.get("proc_start")
        return LockHolder(pid=pid, host=str(data.get("host") or ""), started=str(data.get("started") or ""),
                          proc_start=int(proc_start) if proc_start is not None else None)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _read_fd(fd: int) -> str:
    try:
        return os.pread(fd, 65536, 0).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _lock_nonblocking(fd: int) -> None:
    """An exclusive lock on the open file `fd`, held until it is closed; BlockingIOError when taken."""
    try:
        import fcntl
    except ImportError:  # Windows: lock the first byte (allowed past the end of the file)
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            raise BlockingIOError(errno.EAGAIN, "locked") from exc
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
            raise BlockingIOError(exc.errno, "locked") from exc
        raise


def _legacy_holder_gone(pid: int, lock_file: Path) -> bool:
    """For a plain-pid lock file (no start time recorded): has `pid` ended, or did the process now using
    that pid start after the file was written (so the pid was reused)? False when it may be the writer."""
    if not pid_alive(pid):
        return True
    started = process_start_time(pid)
    try:
        written = lock_file.stat().st_mtime
    except OSError:
        return False
    return started is not None and started > written + 2.0


class RunFolder:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.best = self.path / "best"
        self.final = self.path / "final"
        self.status_file = self.path / "run.json"
        self.metrics_file = self.path / "metrics.jsonl"
        self.log_file = self.path / "train.log"
        self.lock_file = self.path / LOCK_FILE
        self._io = threading.Lock()
        self._status: dict = {}
        self._lock_fd: int | None = None

    # -- locking -----------------------------------------------------------------------------
    # The `.lock` file is opened (never truncated on open) and locked with flock for the whole run:
    # the kernel drops that lock when the process dies, however it dies, so on this machine "is the
    # folder in use" is the lock itself, with no window between a check and a create. The file also
    # says who holds it (JSON: pid, host, start time), for people, for the Runs list, and for other
    # machines sharing the folder over a network disk, where flock cannot be relied on: a lock that
    # names another host is treated as live.
    def acquire(self, *, resuming: bool) -> str | None:
        """Take the folder for this process. Returns a warning when a stale lock was taken over.

        Raises RunFolderError when another run holds the folder, or when the folder already holds
        a run and `resuming` is false (also when the lock left there was stale)."""
        self.path.mkdir(parents=True, exist_ok=True)
        for _attempt in range(50):
            try:
                fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            except OSError as exc:
                raise RunFolderError(f"cannot create the lock file {self.lock_file}: {exc.strerror or exc}",
                                     "check that the output folder is writable", where=str(self.path)) from exc
            try:
                taken, warning = self._take(fd, resuming)
            except BaseException:
                os.close(fd)
                raise
            if taken:
                self._lock_fd = fd
                return warning
            os.close(fd)  # the file was removed or replaced after we opened it: open the new one
        raise RunFolderError(f"could not lock {self.lock_file}: other processes kept replacing it",
                             "make sure only one training run uses this folder", where=str(self.path))

    def _take(self, fd: int, resuming: bool) -> tuple[bool, str | None]:
        """(True, warning) once this process holds the lock on the file now at lock_file; (False, None) to retry."""
        try:
            _lock_nonblocking(fd)
        except BlockingIOError:
            raise self._busy(_parse_lock(_read_fd(fd))) from None
        except OSError as exc:
            raise RunFolderError(f"cannot lock {self.lock_file}: {exc.strerror or exc}",
                                 "use an output folder on a local disk (this file system refuses locks)",
                                 where=str(self.path)) from exc
        try:
            if not os.path.samestat(os.fstat(fd), os.stat(self.lock_file)):
                return False, None  # a finishing run unlinked it between our open and our lock
        except FileNotFoundError:
            return False, None
        text = _read_fd(fd)
        warning = None
        if text.strip():
            holder = _parse_lock(text)
            if holder is None:
                warning = (f"{self.lock_file} held unreadable contents ({text.strip()[:40]!r}) and no process "
                           f"holds it; taking the folder over")
            else:
                warning = self._stale_or_raise(holder)
        if not resuming and self.status_file.exists():
            if not text.strip():
                _unlink_quietly(self.lock_file)  # ours, just created: leave the folder as it was
            raise RunFolderError(
                f"{self.path} already holds a training run",
                "choose another --output folder, or resume it with --resume", where=str(self.path))
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": now_iso(),
                  "proc_start": process_start_ticks(os.getpid())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        try:
            os.fsync(fd)
        except OSError:
            pass
        return True, warning

    def _stale_or_raise(self, holder: LockHolder) -> str:
        """We hold the flock on a lock file that names `holder`: the warning for taking it over, or raise
        when that holder may still be running (another host, or a pre-flock lock whose process lives)."""
        host = holder.host or self._status_host(holder.pid)
        if host and host != socket.gethostname():
            raise self._other_host(holder, host)
        if not holder.pid or holder.pid == os.getpid():
            return f"{self.path} was left by a run that did not end cleanly; taking it over"
        if holder.legacy and not _legacy_holder_gone(holder.pid, self.lock_file):
            # written by a whisper-tui that held no flock, and its pid is still alive: that run may be going on
            raise RunFolderError(
                f"{self.path} is in use by another training run (pid {holder.pid}; lock {self.lock_file})",
                f"wait for that run to end or choose another --output folder; if no training run is using it "
                f"(pid {holder.pid} may now belong to another program), delete {self.lock_file}",
                where=str(self.path))
        # A lock written with flock that we could take: its writer has ended (the kernel drops the lock
        # with the process), whatever now answers to its pid.
        if not pid_alive(holder.pid):
            who = f"pid {holder.pid}, gone"
        elif holder.legacy or same_process(holder.pid, holder.proc_start) is False:
            who = f"pid {holder.pid}, now another program's"
        else:
            who = f"pid {holder.pid}, no longer holding it"
        return f"{self.path} was left by a run that did not end cleanly ({who}); taking over {self.lock_file}"

    def _status_host(self, pid: int) -> str:
        """The host run.json names for a running `pid` (pre-flock lock files recorded no host)."""
        status = self.read_status()
        if status.get("status") == "running" and status.get("pid") in (pid, None):
            return str(status.get("host") or "")
        return ""

    def _other_host(self, holder: LockHolder, host: str) -> RunFolderError:
        since = f", started {holder.started}" if holder.started else ""
        return RunFolderError(
            f"{self.path} is in use by a training run on {host} (pid {holder.pid}{since}; lock {self.lock_file})",
            f"this machine cannot check a process on {host}; wait for that run to end or choose another "
            f"--output folder; if that run is known to be dead, delete {self.lock_file}", where=str(self.path))

    def _busy(self, holder: LockHolder | None) -> RunFolderError:
        if holder is not None and holder.host and holder.host != socket.gethostname():
            return self._other_host(holder, holder.host)
        who = f"pid {holder.pid}" if holder is not None and holder.pid else "it has just locked it"
        return RunFolderError(f"{self.path} is in use by another training run ({who}; lock {self.lock_file})",
                              "choose another --output folder or wait for that run to end", where=str(self.path))

    def release(self) -> None:
        """Give the folder back: remove the lock file if it is still the one this process locked. Never raises."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is None:
            return
        try:
            if os.path.samestat(os.fstat(fd), os.stat(self.lock_file)):
                os.unlink(self.lock_file)  # while still locked, so no one takes a file that is going away
        except OSError:
            pass
        finally:
            try:
                os.close(fd)
            except OSError:
                pass

    # -- status, metrics, log ----------------------------------------------------------------
    def read_status(self) -> dict:
        try:
            return json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {}

    def update_status(self, **fields) -> None:
        with self._io:
            if not self._status:
                self._status = self.read_status()
            self._status.update(fields)
            self._status.setdefault("pid", os.getpid())
            self._status.setdefault("host", socket.gethostname())
            atomic_write_text(self.status_file, json.dumps(self._status, indent=2, default=str))

    def append_metric(self, record: dict) -> None:
        with self._io, open(self.metrics_file, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=float) + "\n")

    def log(self, message: str, level: str = "info") -> None:
        stamp = _dt.datetime.now().strftime("%H:%M:%S")
        with self._io, open(self.log_file, "a", encoding="utf-8") as fh:
            fh.write(f"{stamp} {level.upper():7} {message}\n")

    # -- checkpoints -------------------------------------------------------------------------
    def mark_checkpoint_complete(self, ckpt: Path) -> None:
        atomic_write_text(ckpt / CHECKPOINT_MARK, now_iso())

    def complete_checkpoints(self) -> list[Path]:
        if not self.checkpoints.is_dir():
            return []
        done = [p for p in self.checkpoints.glob("checkpoint-*") if (p / CHECKPOINT_MARK).exists()]
        return sorted(done, key=lambda p: int(p.name.rsplit("-", 1)[-1]))

    def incomplete_checkpoints(self) -> list[Path]:
        if not self.checkpoints.is_dir():
            return []
        return [p for p in self.checkpoints.glob("checkpoint-*") if not (p / CHECKPOINT_MARK).exists()]


def resolve_resume(path: Path) -> tuple[RunFolder, Path]:
    """Accept a run folder or one of its checkpoints; return (run folder, checkpoint to resume)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise RunFolderError(f"cannot resume: {path} does not exist", "pass a run folder or a checkpoint-N folder")
    if path.name.startswith("checkpoint-") and path.parent.name == "checkpoints":
        run = RunFolder(path.parent.parent)
        if not (path / CHECKPOINT_MARK).exists():
            raise RunFolderError(
                f"cannot resume from {path}: the checkpoint was not written completely (the run was killed while saving)",
                "resume from the run folder to use its last complete checkpoint", where=str(path))
        return run, path
    run = RunFolder(path)
    done = run.complete_checkpoints()
    if not done:
        raise nothing_to_resume(path) or RunFolderError(
            f"cannot resume: {path} has no complete checkpoint",
            "start a new run, or check the folder is a whisper-tui run folder", where=str(path))
    return run, done[-1]


# What a run writes, in order: the lock (RunFolder.acquire), then profile.toml and run.json (TrainingJob),
# train.log, checkpoints. A folder with any of them was a run's, however early that run was stopped.
RUN_MARKERS = (LOCK_FILE, "profile.toml", "run.json", "train.log", "checkpoints")


def stopped_before_checkpoint(status: str | None, reason: str | None = None) -> str:
    """"the run was cancelled before its first checkpoint, so there is nothing to resume": why a run with
    run.json `status` (and, for a failed one, its `reason`) and no complete checkpoint cannot be resumed; the
    CLI's `train --resume` and the Runs screen say it in these words."""
    how = {"cancelled": "was cancelled", "failed": "failed"}.get(status or "", "was stopped")
    if status == "failed" and reason:
        how += f" ({reason})"
    return f"the run {how} before its first checkpoint, so there is nothing to resume"


def nothing_to_resume(path: Path) -> RunFolderError | None:
    """Why `path`, a run's folder without a complete checkpoint, cannot be resumed, and what to do instead;
    None when `path` does not look like a run's folder at all (the caller says so in its own words).

    A run killed while loading its data or model leaves only .lock (and perhaps profile.toml, run.json):
    nothing was trained, so the way on is to start it again, not to resume it."""
    path = Path(path)
    if not path.is_dir() or not any((path / name).exists() for name in RUN_MARKERS):
        return None
    status = RunFolder(path).read_status()
    what = f"cannot resume {path}: {stopped_before_checkpoint(status.get('status'), status.get('reason'))}"
    if not (path / "run.json").exists():  # acquire(resuming=False) takes such a folder: the same --output works
        return RunFolderError(what, f"start it again without --resume, with the same --output {path}",
                              where=str(path))
    settings = f" (its settings: --profile {path / 'profile.toml'})" if (path / "profile.toml").exists() else ""
    return RunFolderError(what, f"start it again without --resume{settings}, with a new --output folder, or delete "
                                f"{path} first to use the same one again", where=str(path))
