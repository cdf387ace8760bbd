"""The synthetic sample dataset and the eSpeak NG synthesiser behind it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from helpers_audio import snapshot

from whisper_tui.data import tts
from whisper_tui.storage.atomic import OWNER_MARK
from whisper_tui.data.audio import SAMPLE_RATE
from whisper_tui.data.dataset import validate_dataset
from whisper_tui.data.metadata import read_metadata
from whisper_tui.errors import AudioError, DatasetError
from whisper_tui.data.sample_data import (DOMAIN_WORDS, EVERYDAY_SENTENCES, SAMPLE_MARKER,
                                     make_sample_dataset, plan_sample_dataset, word_counts)
from whisper_tui.data.tts import synthesize


def _rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


# --------------------------------------------------------------------------- synthesize


def test_synthesize_speaks_for_a_plausible_time():
    wave = synthesize(EVERYDAY_SENTENCES[0])  # 7 words at 160 wpm: about 2.5 s
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert 1.5 < len(wave) / SAMPLE_RATE < 4.5
    assert _rms(wave) > 0.02 and np.max(np.abs(wave)) <= 1.0
    lead = int(tts.LEAD_IN_S * SAMPLE_RATE)
    assert not np.any(wave[:lead]) and _rms(wave[lead:]) > 0.02


def test_synthesize_is_deterministic_whatever_came_before():
    text = "Restart nginx after the kubectl rollout."
    first = synthesize(text, "en-gb-x-rp", 150, 40)
    synthesize("Something else entirely, spoken in between.", "en-us+f3", 200, 70)
    assert np.array_equal(first, synthesize(text, "en-gb-x-rp", 150, 40))
    assert not np.array_equal(first, synthesize(text, "en-us", 150, 40))
    slow, fast = synthesize(text, rate_wpm=120), synthesize(text, rate_wpm=220)
    assert len(slow) > 1.4 * len(fast)


def test_synthesize_rejects_bad_input():
    with pytest.raises(AudioError, match="Unknown eSpeak voice: 'xx-nope'"):
        synthesize("hello", voice="xx-nope")
    with pytest.raises(ValueError):
        synthesize("   ")
    with pytest.raises(ValueError):
        synthesize("hello", rate_wpm=10)


def test_no_engine_at_all_is_a_clear_error(monkeypatch):
    def broken(*_args):
        raise OSError("cannot load libespeak-ng.so")

    monkeypatch.setattr(tts, "_speak_with_library", broken)
    monkeypatch.setattr(tts, "_library_error", None)
    monkeypatch.setattr(tts.shutil, "which", lambda _name: None)
    with pytest.raises(AudioError) as info:
        synthesize("hello")
    assert "cannot load libespeak-ng.so" in info.value.message and "no espeak-ng binary" in info.value.message
    assert "espeak-ng" in info.value.hint


def test_falls_back_to_an_espeak_ng_binary(tmp_path, monkeypatch):
    """A stand-in `espeak-ng` that writes 1 s of 22.05 kHz tone where `-w` says, like the real one."""
    import sys

    fake = tmp_path / "bin" / "espeak-ng"
    fake.parent.mkdir()
    fake.write_text(f"""#!{sys.executable}
import sys, numpy as np, soundfile as sf
args = sys.argv[1:]
assert sys.stdin.read() == "hello there" and "--stdin" in args
assert args[args.index("-v") + 1] == "en-gb-x-rp" and args[args.index("-s") + 1] == "150"
t = np.arange(22050) / 22050
sf.write(args[args.index("-w") + 1], 0.5 * np.sin(2 * np.pi * 300 * t), 22050, subtype="PCM_16")
""")
    fake.chmod(0o755)

    def broken(*_args):
        raise OSError("cannot load libespeak-ng.so")

    monkeypatch.setattr(tts, "_speak_with_library", broken)
    monkeypatch.setattr(tts, "_library_error", None)
    monkeypatch.setenv("PATH", str(fake.parent))
    wave = synthesize("hello there", "en-gb-x-rp", 150, lead_in_s=0.0)
    assert abs(len(wave) - SAMPLE_RATE) <= 1 and _rms(wave) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)
    assert tts._library_error and "cannot load" in tts._library_error  # the library is not retried per clip


# --------------------------------------------------------------------------- the plan (no audio)


def test_every_domain_word_is_spread_over_sentences_voices_and_both_split_sides():
    plan = plan_sample_dataset(120, seed=0)
    counts = word_counts(plan)
    assert set(counts) == set(DOMAIN_WORDS) and min(counts.values()) >= 5
    for word in DOMAIN_WORDS:
        items = [p for p in plan if word in p["words"]]
        assert all(word in p["text"] for p in items)  # written form, exact casing
        assert len({p["voice"] for p in items}) >= 3, word
        assert len({p["text"].replace(word, "") for p in items}) >= 3, word
        assert {p["split"] for p in items} == {"train", "test"}, word
    assert len({p["voice"] for p in plan}) >= 5
    assert all(p["text"][0].isupper() and p["text"][-1] in ".?" for p in plan)


def test_plan_depends_on_seed_only():
    assert plan_sample_dataset(20, seed=3) == plan_sample_dataset(20, seed=3)
    assert plan_sample_dataset(20, seed=3) != plan_sample_dataset(20, seed=4)


# --------------------------------------------------------------------------- the dataset on disk


def test_make_sample_dataset_is_byte_identical_for_a_seed(tmp_path):
    a = make_sample_dataset(tmp_path / "a", n_clips=6, seed=5)
    b = make_sample_dataset(tmp_path / "b", n_clips=6, seed=5)
    c = make_sample_dataset(tmp_path / "c", n_clips=6, seed=6)
    files_a, files_b = snapshot(a), snapshot(b)
    assert files_a == files_b
    assert sorted(files_a) == sorted([f"clip_{i:03d}.wav" for i in range(6)]
                                     + ["metadata.csv", SAMPLE_MARKER, OWNER_MARK])
    assert files_a["metadata.csv"].startswith(b"file_name,transcription,speaker,split\n")
    assert snapshot(c)["metadata.csv"] != files_a["metadata.csv"]

    clips, problems = read_metadata(a)
    assert len(clips) == 6 and problems == []
    report = validate_dataset(a)
    assert report.problems == [] and len(report.usable_clips) == 6
    for clip in clips:
        info = report.clip_infos[clip.file_name]
        assert (info.sample_rate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 2.0 <= info.duration_s <= 6.5, (clip.file_name, info.duration_s)
        wave, _ = sf.read(clip.path, dtype="float32")
        assert _rms(wave) > 0.03
        assert any(w in clip.transcription for w in DOMAIN_WORDS)
    marker = json.loads((a / SAMPLE_MARKER).read_text())
    assert marker["seed"] == 5 and len({m["voice"] for m in marker["clips"]}) >= 3


def test_refuses_a_folder_with_other_files_and_replaces_its_own(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_bytes(b"precious")
    before = snapshot(mine)
    with pytest.raises(DatasetError, match="not a whisper-tui sample dataset"):
        make_sample_dataset(mine, n_clips=2)
    assert snapshot(mine) == before

    out = make_sample_dataset(tmp_path / "sample", n_clips=3, seed=1)
    make_sample_dataset(out, n_clips=2, seed=1)  # regenerating over an earlier sample set is fine
    assert len(read_metadata(out)[0]) == 2 and not (out / "clip_002.wav").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folders left


def test_an_older_sample_set_is_regenerated_and_a_current_one_reused(tmp_path, monkeypatch):
    from whisper_tui.data import sample_data

    folder = make_sample_dataset(tmp_path / "sample", n_clips=2, seed=0)
    made = []
    monkeypatch.setattr(sample_data, "make_sample_dataset", lambda out, **_: made.append(out) or out)
    assert sample_data.ensure_sample_dataset(folder) == folder and made == []
    marker = json.loads((folder / SAMPLE_MARKER).read_text())
    marker["generator_version"] = 1  # made before held-out sentences and voices: its split leaks
    (folder / SAMPLE_MARKER).write_text(json.dumps(marker))
    said = []
    sample_data.ensure_sample_dataset(folder, log=said.append)
    assert made == [folder] and "older version" in said[0]
