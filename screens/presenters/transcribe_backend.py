"""Which engine the Transcribe console runs models on: CTranslate2 int8 or torch.

CTranslate2 (int8 on CPU) transcribes about 4x faster than torch here, so it is the default
whenever the `ctranslate2` package imports. Models that are not CTranslate2 folders are exported
once into the cache on first use, and that export can fail (a folder the converter does not
understand, a hub model not downloaded yet): such a failure becomes a `ModelError` that names the
model and says to switch the backend to torch, so the screen shows it instead of a traceback.
When the model itself is broken (an adapter whose base is gone) torch would fail too, and the
message says what to fix instead.

Whether CTranslate2 can run, and what a loaded model runs on, are the engine's answers
(`whisper_tui.inference.backends`); this module only words them for the screen.
"""

from __future__ import annotations

import logging

from whisper_tui.errors import ModelError, WhisperTuiError
from whisper_tui.inference.backends import CT2, TORCH, backend_label, ct2_available, ct2_installed, windows_label

log = logging.getLogger("whisper_tui.ui")

BACKEND_CHOICES = [("CTranslate2 int8", CT2), ("torch", TORCH)]
BACKEND_LABELS = {value: label for label, value in BACKEND_CHOICES}
BACKEND_KEY = "ctrl+o"  # the screen's binding that switches backends, named in hints


def initial_backend() -> str:
    """ct2 when the package is installed; cheap (no import), so the screen can compose with it."""
    return CT2 if ct2_installed() else TORCH


def ct2_problem() -> str | None:
    """Why CTranslate2 cannot run here, or None. Imports it (~0.1 s), so call it from a worker."""
    return ct2_available()


def other_backend(backend: str) -> str:
    return TORCH if backend == CT2 else CT2


def engine_label(transcriber) -> str:
    """What the results say the model ran on: "CTranslate2 int8" (the compute type the model really
    got) or "torch", as the Transcriber reports it."""
    return transcriber.backend_info.label


def ran_with(infos: dict, names: dict[str, str] | None = None) -> str:
    """What the done line says the run ran on, from {role: BackendInfo}: each backend once ("CTranslate2 int8",
    "torch and CTranslate2 int8"), then an any-window model's windows, named by `names` (role -> short name)
    when several models ran: "CTranslate2 int8 (fine-tuned: windows 10/20/30 s)"."""
    names = names or {}
    backends = " and ".join(dict.fromkeys(backend_label(i.name, i.compute_type) for i in infos.values()))
    windows = [(role, windows_label(i.windows)) for role, i in infos.items() if len(i.windows) > 1]
    if not windows:
        return backends
    if len(infos) == 1:
        return f"{backends}, {windows[0][1]}"
    return f"{backends} ({'; '.join(f'{names.get(role, role)}: {w}' for role, w in windows)})"


def ct2_load_error(model_label: str, error: BaseException, torch_may_work: bool = True) -> ModelError:
    """A failed CTranslate2 load/export as a user-facing error: which model, why, and what to do.

    `torch_may_work` is False when the model itself cannot be resolved (an adapter whose base is
    gone, a folder that is no model): torch would fail the same way, so only the model's own hint
    is given, not "switch the backend".
    """
    if isinstance(error, WhisperTuiError):
        reason, hint = error.message, error.hint
    else:  # the converter's or the runtime's own exception: keep its traceback for bug reports
        log.warning("CTranslate2 could not load %s", model_label, exc_info=error)
        reason, hint = f"{type(error).__name__}: {error}", ""
    if not torch_may_work:
        return ModelError(f"Cannot load {model_label}: {reason}", hint or "pick another model", where=model_label)
    switch = f"switch the backend to torch ({BACKEND_KEY}) and run again (ctrl+r)"
    return ModelError(f"CTranslate2 could not load {model_label}: {reason}",
                      f"{hint}; or {switch}" if hint else switch.capitalize(), where=model_label)


def model_resolves(model: str) -> bool:
    """Whether the engine can find the model at all (offline, no loading): False means any backend fails."""
    from whisper_tui.models.loading import resolve_model

    try:
        resolve_model(model)
    except WhisperTuiError:
        return False
    except Exception:  # not the model's fault as far as we can tell
        return True
    return True
