"""Run control: the training thread, pause / resume / cancel, the run's state, its events and run.json.

`TrainingJob` composes one `RunControl`. The UI thread calls `pause()`, `resume()` and `cancel()`;
the training thread (the job, the Trainer callbacks in callbacks.py, the cache builds) asks
`check_cancel()` / `cancel_requested` / `wait_while_paused()` at its safe points, so the two threads
meet here and nowhere else. Under torchrun only rank 0 reports progress and writes the run folder;
every rank obeys the controls.
"""

from __future__ import annotations

import errno
import os
import threading
import traceback
from collections.abc import Callable, Iterable

from whisper_tui.errors import WhisperTuiError
from whisper_tui.training.events import (LogEvent, Paused, Resumed, RunCancelled, RunFailed, RunFinished,
                                         TrainingEvent)
from whisper_tui.training.run_folder import RunFolder, now_iso

Listener = Callable[[TrainingEvent], None]

OOM_HINT = ("lower training.per_device_train_batch_size, turn on finetuning.gradient_checkpointing, "
            "or use the lora / qlora strategy")

ACTIVE_STATES = ("starting", "running", "paused", "cancelling")


class Cancelled(Exception):
    """Raised on the training thread at a cancel point; `RunControl.run` turns it into the run's RunCancelled."""


def is_main_process() -> bool:
    """Rank 0 under torchrun (and always in a plain run): the process that writes the folder and reports."""
    return os.environ.get("RANK", "0") == "0"


class RunControl:
    def __init__(self, folder: RunFolder, listeners: Iterable[Listener] = ()):
        self.folder = folder
        self.listeners: list[Listener] = list(listeners)
        self.state = "idle"
        self.step = 0  # the last optimizer step trained (callbacks.JobCallback sets it)
        self.result: TrainingEvent | None = None
        self._pause = threading.Event()
        self._pause_wakeup = threading.Event()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._cleanups: list[Callable[[], None]] = []  # temporary files and patches, undone when the run ends

    # -- from any thread -----------------------------------------------------------------------
    def start(self, target: Callable[[], object]) -> None:
        if self._thread is not None:
            raise RuntimeError("this job was already started")
        self._thread = threading.Thread(target=target, name="whisper-tui-training", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._pause.set()

    def resume(self) -> None:
        self._pause.clear()
        self._pause_wakeup.set()
        self._pause_wakeup.clear()

    def cancel(self) -> None:
        self._cancel.set()
        self._pause_wakeup.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    # -- on the training thread ----------------------------------------------------------------
    def set_state(self, state: str) -> None:
        self.state = state

    def check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def cancel_point(self, _done: int = 0, _total: int = 0) -> None:
        """An `on_progress` hook for the cache builds: a cancel stops them within one batch."""
        self.check_cancel()

    def wait_while_paused(self, step: int) -> bool:
        """Between optimizer steps: block while a pause is asked for (state and events say so).
        False when a cancel came, before or during the pause: the caller saves a checkpoint and stops."""
        if self._cancel.is_set():
            return False
        if not self._pause.is_set():
            return True
        self.set_state("paused")
        self.emit(Paused(step))
        while self._pause.is_set() and not self._cancel.is_set():
            self._pause_wakeup.wait(0.2)
        if self._cancel.is_set():
            return False
        self.set_state("running")
        self.emit(Resumed(step))
        return True

    def emit(self, event: TrainingEvent) -> None:
        if not is_main_process() and not isinstance(event, (RunFinished, RunFailed, RunCancelled)):
            return  # under torchrun only rank 0 reports progress
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not kill training
                self.folder.log("listener failed:\n" + traceback.format_exc(), "error")

    def log(self, message: str, level: str = "info") -> None:
        if is_main_process():
            try:
                self.folder.log(message, level)
            except OSError:
                pass
        self.emit(LogEvent(message, level))

    def status(self, **fields) -> None:
        """Update run.json (rank 0 only)."""
        if is_main_process():
            self.folder.update_status(**fields)

    def add_cleanup(self, cleanup: Callable[[], None]) -> None:
        """Undo `cleanup` when the run ends, whatever way it ends (last added, first run)."""
        self._cleanups.append(cleanup)

    def run_cleanups(self) -> None:
        while self._cleanups:
            try:
                self._cleanups.pop()()
            except Exception:  # cleaning up must never hide the run's own result
                self.folder.log("cleanup failed:\n" + traceback.format_exc(), "warning")

    # -- the run's one way out -----------------------------------------------------------------
    def run(self, body: Callable[[], TrainingEvent], *, resuming: bool,
            on_cancel: Callable[[bool], RunCancelled]) -> TrainingEvent:
        """Run `body` with the folder held and turn every way it can end into one terminal event: a cancel
        (`on_cancel(acquired)` builds it), a user-fixable error, out of memory, a full disk, a bug. The event
        goes to the listeners, `result` holds it and `wait()` returns, whatever happened."""
        self.set_state("starting")
        acquired = False
        result: TrainingEvent = RunFailed("the run ended without a result", "see the log", "Internal")
        try:
            if is_main_process():  # under torchrun, rank 0 owns the folder; the other ranks only train
                warning = self.folder.acquire(resuming=resuming)
                acquired = True
            else:
                warning = None
            if warning:
                self.log(warning, "warning")
            result = body()
        except Cancelled:
            result = on_cancel(acquired)
        except WhisperTuiError as exc:
            result = self.fail(exc.message, exc.hint, type(exc).__name__, acquired)
        except MemoryError:
            result = self.fail("out of memory during training", OOM_HINT, "OutOfMemory", acquired)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                result = self.fail(f"disk full while writing {getattr(exc, 'filename', '') or self.folder.path}",
                                   "free some space; the previous checkpoint was kept", "DiskFull", acquired)
            else:
                result = self._unexpected(exc, acquired)
        except Exception as exc:
            if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower():
                result = self.fail(f"out of memory during training ({str(exc).splitlines()[0][:120]})", OOM_HINT,
                                   "OutOfMemory", acquired)
            else:
                result = self._unexpected(exc, acquired)
        finally:
            try:
                self.run_cleanups()
                if acquired:
                    self.folder.release()
            finally:
                # whatever happened above, wait() must return: the app's quit waits on it
                self.result = result
                try:
                    self.emit(result)
                finally:
                    self._done.set()
        return result

    def fail(self, reason: str, hint: str, kind: str, acquired: bool) -> RunFailed:
        self.set_state("failed")
        if acquired:
            try:
                self.folder.log(f"failed: {reason} ({hint})", "error")
                self.status(status="failed", finished=now_iso(), reason=reason)
            except OSError:
                pass
        return RunFailed(reason, hint, kind)

    def _unexpected(self, exc: Exception, acquired: bool) -> RunFailed:
        detail = traceback.format_exc()
        if acquired:
            try:
                self.folder.log(detail, "error")
            except OSError:
                pass
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return self.fail(f"{type(exc).__name__}: {first}"[:300], f"details are in {self.folder.log_file}",
                         type(exc).__name__, acquired)
