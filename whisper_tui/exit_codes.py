"""What `whisper-tui`'s exit status means, for scripts that run it headless.

They live beside `errors.py` because each user-facing error class carries the code the CLI exits
with (`WhisperTuiError.exit_code`); the CLI and the errors both read them from here.
"""

EXIT_OK = 0
EXIT_BUG = 1  # an unexpected error: the traceback is in the log
EXIT_USER = 2  # a problem the user can fix (bad data, profile, model); one line says what and how
EXIT_TRAINING = 3  # training failed (out of memory, disk full, ...)
EXIT_CANCELLED = 130  # Ctrl+C / a cancelled run (128 + SIGINT, as shells report it)
