"""The CTranslate2 paths run without torch or transformers, and their numpy parts compute what those did.

Importing torch + transformers cost seconds of a one-second CTranslate2 transcription (issue 15). The
import checks run in a fresh interpreter, since this test process has long imported both.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

from conftest import JFK_TEXT
from whisper_tui.inference.metrics import error_rates

HEAVY = ("torch", "torchaudio", "transformers", "peft")
BUNDLED_JFK = "whisper_tui/data/jfk.flac"


def run_fresh(code: str) -> dict:
    """Run `code` in a new interpreter; it must print one JSON line last."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


HEAVY_LOADED = f"sorted(m for m in {HEAVY!r} if m in sys.modules)"


def test_cli_transcribe_with_ct2_imports_neither_torch_nor_transformers(tmp_path):
    from whisper_tui.data.sinc_resample import load_audio, resample

    clip = tmp_path / "jfk-22k.wav"  # not 16 kHz: the resampling must stay torch-free too
    sf.write(clip, resample(load_audio(BUNDLED_JFK), 16000, 22050), 22050)
    out = run_fresh(f"""
        import contextlib, io, json, sys
        from whisper_tui.cli.main import main
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(["transcribe", {str(clip)!r}, "--backend", "ct2", "--json"])
        print(json.dumps({{"code": code, "line": buffer.getvalue().strip(), "heavy": {HEAVY_LOADED}}}))
    """)
    assert out["code"] == 0 and out["heavy"] == []
    text = json.loads(out["line"])["tiny.en"]
    assert error_rates([JFK_TEXT], [text])[0] < 0.15, text


def test_ct2_export_transcription_and_evaluation_import_neither(tiny_ct2_dir, tmp_path):
    clips = []
    for i, seconds in enumerate((0.6, 1.2)):
        path = tmp_path / f"c{i}.wav"
        sf.write(path, np.random.default_rng(i).normal(0, 0.05, int(16000 * seconds)).astype(np.float32), 16000)
        clips.append(path)
    out = run_fresh(f"""
        import json, sys
        from types import SimpleNamespace
        from whisper_tui.inference.evaluate import evaluate_model
        from whisper_tui.inference.transcribe import Transcriber
        t = Transcriber({str(tiny_ct2_dir)!r}, device="cpu", backend="ct2", max_new_tokens=4, compute_type="float32")
        clips = [SimpleNamespace(file_name=p.rsplit("/", 1)[-1], path=p, transcription="hello there")
                 for p in {[str(c) for c in clips]!r}]
        report = evaluate_model(t, clips)
        info = t.backend_info
        print(json.dumps({{"n": report.n_clips, "label": info.label, "device": info.device, "heavy": {HEAVY_LOADED}}}))
    """)
    assert out == {"n": 2, "label": "CTranslate2 float32", "device": "cpu", "heavy": []}


def test_cli_evaluate_with_ct2_imports_neither(tmp_path):
    from helpers_audio import write_tone_dataset

    data = write_tone_dataset(tmp_path / "data", n=3)
    report = tmp_path / "report.json"
    out = run_fresh(f"""
        import contextlib, io, json, sys
        from whisper_tui.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["evaluate", "--data", {str(data)!r}, "--test-split", "1.0", "--backend", "ct2", "--no-keep",
                         "--rows", "0", "--report", {str(report)!r}])
        print(json.dumps({{"code": code, "heavy": {HEAVY_LOADED}}}))
    """)
    assert out == {"code": 0, "heavy": []}
    saved = json.loads(report.read_text())
    assert saved["n_clips"] == 3 and "CTranslate2 int8" in saved["model"]


def test_quieting_libraries_waits_for_transformers_to_be_imported():
    out = run_fresh("""
        import json, sys
        from whisper_tui.system.quiet import quiet_libraries
        quiet_libraries()
        before = "transformers" in sys.modules
        from transformers.utils import logging
        print(json.dumps({"before": before, "level": logging.get_verbosity(), "bars": logging.is_progress_bar_enabled()}))
    """)
    assert out == {"before": False, "level": 40, "bars": False}  # 40 = ERROR


def test_wer_normalisation_is_transformers_own_without_importing_it():
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    samples = ["Dr. Smith's 3 pills, colour!", "twenty-one dollars and 5 cents", "Mr. Jones won 1st prize at 3:45pm",
               "hmm, uh, okay: $20.50 (10%)"]
    out = run_fresh(f"""
        import json, sys
        from whisper_tui.inference.metrics import normalize
        print(json.dumps({{"texts": [normalize(s) for s in {samples!r}], "heavy": {HEAVY_LOADED}}}))
    """)
    assert out["heavy"] == []
    assert out["texts"] == [EnglishTextNormalizer({})(s).strip() for s in samples]


# --- the numpy parts against what they replace ---

@pytest.mark.parametrize(("n_mels", "window_s"), [(80, 30), (128, 30), (80, 10)])
def test_log_mel_matches_transformers_feature_extractor(n_mels, window_s):
    from transformers import WhisperFeatureExtractor

    from whisper_tui.data.audio import load_audio
    from whisper_tui.inference.log_mel import LogMel

    rng = np.random.default_rng(0)
    waves = [load_audio(BUNDLED_JFK), rng.normal(0, 0.1, 16000 * 3).astype(np.float32),
             np.zeros(8000, np.float32), rng.normal(0, 0.3, 16000 * (window_s + 5)).astype(np.float32)]
    expected = WhisperFeatureExtractor(feature_size=n_mels, chunk_length=window_s)(
        waves, sampling_rate=16000, return_tensors="np").input_features
    got = LogMel(n_mels, chunk_length=window_s)(waves)
    assert got.shape == expected.shape == (4, n_mels, window_s * 100) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_numpy_resampling_is_torchaudios_up_to_float_rounding(rate):
    from whisper_tui.data import audio, sinc_resample

    wave = np.random.default_rng(rate).normal(0, 0.3, rate * 2 + 17).astype(np.float32)
    expected = audio.resample(wave, rate, 16000)
    got = sinc_resample.resample(wave, rate, 16000)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def test_tokens_decode_and_prompt_as_transformers_tokenizer_does():
    from whisper_tui.inference.ct2_tokenizer import WhisperTokens
    from whisper_tui.models.convert import build_processor, embedded_source_dir

    folder = embedded_source_dir()
    hf = build_processor(folder, vocab_size=51864).tokenizer  # with the 1501 timestamp tokens
    tokens = WhisperTokens.from_folder(folder, multilingual=False)
    rng = np.random.default_rng(0)
    for _ in range(200):
        ids = rng.integers(0, tokens.eot, size=int(rng.integers(1, 30))).tolist()
        assert tokens.decode(ids) == hf.decode(ids, skip_special_tokens=True)
    text = "And so, my fellow Americans: ask not."
    assert tokens.encode(text) == hf.encode(" " + text, add_special_tokens=False)
    assert tokens.prompt() == [hf.convert_tokens_to_ids("<|startoftranscript|>"),
                               hf.convert_tokens_to_ids("<|notimestamps|>")]
    assert tokens.timestamp_begin == hf.convert_tokens_to_ids("<|0.00|>")
    assert tokens.timestamp_s(hf.convert_tokens_to_ids("<|30.00|>")) == 30.0
    begin = tokens.timestamp_begin
    sequence = [begin, *tokens.encode("hi there"), begin + 50, begin + 50, *tokens.encode("again"), begin + 100,
                *tokens.encode("cut off"), tokens.eot]
    assert tokens.segments(sequence) == [(0.0, 1.0, "hi there"), (1.0, 2.0, "again"), (2.0, None, "cut off")]


def test_a_ct2_folder_without_tokenizer_is_a_model_error(tmp_path):
    from whisper_tui.errors import ModelError
    from whisper_tui.inference.ct2_tokenizer import WhisperTokens

    with pytest.raises(ModelError, match="no tokenizer.json"):
        WhisperTokens.from_folder(tmp_path, multilingual=False)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(ModelError, match="not a readable tokenizer"):
        WhisperTokens.from_folder(tmp_path, multilingual=False)


def test_backend_availability_and_device_are_the_engines_answers(monkeypatch):
    from whisper_tui.errors import ModelError, WhisperTuiError
    from whisper_tui.inference import backends

    assert backends.ct2_available() is None and backends.ct2_installed()
    assert backends.ct2_device("cpu") == "cpu"
    assert backends.ct2_device("auto") in ("cpu", "cuda")
    with pytest.raises(ModelError, match="unknown device"):
        backends.ct2_device("tpu")
    with pytest.raises(WhisperTuiError, match="unknown transcription backend"):
        backends.check_backend("onnx")
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # what a missing or broken install looks like
    assert "ctranslate2" in backends.ct2_available()
