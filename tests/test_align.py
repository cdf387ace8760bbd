"""Cutting a long recording by aligning its plain transcript (whisper_tui/data/importers/align.py).

The recording is built here from eSpeak sentences with pauses between them, so where every
sentence lies is known; the real bundled tiny.en (CTranslate2) recognises it once (about 10 s
of CPU, shared by the tests marked slow). The rest are pure logic on hand-made recognised words.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf
from helpers_audio import LECTURE_SENTENCES

from whisper_tui.data.audio import SAMPLE_RATE
from whisper_tui.data.metadata import MAX_CLIP_SECONDS
from whisper_tui.data.importers.align import (
    POOR_BELOW,
    RecognisedWord,
    align_transcript,
    cut_by_alignment,
    match_words,
    normalise_word,
    recognise_file,
    tokenize_transcript,
)

SENTENCES = LECTURE_SENTENCES
UNRELATED = ("Quantum physics describes the strange behaviour of very small particles. "
             "Mountains formed over millions of years as continents collided slowly.")
REPLACED = (4, 5)  # these sentences' text is swapped for UNRELATED in the mismatch case
TOLERANCE_S = 1.0


def _words(text: str) -> list[str]:
    return text.split()


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """(path, wave, [(speech_start_s, speech_end_s) per sentence]) of a > 60 s recording."""
    from whisper_tui.data.tts import synthesize

    rng = np.random.default_rng(11)
    parts, spans, pos = [np.zeros(int(0.5 * SAMPLE_RATE), np.float32)], [], int(0.5 * SAMPLE_RATE)
    for k, sentence in enumerate(SENTENCES):
        wave = synthesize(sentence, rate_wpm=145, pitch=40 + 4 * (k % 5))
        loud = np.flatnonzero(np.abs(wave) > 0.01)
        spans.append(((pos + loud[0]) / SAMPLE_RATE, (pos + loud[-1]) / SAMPLE_RATE))
        pause = np.zeros(int(rng.uniform(1.4, 2.4) * SAMPLE_RATE), np.float32)
        parts += [wave, pause]
        pos += len(wave) + len(pause)
    wave = np.concatenate(parts)
    wave = (wave + 0.002 * rng.standard_normal(len(wave))).astype(np.float32)  # a room, not digital silence
    assert len(wave) / SAMPLE_RATE > 60
    path = tmp_path_factory.mktemp("align") / "lecture.wav"
    sf.write(path, wave, SAMPLE_RATE, subtype="PCM_16")
    return path, sf.read(path, dtype="float32")[0], spans


@pytest.fixture(scope="module")
def clean(recording, tmp_path_factory):
    path, _, _ = recording
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    out = tmp_path_factory.mktemp("clean")
    calls = []
    rows = cut_by_alignment(path, " ".join(SENTENCES), out, on_progress=lambda done, total: calls.append((done, total)))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, "the source recording was modified"
    return rows, out, calls


@pytest.fixture(scope="module")
def recognised(recording, clean):
    wave, words = recognise_file(recording[0])  # kept from the clean run: the file has not changed
    assert np.array_equal(wave, recording[1])
    return words


def _sentences_in(text: str) -> list[int]:
    return [k for k, s in enumerate(SENTENCES) if s in text]


@pytest.mark.slow
def test_clean_recording_is_cut_into_short_segments_that_keep_every_word(clean):
    rows, out, calls = clean
    assert calls and calls[-1][0] == calls[-1][1] >= 3  # > 60 s: at least three 30 s pieces
    assert [w for r in rows for w in _words(r["text"])] == _words(" ".join(SENTENCES))
    for row in rows:
        assert set(row) == {"file_name", "text", "start", "end", "quality", "status"}
        assert 0 <= row["start"] < row["end"] and row["end"] - row["start"] <= MAX_CLIP_SECONDS
        info = sf.info(out / row["file_name"])
        assert info.samplerate == SAMPLE_RATE and info.channels == 1
        assert info.duration == pytest.approx(row["end"] - row["start"], abs=0.01)
    assert all(r1["end"] <= r2["start"] for r1, r2 in zip(rows, rows[1:], strict=False))
    assert len({r["file_name"] for r in rows}) == len(rows)


@pytest.mark.slow
def test_clean_segments_lie_where_their_sentences_were_spoken(clean, recording):
    rows, _, _ = clean
    spans = recording[2]
    errors = []
    for row in rows:
        inside = _sentences_in(row["text"])
        assert inside and " ".join(SENTENCES[k] for k in inside) == row["text"]  # cut at sentence ends only
        errors += [row["start"] - spans[inside[0]][0], row["end"] - spans[inside[-1]][1]]
        assert row["status"] == "ok" and row["quality"] >= 0.8, row
    assert max(abs(e) for e in errors) <= TOLERANCE_S, errors
    # no clip cuts into its own speech: starts before and ends after it, by at most the kept silence + slack
    assert all(e <= 0.05 for e in errors[0::2]) and all(e >= -0.05 for e in errors[1::2]), errors


@pytest.mark.slow
def test_a_stretch_of_transcript_not_in_the_audio_is_marked_poor(recording, tmp_path):
    path, _, spans = recording
    text = " ".join(SENTENCES[:REPLACED[0]] + [UNRELATED] + SENTENCES[REPLACED[-1] + 1:])
    rows = cut_by_alignment(path, text, tmp_path)
    assert [w for r in rows for w in _words(r["text"])] == _words(text)
    unrelated = set(_words(UNRELATED)) - set(_words(" ".join(SENTENCES)))
    for row in rows:
        touched = bool(unrelated & set(_words(row["text"])))
        assert row["status"] == ("poor" if touched else "ok"), row
        if touched:
            assert row["quality"] < POOR_BELOW
        else:
            assert row["quality"] >= 0.8
            assert row["end"] - row["start"] <= MAX_CLIP_SECONDS
    assert sum(r["status"] == "poor" for r in rows) >= 1


@pytest.mark.slow
def test_speech_missing_from_the_transcript_stays_out_of_the_clips(recording, recognised):
    _, wave, spans = recording
    kept = [k for k in range(len(SENTENCES)) if k not in REPLACED]
    segments = align_transcript(wave, " ".join(SENTENCES[k] for k in kept), recognised)
    assert all(s["status"] == "ok" for s in segments), segments
    dropped = (spans[REPLACED[0]][0] + 0.3, spans[REPLACED[-1]][1] - 0.3)
    for seg in segments:
        assert seg["end"] <= dropped[0] or seg["start"] >= dropped[1], seg


@pytest.mark.slow
def test_a_long_sentence_is_cut_at_its_commas_within_the_limit(recording, recognised):
    _, wave, _ = recording
    text = " ".join(s[:-1] + "," for s in SENTENCES)[:-1] + "."  # one sentence of about a minute
    segments = align_transcript(wave, text, recognised, max_s=12.0)
    assert len(segments) >= 6
    assert [w for s in segments for w in _words(s["text"])] == _words(text)
    for seg in segments:
        assert seg["end"] - seg["start"] <= 12.0
        assert seg["text"][-1] in ",.", seg["text"]  # at a comma, never mid-clause here
        assert seg["status"] == "ok"


def test_no_recognised_words_means_no_invented_times():
    wave = np.zeros(10 * SAMPLE_RATE, np.float32)
    segments = align_transcript(wave, "One sentence here. And another one there.", [])
    assert segments and all(s["status"] == "poor" and s["quality"] == 0 for s in segments)


def test_short_sentences_join_but_poor_ones_stay_apart():
    rec = [RecognisedWord(w, 0.5 + 0.4 * i, 0.8 + 0.4 * i) for i, w in enumerate("yes no maybe so".split())]
    wave = np.zeros(5 * SAMPLE_RATE, np.float32)
    wave[SAMPLE_RATE // 2:int(2.2 * SAMPLE_RATE)] = 0.1
    joined = align_transcript(wave, "Yes. No. Maybe so.", rec)
    assert [s["text"] for s in joined] == ["Yes. No. Maybe so."]
    apart = align_transcript(wave, "Yes. No. Maybe so. Completely different words here.", rec)
    assert [s["status"] for s in apart] == ["ok", "poor"]


def test_normalising_and_matching_words():
    assert normalise_word("Clock's,") == "clocks" and normalise_word("13.") == "13" and normalise_word("—") == ""
    ref = "the seashore was colourful today".split()
    hyp = "the sea shore was colorful to day".split()
    assert match_words(ref, hyp) == [(0, 1, 0, 1), (1, 2, 1, 3), (2, 3, 3, 4), (3, 4, 4, 5), (4, 5, 5, 7)]
    assert match_words(["thirteen"], ["13"]) == []  # numbers as they come: no match, no invented one
    tokens, breaks = tokenize_transcript("First line\nsecond  line\n\nthird")
    assert tokens == ["First", "line", "second", "line", "third"] and breaks == [False, True, False, True, True]
