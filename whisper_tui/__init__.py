"""whisper-tui engine: fine-tune, evaluate and run Whisper Tiny offline.

Importing this package must stay cheap and must not import Textual (the UI in `screens/`
depends on the engine, never the reverse); torch and transformers load lazily inside the
functions that need them.
"""

__version__ = "0.1.0"
