"""The model folders a run writes (final/, best/, merged/): weights, processor, generation config and a
whisper_tui.json saying what they are, each folder replaced atomically so a crash leaves the old one."""

from __future__ import annotations

import json
from pathlib import Path

from whisper_tui.models.parts import base_of


def write_model_folder(target: Path, model, processor, info: dict) -> None:
    """`model` (a PEFT model saves its adapters) and `processor` into `target`, with `info` as whisper_tui.json."""
    from whisper_tui.storage.atomic import atomic_directory, atomic_write_text

    with atomic_directory(target) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        base_of(model).generation_config.save_pretrained(tmp)
        atomic_write_text(tmp / "whisper_tui.json", json.dumps(info, indent=2))


def write_merged_folder(adapters: Path, target: Path, info: dict) -> None:
    """The LoRA adapters saved in `adapters` merged into their base model: a full model in `target`."""
    from whisper_tui.models.loading import load_model

    merged, processor = load_model(str(adapters), device="cpu", merge=True)
    write_model_folder(target, merged, processor, info)
