"""Model resolution and loading: folders, adapters, run folders, CTranslate2 exports, Hub ids, 4-bit."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import build_tiny_whisper
from whisper_tui.models import loading as models
from whisper_tui.errors import ModelError, OfflineError


def _save_adapter(base_dir, out_dir, base_name=None, seed=1):
    """A LoRA adapter on the model in `base_dir`, with non-zero B so it changes the outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import WhisperForConditionalGeneration

    base = WhisperForConditionalGeneration.from_pretrained(base_dir)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    peft_model.save_pretrained(out_dir)
    if base_name is not None:
        (out_dir / models.OUR_METADATA).write_text(json.dumps({"base_model": base_name}))
    return out_dir


def _logits(model):
    import torch

    features = torch.randn(1, 80, 3000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return model(input_features=features, decoder_input_ids=torch.tensor([[50257, 50362, 1870]])).logits


def test_resolves_a_whisper_folder_and_loads_it(tiny_whisper_dir):
    ref = models.resolve_model(str(tiny_whisper_dir))
    assert (ref.kind, ref.path, ref.base) == ("hf_dir", tiny_whisper_dir.resolve(), None)
    model, processor = models.load_model(ref)
    assert model.config.d_model == 32 and not model.training
    assert len(processor.tokenizer) == model.config.vocab_size
    trainable, total = models.model_summary(model)
    assert trainable == total == sum(p.numel() for p in model.parameters())


def test_folders_that_are_not_whisper_models_are_named(tmp_path):
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelError, match="'bert' model, not Whisper") as info:
        models.resolve_model(str(other))
    assert str(other) in str(info.value)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="is not a Whisper model folder") as info:
        models.resolve_model(str(empty))
    assert str(empty) in info.value.message and info.value.hint

    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text(json.dumps({"model_type": "whisper"}))
    with pytest.raises(ModelError, match="no weights"):
        models.resolve_model(str(no_weights))

    with pytest.raises(ModelError, match="not found"):
        models.resolve_model(str(tmp_path / "missing"))


def test_run_folder_resolves_to_final_then_best(tiny_whisper_dir, tmp_path):
    run = tmp_path / "20250101-000000-demo"
    shutil.copytree(tiny_whisper_dir, run / "best")
    assert models.resolve_model(str(run)).path == (run / "best").resolve()
    shutil.copytree(tiny_whisper_dir, run / "final")
    assert models.resolve_model(str(run)).path == (run / "final").resolve()


def test_ctranslate2_folder_is_converted_and_cached(tiny_ct2_dir):
    ref = models.resolve_model(str(tiny_ct2_dir))
    assert ref.kind == "hf_dir" and ref.path.parent.name == "models"
    assert models.resolve_model(str(tiny_ct2_dir)).path == ref.path
    model, _processor = models.load_model(ref)
    assert model.config.d_model == 32


def test_adapter_loads_unmerged_or_merged_with_the_same_outputs(tiny_whisper_dir, tmp_path):
    import torch

    adapter = _save_adapter(tiny_whisper_dir, tmp_path / "adapter", base_name=str(tiny_whisper_dir))
    ref = models.resolve_model(str(adapter))
    assert ref.kind == "adapter" and ref.base.kind == "hf_dir" and ref.base.path == tiny_whisper_dir.resolve()

    peft_model, processor = models.load_model(ref)
    assert hasattr(peft_model, "peft_config") and len(processor.tokenizer) == 51864
    merged, _ = models.load_model(ref, merge=True)
    assert not hasattr(merged, "peft_config")
    assert not any("lora_" in name for name, _ in merged.named_parameters())
    base, _ = models.load_model(str(tiny_whisper_dir))
    assert torch.allclose(_logits(peft_model), _logits(merged), atol=1e-4)
    assert not torch.allclose(_logits(base), _logits(merged), atol=1e-3)  # the adapter really is applied


def test_adapter_base_comes_from_our_metadata_and_missing_bases_are_reported(tiny_whisper_dir, tmp_path):
    moved = tmp_path / "moved-base"
    shutil.copytree(tiny_whisper_dir, moved)
    adapter = _save_adapter(moved, tmp_path / "adapter", base_name=str(moved))
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "/somewhere/else"
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    assert models.resolve_model(str(adapter)).base.path == moved.resolve()  # whisper_tui.json wins

    shutil.rmtree(moved)
    with pytest.raises(ModelError, match="base model") as info:
        models.resolve_model(str(adapter))
    assert str(moved) in str(info.value) and str(adapter) in str(info.value)


def test_hub_id_offline_gives_a_clear_error(monkeypatch):
    monkeypatch.setattr(models, "hub_reachable", lambda timeout_s=3.0: False)
    ref = models.resolve_model("whisper-tui-tests/not-a-real-model")
    assert (ref.kind, ref.path) == ("hub", None)
    with pytest.raises(OfflineError) as info:
        models.load_model(ref)
    assert info.value.message == ("model 'whisper-tui-tests/not-a-real-model' is not in the local Hugging Face "
                                  "cache and the Hub cannot be reached")
    assert "tiny.en" in info.value.hint


def test_bad_options_are_user_errors(tiny_whisper_dir):
    with pytest.raises(ModelError, match="unknown quantization"):
        models.load_model(str(tiny_whisper_dir), quantization="int3")
    with pytest.raises(ModelError, match="merge"):
        models.load_model(str(tiny_whisper_dir), quantization="nf4", merge=True)
    with pytest.raises(ModelError, match="float16 needs a CUDA GPU"):
        models.load_model(str(tiny_whisper_dir), dtype="float16")
    assert models.device_for("cpu") == "cpu"
    with pytest.raises(ModelError, match="unknown device"):
        models.device_for("tpu")


def test_nf4_quantization_loads_4bit_linears(tmp_path):
    # bitsandbytes' CPU kernel needs layers at least one 64-value block wide.
    folder = build_tiny_whisper(tmp_path / "w64", d_model=64, encoder_ffn_dim=128, decoder_ffn_dim=128)
    model, _ = models.load_model(str(folder), quantization="nf4")
    assert type(model.model.decoder.layers[0].self_attn.q_proj).__name__ == "Linear4bit"
    full, _ = models.load_model(str(folder))
    assert models.model_summary(model)[1] == models.model_summary(full)[1]
    _logits(model)  # runs on CPU


@pytest.mark.slow
def test_embedded_model_resolves_loads_and_backs_adapters_whose_base_moved(tmp_path):
    ref = models.resolve_model("tiny.en")
    assert ref.kind == "embedded" and ref == models.resolve_model("") == models.resolve_model("bundled")
    assert ref.path == models.embedded_model_dir()
    model, processor = models.load_model("embedded")
    assert (model.config.d_model, model.config.encoder_layers, model.config.vocab_size) == (384, 4, 51864)
    # whisper-tiny has 37,760,640 parameters; tiny.en has one token (384 weights) fewer
    assert models.model_summary(model)[1] == 37_760_640 - 384

    # An adapter trained on the converted copy keeps working after the cache is rebuilt elsewhere.
    adapter = _save_adapter(ref.path, tmp_path / "adapter")
    stale_path = ref.path.with_name("tiny.en-000000000000")
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(stale_path)
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    assert models.resolve_model(str(adapter)).base.kind == "embedded"
    (adapter / models.OUR_METADATA).write_text(json.dumps({"base_model": "tiny.en"}))
    assert models.resolve_model(str(adapter)).base.kind == "embedded"

    # A bare checkpoint without processor files borrows the bundled processor.
    bare = tmp_path / "bare"
    model.save_pretrained(bare)
    _model, borrowed = models.load_model(str(bare))
    assert len(borrowed.tokenizer) == len(processor.tokenizer)
