"""Broken audio files: each is built here, must raise AudioError naming it, and is left untouched.

In a dataset the same files become row problems ("missing", "unreadable", "too_short", ...)
instead of exceptions, so one bad clip never stops validation.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from helpers_audio import make_dataset, snapshot, write_metadata, write_wav

from whisper_tui.data.audio import audio_info, load_audio, read_mono
from whisper_tui.data.dataset import validate_dataset
from whisper_tui.errors import AudioError, WhisperTuiError


def _raises_naming(path, fn=load_audio) -> AudioError:
    with pytest.raises(AudioError) as info:
        fn(path)
    err = info.value
    assert isinstance(err, WhisperTuiError)
    assert path.name in str(err) and err.where == str(path)
    assert err.hint
    return err


def test_missing_file(tmp_path):
    err = _raises_naming(tmp_path / "nope.wav")
    assert "not found" in err.message


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    err = _raises_naming(path, audio_info)
    assert "empty (0 bytes)" in err.message
    assert path.read_bytes() == b""


def test_truncated_header(tmp_path):
    good = write_wav(tmp_path / "good.wav", seconds=0.2)
    path = tmp_path / "cut.wav"
    path.write_bytes(good.read_bytes()[:30])  # RIFF header cut before the data chunk
    before = path.read_bytes()
    err = _raises_naming(path, audio_info)
    assert "Not a readable audio file" in err.message
    _raises_naming(path, load_audio)
    assert path.read_bytes() == before


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_text_file_with_an_audio_extension(tmp_path, ext):
    if ext == "mp3" and "MP3" not in sf.available_formats():
        pytest.skip("no MP3 in this libsndfile")
    path = tmp_path / f"notes.{ext}"
    path.write_text("<html>this is a web page saved with the wrong name</html>\n" * 50)
    err = _raises_naming(path, audio_info)
    assert "Not a readable audio file" in err.message
    assert "does not exist" not in err.message  # libsndfile's misleading MP3 wording is replaced


def test_folder_instead_of_file(tmp_path):
    path = tmp_path / "clip.wav"
    path.mkdir()
    err = _raises_naming(path)
    assert "Not a file" in err.message


def test_header_only_wav_has_no_samples(tmp_path):
    path = tmp_path / "hollow.wav"
    sf.write(path, np.zeros(0, np.float32), 16000, subtype="PCM_16")
    assert audio_info(path).frames == 0
    err = _raises_naming(path, read_mono)
    assert "no samples" in err.message


def test_float_wav_with_nan(tmp_path):
    path = tmp_path / "nan.wav"
    data = np.full(1600, 0.1, np.float32)
    data[100] = np.nan
    sf.write(path, data, 16000, subtype="FLOAT")
    err = _raises_naming(path)
    assert "NaN" in err.message


def test_bad_clips_become_row_problems(tmp_path):
    folder = make_dataset(tmp_path / "ds", n=1)  # a0.wav is fine
    (folder / "junk.wav").write_text("not audio")
    (folder / "zero.wav").write_bytes(b"")
    write_wav(folder / "blip.wav", seconds=0.05)
    sf.write(folder / "long.wav", np.full(8000 * 31, 0.1, np.float32), 8000, subtype="PCM_16")
    write_wav(folder / "quiet.wav", seconds=1.0, amp=0.0)
    write_wav(folder / "cd.wav", seconds=0.5, sr=44100, channels=2)
    write_metadata(folder, [("a0.wav", "fine"), ("junk.wav", "junk"), ("zero.wav", "zero"), ("gone.wav", "gone"),
                            ("blip.wav", "blip"), ("long.wav", "long"), ("quiet.wav", "quiet"), ("cd.wav", "cd")])
    before = snapshot(folder)

    report = validate_dataset(folder)

    by_file = {(p.file_name, p.kind): p for p in report.problems}
    expected = {("junk.wav", "unreadable", 3), ("zero.wav", "unreadable", 4), ("gone.wav", "missing", 5),
                ("blip.wav", "too_short", 6), ("long.wav", "too_long", 7), ("long.wav", "odd_sample_rate", 7),
                ("quiet.wav", "silence", 8), ("cd.wav", "odd_sample_rate", 9)}
    assert {(f, k, p.row) for (f, k), p in by_file.items()} == expected
    for (name, _kind), problem in by_file.items():
        assert name in problem.message
    assert by_file[("zero.wav", "unreadable")].message.count("0 bytes") == 1
    assert by_file[("long.wav", "too_long")].severity == "warning"
    assert by_file[("blip.wav", "too_short")].severity == "error"
    # warnings other than too_long keep the clip; errors and too_long drop it
    assert [c.file_name for c in report.usable_clips] == ["a0.wav", "quiet.wav", "cd.wav"]
    assert report.counts == {"missing": 1, "unreadable": 2, "too_short": 1, "too_long": 1, "odd_sample_rate": 2,
                             "silence": 1}
    text = report.format_text()
    assert "row 5" in text and "gone.wav" in text and "too_long" in text
    assert snapshot(folder) == before
