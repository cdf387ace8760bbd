"""`whisper-tui label`: recordings in, a dataset to review out (whisper_tui/labelling).

The recordings are made here from eSpeak sentences, so what was said is known: one file over
60 s with 1-2 s pauses between its sentences, a few short files, one of digital silence and one
of white noise. The real bundled tiny.en (CTranslate2) labels them once per module (about 10-20 s
of CPU); the relabel and resume tests work on copies of that output.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers_audio import LECTURE_SENTENCES

from whisper_tui.cli.main import main
from whisper_tui.data.audio import SAMPLE_RATE
from whisper_tui.data.metadata import read_metadata
from whisper_tui.labelling import LABEL_COLUMNS, label_folder, parse_source, save_transcripts_as_dataset
from whisper_tui.labelling.table import LabelTable

SENTENCES = LECTURE_SENTENCES
SHORT = {"short/morning.wav": "Good morning, how are you today?",
         "short/keys.flac": "I left my keys on the kitchen table."}


def _speak(k: int, text: str) -> np.ndarray:
    from whisper_tui.data.tts import synthesize

    return synthesize(text, rate_wpm=135, pitch=40 + 4 * (k % 5))


SPANS: list[tuple[int, int]] = []  # where each sentence lies in lecture.wav (samples), filled by `recordings`


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("recordings")
    rng = np.random.default_rng(3)
    parts = [np.zeros(SAMPLE_RATE // 2, np.float32)]
    SPANS.clear()
    for k, sentence in enumerate(SENTENCES):
        pause = int(rng.uniform(1.5, 2.0) * SAMPLE_RATE)
        start = sum(len(p) for p in parts)
        spoken = _speak(k, sentence)
        SPANS.append((max(0, start - SAMPLE_RATE // 4), start + len(spoken) + SAMPLE_RATE // 4))
        parts += [spoken, np.zeros(pause, np.float32)]
    wave = np.concatenate(parts)
    wave = (wave + 0.002 * rng.standard_normal(len(wave))).astype(np.float32)  # a room, not digital silence
    assert len(wave) / SAMPLE_RATE > 60
    sf.write(root / "lecture.wav", wave, SAMPLE_RATE, subtype="PCM_16")
    for k, (name, text) in enumerate(SHORT.items()):
        (root / name).parent.mkdir(exist_ok=True)
        sf.write(root / name, _speak(k, text), SAMPLE_RATE)
    sf.write(root / "silence.wav", np.zeros(4 * SAMPLE_RATE, np.float32), SAMPLE_RATE, subtype="PCM_16")
    noise = (0.05 * rng.standard_normal(6 * SAMPLE_RATE)).astype(np.float32)
    sf.write(root / "noise.wav", noise, SAMPLE_RATE, subtype="PCM_16")
    sf.write(root / "music.wav", _music(40), SAMPLE_RATE, subtype="PCM_16")
    return root


def _music(seconds: int) -> np.ndarray:
    """A plucked tune (a note a second, three partials): no words in it."""
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    notes = [261.6, 329.6, 392.0, 523.3, 392.0, 329.6, 293.7, 349.2]
    bars = [np.exp(-3 * t) * (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(4 * np.pi * f * t)
                              + 0.3 * np.sin(3 * np.pi * f * t)) for f in notes]
    wave = np.concatenate([bars[k % len(bars)] for k in range(seconds)])
    return (0.2 * wave / np.abs(wave).max()).astype(np.float32)


@pytest.fixture(scope="module")
def labelled(recordings, tmp_path_factory):
    out = tmp_path_factory.mktemp("labelled") / "dataset"
    seen = []
    report = label_folder(recordings, out, model="tiny.en", backend="ct2", on_progress=seen.append)
    return out, report, seen


def _rows(out: Path) -> list[dict]:
    return [r.values for r in LabelTable.read(out).data_rows()]


def _wer(refs: list[str], hyps: list[str]) -> float:
    from whisper_tui.inference.metrics import error_rates

    return error_rates([" ".join(refs)], [" ".join(hyps)])[0]


def test_long_file_cut_at_pauses_no_worse_than_one_by_one(labelled, recordings):
    from whisper_tui.labelling.decoding import make_decoder

    out, report, _ = labelled
    rows = [r for r in _rows(out) if r["source"].startswith("lecture.wav ")]
    spans = [parse_source(r["source"])[1:] for r in rows]
    assert len(rows) >= 3
    assert all(0 < end - start <= 30.0 for start, end in spans)
    assert spans == sorted(spans) and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    for r, (start, end) in zip(rows, spans):
        assert sf.info(out / r["file_name"]).duration == pytest.approx(end - start, abs=0.02)
    label_wer = _wer(SENTENCES, [r["transcription"] for r in rows])
    # the same recording cut at the true sentence boundaries, each sentence transcribed alone
    wave, _sr = sf.read(recordings / "lecture.wav", dtype="float32")
    decoder = make_decoder("tiny.en", "ct2")
    one_by_one = [decoder.text(decoder.decode(wave[a:b], timestamps=False).tokens) for a, b in SPANS]
    alone_wer = _wer(SENTENCES, one_by_one)
    assert label_wer <= alone_wer, (label_wer, alone_wer, [r["transcription"] for r in rows], one_by_one)


def test_columns_short_files_whole_and_report(labelled, recordings):
    out, report, seen = labelled
    header = (out / "metadata.csv").read_text(encoding="utf-8").splitlines()[0]
    assert tuple(header.split(",")) == LABEL_COLUMNS
    rows = {parse_source(r["source"])[0]: r for r in _rows(out)}
    for name in SHORT:
        row = rows[name]
        assert row["status"] == "auto" and row["source"].endswith(f" 0.00-{sf.info(recordings / name).duration:.2f}")
        assert (out / row["file_name"]).read_bytes() == (recordings / name).read_bytes()  # kept whole
        assert 0.0 <= float(row["confidence"]) <= 1.0 and 0.0 <= float(row["no_speech"]) <= 1.0
        assert set(filter(None, row["flags"].split(";"))) <= {"loop", "compression", "no_speech", "too_long",
                                                              "too_short"}
    clips, problems = read_metadata(out)  # a standard dataset: training reads it
    assert len(clips) == len(_rows(out)) and not [p for p in problems if p.severity == "error"]
    assert report.written == len(clips)
    import json

    saved = json.loads((out / "label.json").read_text())["last_run"]
    assert saved["segments_written"] == report.written and saved["files"] == 6
    assert seen[-1].files_done == seen[-1].files_total == 6 and seen[-1].done_s == pytest.approx(seen[-1].total_s)


def test_silence_noise_and_music_give_no_rows_and_are_counted(labelled):
    out, report, _ = labelled
    sources = {parse_source(r["source"])[0] for r in _rows(out)}
    assert not sources & {"silence.wav", "noise.wav", "music.wav"}
    assert report.left_out.get("silence", 0) >= 1
    assert report.left_out.get("no_speech", 0) >= 3  # noise, and the two windows of the tune


def _mark(out: Path) -> tuple[bytes, bytes, str]:
    """Mark the first lecture row reviewed (with a corrected text) and edit the second one's text (still auto)."""
    lines = (out / "metadata.csv").read_bytes().split(b"\n")
    first = next(i for i, ln in enumerate(lines) if ln.startswith(b"clips/lecture"))
    reviewed = lines[first].replace(b",auto", b",reviewed")
    reviewed = reviewed.replace(reviewed.split(b",")[1], b"\"Corrected, by a person.\"", 1)
    lines[first] = reviewed
    edited = lines[first + 1].split(b",")
    lines[first + 1] = b",".join([edited[0], b"edited by hand", *edited[2:]])
    (out / "metadata.csv").write_bytes(b"\n".join(lines))
    clip = reviewed.split(b",")[0].decode()
    return reviewed, (out / clip).read_bytes(), edited[0].decode()


def test_relabel_changes_only_auto_rows(labelled, tmp_path, recordings):
    from whisper_tui.models.convert import embedded_source_dir

    out = tmp_path / "dataset"
    shutil.copytree(labelled[0], out)
    lines = (out / "metadata.csv").read_bytes().split(b"\n")
    lecture = [ln for ln in lines if ln.startswith(b"clips/lecture")]
    deleted = lecture[4:]  # rows a person deleted stay deleted (and keep the relabel below short)
    (out / "metadata.csv").write_bytes(b"\n".join(ln for ln in lines if ln not in deleted))
    reviewed_line, reviewed_clip, edited_clip = _mark(out)
    auto_before = {r["file_name"]: r["transcription"] for r in _rows(out) if r["status"] == "auto"}

    again = label_folder(recordings, out, model="tiny.en", backend="ct2")  # same model: only the hand edit
    assert again.relabelled == 1 and again.changed == 1 and again.written == 0
    rows = {r["file_name"]: r for r in _rows(out)}
    assert rows[edited_clip]["transcription"] != "edited by hand" and rows[edited_clip]["status"] == "auto"
    assert reviewed_line in (out / "metadata.csv").read_bytes().split(b"\n")

    other = label_folder(recordings, out, model=str(embedded_source_dir()), backend="ct2")  # "another" model
    assert other.relabelled == len(auto_before) and other.kept_reviewed == 1 and other.written == 0
    lines = (out / "metadata.csv").read_bytes().split(b"\n")
    assert reviewed_line in lines
    clip = reviewed_line.split(b",")[0].decode()
    assert (out / clip).read_bytes() == reviewed_clip
    assert all(r["status"] == "auto" for r in _rows(out) if r["file_name"] != clip)
    assert len(_rows(out)) == len(auto_before) + 1  # the deleted rows did not come back


def test_interrupted_run_continues(recordings, tmp_path):
    audio = tmp_path / "audio"
    (audio / "short").mkdir(parents=True)
    for name in SHORT:
        shutil.copy(recordings / name, audio / name)
    shutil.copy(recordings / "short" / "morning.wav", audio / "again.wav")
    out = tmp_path / "dataset"
    files_done = []
    first = label_folder(audio, out, backend="ct2", on_progress=lambda p: files_done.append(p.files_done),
                         should_stop=lambda: bool(files_done) and files_done[-1] >= 1)
    assert first.stopped and first.written == 1
    assert len(_rows(out)) == 1  # what was done is on disk
    second = label_folder(audio, out, backend="ct2")
    assert not second.stopped and second.files_skipped == 1 and second.written == 2
    assert sorted(parse_source(r["source"])[0] for r in _rows(out)) == ["again.wav", *sorted(SHORT)]
    third = label_folder(audio, out, backend="ct2")
    assert third.files_skipped == 3 and third.written == third.relabelled == 0


def test_reviewed_multiline_row_is_kept_byte_for_byte(tmp_path):
    out = tmp_path / "d"
    out.mkdir()
    raw = ('file_name,transcription,source,confidence,no_speech,flags,status\n'
           'clips/a.wav,"two\r\nlines, quoted",a.wav 0.00-1.00,0.900,0.010,,reviewed\n'
           'clips/b.wav,plain,b.wav 0.00-1.00,0.5,0.1,,auto\n')
    (out / "metadata.csv").write_bytes(raw.encode())
    table = LabelTable.read(out)
    table.data_rows()[1].update(transcription="new text")
    written = table.to_bytes().decode()
    assert written.startswith(raw.split("clips/b.wav")[0])
    assert written.endswith("clips/b.wav,new text,b.wav 0.00-1.00,0.5,0.1,,auto\n")


def test_save_transcripts_as_dataset(recordings, tmp_path):
    out = tmp_path / "saved"
    items = [(recordings / "short" / "morning.wav", "Good morning, how are you today?", 0.91, 0.02),
             (recordings / "short" / "keys.flac", "I left my keys on the kitchen table.", None, None),
             (recordings / "silence.wav", "", None, None)]
    report = save_transcripts_as_dataset(out, items)
    assert report.written == 2 and report.left_out == {"no_speech": 1}
    rows = _rows(out)
    assert [r["status"] for r in rows] == ["auto", "auto"] and rows[0]["confidence"] == "0.910"
    assert rows[1]["confidence"] == "" and rows[1]["source"].startswith(str(recordings / "short" / "keys.flac"))
    assert (out / rows[1]["file_name"]).read_bytes() == (recordings / "short" / "keys.flac").read_bytes()


def test_cli_refuses_bad_folders(tmp_path, capsys):
    assert main(["label", str(tmp_path / "missing"), str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "no-audio"
    empty.mkdir()
    (empty / "notes.txt").write_text("not audio")
    assert main(["label", str(empty), str(tmp_path / "out")]) == 2
    assert "no audio files" in capsys.readouterr().err
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "a.wav", np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    mine = tmp_path / "my-stuff"
    mine.mkdir()
    (mine / "thesis.txt").write_text("precious")
    assert main(["label", str(audio), str(mine)]) == 2
    assert "did not write" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["thesis.txt"] and (mine / "thesis.txt").read_text() == "precious"
    assert not (tmp_path / "out").exists()


def test_cli_labels_a_folder(recordings, tmp_path, capsys):
    audio = tmp_path / "audio"
    audio.mkdir()
    shutil.copy(recordings / "short" / "morning.wav", audio / "one.wav")
    assert main(["label", str(audio), str(tmp_path / "out"), "--backend", "ct2"]) == 0
    assert "1 new row(s)" in capsys.readouterr().out
    assert [r["source"] for r in _rows(tmp_path / "out")][0].startswith("one.wav 0.00-")


def test_ct2_labelling_imports_neither_torch_nor_transformers(recordings, tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    shutil.copy(recordings / "short" / "morning.wav", audio / "one.wav")
    code = textwrap.dedent(f"""
        import sys
        from whisper_tui.labelling import label_folder
        report = label_folder({str(audio)!r}, {str(tmp_path / 'out')!r}, backend="ct2")
        assert report.written == 1, report.summary()
        print(sorted(m for m in ("torch", "transformers") if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_verdict_leaves_out_no_speech_and_flags_hallucinations():
    from whisper_tui.labelling.verdict import judge

    assert judge("[BLANK_AUDIO]", [0.9], 0.1, 3.0, 2.0).left_out == "no_speech"
    assert judge(" you", [0.4], 0.85, 5.0, 0.0).left_out == "no_speech"  # unsure and probably no speech
    assert judge("Thank you.", [0.8] * 3, 0.85, 10.0, 9.0).left_out == "no_speech"  # too few words for the sound
    kept = judge("Good morning to you.", [0.95] * 5, 0.7, 2.0, 1.5)
    assert kept.left_out is None and kept.flags == () and kept.confidence == pytest.approx(0.95)
    assert "no_speech" in judge("Good morning to you.", [0.7] * 5, 0.7, 2.0, 1.5).flags
    loop = judge("thank you " * 12, [0.9] * 24, 0.1, 10.0, 8.0)
    assert loop.left_out is None and {"loop", "compression"} <= set(loop.flags)
    assert "too_long" in judge("cats dogs birds fish cows pigs hens ducks goats sheep", [0.9] * 10, 0.1, 1.0, 1.0).flags
    assert "too_short" in judge("hello", [0.9], 0.1, 10.0, 9.0).flags
    # a long recording's clip shares its window's no-speech probability: unsure words are kept for review
    hard = "We need an approval for lee-mo eye-rocks in before we can try it."
    assert judge(hard, [0.45] * 14, 0.64, 5.7, 5.0).left_out == "no_speech"
    shared = judge(hard, [0.45] * 14, 0.64, 5.7, 5.0, window_shared=True)
    assert shared.left_out is None and "no_speech" in shared.flags
    assert judge("Thank you.", [0.8] * 3, 0.85, 10.0, 9.0, window_shared=True).left_out == "no_speech"
    assert judge("So, I'm going to go ahead and do that.", [0.33] * 11, 0.91, 6.9, 4.9,
                 window_shared=True).left_out == "no_speech"  # a tune's window


def test_split_window_follows_whisper_seek_rule():
    from whisper_tui.labelling.decoding import Decoded
    from whisper_tui.labelling.segments import split_window

    tb, eot = 1000, 900  # timestamp_begin, end of text (text tokens below it)
    ts = lambda s: tb + int(round(s / 0.02))  # noqa: E731
    closed = [ts(0.0), 1, 2, ts(2.0), ts(2.5), 3, 4, ts(5.0), ts(6.0), 5]  # the last segment runs on
    segs, consumed = split_window(Decoded(closed, [0.9] * len(closed), 0.1), tb, eot, 30.0, 60.0)
    assert [(s.start, s.end, s.ids) for s in segs] == [(60.0, 62.0, [1, 2]), (62.5, 65.0, [3, 4])]
    assert consumed == pytest.approx(5.0)  # the next window starts after the last closed segment
    ending = [ts(0.0), 1, ts(3.0), ts(3.5), 2, ts(7.0)]  # single timestamp ending: the window is done
    segs, consumed = split_window(Decoded(ending, [0.9] * len(ending), 0.1), tb, eot, 30.0, 0.0)
    assert [(s.start, s.end) for s in segs] == [(0.0, 3.0), (3.5, 7.0)] and consumed == 30.0


def test_ctrl_c_keeps_what_is_done_and_a_rerun_continues(recordings, tmp_path):
    """SIGINT to a real `whisper-tui label` once its first recording is saved: exit 130, finished files
    kept; the same command again labels only the rest and ends with the rows of an uninterrupted run."""
    import os
    import signal
    import time

    src = tmp_path / "src"
    src.mkdir()
    for k in range(12):  # enough windows after the first file that the signal lands mid-run
        for name in SHORT:
            shutil.copy(recordings / name, src / f"{k:02d}_{Path(name).name}")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "whisper_tui.cli", "label", str(src), str(out), "--backend", "ct2"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 240
    while not (out / "label.json").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 130, (stdout, stderr)
    assert "stopping" in stderr
    kept = _rows(out)
    assert 0 < len(kept) < 12 * len(SHORT)
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "already done" in again.stdout
    rows = _rows(out)
    assert len(rows) == 12 * len(SHORT)
    assert [r for r in rows if r["file_name"] in {k["file_name"] for k in kept}] == kept  # done rows untouched
