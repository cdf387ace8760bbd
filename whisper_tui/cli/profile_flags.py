"""`whisper-tui train`'s profile flags (--epochs, --lr, --budget ...), built from the profile schema.

Each flag is a shorthand for `--set KEY=VALUE`: its name, value name and help are the key's `Rule`
(`flag`, `metavar`, `help` in config/profile_schema.py), so a flag is written once, beside its key, and
`--help` says which key it sets. A bool gets --FLAG and --no-FLAG; a key with choices lists them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from whisper_tui.config.profile_schema import SettingSpec, flag_settings
from whisper_tui.errors import ProfileError

# Values read here rather than by argparse: folders as the shell that typed them sees them, and a
# duration as people write it ("5m"; training/budget.py reads it).
_FOLDER_KEYS = ("data.train_dir", "data.test_dir")
_DURATION_KEYS = ("training.budget_s",)
_ARG_TYPES = {"int": int, "float": float, "number": float}  # str: the text as typed


def flag_dest(spec: SettingSpec) -> str:
    """The argparse attribute of a key's flag: --batch-size -> args.batch_size."""
    return spec.rule.flag.replace("-", "_")


def flag_name(spec: SettingSpec) -> str:
    return f"--{spec.rule.flag}"


def add_profile_flags(parser: argparse.ArgumentParser) -> None:
    """One option per key with a `Rule.flag`, in the schema's order; every default is None (= keep the profile's)."""
    for spec in flag_settings():
        rule = spec.rule
        options: dict = {"dest": flag_dest(spec), "default": None,
                         "help": f"{rule.help} ({spec.key})".replace("%", "%%")}  # argparse %-formats help
        if rule.metavar:
            options["metavar"] = rule.metavar
        if rule.kind == "bool":
            parser.add_argument(flag_name(spec), action=argparse.BooleanOptionalAction, **options)
            continue
        if rule.choices:
            options["choices"] = list(rule.choices)
        if spec.key not in _DURATION_KEYS:
            options["type"] = _ARG_TYPES.get(rule.kind)
        parser.add_argument(flag_name(spec), **options)


def flag_overrides(args: argparse.Namespace, specs: list[SettingSpec] | None = None) -> dict[str, object]:
    """{key: value} for the profile flags that were given (`apply_overrides` checks them)."""
    overrides: dict[str, object] = {}
    for spec in flag_settings() if specs is None else specs:
        value = getattr(args, flag_dest(spec), None)
        if value is None:
            continue
        if spec.key in _FOLDER_KEYS:
            value = str(Path(value).expanduser().resolve())
        elif spec.key in _DURATION_KEYS:
            value = duration_seconds(value, flag_name(spec), spec.key)
        overrides[spec.key] = value
    return overrides


def duration_seconds(text: str, flag: str, key: str) -> float:
    """'5m', '90s', '300' -> seconds, or a ProfileError naming the flag."""
    from whisper_tui.training.budget import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ProfileError(f"{flag}: {exc}", f"e.g. {flag} 5m (0 = no budget)", where=key) from exc


def set_overrides(items: list[str] | None) -> dict[str, object]:
    """`--set KEY=VALUE` (repeatable) as {key: text}; `apply_overrides` reads the text as TOML."""
    overrides: dict[str, object] = {}
    for item in items or []:
        if "=" not in item:
            raise ProfileError(f"--set {item}: expected SECTION.KEY=VALUE", "e.g. --set training.warmup_steps=0.05")
        key, raw = item.split("=", 1)
        overrides[key.strip()] = raw
    return overrides
