"""Reading every common WAV flavour, other containers, downmixing and resampling to 16 kHz."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from helpers_audio import tone, write_wav

from whisper_tui.data import audio
from whisper_tui.data.audio import SAMPLE_RATE, audio_info, is_audio_file, load_audio, resample


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_bit_depths_load_as_float_mono(tmp_path, subtype):
    path = write_wav(tmp_path / f"x_{subtype}.wav", seconds=0.5, subtype=subtype, amp=0.5)
    info = audio_info(path)
    assert info.subtype == subtype and info.sample_rate == 16000 and info.channels == 1
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1 and len(wave) == 8000
    # 0.5 amplitude sine has RMS 0.354 whatever the bit depth (8-bit is coarse, hence the tolerance)
    assert _rms(wave) == pytest.approx(0.5 / np.sqrt(2), rel=0.03)


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 48000])
def test_resampled_to_16k_keeps_length_and_pitch(tmp_path, sr):
    path = tmp_path / f"t{sr}.wav"
    t = np.arange(sr) / sr  # 1 s of 1 kHz
    sf.write(path, (0.4 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), sr, subtype="PCM_16")
    wave = load_audio(path)
    assert abs(len(wave) - SAMPLE_RATE) <= 1
    spectrum = np.abs(np.fft.rfft(wave))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / len(wave)
    assert peak_hz == pytest.approx(1000, abs=2)
    assert _rms(wave[100:-100]) == pytest.approx(0.4 / np.sqrt(2), rel=0.02)


@pytest.mark.parametrize("channels", [2, 6])
def test_multichannel_is_averaged_to_mono(tmp_path, channels):
    path = tmp_path / f"c{channels}.wav"
    data = tone(0.5, 16000, amp=0.6, channels=channels)  # channel k = sine / (k+1)
    sf.write(path, data, 16000, subtype="FLOAT")
    assert audio_info(path).channels == channels
    wave = load_audio(path)
    expected = data.mean(axis=1)
    np.testing.assert_allclose(wave, expected, atol=1e-6)


def test_stereo_44k_like_a_real_recording(tmp_path):
    path = tmp_path / "stereo.flac"
    sf.write(path, tone(1.0, 44100, amp=0.3, channels=2), 44100, subtype="PCM_16")
    info = audio_info(path)
    assert (info.sample_rate, info.channels, info.subtype) == (44100, 2, "PCM_16")
    assert info.duration_s == pytest.approx(1.0)
    assert len(load_audio(path)) == SAMPLE_RATE


@pytest.mark.parametrize("ext,fmt,subtype", [("flac", "FLAC", "PCM_16"), ("ogg", "OGG", "VORBIS"),
                                             ("mp3", "MP3", "MPEG_LAYER_III")])
def test_other_containers(tmp_path, ext, fmt, subtype):
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile has no {fmt}")
    path = tmp_path / f"x.{ext}"
    try:
        sf.write(path, tone(1.0, 16000, amp=0.4), 16000, format=fmt, subtype=subtype)
    except (sf.LibsndfileError, ValueError) as exc:
        pytest.skip(f"cannot encode {fmt} here: {exc}")
    assert is_audio_file(path)
    info = audio_info(path)
    assert info.sample_rate == 16000 and info.duration_s == pytest.approx(1.0, abs=0.1)
    wave = load_audio(path)
    assert abs(len(wave) - 16000) < 2000 and _rms(wave) > 0.2


def test_audio_info_reads_only_the_header(tmp_path, monkeypatch):
    path = write_wav(tmp_path / "long.wav", seconds=3.0, sr=48000, channels=2, subtype="PCM_24")

    def no_decoding(*a, **k):
        raise AssertionError("audio_info must not decode samples")

    monkeypatch.setattr(sf, "read", no_decoding)
    info = audio_info(path)
    assert info == audio.AudioInfo(path, 3.0, 48000, 2, 144000, "PCM_24")


def test_resample_is_a_no_op_at_the_target_rate():
    x = np.linspace(-1, 1, 100, dtype=np.float32)
    y = resample(x, 16000, 16000)
    np.testing.assert_array_equal(x, y)
    assert y is not x
    assert len(resample(x, 32000, 16000)) == 50


def test_extensions():
    assert {".wav", ".flac", ".ogg"} <= audio.AUDIO_EXTENSIONS
    assert is_audio_file("A.WAV") and not is_audio_file("notes.txt")


def test_import_stays_light():
    """Importing the data layer must not pull in torch or textual (the UI imports it at start-up)."""
    code = ("import sys, whisper_tui.data.audio, whisper_tui.data.dataset, whisper_tui.data.tts, whisper_tui.data.sample_data; "
            "print(sorted(m for m in ('torch', 'torchaudio', 'textual', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
