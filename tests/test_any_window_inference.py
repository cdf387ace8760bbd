"""Any-window models at inference: each batch (and each labelled clip) runs at the shortest window that holds it.

A tiny random Whisper saved with windows [10, 30] (`window.set_supported_windows`) stands in for a
model trained with `model.windows`. What is checked is the mel width the encoder (torch) or
CTranslate2 was given: 1000 frames for a 10 s window, 3000 for 30 s. A model with one window must
run exactly as before, and exports must keep the windows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from whisper_tui.data.audio import SAMPLE_RATE
from whisper_tui.errors import ModelError
from whisper_tui.models.window import saved_windows

FRAMES_10S, FRAMES_30S = 1000, 3000


def _noise(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * SAMPLE_RATE)) * 0.05).astype(np.float32)


@pytest.fixture(scope="module")
def multi_dir(tiny_whisper_dir, tmp_path_factory) -> Path:
    """The tiny random Whisper saved as an any-window model (windows 10 and 30 s, weights unchanged)."""
    from whisper_tui.models.export import save_whisper_folder
    from whisper_tui.models.loading import load_model
    from whisper_tui.models.window import set_supported_windows

    model, processor = load_model(str(tiny_whisper_dir))
    set_supported_windows(processor, [10, 30])
    out = tmp_path_factory.mktemp("any-window") / "model"
    save_whisper_folder(model, processor, out)
    assert saved_windows(out) == (10, 30)
    return out


@pytest.fixture(scope="module")
def multi_ct2_dir(multi_dir, tmp_path_factory) -> Path:
    from whisper_tui.models.export import export_ct2

    return export_ct2(multi_dir, tmp_path_factory.mktemp("any-window-ct2") / "ct2", quantization="float32")


def _encoder_widths(model) -> tuple[list[int], object]:
    """Mel widths the encoder is called with, and the hook's handle (remove it when done)."""
    from whisper_tui.models.parts import encoder_of

    seen: list[int] = []

    def record(_module, args, kwargs):
        features = kwargs.get("input_features", args[0] if args else None)
        seen.append(int(features.shape[-1]))

    return seen, encoder_of(model).register_forward_pre_hook(record, with_kwargs=True)


def _ct2_windows(transcriber_or_cw) -> list[int]:
    """Spy on CT2Whisper.features_at: the windows asked for and the widths of the features made."""
    cw = getattr(transcriber_or_cw, "_ct2", transcriber_or_cw)
    asked: list[int] = []
    original = cw.features_at

    def spy(window):
        log_mel = original(window)
        asked.append(log_mel([np.zeros(160, np.float32)]).shape[-1])
        return log_mel

    cw.features_at = spy
    return asked


# --- transcription, torch ---

def test_torch_runs_each_batch_at_the_shortest_window_that_holds_it(multi_dir):
    from whisper_tui.inference.transcribe import Transcriber

    t = Transcriber(str(multi_dir), device="cpu", batch_size=1, max_new_tokens=3)
    assert t.windows == (10, 30) and t.window_s == 30
    assert t.backend_info.label == "torch, windows 10/30 s" and t.backend_info.windows == (10, 30)
    assert t.windows_note.startswith("windows 10/30 s: each batch runs at the shortest window")
    seen, hook = _encoder_widths(t.model)
    try:
        texts = t.transcribe_waves([_noise(4), _noise(20, seed=1)])
        assert len(texts) == 2 and all(texts)
        assert seen == [FRAMES_30S, FRAMES_10S]  # longest first: the 20 s clip at 30 s, the 4 s one at 10 s
        seen.clear()
        t.batch_size = 2  # one batch: the longest clip's window for both
        t.transcribe_waves([_noise(4), _noise(20, seed=1)])
        assert seen == [FRAMES_30S]
        seen.clear()
        t.transcribe_waves([_noise(4), _noise(3, seed=2)])
        assert seen == [FRAMES_10S]
        seen.clear()
        t.transcribe_waves([_noise(9.8)])  # 9.8 s + the 0.5 s margin does not fit 10 s
        assert seen == [FRAMES_30S]
    finally:
        hook.remove()


def test_a_short_batch_gives_what_a_model_cut_to_that_window_gives(multi_dir, tiny_whisper_dir, tmp_path):
    """At 10 s the any-window model is the same computation as the same weights shortened to 10 s."""
    from whisper_tui.inference.transcribe import Transcriber
    from whisper_tui.models.export import save_whisper_folder
    from whisper_tui.models.loading import load_model
    from whisper_tui.models.window import apply_window

    model, processor = load_model(str(tiny_whisper_dir))
    apply_window(model, processor, 10)
    save_whisper_folder(model, processor, tmp_path / "short")
    waves = [_noise(4, seed=5), _noise(2, seed=6)]
    shortened = Transcriber(str(tmp_path / "short"), device="cpu", max_new_tokens=6).transcribe_waves(waves)
    any_window = Transcriber(str(multi_dir), device="cpu", max_new_tokens=6).transcribe_waves(waves)
    assert any_window == shortened and all(shortened)


def test_a_model_with_one_window_runs_as_before(multi_dir, tiny_whisper_dir):
    """Same features (the whole 30 s window) and, at 30 s, the same texts as the any-window model."""
    from whisper_tui.inference.transcribe import Transcriber

    plain = Transcriber(str(tiny_whisper_dir), device="cpu", batch_size=2, max_new_tokens=6)
    assert plain.windows == (30,) and plain.backend_info.label == "torch" and plain.windows_note is None
    seen, hook = _encoder_widths(plain.model)
    waves = [_noise(25, seed=3), _noise(4, seed=4)]
    try:
        texts = plain.transcribe_waves(waves)
    finally:
        hook.remove()
    assert seen == [FRAMES_30S]
    from whisper_tui.models.parts import encoder_of

    assert not hasattr(encoder_of(plain.model), "_whisper_tui_any_window")  # nothing was changed in the model
    # the same batch runs at 30 s on the any-window model (its 25 s clip): the very same texts
    assert Transcriber(str(multi_dir), device="cpu", batch_size=2, max_new_tokens=6).transcribe_waves(waves) == texts


def test_an_in_memory_model_and_processor_pick_windows_too(multi_dir):
    from whisper_tui.inference.transcribe import Transcriber
    from whisper_tui.models.loading import load_model

    pair = load_model(str(multi_dir))
    t = Transcriber(pair, max_new_tokens=3)
    seen, hook = _encoder_widths(pair[0])
    try:
        t.transcribe_waves([_noise(3)])
    finally:
        hook.remove()
    assert t.windows == (10, 30) and seen == [FRAMES_10S]


# --- transcription, CTranslate2 ---

def test_ct2_runs_each_batch_at_the_shortest_window_that_holds_it(multi_ct2_dir, tiny_ct2_dir):
    from whisper_tui.inference.transcribe import Transcriber

    assert saved_windows(multi_ct2_dir) == (10, 30)
    assert json.loads((multi_ct2_dir / "whisper_tui.json").read_text())["windows"] == [10, 30]
    t = Transcriber(str(multi_ct2_dir), device="cpu", backend="ct2", compute_type="float32",
                    batch_size=1, max_new_tokens=3)
    assert t.windows == (10, 30) and t.window_s == 30
    assert t.backend_info.label == "CTranslate2 float32, windows 10/30 s"
    widths = _ct2_windows(t)
    texts = t.transcribe_waves([_noise(4), _noise(20, seed=1)])
    assert len(texts) == 2 and widths == [FRAMES_30S, FRAMES_10S]
    widths.clear()
    t.batch_size = 2
    t.transcribe_waves([_noise(4), _noise(20, seed=1)])
    assert widths == [FRAMES_30S]

    plain = Transcriber(str(tiny_ct2_dir), device="cpu", backend="ct2", compute_type="float32", max_new_tokens=3)
    assert plain.windows == (30,) and plain.backend_info.label == "CTranslate2 float32"
    widths = _ct2_windows(plain)
    plain.transcribe_waves([_noise(4)])
    assert widths == [FRAMES_30S]


def test_the_real_tiny_en_runs_short_clips_at_10_s_with_ct2(tmp_path):
    """The bundled tiny.en (CTranslate2) declared to run 10 and 30 s: a short sentence runs at 10 s, still heard."""
    import shutil

    from whisper_tui.data.tts import synthesize
    from whisper_tui.inference.metrics import normalize
    from whisper_tui.inference.transcribe import Transcriber
    from whisper_tui.models.convert import embedded_source_dir

    shutil.copytree(embedded_source_dir(), tmp_path / "tiny")
    (tmp_path / "tiny" / "preprocessor_config.json").write_text(
        json.dumps({"chunk_length": 30, "feature_size": 80, "windows": [10, 30]}))
    said = "I left my keys on the kitchen table."
    t = Transcriber(str(tmp_path / "tiny"), device="cpu", backend="ct2")
    widths = _ct2_windows(t)
    [text] = t.transcribe_waves([synthesize(said, rate_wpm=150)])
    assert widths == [FRAMES_10S]
    assert set(normalize(said).split()) - set(normalize(text).split()) <= {"keys"}  # "key" is heard at 30 s too


def test_ct2_at_10_s_matches_torch_at_10_s(multi_dir, multi_ct2_dir):
    from whisper_tui.inference.transcribe import Transcriber

    waves = [_noise(3, seed=7), _noise(1, seed=8)]
    # 4 tokens: below what the loop guard lets through, so both decoders must give the very same text
    torch_texts = Transcriber(str(multi_dir), device="cpu", max_new_tokens=4).transcribe_waves(waves)
    ct2 = Transcriber(str(multi_ct2_dir), device="cpu", backend="ct2", compute_type="float32", max_new_tokens=4)
    assert ct2.transcribe_waves(waves) == torch_texts and all(torch_texts)


def test_cli_transcribe_says_the_windows(multi_ct2_dir, tmp_path, capsys):
    from whisper_tui.cli.main import main

    sf.write(tmp_path / "clip.wav", _noise(3), SAMPLE_RATE)
    assert main(["transcribe", str(tmp_path / "clip.wav"), "--model", str(multi_ct2_dir), "--backend", "ct2"]) == 0
    assert f"[{multi_ct2_dir}] windows 10/30 s: each batch runs at the shortest window" in capsys.readouterr().err


def test_a_window_longer_than_the_model_is_a_clear_error(multi_ct2_dir, tiny_whisper_dir):
    import torch

    from whisper_tui.inference.transcribe import CT2Whisper
    from whisper_tui.models.any_window import enable_any_window
    from whisper_tui.models.loading import load_model
    from whisper_tui.models.parts import encoder_of
    from whisper_tui.models.window import shorten_encoder

    cw = CT2Whisper(str(multi_ct2_dir))
    with pytest.raises(ModelError, match="at most 30 s, not 40 s"):
        cw.features_at(40)
    with pytest.raises(ModelError, match="at most 30 s"):
        cw.generate([_noise(2)], max_length=5, num_beams=1, language="en", window=60)
    model, _processor = load_model(str(tiny_whisper_dir))
    shorten_encoder(model, 10)
    enable_any_window(model)
    with pytest.raises(ValueError, match="longer window than this encoder's 10 s"):
        encoder_of(model)(torch.zeros(1, 80, FRAMES_30S))


# --- the model itself ---

def test_enable_any_window_keeps_the_weights_and_saves_as_before(multi_dir, tmp_path):
    import torch

    from whisper_tui.models.any_window import enable_any_window
    from whisper_tui.models.loading import load_model
    from whisper_tui.models.parts import encoder_of

    model, processor = load_model(str(multi_dir))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    enable_any_window(model)
    enable_any_window(model)  # a second call changes nothing
    with torch.inference_mode():
        short = encoder_of(model)(torch.zeros(1, 80, FRAMES_10S)).last_hidden_state
    assert short.shape[1] == FRAMES_10S // 2
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(after[k].shape == v.shape and torch.equal(after[k], v) for k, v in before.items())
    assert model.config.max_source_positions == 1500  # the last forward's window is not saved as the model's
    model.save_pretrained(tmp_path / "again")
    processor.save_pretrained(tmp_path / "again")
    processor.feature_extractor.save_pretrained(tmp_path / "again")
    again, again_processor = load_model(str(tmp_path / "again"))
    assert again.config.max_source_positions == 1500 and saved_windows(tmp_path / "again") == (10, 30)
    assert all(torch.equal(again.state_dict()[k], v) for k, v in before.items())


# --- export ---

def test_an_adapter_export_keeps_its_windows(tiny_whisper_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import WhisperForConditionalGeneration

    from whisper_tui.models.export import export_ct2
    from whisper_tui.models.loading import load_model
    from whisper_tui.models.window import set_supported_windows

    base = WhisperForConditionalGeneration.from_pretrained(tiny_whisper_dir)
    adapter = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]))
    adapter.save_pretrained(tmp_path / "adapter")
    _model, processor = load_model(str(tiny_whisper_dir))
    set_supported_windows(processor, [10, 20, 30])
    processor.save_pretrained(tmp_path / "adapter")
    processor.feature_extractor.save_pretrained(tmp_path / "adapter")
    (tmp_path / "adapter" / "whisper_tui.json").write_text(json.dumps({"base_model": str(tiny_whisper_dir)}))
    out = export_ct2(tmp_path / "adapter", tmp_path / "ct2", quantization="int8")
    assert saved_windows(out) == (10, 20, 30)
    assert json.loads((out / "whisper_tui.json").read_text())["windows"] == [10, 20, 30]


def test_export_message_says_what_faster_whisper_gives_up(multi_dir, tmp_path, capsys):
    from whisper_tui.cli.export_command import cmd_export, usage_lines

    args = argparse.Namespace(model=str(multi_dir), out=str(tmp_path / "out"), quantization="int8", force=False)
    assert cmd_export(args) == 0
    printed = capsys.readouterr().out
    assert "faster_whisper.WhisperModel" in printed
    assert "windows 10/30 s" in printed and "faster-whisper runs it at 30 s only" in printed
    assert "gives up the 10 s windows" in printed and "--backend ct2" in printed

    def folder(name, **config) -> Path:
        (tmp_path / name).mkdir()
        (tmp_path / name / "preprocessor_config.json").write_text(json.dumps(config))
        return tmp_path / name

    plain = usage_lines(folder("plain", chunk_length=30))
    assert len(plain) == 1 and "faster_whisper.WhisperModel" in plain[0]
    short = usage_lines(folder("short", chunk_length=10, windows=[5, 10]))
    assert len(short) == 1 and "a 10 s window model" in short[0] and "cannot run it" in short[0]


# --- labelling ---

def test_decoders_take_short_clips_at_a_short_window_and_timestamps_at_30_s(multi_dir, multi_ct2_dir):
    from whisper_tui.labelling.decoding import CT2Decoder, TorchDecoder, window_to_decode

    assert window_to_decode(4.0, (10, 30), timestamps=False) == 10
    assert window_to_decode(4.0, (10, 30), timestamps=True) == 30
    assert window_to_decode(4.0, (30,), timestamps=False) == 30

    torch_decoder = TorchDecoder(str(multi_dir))
    assert torch_decoder.windows == (10, 30) and torch_decoder.window_s == 30
    seen, hook = _encoder_widths(torch_decoder.model)
    try:
        torch_decoder.decode(_noise(4), timestamps=False)
        torch_decoder.decode(_noise(4), timestamps=True)
        torch_decoder.decode(_noise(15), timestamps=False)
    finally:
        hook.remove()
    assert seen == [FRAMES_10S, FRAMES_30S, FRAMES_30S]

    ct2_decoder = CT2Decoder(str(multi_ct2_dir))
    widths = _ct2_windows(ct2_decoder._cw)
    ct2_decoder.decode(_noise(4), timestamps=False)
    ct2_decoder.decode(_noise(4), timestamps=True)
    assert widths == [FRAMES_10S, FRAMES_30S]


def test_the_labeller_decodes_a_short_file_at_10_s_and_a_long_one_at_30_s(multi_ct2_dir, tmp_path):
    from whisper_tui.labelling import label_folder
    from whisper_tui.labelling.decoding import make_decoder

    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "a_short.wav", _noise(4, seed=11), SAMPLE_RATE)
    sf.write(audio / "b_long.wav", _noise(45, seed=12), SAMPLE_RATE)
    decoder = make_decoder(str(multi_ct2_dir), "ct2")  # the very one label_folder gets (make_decoder keeps it)
    assert decoder.windows == (10, 30)
    widths = _ct2_windows(decoder._cw)
    try:
        report = label_folder(audio, tmp_path / "out", model=str(multi_ct2_dir), backend="ct2")
    finally:
        del decoder._cw.features_at  # back to the class's method for later users of the cached decoder
    assert report.files_labelled + sum(report.left_out.values()) >= 1 and not report.failed
    assert report.windows == (10, 30) and "(ct2, windows 10/30 s)" in report.summary()
    assert json.loads((tmp_path / "out" / "label.json").read_text())["last_run"]["windows"] == [10, 30]
    assert widths[0] == FRAMES_10S  # the short file, kept whole
    assert len(widths) >= 3 and set(widths[1:]) == {FRAMES_30S}  # the long one, 30 s windows with timestamps
