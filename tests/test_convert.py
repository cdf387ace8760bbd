"""CTranslate2 reader and CT2 -> transformers converter.

The round trip uses ctranslate2's own converter as the reference writer: HF -> CT2 (theirs) ->
HF (ours) must give back every parameter and the same logits.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from conftest import export_ct2
from whisper_tui.models import convert
from whisper_tui.models.ct2_format import read_model_bin
from whisper_tui.errors import ModelError


def _load_hf(path):
    from transformers import WhisperForConditionalGeneration

    return WhisperForConditionalGeneration.from_pretrained(path).eval()


def _logits(model, seed=0):
    import torch

    gen = torch.Generator().manual_seed(seed)
    features = torch.randn(2, model.config.num_mel_bins, 3000, generator=gen)
    tokens = torch.tensor([[50257, 50362, 1870, 523, 616], [50257, 50362, 400, 2068, 13]])
    with torch.no_grad():
        return model(input_features=features, decoder_input_ids=tokens).logits


def test_reader_parses_the_bundled_tiny_en():
    ct2 = read_model_bin(convert.embedded_source_dir() / "model.bin")
    assert (ct2.spec_name, ct2.binary_version, ct2.revision) == ("WhisperSpec", 6, 3)
    assert ct2.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert ct2.get("decoder/projection/weight") is ct2.get("decoder/embeddings/weight")
    assert ct2.scalar("encoder/num_heads") == 6 and ct2.scalar("decoder/num_heads") == 6
    assert ct2.layer_count("encoder") == 4 and ct2.layer_count("decoder") == 4
    dims = convert.read_dimensions(ct2)
    assert dims == {"d_model": 384, "n_mels": 80, "encoder_layers": 4, "decoder_layers": 4, "encoder_heads": 6,
                    "decoder_heads": 6, "encoder_ffn_dim": 1536, "decoder_ffn_dim": 1536, "vocab_size": 51864,
                    "max_source_positions": 1500, "max_target_positions": 448, "scale_embedding": False}
    assert ct2.get("encoder/conv1/weight").dtype == np.float16


def _write_string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def test_reader_handles_aliases_scalars_and_int8_scales(tmp_path):
    q = np.array([[127, -64], [10, 0]], dtype=np.int8)
    scale = np.array([2.0, 4.0], dtype=np.float32)
    variables = [("a/weight", q, 1), ("a/weight_scale", scale, 0), ("a/num_heads", np.array(3, np.int16), 2),
                 ("b/bf16", np.array([1.5, -2.0], np.float32), 5)]
    blob = struct.pack("<I", 6) + _write_string("WhisperSpec") + struct.pack("<II", 3, len(variables))
    for name, value, dtype_id in variables:
        data = (value.view(np.uint32) >> 16).astype("<u2").tobytes() if dtype_id == 5 else value.tobytes()
        blob += _write_string(name) + struct.pack("<B", value.ndim)
        blob += b"".join(struct.pack("<I", d) for d in value.shape)
        blob += struct.pack("<BI", dtype_id, len(data)) + data
    blob += struct.pack("<I", 2) + _write_string("c/weight") + _write_string("d/weight")
    blob += _write_string("d/weight") + _write_string("a/weight")
    path = tmp_path / "model.bin"
    path.write_bytes(blob)

    ct2 = read_model_bin(path)
    np.testing.assert_array_equal(ct2.float_weight("c/weight"), q / scale[:, None])  # alias chain c -> d -> a
    assert ct2.scalar("a/num_heads") == 3
    np.testing.assert_array_equal(ct2.get("b/bf16"), [1.5, -2.0])
    assert ct2.layer_count("a") == 0

    path.write_bytes(blob[:-7])
    with pytest.raises(ModelError, match="ends early") as info:
        read_model_bin(path)
    assert str(path) in str(info.value)
    path.write_bytes(struct.pack("<I", 99) + blob[4:])
    with pytest.raises(ModelError, match="binary version 99"):
        read_model_bin(path)


def test_round_trip_fp32_gives_back_every_parameter_and_the_same_logits(tiny_whisper_dir, tiny_ct2_dir, tmp_path):
    import torch

    ct2 = read_model_bin(tiny_ct2_dir / "model.bin")
    assert len(ct2.aliases) > 10  # random init: all the ones/zeros layer norms are stored once
    convert.convert_ct2_dir(tiny_ct2_dir, tmp_path / "hf")
    original, back = _load_hf(tiny_whisper_dir), _load_hf(tmp_path / "hf")
    for key in ("d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads", "decoder_attention_heads",
                "encoder_ffn_dim", "decoder_ffn_dim", "vocab_size", "num_mel_bins", "max_source_positions",
                "max_target_positions", "decoder_start_token_id", "eos_token_id", "pad_token_id"):
        assert getattr(back.config, key) == getattr(original.config, key), key
    theirs, ours = original.state_dict(), back.state_dict()
    assert theirs.keys() == ours.keys()
    for name, value in theirs.items():
        assert ours[name].dtype == torch.float32
        assert torch.equal(ours[name], value), name
    assert back.proj_out.weight.data_ptr() == back.model.decoder.embed_tokens.weight.data_ptr()
    assert torch.equal(_logits(original), _logits(back))


def test_round_trip_int8_is_close(tiny_whisper_dir, tmp_path):
    import torch

    ct2_dir = export_ct2(tiny_whisper_dir, tmp_path / "ct2-int8", quantization="int8")
    assert read_model_bin(ct2_dir / "model.bin").get("encoder/layer_0/ffn/linear_0/weight").dtype == np.int8
    convert.convert_ct2_dir(ct2_dir, tmp_path / "hf")
    original, back = _load_hf(tiny_whisper_dir), _load_hf(tmp_path / "hf")
    ours = back.state_dict()
    for name, value in original.state_dict().items():
        # int8 rows keep max|row| / 127 resolution: the rounding error is at most half a step
        step = value.abs().amax(dim=tuple(range(1, value.ndim))) / 127 if value.ndim >= 2 else None
        tolerance = (step / 2 + 1e-7).reshape(-1, *([1] * (value.ndim - 1))) if step is not None else 1e-6
        assert torch.all((ours[name] - value).abs() <= tolerance), name
    a, b = _logits(original), _logits(back)
    assert torch.allclose(a, b, atol=0.05 * a.abs().max().item())
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() > 0.9


def test_converted_folder_has_whisper_tokenizer_and_generation_rules(tiny_ct2_dir, tmp_path):
    from transformers import GenerationConfig, WhisperProcessor

    convert.convert_ct2_dir(tiny_ct2_dir, tmp_path / "hf")
    processor = WhisperProcessor.from_pretrained(tmp_path / "hf")
    tok = processor.tokenizer
    assert len(tok) == 51864
    assert tok.convert_tokens_to_ids(["<|0.00|>", "<|30.00|>"]) == [50363, 51863]
    assert tok.pad_token == tok.eos_token == tok.bos_token == tok.unk_token == "<|endoftext|>"
    ids = tok("Hello there").input_ids
    assert ids[:2] == [50257, 50362] and ids[-1] == 50256
    assert tok.decode(ids, skip_special_tokens=True) == "Hello there"
    assert processor.feature_extractor.feature_size == 80
    gen = GenerationConfig.from_pretrained(tmp_path / "hf")
    source = json.loads((tiny_ct2_dir / "config.json").read_text())
    assert gen.suppress_tokens == source["suppress_ids"]
    assert gen.begin_suppress_tokens == source["suppress_ids_begin"]
    assert (gen.decoder_start_token_id, gen.no_timestamps_token_id, gen.eos_token_id) == (50257, 50362, 50256)
    assert gen.is_multilingual is False and gen.forced_decoder_ids is None and gen.max_length == 448
    assert not hasattr(gen, "lang_to_id")


def test_conversion_is_cached_and_stale_copies_are_removed(tiny_ct2_dir, own_cache):
    stale = own_cache / "models" / "tiny-oldhash"
    stale.mkdir(parents=True)
    (stale / convert.MARKER).write_text("{}")
    first = convert.ensure_converted(tiny_ct2_dir, "tiny")
    assert first.parent == own_cache / "models" and first.name.startswith("tiny-")
    assert convert.is_complete(first) and not stale.exists()
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]  # no temp folders left
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert convert.ensure_converted(tiny_ct2_dir, "tiny") == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp


def test_conversion_errors_name_the_folder(tiny_ct2_dir, tmp_path):
    import shutil

    broken = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_ct2_dir, broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="no tokenizer.json") as info:
        convert.convert_ct2_dir(broken, tmp_path / "out")
    assert str(broken) in str(info.value) and info.value.hint
    with pytest.raises(ModelError, match="does not exist"):
        convert.convert_ct2_dir(tmp_path / "nowhere", tmp_path / "out2")
