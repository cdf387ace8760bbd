"""Export a model (a fine-tuned run, a LoRA adapter merged into its base, any local Whisper) to CTranslate2.

CTranslate2 is the engine behind faster-whisper: an exported folder loads with
`faster_whisper.WhisperModel(folder, compute_type="int8")` and with whisper-tui's own
`Transcriber(folder, backend="ct2")`. The conversion uses ctranslate2's own converter
(`TransformersConverter`) on a saved folder, never on a live model: quantising in process
rewrites the model's weights in place. LoRA adapters are merged into an fp32 base first.

The export carries `tokenizer.json` and `preprocessor_config.json` (faster-whisper reads the
mel-bin count from it; whisper-tui reads the encoder window, see window.py) and a `whisper_tui.json`
that says where it came from. A short-window model (model.window_s) exports fine, but faster-whisper
1.x always pads to 30 s and CTranslate2 then refuses the input: run such exports with whisper-tui's
ct2 backend.

An any-window model (model.windows) keeps its supported windows in the copied
preprocessor_config.json (`windows`, beside `chunk_length` = the longest), and whisper_tui.json
names them too. When its longest window is 30 s the export is also an ordinary faster-whisper model,
but faster-whisper pads every clip to 30 s, so only whisper-tui's ct2 backend runs the short windows
(and gets their speed); `whisper-tui export` says so (cli/export_command.py).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from whisper_tui.storage.atomic import atomic_directory, atomic_write_text, check_replaceable
from whisper_tui.config.locations import EXPORT_MARKER
from whisper_tui.errors import ModelError

QUANTIZATIONS = ("float32", "int8", "int8_float32", "int16", "float16", "int8_float16", "bfloat16", "int8_bfloat16")
DEFAULT_QUANTIZATION = "int8"


def export_ct2(model: str | Path, out_dir: str | Path, quantization: str | None = DEFAULT_QUANTIZATION,
               force: bool = False, on_status=None) -> Path:
    """Write `model` as a CTranslate2 Whisper into `out_dir`; returns `out_dir`.

    `quantization` is any of QUANTIZATIONS (None or "float32" keeps full precision). An existing
    `out_dir` is replaced only with `force`, and only when whisper-tui wrote it (an earlier
    export: `atomic.check_replaceable`), so `--force` can never delete a user's own folder; the
    new folder appears in one step, so an interrupted export never leaves half a model behind.
    """
    from whisper_tui.models.loading import resolve_model

    q = (quantization or "float32").lower()
    if q not in QUANTIZATIONS:
        raise ModelError(f"unknown quantization '{quantization}'", f"use one of: {', '.join(QUANTIZATIONS)}",
                         where="quantization")
    out_dir = Path(out_dir).expanduser()
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise ModelError(f"{out_dir} already exists and is not empty", "pick another folder or pass --force",
                         where=str(out_dir))
    check_replaceable(out_dir, (EXPORT_MARKER,))  # before the slow part: --force replaces only our exports
    ref = resolve_model(str(model))
    say = on_status or (lambda _msg: None)
    with tempfile.TemporaryDirectory(prefix="whisper-tui-export-") as tmp:
        source = _plain_whisper_folder(ref, Path(tmp) / "hf", say)
        say(f"converting to CTranslate2 ({q})")
        with atomic_directory(out_dir, ours=(EXPORT_MARKER,)) as target:
            _convert(source, target, None if q == "float32" else q)
            from whisper_tui.models.window import saved_windows

            atomic_write_text(target / EXPORT_MARKER, json.dumps({
                "exported_from": str(model), "resolved": ref.describe(), "format": "ctranslate2",
                "quantization": q, "windows": list(saved_windows(target)), **_training_info(ref)}, indent=2))
    return out_dir


def _plain_whisper_folder(ref, scratch: Path, say) -> Path:
    """A transformers Whisper folder with weights, config, generation config and processor files."""
    if ref.kind == "adapter":
        from whisper_tui.models.loading import load_model

        say(f"merging the LoRA adapter {ref.path} into its base model")
        merged, processor = load_model(ref, device="cpu", merge=True)
        merged.generation_config.forced_decoder_ids = None
        save_whisper_folder(merged, processor, scratch)
        return scratch
    if ref.path is None:
        raise ModelError(f"model '{ref.name}' is not available locally", "use a local folder or tiny.en",
                         where=ref.name)
    if not (ref.path / "preprocessor_config.json").exists() or not (ref.path / "tokenizer.json").exists():
        # Folders saved without processor files (a bare Trainer checkpoint) borrow the loader's processor.
        from whisper_tui.models.loading import load_model

        model, processor = load_model(ref, device="cpu")
        save_whisper_folder(model, processor, scratch)
        return scratch
    return ref.path


def save_whisper_folder(model, processor, folder: Path) -> None:
    """A plain transformers Whisper folder that ctranslate2's converter and faster-whisper both read."""
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    # transformers 5 folds the feature extractor into processor_config.json; faster-whisper reads
    # the mel-bin count from preprocessor_config.json, so write that file too.
    processor.feature_extractor.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)


def _convert(source: Path, target: Path, quantization: str | None) -> None:
    import ctranslate2

    from whisper_tui.models.convert import quiet_progress

    copy = [name for name in ("tokenizer.json", "preprocessor_config.json") if (source / name).exists()]
    converter = ctranslate2.converters.TransformersConverter(str(source), copy_files=copy)
    try:
        with quiet_progress():
            converter.convert(str(target), quantization=quantization, force=True)
    except (ValueError, NotImplementedError, RuntimeError, OSError) as exc:
        raise ModelError(f"CTranslate2 cannot convert {source}: {exc}",
                         "check that it is a Whisper model saved with transformers", where=str(source)) from exc


def _training_info(ref) -> dict:
    """best/base WER and the run folder from a run's whisper_tui.json, when there is one."""
    path = ref.path / EXPORT_MARKER if ref.path is not None else None
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: data[k] for k in ("base_model", "strategy", "best_wer", "base_wer", "run_dir", "step") if k in data}


def is_ct2_export(folder: str | Path) -> bool:
    folder = Path(folder)
    return (folder / "model.bin").is_file() and (folder / "config.json").is_file()
