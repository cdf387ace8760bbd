"""Keep library chatter out of the user's terminal; whisper-tui's own log says what matters.

bitsandbytes warns on import that an optional `kernels` package is missing (harmless: nf4 runs
without it), peft trips a transformers deprecation warning, and transformers prints load bars.
"""

from __future__ import annotations

import logging
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
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
