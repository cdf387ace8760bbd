"""Keep library chatter out of the user's terminal; whisper-tui's own log says what matters.

bitsandbytes warns on import that an optional `kernels` package is missing (harmless: nf4 runs
without it), peft trips a transformers deprecation warning, and transformers prints load bars.

Quieting transformers must not import it: the CTranslate2 commands never need it, and importing it
(with torch) cost seconds of a one-second transcription. When it is not imported yet, a one-shot
import hook quiets it the moment something does import it.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import warnings

_done = False


def quiet_libraries() -> None:
    global _done
    if _done:
        return
    _done = True
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
    warnings.filterwarnings("ignore", message=".*gemm_4bit_forward.*")
    if "transformers" in sys.modules:
        _quiet_transformers()
    else:
        sys.meta_path.insert(0, _QuietOnImport())


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


class _QuietOnImport:
    """A sys.meta_path finder that finds nothing itself: on the first `import transformers` it wraps the
    real loader so that `_quiet_transformers` runs right after transformers has loaded, then leaves
    sys.meta_path. (Not an importlib.abc subclass: importing that module costs more than this one.)"""

    def find_spec(self, fullname, path, target=None):
        if fullname != "transformers":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_quiet(module):
            exec_module(module)
            _quiet_transformers()

        loader.exec_module = exec_then_quiet  # this spec's own loader instance, used for this one import
        return spec
