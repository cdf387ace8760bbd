"""The `whisper-tui` console script: the app with no arguments on a terminal, the engine's CLI otherwise.

It sits above both halves so the engine never has to know a UI exists: `whisper_tui.cli.main`
parses and runs subcommands (and, called with no command, explains that one is needed), while
only this module decides that a bare `whisper-tui` on a terminal means "open the app". `tui`
stays a subcommand so `whisper-tui tui` opens the app even when stdin/stdout are not a TTY.
"""

from __future__ import annotations

import sys

APP_COMMAND = "tui"


def wants_app(argv: list[str], *, stdin_tty: bool, stdout_tty: bool) -> bool:
    """True for `whisper-tui tui`, and for a bare `whisper-tui` when both ends are a terminal."""
    if argv == [APP_COMMAND]:
        return True
    return not argv and stdin_tty and stdout_tty


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if wants_app(argv, stdin_tty=sys.stdin.isatty(), stdout_tty=sys.stdout.isatty()):
        from screens.app import run_app  # Textual loads only when the app is wanted

        return run_app() or 0
    from whisper_tui.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
