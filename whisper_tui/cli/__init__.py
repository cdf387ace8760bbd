"""The `whisper-tui` command line: argument parsing, the subcommands' handlers, headless output."""

from whisper_tui.cli.main import main

__all__ = ["main"]
