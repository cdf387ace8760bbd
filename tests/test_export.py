"""Export to CTranslate2 (merged LoRA, quantised) and the ct2 transcription backend, on a tiny random Whisper."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from whisper_tui.errors import ModelError
from whisper_tui.cli.export_command import cmd_export
from whisper_tui.models.export import export_ct2, is_ct2_export


def _logits(model, tokens=(50257, 50362, 1870, 523, 616)):
    import torch

    gen = torch.Generator().manual_seed(0)
    features = torch.randn(1, model.config.num_mel_bins, 3000, generator=gen)
    with torch.no_grad():
        return model(input_features=features, decoder_input_ids=torch.tensor([list(tokens)])).logits


@pytest.fixture(scope="module")
def adapter_dir(tiny_whisper_dir, tmp_path_factory):
    """A LoRA adapter on the tiny model with non-zero weights, saved the way a training run saves one."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import WhisperForConditionalGeneration

    base = WhisperForConditionalGeneration.from_pretrained(tiny_whisper_dir)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(3)
    for name, p in model.named_parameters():
        if "lora_" in name:
            p.data.normal_(0, 0.3)
    out = tmp_path_factory.mktemp("adapter") / "final"
    model.save_pretrained(out)
    (out / "whisper_tui.json").write_text(json.dumps({"base_model": str(tiny_whisper_dir), "best_wer": 0.5}))
    merged = model.merge_and_unload().eval()
    return out, _logits(merged)


def test_a_lora_adapter_is_merged_and_exported_with_the_same_outputs(adapter_dir, tmp_path):
    import ctranslate2

    from whisper_tui.models.loading import load_model

    adapter, merged_logits = adapter_dir
    out = export_ct2(adapter, tmp_path / "ct2", quantization="float32")
    assert is_ct2_export(out)
    for name in ("model.bin", "config.json", "tokenizer.json", "preprocessor_config.json", "whisper_tui.json"):
        assert (out / name).is_file(), name
    info = json.loads((out / "whisper_tui.json").read_text())
    assert info["quantization"] == "float32" and info["best_wer"] == 0.5
    assert json.loads((out / "preprocessor_config.json").read_text())["feature_size"] == 80
    ctranslate2.models.Whisper(str(out), device="cpu")  # loads in CTranslate2 itself
    exported, _processor = load_model(str(out))  # read back through our CT2 -> transformers converter
    assert np.allclose(_logits(exported).numpy(), merged_logits.numpy(), atol=1e-4)


def test_int8_export_is_smaller_and_loads_in_faster_whisper(tiny_whisper_dir, tmp_path):
    faster_whisper = pytest.importorskip("faster_whisper")

    full = export_ct2(tiny_whisper_dir, tmp_path / "fp32", quantization="float32")
    small = export_ct2(tiny_whisper_dir, tmp_path / "int8", quantization="int8")
    assert (small / "model.bin").stat().st_size < (full / "model.bin").stat().st_size
    model = faster_whisper.WhisperModel(str(small), device="cpu", compute_type="int8")
    wave = (0.1 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 220)).astype(np.float32)
    segments, _info = model.transcribe(wave, beam_size=1, language="en", without_timestamps=True)
    assert isinstance(" ".join(s.text for s in segments), str)


def test_export_refuses_bad_requests(tiny_whisper_dir, tmp_path):
    with pytest.raises(ModelError, match="unknown quantization"):
        export_ct2(tiny_whisper_dir, tmp_path / "x", quantization="int3")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(ModelError, match="not empty") as err:
        export_ct2(tiny_whisper_dir, busy)
    assert "--force" in err.value.hint and (busy / "keep.txt").exists()
    (tmp_path / "notes").mkdir()
    with pytest.raises(ModelError):
        export_ct2(tmp_path / "notes", tmp_path / "y")
    assert not (tmp_path / "y").exists()


def test_force_never_replaces_a_folder_whisper_tui_did_not_write(tiny_whisper_dir, tmp_path):
    from whisper_tui.errors import NotOurFolder

    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("years of work")
    with pytest.raises(NotOurFolder, match="did not write") as err:
        export_ct2(tiny_whisper_dir, mine, force=True)
    assert err.value.where == str(mine) and (mine / "chapter1.tex").read_text() == "years of work"


def test_force_replaces_an_export_in_one_piece(tiny_whisper_dir, tmp_path):
    out = export_ct2(tiny_whisper_dir, tmp_path / "ct2", quantization="int8")
    first = (out / "model.bin").stat().st_size
    export_ct2(tiny_whisper_dir, out, quantization="float32", force=True)
    assert (out / "model.bin").stat().st_size > first
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".ct2")]  # no temp folders left


def test_cli_handler_prints_where_the_export_went(tiny_whisper_dir, tmp_path, capsys):
    args = argparse.Namespace(model=str(tiny_whisper_dir), out=str(tmp_path / "out"), quantization="int8",
                              force=False)
    assert cmd_export(args) == 0
    printed = capsys.readouterr().out
    assert str(tmp_path / "out") in printed and "int8" in printed


def test_ct2_backend_matches_the_torch_backend(tiny_whisper_dir, tmp_path):
    from whisper_tui.inference.transcribe import Transcriber

    out = export_ct2(tiny_whisper_dir, tmp_path / "ct2", quantization="float32")
    rng = np.random.default_rng(0)
    waves = [(rng.standard_normal(16000 * s) * 0.05).astype(np.float32) for s in (1, 3)]
    # 4 tokens: below what the loop guard lets through, so both decoders must give the very same text
    torch_texts = Transcriber(str(tiny_whisper_dir), device="cpu", max_new_tokens=4).transcribe_waves(waves)
    ct2 = Transcriber(str(out), device="cpu", max_new_tokens=4, backend="ct2", compute_type="float32")
    assert ct2.transcribe_waves(waves) == torch_texts and all(torch_texts)
    assert "CTranslate2" in ct2.model_name


def test_loop_guard_cut_stops_where_the_logits_guard_would_ban():
    from whisper_tui.inference.transcribe import LoopGuard

    guard = LoopGuard(eos_token_id=0)
    assert guard.cut([5, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]) == [5, 1, 2, 3, 1, 2, 3, 1, 2, 3]
    assert guard.cut([7] * 9) == [7] * 6
    assert guard.cut([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3]) == [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3]  # not back to back
    assert guard.cut([4, 9, 9, 0]) == [4, 9, 9, 0]


def test_ct2_backend_exports_a_plain_model_once_into_the_cache(tiny_whisper_dir):
    from whisper_tui.config.locations import cache_dir
    from whisper_tui.inference.transcribe import Transcriber, ct2_folder_for

    folder = ct2_folder_for(str(tiny_whisper_dir))
    assert folder.parent == cache_dir() / "ct2" and is_ct2_export(folder)
    stamp = (folder / "model.bin").stat().st_mtime_ns
    Transcriber(str(tiny_whisper_dir), device="cpu", backend="ct2")
    assert ct2_folder_for(str(tiny_whisper_dir)) == folder and (folder / "model.bin").stat().st_mtime_ns == stamp


def test_unknown_backend_is_a_user_error(tiny_whisper_dir):
    from whisper_tui.errors import WhisperTuiError
    from whisper_tui.inference.transcribe import Transcriber

    with pytest.raises(WhisperTuiError, match="unknown transcription backend"):
        Transcriber(str(tiny_whisper_dir), backend="onnx")

