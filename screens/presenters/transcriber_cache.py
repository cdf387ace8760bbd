"""The Transcribe console's loaded models, so running again (or comparing) does not reload them.

Loading takes seconds and a CTranslate2 export of a fine-tuned model longer, so transcribers are
kept per (model, backend): the compare base plus the last chosen model of the current backend.
Loads run in the screen's worker thread; nothing here touches widgets.
"""

from __future__ import annotations

from screens.presenters.transcribe_backend import BACKEND_LABELS, CT2, ct2_load_error, model_resolves
from screens.presenters.transcribe_models import BUNDLED, is_bundled, short_model_name

MAX_CACHED_MODELS = 2  # the bundled model and the chosen one stay loaded between runs


def loading_text(value: str, backend: str) -> str:
    """The status line while `value` loads on `backend`."""
    name = short_model_name(value)
    if backend == CT2 and not is_bundled(value):  # the bundled model already is a CTranslate2 folder
        return f"Loading {name} for CTranslate2 (the first time exports it, which takes a while)…"
    return f"Loading {name} ({BACKEND_LABELS.get(backend, backend)})…"


class TranscriberCache:
    """`get(model, backend)` -> a loaded Transcriber; `factory(model, backend=...)` stands in for it in tests."""

    def __init__(self, factory=None, limit: int = MAX_CACHED_MODELS) -> None:
        self.factory = factory  # None: whisper_tui.inference.transcribe.Transcriber
        self.limit = limit
        self._loaded: dict[tuple[str, str], object] = {}

    def keys(self) -> list[tuple[str, str]]:
        return list(self._loaded)

    def get(self, value: str, backend: str, keep: str = BUNDLED):
        """The transcriber for `value` on `backend`, loading it if needed; `keep` (the compare base)
        is the last to be dropped. A failed ct2 load or export raises a ModelError naming the model
        and the way out (the torch backend, unless the model itself is broken)."""
        key = (_key(value), backend)
        if key not in self._loaded:
            evictable = [k for k in self._loaded if k != (_key(keep), backend)]
            while evictable and len(self._loaded) >= self.limit:
                self._loaded.pop(evictable.pop(0), None)
            self._loaded[key] = self._load(key[0], backend, value)
        return self._loaded[key]

    def _load(self, model: str, backend: str, value: str):
        make = self.factory
        if make is None:
            from whisper_tui.inference.transcribe import Transcriber as make
        try:
            return make(model, backend=backend)
        except Exception as exc:
            if backend != CT2:
                raise
            raise ct2_load_error(short_model_name(value), exc, torch_may_work=model_resolves(model)) from exc


def _key(value: str) -> str:
    return BUNDLED if is_bundled(value) else value
