"""Engine errors become notifications, never tracebacks on the user's screen.

A `WhisperTuiError` already says what is wrong and what to do, so it is shown as is (message, then
hint). Anything else is a bug: the user gets one line naming it and the traceback goes to the log
(`textual console` / the app log), where a bug report can pick it up.
"""

from __future__ import annotations

import logging

from textual.dom import DOMNode
from textual.markup import escape
from textual.worker import Worker, WorkerState

from whisper_tui.errors import WhisperTuiError

log = logging.getLogger("whisper_tui.ui")


def error_text(error: BaseException) -> str:
    """Plain text for a field or a notification body."""
    if isinstance(error, WhisperTuiError):
        return f"{error.message}\n{error.hint}" if error.hint else error.message
    return f"{type(error).__name__}: {error}"


def notify_error(node: DOMNode, error: BaseException, action: str = "") -> None:
    """Show `error` as an error notification titled by what was being done."""
    if not isinstance(error, WhisperTuiError):
        log.error("unexpected error during %s", action or "a background task", exc_info=error)
    title = f"Could not {action}" if action else "Error"
    if not isinstance(error, WhisperTuiError):
        title += " (unexpected error, details in the log)"
    node.app.notify(escape(error_text(error)), title=title, severity="error", timeout=12)


def notify_worker_failure(node: DOMNode, event: Worker.StateChanged) -> bool:
    """For `on_worker_state_changed`: report a worker that ended with an exception. True if it did."""
    worker = event.worker
    if event.state != WorkerState.ERROR or worker.error is None:
        return False
    action = worker.description or worker.name or ""
    notify_error(node, worker.error, action.replace("_", " "))
    return True
