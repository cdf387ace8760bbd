"""Each timed format round-trips: render, then parse back the same starts, ends and texts."""

from __future__ import annotations

import json

import pytest

from whisper_tui.inference.subtitles import FORMATS, Segment, clock, parse, render, write_transcript

SEGMENTS = [Segment(0.0, 2.5, "Hello there."), Segment(3.02, 7.1, "A second line, with a comma."),
            Segment(3725.456, 3730.0, "After an hour --> still going.")]


@pytest.mark.parametrize("fmt", ["srt", "vtt", "json", "tsv"])
def test_round_trip(fmt):
    back = parse(render(SEGMENTS, fmt), fmt)
    assert [(round(s.start, 3), round(s.end, 3)) for s in back] == [(s.start, s.end) for s in SEGMENTS]
    assert back[0].text == "Hello there." and back[2].text == "After an hour -> still going."


def test_shapes_users_expect():
    assert render(SEGMENTS, "vtt").startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n")
    assert render(SEGMENTS, "srt").startswith("1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n2\n")
    doc = json.loads(render(SEGMENTS, "json"))
    assert doc["segments"][1] == {"id": 1, "start": 3.02, "end": 7.1, "text": "A second line, with a comma."}
    assert render(SEGMENTS, "txt").splitlines()[0] == "Hello there."
    assert clock(3725.456) == "01:02:05,456" and clock(65.0, ".", hours=False) == "01:05.000"


def test_blank_segments_and_line_breaks_never_break_a_cue():
    text = render([Segment(0, 1, "  "), Segment(1, 2, "two\n\nlines")], "srt")
    assert parse(text, "srt") == [Segment(1.0, 2.0, "two lines")]


def test_write_transcript_is_one_file_per_input(tmp_path):
    for fmt in FORMATS:
        path = write_transcript(SEGMENTS, tmp_path / "talk.wav", tmp_path / "out", fmt)
        assert path == tmp_path / "out" / f"talk.{fmt}" and path.read_text() == render(SEGMENTS, fmt)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"talk.{f}" for f in FORMATS)
