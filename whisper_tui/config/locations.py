"""Where whisper-tui keeps things on disk.

One place for paths so tests can redirect everything with environment variables:
`WHISPER_TUI_CONFIG_DIR` (user profiles) and `WHISPER_TUI_CACHE_DIR` (converted models,
encoder caches, sample data). `whisper-tui locate` prints them.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

APP = "whisper-tui"
# The files that mark a folder as whisper-tui's: a CTranslate2 model converted to transformers (models/convert.py)
# and an export to CTranslate2 (models/export.py); storage/cache_admin.py lists the cache's folders by them.
CONVERTED_MARKER = "converted_from.json"
EXPORT_MARKER = "whisper_tui.json"
# The cache folder's subfolders (tests/test_one_home.py fails on a second copy of a name).
ENCODER_FOLDER = "encoder-cache"
CT2_FOLDER = "ct2"  # CTranslate2 exports made to transcribe a transformers model
CONVERTED_FOLDER = "models"  # converted_models_dir(): CTranslate2 models converted to transformers
CROSS_KV_FOLDER = "cross-kv"


def config_dir() -> Path:
    return Path(os.environ.get("WHISPER_TUI_CONFIG_DIR") or user_config_dir(APP))


def cache_dir() -> Path:
    return Path(os.environ.get("WHISPER_TUI_CACHE_DIR") or user_cache_dir(APP))


def data_dir() -> Path:
    return Path(os.environ.get("WHISPER_TUI_DATA_DIR") or user_data_dir(APP))


def user_profiles_dir() -> Path:
    return config_dir() / "profiles"


def builtin_profiles_dir() -> Path:
    import profiles  # the top-level `profiles/` folder ships as a data package

    return Path(profiles.__file__).resolve().parent


def converted_models_dir() -> Path:
    return cache_dir() / CONVERTED_FOLDER


def default_sample_data_dir() -> Path:
    return data_dir() / "sample-data"


def default_runs_dir() -> Path:
    return data_dir() / "runs"
