"""A training run's folder: lock, status file, metrics stream and log (layout in docs/ENGINE_API.md).

The lock stops two processes from training into the same folder. `run.json` is rewritten
atomically on every status change, so a crash leaves the last good status; a folder whose
status says "running" but whose lock holder is dead is reported as interrupted, never loaded
as if it had finished.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import threading
from pathlib import Path

from ..atomic import atomic_write_text
from ..errors import RunFolderError
from ..processes import pid_alive

CHECKPOINT_MARK = "whisper_tui_complete"


def now_iso() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


class RunFolder:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.best = self.path / "best"
        self.final = self.path / "final"
        self.status_file = self.path / "run.json"
        self.metrics_file = self.path / "metrics.jsonl"
        self.log_file = self.path / "train.log"
        self.lock_file = self.path / ".lock"
        self._io = threading.Lock()
        self._status: dict = {}

    # -- locking -----------------------------------------------------------------------------
    def acquire(self, *, resuming: bool) -> str | None:
        """Take the folder for this process. Returns a warning when a stale lock was taken over."""
        self.path.mkdir(parents=True, exist_ok=True)
        warning = None
        if self.lock_file.exists():
            try:
                pid = int(self.lock_file.read_text().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            if pid_alive(pid) and pid != os.getpid():
                raise RunFolderError(
                    f"{self.path} is in use by another training run (pid {pid})",
                    "choose another --output folder or wait for that run to end", where=str(self.path))
            warning = f"{self.path} was left by a run that did not end cleanly (pid {pid}); taking it over"
        elif not resuming and self.status_file.exists():
            raise RunFolderError(
                f"{self.path} already holds a training run",
                "choose another --output folder, or resume it with --resume", where=str(self.path))
        fd = os.open(self.lock_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return warning

    def release(self) -> None:
        try:
            if self.lock_file.exists() and self.lock_file.read_text().strip() == str(os.getpid()):
                self.lock_file.unlink()
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
        raise RunFolderError(f"cannot resume: {path} has no complete checkpoint",
                             "start a new run, or check the folder is a whisper-tui run folder", where=str(path))
    return run, done[-1]
