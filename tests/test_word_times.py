"""Word-level timestamps (issue 25 item 5): the alignment pieces against reference implementations, the fit to
the audio, the JSON round trip, and the real tiny.en timing words it hears on both backends.

The timing test speaks each word alone (eSpeak) with a random pause after it, so every word's true start and
end are known to the sample; tiny.en decodes the recording with timestamps and `--word-timestamps`' path gives
each word its time. jfk.flac (real speech, in the keep set) checks the pause before "ask not".
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from whisper_tui.inference.subtitles import Segment, parse, render
from whisper_tui.inference.word_times import Word, dtw, fit_words, median_filter, word_spans
from whisper_tui.whisper_facts import SAMPLE_RATE

JFK = Path(__file__).resolve().parents[1] / "whisper_tui" / "data" / "jfk.flac"
WORDS = "the engineer checked every cable before the storm arrived at midnight".split()


def _reference_dtw(x: np.ndarray):
    """OpenAI's whisper/timing.py `dtw_cpu` + `backtrace`, cell by cell."""
    n, m = x.shape
    cost = np.ones((n + 1, m + 1)) * np.inf
    trace = -np.ones((n + 1, m + 1))
    cost[0, 0] = 0
    for j in range(1, m + 1):
        for i in range(1, n + 1):
            c0, c1, c2 = cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1]
            if c0 < c1 and c0 < c2:
                c, t = c0, 0
            elif c1 < c0 and c1 < c2:
                c, t = c1, 1
            else:
                c, t = c2, 2
            cost[i, j] = x[i - 1, j - 1] + c
            trace[i, j] = t
    trace[0, :], trace[:, 0] = 2, 1
    i, j, result = n, m, []
    while i > 0 or j > 0:
        result.append((i - 1, j - 1))
        t = trace[i, j]
        if t == 0:
            i, j = i - 1, j - 1
        elif t == 1:
            i -= 1
        else:
            j -= 1
    path = np.array(result[::-1])
    return path[:, 0], path[:, 1]


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (5, 1), (4, 9), (12, 40), (30, 31)])
def test_the_diagonal_dtw_finds_openais_path(shape):
    """Same path as OpenAI's cell-by-cell loop, ties included (small integer costs tie often)."""
    rng = np.random.default_rng(sum(shape))
    for cost in (rng.standard_normal(shape), rng.integers(0, 3, shape).astype(float)):
        rows, frames = dtw(cost)
        want_rows, want_frames = _reference_dtw(cost)
        keep = (want_rows >= 0) & (want_frames >= 0)  # OpenAI's backtrace can step to (-1, j) at the very end
        assert rows.tolist() == want_rows[keep].tolist() and frames.tolist() == want_frames[keep].tolist()
        assert rows[0] == 0 and frames[0] == 0 and rows[-1] == shape[0] - 1 and frames[-1] == shape[1] - 1


def test_median_filter_matches_a_window_by_window_median():
    x = np.random.default_rng(0).standard_normal((2, 3, 20))
    padded = np.pad(x, [(0, 0), (0, 0), (3, 3)], mode="reflect")
    want = np.stack([np.median(padded[..., k:k + 7], axis=-1) for k in range(20)], axis=-1)
    assert np.allclose(median_filter(x, 7), want)


def test_word_spans_read_each_words_first_frame_on_the_path():
    # 3 text tokens (words [t0 t1] [t2]) + <|endoftext|>: rows 0,0,1,1,1,2,3,3 over frames 0..7
    rows = np.array([0, 0, 1, 1, 1, 2, 3, 3])
    frames = np.arange(8)
    assert word_spans(rows, frames, [[11, 12], [13]]) == [(0.0, 0.1), (0.1, 0.12)]


def test_fit_words_keeps_each_word_on_its_own_sound():
    """A level trace with sound at 1.0-1.5 s and 3.0-3.6 s: a path that gives the pause to the second word
    (1.5-3.6) and lags its start into the first word's span (0.9-3.1) is moved onto the sound; a word with
    no sound, and a segment without a trace, keep their times; every word stays inside its segment."""
    db = np.full(250, -60.0)
    db[50:75] = db[150:180] = -10.0
    seg = Segment(0.9, 4.0, "a b", (Word(0.9, 3.1, " a", 0.9), Word(3.1, 3.6, " b", 0.9), Word(3.6, 3.9, " c", 0.9)))
    fitted = fit_words(seg, db, level=-40.0)
    assert [(w.start, w.end) for w in fitted.words] == [(1.0, 1.5), (3.0, 3.6), (3.6, 3.9)]
    outside = Segment(1.0, 2.0, "a", (Word(0.5, 2.5, " a", 0.5),))
    assert [(w.start, w.end) for w in fit_words(outside).words] == [(1.0, 2.0)]


def test_json_carries_words_and_reads_them_back():
    seg = Segment(0.3, 2.0, "Hello there.", (Word(0.3, 0.8, " Hello", 0.91), Word(0.9, 1.9, " there.", 0.77)))
    doc = json.loads(render([seg], "json"))
    assert doc["segments"][0]["words"] == [{"start": 0.3, "end": 0.8, "word": " Hello", "probability": 0.91},
                                           {"start": 0.9, "end": 1.9, "word": " there.", "probability": 0.77}]
    assert parse(render([seg], "json"), "json") == [seg]
    assert "words" not in json.loads(render([Segment(0.0, 1.0, "Hi.")], "json"))["segments"][0]


@pytest.fixture(scope="module")
def spaced_words() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """(wave, each word's true (start, end) in seconds): WORDS spoken one by one, 0.1-0.7 s apart."""
    from whisper_tui.data.tts import synthesize

    rng = np.random.default_rng(1)
    parts, pos, truth = [np.zeros(SAMPLE_RATE // 2, np.float32)], SAMPLE_RATE // 2, []
    for word in WORDS:
        spoken = synthesize(word, rate_wpm=150, pitch=45, lead_in_s=0.0)
        sound = np.flatnonzero(np.abs(spoken) > 0.01)
        truth.append(((pos + sound[0]) / SAMPLE_RATE, (pos + sound[-1]) / SAMPLE_RATE))
        gap = np.zeros(int(rng.uniform(0.1, 0.7) * SAMPLE_RATE), np.float32)
        parts += [spoken, gap]
        pos += len(spoken) + len(gap)
    wave = np.concatenate(parts)
    return (wave + 0.002 * rng.standard_normal(len(wave))).astype(np.float32), truth


def _matched(words: list[Word], truth):
    """(word, true span) for the words tiny.en heard as spoken (it may miss or mishear a few)."""
    norm = [re.sub(r"[^a-z]", "", w.text.lower()) for w in words]
    blocks = difflib.SequenceMatcher(a=norm, b=WORDS, autojunk=False).get_matching_blocks()
    return [(words[b.a + k], truth[b.b + k]) for b in blocks for k in range(b.size)]


@pytest.mark.timeout(240)
def test_tiny_en_times_the_words_it_hears_on_both_backends(spaced_words):
    from whisper_tui.inference.timed import transcribe_segments
    from whisper_tui.inference.transcribe import Transcriber

    wave, truth = spaced_words
    starts = {}
    for backend in ("ct2", "torch"):
        segments = transcribe_segments(Transcriber("tiny.en", backend=backend), wave, words=True)
        words = [w for s in segments for w in s.words]
        for s in segments:  # every word inside its segment, in order
            assert all(s.start <= w.start <= w.end <= s.end for w in s.words), s
        assert all(a.start <= b.start for a, b in zip(words, words[1:]))
        matched = _matched(words, truth)
        assert len(matched) >= 8, [w.text for w in words]
        errors = [abs(w.start - t[0]) for w, t in matched]
        assert sum(e <= 0.15 for e in errors) >= 0.8 * len(matched), (backend, errors)
        assert sum(abs(w.end - t[1]) <= 0.2 for w, t in matched) >= 0.8 * len(matched), backend
        assert all(0.0 <= w.probability <= 1.0 for w in words)
        starts[backend] = [round(w.start, 2) for w in words]
    assert len(starts["ct2"]) == len(starts["torch"])
    assert max(abs(a - b) for a, b in zip(starts["ct2"], starts["torch"])) <= 0.1, starts


@pytest.mark.timeout(120)
def test_word_timestamps_on_the_command_line(capsys):
    """jfk.flac: every word of the JSON text is timed, and "ask not" starts after the second's pause that
    follows "Americans" (the path alone would start "ask" right after it)."""
    from whisper_tui.cli.main import main

    assert main(["transcribe", str(JFK), "--word-timestamps"]) == 0  # implies --format json
    doc = json.loads(capsys.readouterr().out)
    words = [w for s in doc["segments"] for w in s["words"]]
    assert "".join(w["word"] for w in words).strip() == doc["text"].strip() or \
        " ".join(w["word"].strip() for w in words) == " ".join(doc["text"].split())
    americans = next(i for i, w in enumerate(words) if w["word"].strip().startswith("Americans"))
    assert words[americans + 1]["word"].strip() == "ask"
    assert words[americans + 1]["start"] - words[americans]["end"] >= 0.8
    assert main(["transcribe", str(JFK), "--word-timestamps", "--format", "srt"]) == 0
    captured = capsys.readouterr()
    assert "json only" in captured.err and parse(captured.out, "srt")


def test_espeak_reports_where_each_word_starts():
    """tts.synthesize_words: the same samples as synthesize, with every word and its start in order; the truth
    bench_word_times measures word timestamps on continuous speech against."""
    from whisper_tui.data.tts import synthesize, synthesize_words

    text = "Nobody on call knew how Grafana depends on Kubernetes."
    wave, words = synthesize_words(text, "en-us", 150, 50)
    assert np.array_equal(wave, synthesize(text, "en-us", 150, 50))
    assert [w for w, _ in words] == ["Nobody", "on", "call", "knew", "how", "Grafana", "depends", "on", "Kubernetes"]
    starts = [t for _, t in words]
    assert starts[0] == pytest.approx(0.2, abs=0.05) and all(a < b for a, b in zip(starts, starts[1:]))
    assert starts[-1] < len(wave) / SAMPLE_RATE - 0.3


def test_bench_word_times_matches_written_words_to_spoken_ones():
    from benchmarks.bench_word_times import figures, start_errors

    written = [Word(0.25, 0.5, " Nobody", 1.0), Word(0.7, 0.8, " un", 1.0), Word(0.95, 1.2, " call.", 1.0)]
    errors = start_errors(written, [("Nobody", 0.2), ("on", 0.69), ("call", 0.9)])
    assert errors == pytest.approx([0.05, 0.05])  # "un" was misheard: left out
    got = figures(errors, 3)
    assert got["matched"] == 2 and got["within_0.1"] == 1.0 and got["bias_s"] == pytest.approx(0.05)
