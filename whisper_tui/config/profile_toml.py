"""A profile as TOML: every key under a comment saying what it does (`render_toml`), and the line of each key
in a file (`key_lines`), so value errors point at a line too."""

from __future__ import annotations

import re
from typing import Any

import tomli_w

from whisper_tui.config.profile_schema import DESCRIPTION_RULE, Profile, settings


HEADER = """\
# whisper-tui training profile. Every setting is listed with its meaning; a profile may also
# leave keys out (they take their defaults). Section and key names follow the seed tool's
# config.yaml.
"""


def render_toml(profile: Profile) -> str:
    """TOML with every key, each under a comment saying what it does; values are encoded by tomli_w."""
    lines = [HEADER.rstrip("\n")]
    lines += [f"# note: {note}" for note in profile.notes]
    lines += ["", f"# {DESCRIPTION_RULE.help}", f"description = {_toml_value(profile.description)}"]
    current = None
    for spec in settings()[1:]:
        table, _, leaf = spec.key.rpartition(".")
        if table != current:
            lines += ["", f"[{table}]"]
            current = table
        choices = f" ({' | '.join(spec.rule.choices)})" if spec.rule.choices else ""
        lines += [f"# {spec.rule.help}{choices}", f"{leaf} = {_toml_value(profile.get(spec.key))}"]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    """One value as TOML; arrays stay on one line (tomli_w would spread them over several)."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return tomli_w.dumps({"v": value}).strip()[len("v = "):]


def key_lines(text: str) -> dict[str, int]:
    """Line number of each `key = value` and `[table]` in TOML text, by dotted key.

    tomllib reports lines only for syntax errors; this lets value errors point at a line too.
    Good enough for hand-written profiles (inline tables and multi-line strings are skipped).
    """
    lines: dict[str, int] = {}
    table = ""
    header = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
    assignment = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")
    for number, raw in enumerate(text.splitlines(), start=1):
        if m := header.match(raw):
            table = _unquote_key(m.group(1))
            lines.setdefault(table, number)
        elif m := assignment.match(raw):
            key = _unquote_key(m.group(1))
            lines.setdefault(f"{table}.{key}" if table else key, number)
    return lines


def _unquote_key(key: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in key.split("."))
