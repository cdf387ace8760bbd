"""Transcriber: chunking of long audio, loop guard, batching order, file errors; the real tiny.en on speech."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import JFK_TEXT
from whisper_tui.errors import AudioError, WhisperTuiError
from whisper_tui.inference.metrics import error_rates, normalize
from whisper_tui.inference.transcribe import LoopGuard, Transcriber, list_audio_files, plan_chunks, throughput

SR = 16000


def _noise(seconds: float, seed: int = 0, level: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * SR)) * level).astype(np.float32)


def test_short_audio_is_one_piece():
    assert plan_chunks(np.zeros(SR * 30, np.float32)) == [(0, SR * 30)]
    assert plan_chunks(np.zeros(5, np.float32)) == [(0, 5)]


def test_long_audio_is_cut_in_the_pauses_and_covered_exactly_once():
    gaps = [(26.0, 26.4), (52.5, 52.9)]
    wave = _noise(70)
    for start, end in gaps:
        wave[int(start * SR):int(end * SR)] = 0.0
    chunks = plan_chunks(wave)
    assert len(chunks) == 3
    assert chunks[0][0] == 0 and chunks[-1][1] == len(wave)
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    assert all(end - start <= 30 * SR for start, end in chunks)
    for (_, cut), (gap_start, gap_end) in zip(chunks, gaps):
        assert gap_start * SR <= cut <= gap_end * SR

    # no pause at all: still no piece over 30 s, nothing lost
    chunks = plan_chunks(_noise(95, seed=1))
    assert all(end - start <= 30 * SR for start, end in chunks)
    assert sum(end - start for start, end in chunks) == 95 * SR


def test_loop_guard_bans_only_the_next_back_to_back_repeat():
    import torch

    guard = LoopGuard(eos_token_id=0)
    vocab = 10
    looping = torch.tensor([[5, 1, 2, 3, 1, 2, 3, 1, 2, 3]])  # "1 2 3" three times in a row
    scores = guard(looping, torch.zeros(1, vocab))
    assert scores[0, 1] == float("-inf") and torch.isfinite(scores[0, [0, 2, 3, 4]]).all()

    twice = torch.tensor([[5, 4, 4, 1, 2, 3, 1, 2, 3]])
    assert torch.isfinite(guard(twice, torch.zeros(1, vocab))).all()
    apart = torch.tensor([[1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3]])  # the JFK pattern: repeats, but not back to back
    assert torch.isfinite(guard(apart, torch.zeros(1, vocab))).all()

    words = torch.tensor([[5, 7, 7, 7, 7, 7], [7, 7, 7, 7, 7, 7]])  # a single token needs six in a row
    scores = guard(words, torch.zeros(2, vocab))
    assert torch.isfinite(scores[0]).all() and scores[1, 7] == float("-inf")
    assert torch.isfinite(guard(torch.zeros(1, 8, dtype=torch.long), torch.zeros(1, vocab))[0, 0])  # never EOS


@pytest.fixture(scope="module")
def tiny_transcriber(tiny_whisper_dir):
    return Transcriber(str(tiny_whisper_dir), device="cpu", batch_size=3, max_new_tokens=12)


def test_batches_keep_the_input_order(tiny_transcriber):
    waves = [_noise(s, seed=i, level=0.05) for i, s in enumerate([1.0, 4.0, 0.5, 2.5])]
    one_by_one = [tiny_transcriber.transcribe_waves([w])[0] for w in waves]
    progress = []
    batched = tiny_transcriber.transcribe_waves(waves, on_progress=lambda done, total: progress.append((done, total)))
    assert batched == one_by_one
    assert progress == [(3, 4), (4, 4)]
    assert tiny_transcriber.transcribe_waves([]) == []


def test_audio_longer_than_30s_is_transcribed_piece_by_piece(tiny_transcriber):
    wave = np.concatenate([_noise(25, level=0.05), np.zeros(SR // 2, np.float32), _noise(20, seed=3, level=0.05)])
    progress = []
    (text,) = tiny_transcriber.transcribe_waves([wave], on_progress=lambda d, t: progress.append((d, t)))
    assert progress[-1] == (2, 2)  # two pieces went through the model
    (_, cut), _ = plan_chunks(wave)
    pieces = tiny_transcriber.transcribe_waves([wave[:cut], wave[cut:]])
    assert text == " ".join(t for t in pieces if t)


def test_files_unreadable_ones_get_an_error_and_the_rest_go_on(tiny_transcriber, tmp_path):
    good = tmp_path / "a.wav"
    sf.write(good, _noise(2.0, level=0.05), SR)
    stereo = tmp_path / "b.flac"
    sf.write(stereo, np.random.default_rng(0).uniform(-0.05, 0.05, (int(1.5 * 44100), 2)), 44100)
    broken = tmp_path / "c.wav"
    broken.write_bytes(b"RIFF not really audio")
    seen = []
    results = tiny_transcriber.transcribe_files([good, broken, stereo, tmp_path / "missing.wav"],
                                                on_result=seen.append)
    assert [r.path for r in results] == [good, broken, stereo, tmp_path / "missing.wav"]
    assert sorted(str(r.path) for r in seen) == sorted(str(r.path) for r in results)
    assert results[0].ok and results[0].duration_s == pytest.approx(2.0) and results[0].elapsed_s > 0
    assert results[2].ok and results[2].duration_s == pytest.approx(1.5, abs=1e-3)
    assert str(broken) in results[1].error and results[1].text == ""
    assert "not found" in results[3].error
    speed = throughput(results)
    assert speed.audio_s == pytest.approx(3.5, abs=1e-3) and speed.rtf > 0 and speed.audio_seconds_per_second > 0


def test_list_audio_files(tmp_path):
    for name in ("b.wav", "a.flac", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    assert list_audio_files(tmp_path) == [tmp_path / "a.flac", tmp_path / "b.wav"]
    assert list_audio_files(tmp_path / "b.wav") == [tmp_path / "b.wav"]
    with pytest.raises(AudioError, match="not a supported audio file"):
        list_audio_files(tmp_path / "notes.txt")
    with pytest.raises(AudioError, match="does not exist"):
        list_audio_files(tmp_path / "nope")
    with pytest.raises(AudioError, match="no audio files"):
        list_audio_files(tmp_path / "sub")


def test_accepts_a_loaded_pair_and_gives_it_back_in_training_mode(tiny_transcriber):
    model = tiny_transcriber.model
    pair = Transcriber((model, tiny_transcriber.processor), max_new_tokens=12)
    wave = _noise(1.0, level=0.05)
    model.train()
    try:
        assert pair.transcribe_waves([wave]) == tiny_transcriber.transcribe_waves([wave])
        assert model.training
    finally:
        model.eval()


@pytest.mark.slow
def test_bundled_tiny_en_transcribes_real_and_synthetic_speech(jfk_path):
    import time

    from whisper_tui.data.audio import load_audio

    transcriber = Transcriber("tiny.en", device="cpu")
    (jfk,) = transcriber.transcribe_files([jfk_path])
    assert normalize(jfk.text) == normalize(JFK_TEXT)
    assert jfk.elapsed_s < 30

    # 35 s (over Whisper's 30 s window): nothing may be dropped or repeated at the cut
    wave = load_audio(jfk_path)
    pause = np.zeros(SR // 2, np.float32)
    (long_text,) = transcriber.transcribe_waves([np.concatenate([wave, pause, wave, pause, wave])])
    wer, _ = error_rates([" ".join([JFK_TEXT] * 3)], [long_text])
    assert wer <= 0.1, long_text

    tts = pytest.importorskip("whisper_tui.data.tts")
    from whisper_tui.data.sample_data import EVERYDAY_SENTENCES

    started = time.perf_counter()
    texts = transcriber.transcribe_waves([tts.synthesize(s) for s in EVERYDAY_SENTENCES])
    wer, _ = error_rates(EVERYDAY_SENTENCES, texts)
    assert wer <= 0.2, list(zip(EVERYDAY_SENTENCES, texts))
    assert time.perf_counter() - started < 120


def test_each_backend_reports_what_it_runs_on(tiny_transcriber, tiny_ct2_dir):
    info = tiny_transcriber.backend_info
    assert (info.name, info.compute_type, info.device, info.label) == ("torch", "float32", "cpu", "torch")
    ct2 = Transcriber(str(tiny_ct2_dir), device="cpu", backend="ct2", max_new_tokens=4)
    assert ct2.backend_info.label == "CTranslate2 int8" and ct2.backend_info.device == "cpu"
    assert ct2.window_s == 30.0
    assert ct2.processor.feature_extractor.chunk_length == 30  # transformers' processor, built only when asked for
    with pytest.raises(WhisperTuiError, match="unknown transcription backend"):
        Transcriber(str(tiny_ct2_dir), backend="onnx")
