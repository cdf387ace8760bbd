"""Honest splits: no sentence (or held-out voice) on both sides, whatever the data looks like."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from helpers_audio import make_dataset, write_metadata

from whisper_tui.data.dataset import load_dataset_split
from whisper_tui.data.metadata import Clip
from whisper_tui.errors import DatasetError
from whisper_tui.data.sample_data import DRUG_TEMPLATES, DOMAIN_WORDS, TEST_FRAMES, TEST_VOICES, TOOL_TEMPLATES, \
    plan_sample_dataset
from whisper_tui.data.splitting import NEW_VOICES, KNOWN_VOICES, sentence_key, split_dataset


def _clip(i: int, text: str, **columns) -> Clip:
    return Clip(f"c{i:03d}.wav", Path(f"/d/c{i:03d}.wav"), text, i + 2, tuple(columns.items()))


def _repeated_sentences(n_sentences=30, takes=4, speakers=6) -> list[Clip]:
    """Every sentence recorded several times, by different speakers, written slightly differently."""
    clips = []
    for s in range(n_sentences):
        for t in range(takes):
            text = f"Sentence number {s} is here." if t % 2 else f"sentence NUMBER {s}, is here"
            clips.append(_clip(len(clips), text, speaker=f"spk{(s + t) % speakers}"))
    return clips


def _sentences(clips):
    return {sentence_key(c.transcription) for c in clips}


def test_sentence_key_ignores_case_punctuation_and_spacing():
    assert sentence_key("Sentence NUMBER 3, is  here.") == sentence_key("sentence number 3 is here")
    assert sentence_key("It's fine.") != sentence_key("Its fine.")


def test_text_split_never_puts_a_sentence_on_both_sides():
    clips = _repeated_sentences()
    split = split_dataset(clips, 0.2, seed=1, split_by="text")
    assert split.train and split.test and not split.left_out
    assert not _sentences(split.train) & _sentences(split.test)
    assert split.shared_sentences == 0
    assert 0.1 <= len(split.test) / len(clips) <= 0.3
    # the old per-clip split leaks most test sentences into training: the reason for all this
    leaky = split_dataset(clips, 0.2, seed=1, split_by="clip")
    assert leaky.shared_sentences > len(leaky.test) // 2


def test_auto_is_text_without_a_split_column_and_is_deterministic():
    clips = _repeated_sentences()
    auto = split_dataset(clips, 0.2, seed=3)
    assert auto.keys == ("text",)
    assert [c.file_name for c in auto.test] == [c.file_name for c in split_dataset(list(reversed(clips)), 0.2, 3).test][::-1]
    assert split_dataset(clips, 0.2, seed=4).test != auto.test


def test_clip_split_is_deterministic_and_order_independent():
    clips = [_clip(i, f"text {i}") for i in range(50)]
    split = split_dataset(clips, 0.2, seed=7, split_by="clip")
    assert len(split.test) == 10 and len(split.train) == 40
    assert {c.file_name for c in split.train + split.test} == {c.file_name for c in clips}
    assert split_dataset(clips, 0.2, seed=7, split_by="clip").test == split.test
    shuffled = clips[:]
    random.Random(1).shuffle(shuffled)
    assert {c.file_name for c in split_dataset(shuffled, 0.2, seed=7, split_by="clip").test} == \
        {c.file_name for c in split.test}
    assert split_dataset(clips, 0.2, seed=8, split_by="clip").test != split.test
    assert [c.row for c in split.test] == sorted(c.row for c in split.test)  # metadata order kept


def test_split_extremes():
    clips = [_clip(i, f"text {i}") for i in range(5)]
    none = split_dataset(clips, 0.0, split_by="clip")
    assert (none.train, none.test) == (clips, [])
    every = split_dataset(clips, 1.0, split_by="clip")
    assert (every.train, every.test) == ([], clips)
    two = split_dataset(clips[:2], 0.01, split_by="clip")
    assert len(two.train) == 1 and len(two.test) == 1  # both sides get a clip when there are two
    empty = split_dataset([], 0.2)
    assert (empty.train, empty.test) == ([], [])
    for bad in (-0.1, 1.5, "0.2"):
        with pytest.raises(DatasetError, match="test_split"):
            split_dataset(clips, bad)


def test_speaker_split_holds_out_whole_speakers():
    clips = _repeated_sentences()
    split = split_dataset(clips, 0.25, seed=0, split_by="speaker")
    train_speakers = {c.column("speaker") for c in split.train}
    test_speakers = {c.column("speaker") for c in split.test}
    assert train_speakers and test_speakers and not train_speakers & test_speakers
    assert set(split.test_groups().values()) == {NEW_VOICES}


def test_text_and_speaker_split_gives_both_figures_and_never_leaks_a_sentence():
    clips = _repeated_sentences(n_sentences=40)
    split = split_dataset(clips, 0.3, seed=2, split_by="text+speaker")
    assert not _sentences(split.train) & _sentences(split.test)
    groups = split.test_groups()
    assert set(groups.values()) == {KNOWN_VOICES, NEW_VOICES}
    new_speakers = {c.column("speaker") for c in split.test if groups[c.file_name] == NEW_VOICES}
    assert not new_speakers & {c.column("speaker") for c in split.train}
    # held-out speakers also said training sentences here: those clips are left out, and said so
    assert split.left_out and "left out" in split.notes[0]
    assert len(split.train) + len(split.test) + len(split.left_out) == len(clips)
    assert "known voices" in split.describe_test()


def test_unknown_split_column_is_a_clear_error():
    with pytest.raises(DatasetError, match="speaker") as info:
        split_dataset(_repeated_sentences()[:8], 0.2, split_by="speaker+accent")
    assert info.value.where == "data.split_by" and "accent" in info.value.message
    with pytest.raises(DatasetError, match="cannot be combined"):
        split_dataset(_repeated_sentences()[:8], 0.2, split_by="auto+speaker")


def test_split_column_is_followed_and_leaks_are_counted():
    clips = [_clip(0, "one two", split="train"), _clip(1, "three four", split="TRAIN"),
             _clip(2, "One, two!", split="test"), _clip(3, "five six", split="dev"), _clip(4, "seven", split="")]
    split = split_dataset(clips, 0.2)
    assert [c.file_name for c in split.train] == ["c000.wav", "c001.wav"]
    assert [c.file_name for c in split.test] == ["c002.wav", "c003.wav"]
    assert [c.file_name for c in split.left_out] == ["c004.wav"]
    assert split.shared_sentences == 1
    assert any("also in training" in n for n in split.notes) and any("neither side" in n for n in split.notes)


def test_explicit_test_folder_that_repeats_training_sentences_is_reported(tmp_path):
    train_dir = make_dataset(tmp_path / "train", n=4)
    test_dir = make_dataset(tmp_path / "test", n=2)  # same "clip number N" sentences as the training folder
    _train, test, report = load_dataset_split(train_dir, test_dir=test_dir)
    assert report.split.shared_sentences == 2 and "memory" in report.split.notes[0]
    assert "Split: train 4 · test 2 · separate test folder" in report.format_text()


def test_load_dataset_split_reads_columns_and_honours_split_by(tmp_path):
    folder = make_dataset(tmp_path / "ds", n=8)
    write_metadata(folder, [(f"a{i}.wav", f"clip {i % 4}", f"s{i % 2}") for i in range(8)],
                   header="file_name,transcription,speaker")
    train, test, report = load_dataset_split(folder, test_split=0.5, seed=0, split_by="speaker")
    assert {c.column("speaker") for c in train}.isdisjoint({c.column("speaker") for c in test})
    train, test, report = load_dataset_split(folder, test_split=0.3, seed=0)
    assert not _sentences(train) & _sentences(test)
    assert "by sentence" in report.format_text()


# --------------------------------------------------------------------------- the sample data's split


def test_sample_plan_holds_out_sentence_frames_and_voices():
    plan = plan_sample_dataset(120, seed=0)
    clips = [_clip(i, p["text"], speaker=p["voice"], split=p["split"]) for i, p in enumerate(plan)]
    split = split_dataset(clips, 0.2)  # auto follows the split column the generator writes
    assert (len(split.train), len(split.test)) == (84, 36)
    frames = {"test": set(DRUG_TEMPLATES[-TEST_FRAMES:] + TOOL_TEMPLATES[-TEST_FRAMES:])}
    by_file = {c.file_name: p for c, p in zip(clips, plan)}

    def frame_of(clip):
        words = by_file[clip.file_name]["words"]
        return next(t for t in DRUG_TEMPLATES + TOOL_TEMPLATES if t.format(a=words[0], b=words[1]) == clip.transcription)

    assert all(frame_of(c) in frames["test"] for c in split.test)
    assert not any(frame_of(c) in frames["test"] for c in split.train)
    assert not {c.column("speaker") for c in split.train} & set(TEST_VOICES)
    groups = split.test_groups()
    assert list(groups.values()).count(NEW_VOICES) == 18 and list(groups.values()).count(KNOWN_VOICES) == 18
    for word in DOMAIN_WORDS:  # the domain words recur on both sides, as in real life
        assert any(word in c.transcription for c in split.train), word
        assert any(word in c.transcription for c in split.test), word
