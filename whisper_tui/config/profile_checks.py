"""Turn raw TOML data into a `Profile`: each value coerced to its `Rule` (profile_schema.py) with an error that
names the key, its line and what to write instead; unknown keys with the closest valid name; checks across
keys; and the `model.name` sanity check (does a path-like name point at a Whisper model folder? It reads
config files only, no torch).
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from whisper_tui.config.profile_schema import (
    DESCRIPTION_RULE,
    RUN_MODEL_FOLDERS,
    SECTIONS,
    Profile,
    Rule,
    SettingSpec,
    all_keys,
    format_number,
    nested_class,
    spec_augment_masks_anything,
)
from whisper_tui.errors import ProfileError


@dataclass
class Context:
    """Where the data came from, for error messages: 'my.toml: training.learning_rate must be ...'."""

    where: str  # file path, "command line", ...
    key_lines: Mapping[str, int] = field(default_factory=dict)  # dotted key -> line in the file
    key_names: Mapping[str, str] = field(default_factory=dict)  # our key -> the user's spelling (seed import)

    def error(self, key: str, problem: str, hint: str = "") -> ProfileError:
        shown = self.key_names.get(key, key)
        line = self.key_lines.get(key)
        at = f" (line {line})" if line else ""
        return ProfileError(f"{self.where}: {shown} {problem}{at}", hint, where=key)


def profile_from_data(data: Mapping[str, Any], ctx: Context, *, name: str, source: str,
                      notes: tuple[str, ...] = ()) -> Profile:
    """Check every key and value of parsed TOML data; missing keys take their defaults."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "description":
            values[key] = _coerce(value, DESCRIPTION_RULE, key, ctx)
        elif key in SECTIONS:
            values[key] = _build_section(SECTIONS[key], value, key, ctx)
        else:
            raise unknown_key_error(key, ctx)
    profile = Profile(name=name, source=source, notes=notes, **values)
    _check_cross_fields(profile, ctx)
    return profile


def _build_section(cls: type, data: Any, prefix: str, ctx: Context) -> Any:
    if not isinstance(data, Mapping):
        raise ctx.error(prefix, f"must be a table of settings (got {_show(data)})",
                        f"write it as a [{prefix}] section with key = value lines")
    by_name = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}"
        f = by_name.get(key)
        if f is None:
            raise unknown_key_error(dotted, ctx)
        if "rule" in f.metadata:
            values[key] = _coerce(value, f.metadata["rule"], dotted, ctx)
        else:
            values[key] = _build_section(nested_class(cls, key), value, dotted, ctx)
    return cls(**values)


def _coerce(value: Any, rule: Rule, key: str, ctx: Context) -> Any:
    """Check one value's type and range; returns it normalised (ints as floats, lists as tuples)."""
    bad = ctx.error(key, f"must be {rule.requirement()} (got {_show(value)})", _hint(rule, key, value))
    if rule.kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if rule.kind == "str":
        if isinstance(value, bool) and rule.choices == ("auto", "true", "false"):
            value = str(value).lower()  # a TOML true/false for an auto/true/false key (data.only_reviewed)
        if not isinstance(value, str):
            raise bad
        if rule.choices:
            if value.strip().lower() not in rule.choices:
                raise bad
            return value.strip().lower()
        return value
    if rule.kind == "str_list":
        return _coerce_list(value, rule, key, ctx, bad)
    if rule.kind == "int_list":
        return _coerce_int_list(value, rule, key, ctx, bad)
    # numbers: bool is an int in Python but never a number in a profile
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad
    if isinstance(value, float) and not math.isfinite(value):
        raise bad
    if rule.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise bad
            value = int(value)
    elif rule.kind == "float":
        value = float(value)
    if not _in_range(value, rule):
        raise bad
    return value


def _coerce_list(value: Any, rule: Rule, key: str, ctx: Context, bad: ProfileError) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise bad
    items = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ctx.error(key, f"must list layer names as text (got {_show(item)} in {_show(value)})",
                            _hint(rule, key, value))
        name = item.strip()
        if rule.allowed and name not in rule.allowed:
            close = difflib.get_close_matches(name, rule.allowed, n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            raise ctx.error(key, f'names an unknown layer "{name}"',
                            hint + "Whisper's adaptable layers are " + ", ".join(rule.allowed))
        if name not in items:
            items.append(name)
    return tuple(items)


def _coerce_int_list(value: Any, rule: Rule, key: str, ctx: Context, bad: ProfileError) -> tuple[int, ...]:
    """Whole numbers in range, sorted and without repeats; "10, 20, 30" as typed in a form counts as a list."""
    if isinstance(value, str):
        parts = [p for p in value.replace(",", " ").split() if p]
        try:
            value = [int(p) for p in parts]
        except ValueError:
            raise bad from None
    if not isinstance(value, list | tuple):
        raise bad
    items = set()
    for item in value:
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or not _in_range(item, rule):
            raise ctx.error(key, f"must list whole seconds from {format_number(rule.low)} to {format_number(rule.high)} "
                            f"(got {_show(item)} in {_show(value)})", _hint(rule, key, value))
        items.add(item)
    return tuple(sorted(items))


def _in_range(value: float, rule: Rule) -> bool:
    if rule.low is not None and (value <= rule.low if rule.low_open else value < rule.low):
        return False
    return not (rule.high is not None and (value >= rule.high if rule.high_open else value > rule.high))


def _hint(rule: Rule, key: str, value: Any) -> str:
    leaf = key.rsplit(".", 1)[-1]
    if rule.choices and isinstance(value, str):
        close = difflib.get_close_matches(value.strip().lower(), rule.choices, n=1)
        if close:
            return f'did you mean "{close[0]}"? ({rule.help})'
    if rule.kind in ("int", "float", "number") and isinstance(value, str):
        return f"write numbers without quotes, e.g. {leaf} = {value.strip() or 1}"
    if rule.kind == "bool" and isinstance(value, str | int):
        return f"write {leaf} = true or {leaf} = false, without quotes"
    if rule.kind == "str" and not isinstance(value, str):
        return f'put text in double quotes, e.g. {leaf} = "{value}"'
    default = all_keys()[key].default if key in all_keys() else None
    suffix = f" (default {_show(list(default) if isinstance(default, tuple) else default)})" if default is not None else ""
    return f"{rule.help}{suffix}"


def unknown_key_error(key: str, ctx: Context) -> ProfileError:
    """Unknown section or key, with the closest valid name (same table first, then anywhere)."""
    keys = all_keys()
    parent, _, leaf = key.rpartition(".")
    siblings = sorted({k[len(parent) + 1:].split(".")[0] if parent else k.split(".")[0]
                       for k in keys if not parent or k.startswith(parent + ".")})
    suggestion = _closest_key(parent, leaf, siblings, keys)
    hint = f"did you mean {suggestion}?" if suggestion else "valid names here: " + ", ".join(siblings)
    what = "section or key" if not parent else "key"
    return ctx.error(key, f"is not a known {what}", hint)


def _closest_key(parent: str, leaf: str, siblings: list[str], keys: Mapping[str, SettingSpec]) -> str:
    """Right name in the wrong table first ([training] strategy), then a misspelling, then a part of a name."""
    elsewhere = [k for k in keys if k.rpartition(".")[2] == leaf and k.rpartition(".")[0] != parent]
    if elsewhere:
        return elsewhere[0]
    close = difflib.get_close_matches(leaf, siblings, n=1, cutoff=0.6)
    if close:
        return f"{parent}.{close[0]}" if parent else close[0]
    by_leaf = {k.rpartition(".")[2]: k for k in keys}
    close = difflib.get_close_matches(leaf, list(by_leaf), n=1, cutoff=0.6)
    if close:
        return by_leaf[close[0]]
    containing = [k for k in by_leaf if len(leaf) >= 4 and leaf.lower() in k]
    return by_leaf[containing[0]] if containing else ""


def _check_cross_fields(profile: Profile, ctx: Context) -> None:
    data, tr = profile.data, profile.training
    if data.min_duration_s >= data.max_duration_s:
        raise ctx.error("data.min_duration_s",
                        f"must be below data.max_duration_s ({format_number(data.min_duration_s)} >= "
                        f"{format_number(data.max_duration_s)})", "lower min_duration_s or raise max_duration_s")
    model = profile.model
    window = max(model.trained_windows) if model.trained_windows else model.window_s
    key = "model.windows" if model.trained_windows else "model.window_s"
    if window > 0 and data.min_duration_s >= window:
        raise ctx.error("data.min_duration_s", f"must be below {key} ({format_number(data.min_duration_s)} >= "
                        f"{window}): every clip would be skipped", f"lower min_duration_s or raise {key.partition('.')[2]}")
    if tr.warmup_steps >= 1 and not float(tr.warmup_steps).is_integer():
        raise ctx.error("training.warmup_steps", f"must be a ratio below 1 or a whole number of steps "
                        f"(got {format_number(tr.warmup_steps)})", "e.g. warmup_steps = 0.1 or warmup_steps = 50")
    if tr.spec_augment and not spec_augment_masks_anything(tr):
        raise ctx.error("training.spec_augment", "is true but draws no mask (a kind of mask needs a count and "
                        "a width above 0: spec_augment_freq_masks and _freq_width, or spec_augment_time_masks and "
                        "_time_width)", "raise one of those counts and widths, or set spec_augment = false")
    if tr.augment_snr_high_db and tr.augment_snr_low_db > tr.augment_snr_high_db:
        raise ctx.error("training.augment_snr_low_db", f"must not exceed training.augment_snr_high_db "
                        f"({format_number(tr.augment_snr_low_db)} > {format_number(tr.augment_snr_high_db)})",
                        "e.g. augment_snr_low_db = 10 and augment_snr_high_db = 30 (or high = 0 for no noise)")
    if tr.max_steps == 0:
        raise ctx.error("training.max_steps", "must be -1 (run every epoch) or a number of steps > 0 (got 0)",
                        "set max_steps = -1 to train for num_train_epochs")
    check_model_name(profile.model.name, ctx)


# ---------------------------------------------------------------------------------------------
# model.name sanity check (no torch: only looks at config files)
# ---------------------------------------------------------------------------------------------

def looks_like_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith((".", "~"))


def check_model_name(name: str, ctx: Context) -> None:
    """Refuse a path-like model.name that exists but holds no Whisper model or adapter.

    A missing 'org/model' is left alone (it may be a hub id; the model loader decides), but a
    name starting with '.', '~' or '/' can only be a local folder, so it must exist.
    """
    key = "model.name"
    hint = ("use tiny.en (bundled), a folder saved by whisper-tui or transformers (config.json with "
            'model_type "whisper"), a LoRA adapter folder (adapter_config.json), a run folder, or a hub id')
    if not name.strip():
        raise ctx.error(key, "is empty", hint)
    if not looks_like_path(name):
        return
    path = Path(name).expanduser()
    if not path.exists():
        if name.startswith((".", "~", "/")):
            raise ctx.error(key, f'points at "{path}", which does not exist', hint)
        return
    if path.is_file():
        raise ctx.error(key, f'"{name}" is a file, not a model folder', hint)
    problem = _whisper_folder_problem(path)
    if problem is None:
        return
    # A run folder keeps its models one level down (see docs/ENGINE_API.md, run folder layout).
    if (path / "run.json").is_file():
        return
    if any(_whisper_folder_problem(path / sub) is None for sub in RUN_MODEL_FOLDERS):
        return
    raise ctx.error(key, f'"{name}" is not a Whisper model folder ({problem})', hint)


def _whisper_folder_problem(path: Path) -> str | None:
    """None when `path` holds a Whisper model or a LoRA adapter, else what is wrong with it."""
    if (path / "adapter_config.json").is_file():
        return None
    config = path / "config.json"
    if not config.is_file():
        return "no config.json or adapter_config.json"
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return "its config.json cannot be read as JSON"
    if model_type != "whisper":
        return f'config.json says model_type "{model_type}", not "whisper"'
    return None


def _show(value: Any) -> str:
    """A value the way it is written in TOML, for '(got ...)'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float):
        return format_number(value) if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
