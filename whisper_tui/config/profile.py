"""Training profiles on disk: built-in presets, user profiles, command-line overrides, seed import.

A profile is a TOML file holding every training setting (schema in `profile_schema`, checks in
`profile_checks`, TOML writing in `profile_toml`). Built-in presets ship read-only in the top-level `profiles/` package; users
save their own under `locations.user_profiles_dir()` (moved with WHISPER_TUI_CONFIG_DIR). A user
profile may not reuse a built-in name, so a name always means one file. Writes are atomic: an
interrupted save leaves the previous file as it was.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from whisper_tui.config import locations
from whisper_tui.storage.atomic import atomic_write_text
from whisper_tui.errors import ProfileError, WhisperTuiError
from whisper_tui.config.profile_checks import Context, looks_like_path, profile_from_data, unknown_key_error
from whisper_tui.config.profile_schema import (
    LORA_TINY_LEARNING_RATE,
    LORA_RAISED_LEARNING_RATE,
    DataSettings,
    FinetuningSettings,
    LoraSettings,
    ModelSettings,
    OutputSettings,
    Profile,
    SettingSpec,
    TrainingSettings,
    all_keys,
    section_keys,
    settings,
)
from whisper_tui.config.profile_toml import key_lines

__all__ = [
    "BUILTIN_SOURCE", "DEFAULT_PROFILE", "LORA_TINY_LEARNING_RATE", "LORA_RAISED_LEARNING_RATE",
    "DataSettings", "FinetuningSettings", "LoraSettings", "ModelSettings", "OutputSettings", "Profile",
    "ProfileError", "ProfileInfo", "SettingSpec", "TrainingSettings", "apply_overrides",
    "check_strategy_available", "delete_user_profile", "import_seed_config", "list_profiles",
    "load_profile", "read_profile_file", "save_profile", "save_user_profile", "settings",
]

log = logging.getLogger(__name__)

DEFAULT_PROFILE = "cpu-quick"
BUILTIN_SOURCE = "built-in"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class ProfileInfo:
    """One row of the profile list. `error` is set (and the rest guessed) when the file is broken."""

    name: str
    path: Path
    builtin: bool
    description: str
    summary: str = ""  # Profile.describe(), e.g. "lora r16, 8 epochs, lr 1e-3, batch 8"
    error: str = ""


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def read_profile_file(path: str | os.PathLike, *, name: str | None = None, source: str | None = None) -> Profile:
    """Parse and validate one TOML file. Errors name the file, the dotted key and (when known) the line."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{where}: profile file does not exist", "check the path, or run `whisper-tui "
                           "profiles` to list the profiles by name", where=where) from None
    except IsADirectoryError:
        raise ProfileError(f"{where}: is a folder, not a profile file", "give the path of a .toml file",
                           where=where) from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{where}: is not UTF-8 text (byte {exc.start})", "save the profile as UTF-8",
                           where=where) from None
    except OSError as exc:
        raise ProfileError(f"{where}: cannot be read ({exc.strerror})", "check its permissions",
                           where=where) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already says "(at line L, column C)"; keep it whole.
        raise ProfileError(f"{where}: TOML syntax error: {exc}",
                           'fix that line: text needs double quotes (name = "tiny.en"), each key once, '
                           "sections as [name]", where=where) from None
    return profile_from_data(data, Context(where, key_lines(text)), name=name or path.stem,
                             source=source or where)


def builtin_profile_path(name: str) -> Path:
    return locations.builtin_profiles_dir() / f"{name}.toml"


def user_profile_path(name: str) -> Path:
    return locations.user_profiles_dir() / f"{name}.toml"


def builtin_names() -> list[str]:
    folder = locations.builtin_profiles_dir()
    names = sorted(p.stem for p in folder.glob("*.toml"))
    # the default first, so lists and pickers open on it
    return sorted(names, key=lambda n: n != DEFAULT_PROFILE)


def user_names() -> list[str]:
    folder = locations.user_profiles_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml") if _NAME_PATTERN.match(p.stem))


def _is_path(name_or_path: str | os.PathLike) -> bool:
    if isinstance(name_or_path, os.PathLike):
        return True
    text = str(name_or_path)
    return text.endswith(".toml") or "/" in text or os.sep in text


def load_profile(name_or_path: str | os.PathLike) -> Profile:
    """A .toml path, a built-in preset name (e.g. "cpu-quick") or a user profile name."""
    if _is_path(name_or_path):
        return read_profile_file(Path(name_or_path).expanduser())
    name = str(name_or_path).strip()
    builtin = builtin_profile_path(name)
    if name and builtin.is_file():
        return read_profile_file(builtin, name=name, source=BUILTIN_SOURCE)
    user = user_profile_path(name)
    if name and _NAME_PATTERN.match(name) and user.is_file():
        return read_profile_file(user, name=name)
    known = builtin_names() + user_names()
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = (f'did you mean "{close[0]}"? ' if close else "") + "profiles: " + ", ".join(known)
    raise ProfileError(f'no profile named "{name}" (looked in {builtin.parent} and {user.parent})', hint,
                       where=name)


def list_profiles() -> list[ProfileInfo]:
    """Built-in presets (default first), then user profiles by name. Broken files are listed with `error`."""
    infos = [_info(name, builtin_profile_path(name), True) for name in builtin_names()]
    builtin = set(builtin_names())
    for name in user_names():
        if name in builtin:
            log.warning("user profile %s is ignored: it has the name of a built-in profile; rename the file",
                        user_profile_path(name))
            continue
        infos.append(_info(name, user_profile_path(name), False))
    return infos


def _info(name: str, path: Path, builtin: bool) -> ProfileInfo:
    try:
        profile = read_profile_file(path, name=name, source=BUILTIN_SOURCE if builtin else None)
    except WhisperTuiError as exc:
        return ProfileInfo(name, path, builtin, "", "", str(exc))
    return ProfileInfo(name, path, builtin, profile.description, profile.describe())


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

def _refuse_builtin(name: str, action: str) -> ProfileError:
    return ProfileError(f'"{name}" is a built-in profile and cannot be {action}',
                        "save your changes under a new name (save as) instead", where=name)


def _is_builtin_file(path: Path) -> bool:
    try:
        return path.expanduser().resolve().parent == locations.builtin_profiles_dir().resolve()
    except OSError:
        return False


def save_profile(profile: Profile, path: str | os.PathLike | None = None) -> Path:
    """Validate, then write atomically to `path` (default: the file it was loaded from). Returns the path."""
    if path is None:
        # "<file> + command line" after overrides: saving means writing the edits back to <file>
        origin = profile.source.split(" + ")[0]
        if origin == BUILTIN_SOURCE:
            raise _refuse_builtin(profile.name, "changed")
        if not origin.endswith(".toml"):
            raise ProfileError(f'profile "{profile.name}" was not loaded from a file ({profile.source or "new"})',
                               "give a path to save it to, or save it under a name", where=profile.name)
        path = origin
    path = Path(path).expanduser()
    if _is_builtin_file(path):
        raise _refuse_builtin(path.stem, "changed")
    # A profile built in code may hold anything: check it the way a reader of the file would.
    profile_from_data(profile.to_dict(), Context(str(path)), name=path.stem, source=str(path))
    try:
        atomic_write_text(path, profile.to_toml())
    except WhisperTuiError:
        raise
    except OSError as exc:
        raise ProfileError(f"{path}: cannot save the profile ({exc.strerror or exc})",
                           "check that the folder exists and is writable, or save elsewhere",
                           where=str(path)) from exc
    return path


def check_profile_name(name: str) -> str:
    """A user profile name: letters, digits, '-', '_' and '.', not starting with '.' (a trailing .toml is dropped)."""
    name = name.strip()
    if name.endswith(".toml"):
        name = name[: -len(".toml")]
    if not _NAME_PATTERN.match(name):
        raise ProfileError(f'"{name}" cannot be a profile name',
                           "use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit", where=name)
    if builtin_profile_path(name).is_file():
        raise ProfileError(f'"{name}" is the name of a built-in profile',
                           "choose another name (built-in profiles cannot be replaced)", where=name)
    return name


def save_user_profile(profile: Profile, name: str, *, overwrite: bool = True) -> Path:
    """Save under the user profiles folder as `name`.toml (save as). Returns the file's path."""
    name = check_profile_name(name)
    path = user_profile_path(name)
    if not overwrite and path.exists():
        raise ProfileError(f'a user profile named "{name}" already exists ({path})',
                           "choose another name, or overwrite it", where=name)
    return save_profile(replace(profile, name=name, source=str(path)), path)


def delete_user_profile(name: str) -> Path:
    """Delete one user profile; built-in presets cannot be deleted. Returns the removed path."""
    if builtin_profile_path(name.strip()).is_file():
        raise _refuse_builtin(name.strip(), "deleted")
    name = check_profile_name(name)
    path = user_profile_path(name)
    try:
        path.unlink()
    except FileNotFoundError:
        raise ProfileError(f'no user profile named "{name}" ({path})',
                           "list them with `whisper-tui profiles`", where=name) from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot delete ({exc.strerror})", "check the folder's permissions",
                           where=str(path)) from exc
    return path


# ---------------------------------------------------------------------------------------------
# Overrides
# ---------------------------------------------------------------------------------------------

def apply_overrides(profile: Profile, overrides: dict[str, object], *, origin: str = "command line") -> Profile:
    """A new, validated profile with dotted keys replaced ({"training.learning_rate": 3e-5}).

    Values may be typed, or text as typed on a command line ("3e-5", "true", '["q_proj"]', "'no'"): see
    `parse_text_value`. Errors name `origin`.
    """
    if not overrides:
        return profile
    ctx = Context(origin)
    data = profile.to_dict()
    keys = all_keys()
    for dotted, value in overrides.items():
        dotted = str(dotted).strip()
        spec = keys.get(dotted)
        if isinstance(value, str):
            value = parse_text_value(value, text_setting=spec is not None and spec.rule.kind == "str")
        if spec is None:
            if dotted in section_keys() and isinstance(value, dict):
                _merge(data, dotted, value)
                continue
            raise unknown_key_error(dotted, ctx)
        _set(data, dotted, value)
    source = profile.source if profile.source.endswith(f" + {origin}") else f"{profile.source} + {origin}"
    return profile_from_data(data, ctx, name=profile.name, source=source, notes=profile.notes)


def parse_text_value(text: str, *, text_setting: bool = False) -> Any:
    """A value typed as text (`--set KEY=VALUE`, a form field) read as TOML: "3e-5" -> 3e-5, "true" -> True.

    Text that is not TOML stays as typed (the type check then reports it as it was typed). For a text
    setting (`text_setting`) only a quoted TOML string is unquoted ("'no'" -> "no"), so "42" stays "42".
    """
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()
    return value if not text_setting or isinstance(value, str) else text.strip()


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *tables, leaf = dotted.split(".")
    for table in tables:
        data = data.setdefault(table, {})
    data[leaf] = value


def _merge(data: dict[str, Any], dotted: str, values: dict[str, Any]) -> None:
    for key, value in values.items():
        _set(data, f"{dotted}.{key}", value)


# ---------------------------------------------------------------------------------------------
# QLoRA availability
# ---------------------------------------------------------------------------------------------

def check_strategy_available(strategy: str) -> str | None:
    """None when `strategy` can run on this machine, else a sentence saying why not and what to do."""
    strategy = strategy.strip().lower()
    if strategy in ("full", "lora"):
        return None
    if strategy != "qlora":
        return f'unknown strategy "{strategy}": use full, lora or qlora'
    return _qlora_problem()


@functools.lru_cache(maxsize=1)
def _qlora_problem() -> str | None:
    """Probe bitsandbytes once per process (importing it loads torch, so only when asked)."""
    from importlib import metadata

    try:
        version = metadata.version("bitsandbytes")
    except metadata.PackageNotFoundError:
        return "QLoRA needs the bitsandbytes package, which is not installed: install bitsandbytes>=0.50 or use lora"
    try:
        import torch

        cuda = torch.cuda.is_available()
    except Exception as exc:  # noqa: BLE001 - a broken torch install is reported, not raised
        return f"QLoRA needs torch, which cannot be imported ({exc}); use lora"
    if not cuda and _version_tuple(version) < (0, 50):
        return (f"bitsandbytes {version} runs 4-bit models only on NVIDIA GPUs and none was found: "
                "upgrade to bitsandbytes>=0.50 (4-bit on CPU) or use lora")
    try:
        import bitsandbytes.functional as bnbf

        bnbf.quantize_4bit(torch.ones(64, 64, device="cuda" if cuda else "cpu"), quant_type="nf4")
    except Exception as exc:  # noqa: BLE001 - any failure means QLoRA cannot run here
        return f"bitsandbytes {version} cannot quantise to 4 bits on this machine ({exc}); use lora"
    return None


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = re.match(r"\d+", piece)
        parts.append(int(digits.group()) if digits else 0)
    return tuple(parts)


# ---------------------------------------------------------------------------------------------
# Import of the seed tool's config.yaml
# ---------------------------------------------------------------------------------------------

# seed yaml key -> profile key (each key's Rule.seed_key)
SEED_KEY_MAP = {spec.rule.seed_key: spec.key for spec in settings() if spec.rule.seed_key}
# seed yaml keys that whisper-tui does not need, and why (kept as notes on the imported profile)
SEED_IGNORED = {
    "data.audio_format": "every audio format soundfile reads is used, so no format is chosen",
    "data.sample_rate": "audio is always resampled to 16 kHz, the rate Whisper needs",
    "finetuning.lora.bias": "adapters are trained without bias terms (bias = none)",
    "finetuning.lora.task_type": "left unset on purpose: SEQ_2_SEQ_LM makes peft break Whisper's forward",
    "training.save_steps": "checkpoints are saved at each evaluation",
    "training.dataloader_num_workers": "clips are loaded in the training process",
    "training.push_to_hub": "whisper-tui works offline and never uploads",
    "training.report_to": "metrics go to the run folder and the TUI",
    "evaluation.metric": "WER and CER are both reported",
}
# What the seed's train.py did when a key was missing, or always did (hard-coded there).
SEED_DEFAULTS = {
    "finetuning.strategy": "full", "finetuning.freeze_encoder": False,
    "finetuning.gradient_checkpointing": False, "training.learning_rate": 1e-5,
    "training.per_device_eval_batch_size": 4, "training.gradient_accumulation_steps": 2,
    "training.warmup_steps": 50, "training.logging_steps": 10, "training.eval_steps": 50,
    "training.fp16": True,  # seed: fp16 = torch.cuda.is_available(); here fp16 only acts on CUDA anyway
    "training.eval_strategy": "steps", "training.generation_max_length": 225,
    "output.merge_lora": True,  # the seed always saved a merged copy next to the adapter
}


def import_seed_config(yaml_path: str | os.PathLike) -> Profile:
    """A profile equivalent to the seed tool's config.yaml (its missing keys get the seed's defaults).

    Relative train_dir/output_dir are taken relative to the yaml's folder, where the seed was run.
    Seed keys with no use here are dropped and listed in `Profile.notes` (and in the saved file's header).
    """
    import yaml

    path = Path(yaml_path).expanduser()
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"{where}: file does not exist", "give the path of the seed tool's config.yaml",
                           where=where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{where}: cannot be read ({exc})", "check the file", where=where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProfileError(f"{where}: YAML syntax error{at}: {problem}", "fix that line (indent with spaces, "
                           "key: value)", where=where) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: is not a seed config (top level must be key: value sections)",
                           "give the path of the seed tool's config.yaml", where=where)
    data: dict[str, Any] = {}
    for key, value in SEED_DEFAULTS.items():
        _set(data, key, value)
    notes: list[str] = []
    names: dict[str, str] = {}
    ctx = Context(where, key_names=names)
    profile_keys = all_keys()
    for seed_key, value in _flatten(raw):
        if value is None:  # "key:" with nothing after it; the seed's .get() fell back to its default
            continue
        if seed_key in section_keys():  # a section written as a value: let validation say "must be a table"
            _set(data, seed_key, value)
            continue
        target = SEED_KEY_MAP.get(seed_key) or (seed_key if seed_key in profile_keys else None)
        if target is None and seed_key in SEED_IGNORED:
            notes.append(f"{seed_key} not imported: {SEED_IGNORED[seed_key]}")
            continue
        if target is None:
            raise _unknown_seed_key(seed_key, where)
        names[target] = seed_key
        spec = profile_keys[target]
        if spec.rule.kind in ("float", "number") and isinstance(value, str):
            value = _yaml_number(value)  # PyYAML reads 1e-5 (no dot) as text; the seed float()-ed it
        if isinstance(value, str) and value:
            value = _seed_path(target, value, path.parent)
        _set(data, target, value)
    profile = profile_from_data(data, ctx, name=path.stem, source=where, notes=tuple(notes))
    for note in notes:
        log.info("%s: %s", where, note)
    return replace(profile, description=profile.description or f"imported from {path.name}")


def _flatten(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and (dotted in section_keys() or dotted in ("evaluation",)):
            items.extend(_flatten(value, dotted + "."))
        else:
            items.append((dotted, value))
    return items


def _unknown_seed_key(key: str, where: str) -> ProfileError:
    import difflib

    known = sorted(set(SEED_KEY_MAP) | set(SEED_IGNORED) | set(all_keys()) - {"description"})
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if not close:
        leaf = key.rpartition(".")[2]
        close = [k for k in known if k.rpartition(".")[2] == leaf][:1]
    hint = f"did you mean {close[0]}?" if close else "keys of the seed's config.yaml: " + ", ".join(SEED_KEY_MAP)
    return ProfileError(f"{where}: {key} is not a known key", hint, where=key)


def _yaml_number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _seed_path(key: str, value: str, folder: Path) -> str:
    """Folders in the seed yaml were relative to where the seed ran: the yaml's folder.

    A model name is only rebased when that folder exists, so hub ids ("openai/whisper-tiny") stay as they are.
    """
    if key not in ("data.train_dir", "data.test_dir", "output.dir", "model.name"):
        return value
    candidate = Path(value).expanduser()
    if candidate.is_absolute():
        return str(candidate)
    rebased = (folder / candidate).resolve()
    if key == "model.name" and not (looks_like_path(value) and rebased.exists()):
        return value
    return str(rebased)
