"""Which prompt (previous text, OpenAI's initial_prompt) decoding uses when the command line gives none.

A profile's `model.prompt` is the vocabulary/prompt transcribe and evaluate use by default: the profile
named with --profile, else the profile.toml of the run folder the model comes from (a run folder, or its
final/, best/, merged/), so a tune made with a prompt is decoded with it. An explicit --prompt wins,
and an empty one (`--prompt ""`) turns a default off.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from whisper_tui.config.profile_schema import RUN_MODEL_FOLDERS


def run_profile_prompt(model) -> str | None:
    """`model.prompt` of the run folder `model` lives in (its profile.toml), or None."""
    if model is None:
        return None
    path = Path(str(model)).expanduser()
    for folder in (path, path.parent if path.name in RUN_MODEL_FOLDERS else None):
        if folder is None or not (folder / "profile.toml").is_file():
            continue
        try:  # only this key: an older run's profile.toml may hold keys this version no longer knows
            data = tomllib.loads((folder / "profile.toml").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None  # a broken profile.toml says nothing about a prompt (the run list reports it)
        prompt = data.get("model", {}).get("prompt") if isinstance(data.get("model"), dict) else None
        return (prompt.strip() or None) if isinstance(prompt, str) else None
    return None


def resolve_prompt(explicit: str | None, model=None, profile: str | None = None) -> str | None:
    """The prompt to decode with: `explicit` (--prompt; "" = none) else `profile`'s model.prompt
    (a name or .toml, loaded and checked) else the model's run folder's, else None."""
    if explicit is not None:
        return explicit.strip() or None
    if profile:
        from whisper_tui.config.profile import load_profile

        return load_profile(profile).model.prompt.strip() or None
    return run_profile_prompt(model)
