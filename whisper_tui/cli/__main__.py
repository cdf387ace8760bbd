"""`python -m whisper_tui.cli` (used by torchrun and the tests' subprocesses)."""

import sys

from whisper_tui.cli.main import main

sys.exit(main())
