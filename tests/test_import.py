"""`whisper-tui import`: every format round-trips from a fixture made here; subtitles cut where expected.

Fixtures are tones written with soundfile (no TTS): each test builds a small source in the shape
the format has in the wild, imports it, and checks metadata.csv's rows and columns, the clips'
durations, that `validate` accepts the result, and that no source file changed (hashes).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers_audio import tone, write_wav

from whisper_tui.cli import main
from whisper_tui.data.dataset import validate_dataset
from whisper_tui.data.metadata import read_metadata
from whisper_tui.errors import DatasetError, NotOurFolder
from whisper_tui.data.importers import detect_format, import_dataset
from whisper_tui.data.importers import transcripts as transcripts_mod
from whisper_tui.data.importers.segments import segment_cues
from whisper_tui.data.importers.subtitles import Cue, parse_subtitles

SR = 16000


# -- helpers ----------------------------------------------------------------------------------------

def hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def rows_of(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / "metadata.csv").read_text(encoding="utf-8"))))


def duration(path: Path) -> float:
    info = sf.info(str(path))
    return info.frames / info.samplerate


def wav_bytes(seconds: float, fmt: str = "WAV", freq: float = 440.0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(seconds, SR, freq=freq), SR, format=fmt, subtype="PCM_16")
    return buf.getvalue()


def check_round_trip(out: Path, n_clips: int) -> None:
    """The result is a dataset `validate` accepts: every row usable, no error."""
    report = validate_dataset(out)
    assert not report.errors, [str(p) for p in report.errors]
    assert len(report.usable_clips) == n_clips
    assert not any(p.kind == "extra_column" for p in report.problems)  # only columns dataset.py knows


# -- NeMo -------------------------------------------------------------------------------------------

def make_nemo(src: Path) -> Path:
    write_wav(src / "audio" / "a.wav", seconds=1.0)
    write_wav(src / "audio" / "b.wav", seconds=1.5, sr=22050)
    write_wav(src / "audio" / "long.wav", seconds=4.0)
    train = [
        {"audio_filepath": "audio/a.wav", "text": "first clip", "duration": 1.0, "speaker": 7},
        {"audio_filepath": str((src / "audio" / "b.wav").resolve()), "text": "second clip", "duration": 1.5},
        {"audio_filepath": "audio/gone.wav", "text": "no file", "duration": 1.0},
        {"audio_filepath": "audio/long.wav", "text": "a stretch", "offset": 1.0, "duration": 2.0},
    ]
    test = [{"audio_filepath": "audio/a.wav", "text": "  ", "duration": 1.0}]
    (src / "train_manifest.json").write_text("\n".join(json.dumps(r) for r in train) + "\n\nnot json\n")
    (src / "test_manifest.jsonl").write_text("\n".join(json.dumps(r) for r in test) + "\n")
    return src


def test_nemo_manifest_round_trips(tmp_path):
    src = make_nemo(tmp_path / "nemo")
    before = hashes(src)
    report = import_dataset(src, tmp_path / "out")
    out = tmp_path / "out"
    assert report.format == "nemo" and report.clips == 3
    rows = rows_of(out)
    assert [r["transcription"] for r in rows] == ["first clip", "second clip", "a stretch"]
    assert list(rows[0]) == ["file_name", "transcription", "speaker", "source", "start", "end"]  # no one-sided split
    assert rows[0]["speaker"] == "7" and rows[0]["source"] == "audio/a.wav"
    assert duration(out / rows[0]["file_name"]) == pytest.approx(1.0)
    assert sf.info(str(out / rows[1]["file_name"])).samplerate == 22050  # copied as it is
    assert (out / rows[1]["file_name"]).read_bytes() == (src / "audio" / "b.wav").read_bytes()
    assert (rows[2]["start"], rows[2]["end"]) == ("1.000", "3.000")
    assert duration(out / rows[2]["file_name"]) == pytest.approx(2.0)
    reasons = {s.where: s.reason for s in report.skipped}
    assert reasons["train_manifest.json line 3"].startswith("missing audio")
    assert reasons["train_manifest.json line 6"].startswith("not JSON")
    assert reasons["test_manifest.jsonl line 1"] == "empty text"
    assert any("only train" in note for note in report.notes)
    check_round_trip(out, 3)
    assert hashes(src) == before
    stored = json.loads((out / "import.json").read_text())
    assert stored["format"] == "nemo" and len(stored["skipped"]) == 3


# -- Common Voice -----------------------------------------------------------------------------------

CV_HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment"


def make_common_voice(src: Path) -> Path:
    clips = src / "clips"
    clips.mkdir(parents=True)
    for i, seconds in enumerate([1.0, 1.2, 0.8, 1.4]):
        sf.write(clips / f"common_voice_en_{i}.mp3", tone(seconds, SR), SR, format="MP3")
    lists = {
        "train.tsv": [("spk-a", "common_voice_en_0.mp3", 'He said "hi", then left.', "twenties", "male"),
                      ("spk-b", "common_voice_en_1.mp3", "Second sentence.", "", ""),
                      ("spk-b", "common_voice_en_9.mp3", "Missing clip.", "", "")],
        "dev.tsv": [("spk-c", "common_voice_en_2.mp3", "A dev sentence.", "", "female")],
        "test.tsv": [("spk-d", "common_voice_en_3.mp3", "A test sentence.", "", ""),
                     ("spk-d", "common_voice_en_1.mp3", "Listed twice.", "", "")],
        "validated.tsv": [("spk-a", "common_voice_en_0.mp3", "superset, not read", "", "")],
        "invalidated.tsv": [("spk-x", "common_voice_en_0.mp3", "rejected", "", "")],
    }
    for name, rows in lists.items():
        lines = [CV_HEADER] + [f"{c}\t{p}\t{s}\t2\t0\t{a}\t{g}\tUnited States English\ten\t" for c, p, s, a, g in rows]
        (src / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return src


def test_common_voice_round_trips(tmp_path):
    src = make_common_voice(tmp_path / "cv-corpus" / "en")
    before = hashes(src)
    # the release folder holds one language folder: it is looked into
    report = import_dataset(tmp_path / "cv-corpus", tmp_path / "out")
    out = tmp_path / "out"
    assert report.format == "common-voice" and report.source == src and report.clips == 4
    rows = rows_of(out)
    assert [r["split"] for r in rows] == ["train", "train", "dev", "test"]
    assert [r["speaker"] for r in rows] == ["spk-a", "spk-b", "spk-c", "spk-d"]
    assert rows[0]["transcription"] == 'He said "hi", then left.'  # quotes are text in CV lists
    assert rows[0]["age"] == "twenties" and rows[0]["gender"] == "male" and rows[0]["language"] == "en"
    assert rows[0]["accent"] == "United States English" and rows[0]["source"] == "clips/common_voice_en_0.mp3"
    assert rows[0]["file_name"] == "clips/common_voice_en_0.mp3"
    for row, seconds in zip(rows, [1.0, 1.2, 0.8, 1.4]):
        assert duration(out / row["file_name"]) == pytest.approx(seconds, abs=0.08)  # MP3 frames
    reasons = sorted(s.reason.split(" (")[0] for s in report.skipped)
    assert reasons == ["duplicate", "missing audio"]
    check_round_trip(out, 4)
    clips, _problems = read_metadata(out)
    assert clips[2].column("split") == "dev"
    assert hashes(src) == before


# -- LibriSpeech ------------------------------------------------------------------------------------

def make_librispeech(root: Path) -> Path:
    for subset, spk, chapter, n in (("train-clean-5", "84", "121123", 2), ("dev-clean", "1272", "128104", 1)):
        folder = root / subset / spk / chapter
        folder.mkdir(parents=True)
        lines = []
        for k in range(n):
            utt = f"{spk}-{chapter}-{k:04d}"
            sf.write(folder / f"{utt}.flac", tone(1.0 + k / 2, SR), SR)
            lines.append(f"{utt} SENTENCE NUMBER {k} OF {spk}")
        lines.append(f"{spk}-{chapter}-0099 NO AUDIO FOR THIS ONE")
        (folder / f"{spk}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    return root


def test_librispeech_round_trips(tmp_path):
    src = make_librispeech(tmp_path / "LibriSpeech")
    before = hashes(src)
    report = import_dataset(src, tmp_path / "out")
    out = tmp_path / "out"
    assert report.format == "librispeech" and report.clips == 3
    rows = {r["file_name"]: r for r in rows_of(out)}
    assert set(rows) == {"clips/84-121123-0000.flac", "clips/84-121123-0001.flac", "clips/1272-128104-0000.flac"}
    assert rows["clips/84-121123-0001.flac"] == {
        "file_name": "clips/84-121123-0001.flac", "transcription": "SENTENCE NUMBER 1 OF 84", "speaker": "84",
        "split": "train", "source": "train-clean-5/84/121123/84-121123-0001.flac"}
    assert rows["clips/1272-128104-0000.flac"]["split"] == "dev"
    assert duration(out / "clips/84-121123-0001.flac") == pytest.approx(1.5)
    assert [s.reason.split(" (")[0] for s in report.skipped] == ["missing audio", "missing audio"]
    check_round_trip(out, 3)
    assert hashes(src) == before


# -- Hugging Face save_to_disk and parquet ------------------------------------------------------------

def audio_struct(data: bytes | None, path: str | None):
    return {"bytes": data, "path": path}


def hf_table(n: int, split: str, start: int = 0):
    import pyarrow as pa

    audio_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    audio = [audio_struct(wav_bytes(1.0 + i / 4), f"{split}_{start + i}.wav") for i in range(n)]
    texts = [f"{split} sentence {start + i}" for i in range(n)]
    return pa.table({"audio": pa.array(audio, audio_type), "text": texts,
                     "speaker_id": pa.array([100 + i for i in range(n)], pa.int64()),
                     "input_features": [[0.5] * 4 for _ in range(n)]})


def save_to_disk(folder: Path, table, split: str) -> None:
    """What `Dataset.save_to_disk` writes: an Arrow stream, state.json, dataset_info.json."""
    import pyarrow as pa

    folder.mkdir(parents=True)
    with pa.OSFile(str(folder / "data-00000-of-00001.arrow"), "wb") as sink, \
            pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=2):
            writer.write_batch(batch)
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}],
                                                   "_fingerprint": "x", "_split": split}))
    (folder / "dataset_info.json").write_text(json.dumps({"features": {
        "audio": {"sampling_rate": 16000, "_type": "Audio"}, "text": {"dtype": "string", "_type": "Value"}}}))


def test_hf_save_to_disk_dataset_dict_round_trips(tmp_path):
    src = tmp_path / "hf"
    save_to_disk(src / "train", hf_table(3, "train"), "train")
    save_to_disk(src / "test", hf_table(2, "test"), "test")
    (src / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    before = hashes(src)
    report = import_dataset(src, tmp_path / "out")
    out = tmp_path / "out"
    assert report.format == "hf-disk" and report.clips == 5 and report.how == {"written": 5}
    rows = rows_of(out)
    assert [r["split"] for r in rows] == ["train"] * 3 + ["test"] * 2
    assert rows[1]["file_name"] == "clips/train_1.wav" and rows[1]["transcription"] == "train sentence 1"
    assert rows[1]["speaker"] == "101"
    assert duration(out / rows[1]["file_name"]) == pytest.approx(1.25)
    assert (out / rows[1]["file_name"]).read_bytes() == wav_bytes(1.25)  # the stored file, byte for byte
    check_round_trip(out, 5)
    assert hashes(src) == before


def test_parquet_files_round_trip(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "repo"
    (src / "data").mkdir(parents=True)
    audio_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    external = write_wav(tmp_path / "elsewhere" / "ext.wav", seconds=0.75)
    train = pa.table({"audio": pa.array([audio_struct(wav_bytes(1.0, "FLAC"), None),  # no name: sniffed
                                         audio_struct(None, str(external)),  # a file on disk
                                         audio_struct(None, None)], audio_type),  # nothing
                      "sentence": ["flac bytes", "a file", "no audio"]})
    test = pa.table({"audio": pa.array([audio_struct(wav_bytes(0.5), "clip.wav")], audio_type),
                     "sentence": ["held out"]})
    pq.write_table(train, src / "data" / "train-00000-of-00001.parquet")
    pq.write_table(test, src / "data" / "test-00000-of-00001.parquet")
    before = hashes(src)
    report = import_dataset(src, tmp_path / "out")
    out = tmp_path / "out"
    assert report.format == "parquet" and report.clips == 3
    rows = rows_of(out)
    by_text = {r["transcription"]: r for r in rows}
    assert by_text["flac bytes"]["file_name"].endswith(".flac") and by_text["flac bytes"]["split"] == "train"
    assert sf.info(str(out / by_text["flac bytes"]["file_name"])).format == "FLAC"
    assert by_text["a file"]["file_name"] == "clips/ext.wav" and by_text["held out"]["split"] == "test"
    assert duration(out / by_text["a file"]["file_name"]) == pytest.approx(0.75)
    assert [s.reason for s in report.skipped] == ["no audio in this row"]
    check_round_trip(out, 3)
    assert hashes(src) == before and external.exists()


def test_hf_text_column_is_named_when_missing(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    audio_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    src = tmp_path / "p"
    src.mkdir()
    pq.write_table(pa.table({"audio": pa.array([audio_struct(wav_bytes(0.5), "a.wav")], audio_type),
                             "words": ["hello"]}), src / "x.parquet")
    with pytest.raises(DatasetError, match="no transcript column.*words"):
        import_dataset(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    main(["import", str(src), str(tmp_path / "out"), "--text-column", "words"])
    assert rows_of(tmp_path / "out")[0]["transcription"] == "hello"


# -- subtitles ---------------------------------------------------------------------------------------

SRT = """1
00:00:01,000 --> 00:00:03,000
Hello <i>there</i>.

2
00:00:03,500 --> 00:00:06,000
- How are you?
- {\\an8}Fine &amp; you?

3
00:00:10,000 --> 00:00:12,000
[Music] ♪

4
00:00:12,500 --> 00:00:20,000
Second segment starts

5
00:00:20,200 --> 00:00:35,000
and goes on.

6
00:00:35,500 --> 00:00:44,000
Too long to join the one before.

7
00:00:45,000 --> 00:01:20,000
A cue of thirty five seconds.

8
00:01:21,000 --> 00:01:23,000
After the long cue.
"""
# (start, end, text) with the 0.2 s padding, bounded by the neighbouring cues
EXPECTED = [(0.8, 6.2, "Hello there. How are you? Fine & you?"),
            (12.3, 35.2, "Second segment starts and goes on."),
            (35.3, 44.2, "Too long to join the one before."),
            (80.8, 83.2, "After the long cue.")]


def recording(path: Path, seconds: float, sr: int = SR, channels: int = 1) -> np.ndarray:
    """Noise with a different level every second, so a cut at the wrong place shows."""
    rng = np.random.default_rng(0)
    n = int(seconds * sr)
    levels = np.repeat(rng.uniform(0.05, 0.5, int(np.ceil(seconds))), sr)[:n]
    wave = (rng.uniform(-1, 1, n) * levels).astype(np.float32)
    data = wave if channels == 1 else np.stack([wave, wave], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sr, subtype="PCM_16")
    return sf.read(path, dtype="float32")[0]


def test_srt_recording_is_cut_into_the_expected_segments(tmp_path):
    src = tmp_path / "talks"
    wave = recording(src / "talk.wav", 90.0)
    (src / "talk.srt").write_text(SRT, encoding="utf-8")
    before = hashes(src)
    report = import_dataset(src, tmp_path / "out")
    out = tmp_path / "out"
    assert report.format == "subtitles" and report.clips == 4 and report.how == {"cut": 4}
    rows = rows_of(out)
    got = [(float(r["start"]), float(r["end"]), r["transcription"]) for r in rows]
    assert got == EXPECTED
    assert rows[0]["source"] == "talk.wav 00:00:00.800-00:00:06.200"
    for row, (start, end, _text) in zip(rows, EXPECTED):
        clip, rate = sf.read(out / row["file_name"], dtype="float32")
        assert rate == SR and clip.ndim == 1 and len(clip) == round((end - start) * SR)
        np.testing.assert_array_equal(clip, wave[round(start * SR):round(end * SR)])  # the very samples
    reasons = [s.reason for s in report.skipped]
    assert reasons == ["no spoken text", "cue longer than 30 s (35.0 s)"]
    assert report.longest_s <= 30.0
    check_round_trip(out, 4)
    assert hashes(src) == before


VTT = """WEBVTT - a talk
Kind: captions

NOTE this block is a comment
with two lines

STYLE
::cue { color: yellow }

intro
00:01.000 --> 00:03.000 align:start position:10%
<v Anna>Good <c.loud>morning</c>,</v>

00:03.200 --> 00:05.000
<v Anna>everyone.

00:05.100 --> 00:07.000
<v Ben>Thanks, <00:05.500>Anna.
"""


def test_vtt_voices_and_resampling(tmp_path):
    src = tmp_path / "in"
    recording(src / "meeting.flac", 8.0, sr=44100, channels=2)
    (src / "meeting.en.vtt").write_text(VTT, encoding="utf-8")
    report = import_dataset(src / "meeting.en.vtt", tmp_path / "out")  # the subtitle file finds its recording
    rows = rows_of(tmp_path / "out")
    assert report.format == "subtitles"
    assert [(r["transcription"], r["speaker"]) for r in rows] == [("Good morning, everyone.", "Anna"),
                                                                  ("Thanks, Anna.", "Ben")]
    info = sf.info(str(tmp_path / "out" / rows[0]["file_name"]))
    assert (info.samplerate, info.channels) == (SR, 1)
    assert info.frames / SR == pytest.approx(float(rows[0]["end"]) - float(rows[0]["start"]), abs=1e-3)


def test_subtitle_parser_edge_cases():
    cues = parse_subtitles("\ufeff1\r\n00:00:01,5 --> 00:00:02,000\r\nOne\r\n2\r\n00:00:02,500 --> 00:00:03,000\r\n"
                           "<font color=\"red\">Two</font>\r\nlines\r\n\r\n3\r\n01:02.000 --> 01:03.000\r\nThree")
    assert [(c.start, c.end, c.text) for c in cues] == [(1.5, 2.0, "One"), (2.5, 3.0, "Two lines"),
                                                         (62.0, 63.0, "Three")]


def cue(start: float, end: float, text: str = "words", speaker: str = "") -> Cue:
    return Cue(start, end, text, speaker)


def test_segments_never_split_a_cue_and_stay_within_the_limit():
    cues = [cue(0, 10), cue(10.5, 20), cue(20.5, 29.9), cue(30, 31), cue(33, 34), cue(34.1, 34.0)]
    segments, left_out = segment_cues(cues, pad_s=0.0)
    assert [(s.start, s.end) for s in segments] == [(0, 29.9), (30, 31), (33, 34)]
    assert [why for _c, why in left_out] == ["end not after start"]
    assert all(s.duration <= 30 for s in segments)
    segments, _ = segment_cues([cue(0, 5, "a", "x"), cue(5.2, 8, "b", "y")], pad_s=0.0)
    assert len(segments) == 2  # a speaker change starts a new segment
    segments, left_out = segment_cues([cue(0, 5), cue(9, 12)], duration=10.0, max_gap_s=5)
    assert [(s.start, s.end) for s in segments] == [(0.0, 10.0)]  # clipped to the recording's end
    segments, _ = segment_cues([cue(0, 29.8)], pad_s=0.5)
    assert segments[0].duration <= 30.0


# -- long recording + plain transcript (aligner) --------------------------------------------------------

def test_plain_transcript_uses_the_aligner(tmp_path, monkeypatch):
    src = tmp_path / "lecture"
    recording(src / "lecture.wav", 40.0)
    (src / "lecture.txt").write_text("First part. Second part.", encoding="utf-8")
    calls = []

    def fake_cut(audio_path, transcript, out_dir, *, model=None, on_progress=None):
        calls.append((audio_path, transcript, model))
        out_dir.mkdir(parents=True)
        for k in (1, 2):
            sf.write(out_dir / f"lecture_{k:04d}.wav", tone(2.0, SR), SR, subtype="PCM_16")
        return [{"file_name": "lecture_0001.wav", "text": "First part.", "start": 0.5, "end": 2.5,
                 "quality": 0.9, "status": "ok"},
                {"file_name": "lecture_0002.wav", "text": "Second part.", "start": 3.0, "end": 5.0,
                 "quality": 0.2, "status": "poor"}]

    assert detect_format(src)[0].NAME == "transcript"
    monkeypatch.setattr(transcripts_mod, "aligner", lambda: fake_cut)
    report = import_dataset(src, tmp_path / "out")
    out = tmp_path / "out"
    assert calls == [(src / "lecture.wav", "First part. Second part.", None)]
    rows = rows_of(out)
    assert [(r["transcription"], r["status"], r["confidence"]) for r in rows] == [("First part.", "ok", "0.900")]
    assert [r["transcription"] for r in rows_of(out / "review")] == ["Second part."]  # poor: not trained on
    assert report.clips == 1 and len(report.review) == 1 and not (out / ".import-scratch").exists()
    check_round_trip(out, 1)

    monkeypatch.setattr(transcripts_mod, "aligner", lambda: None)
    with pytest.raises(DatasetError, match="cannot do yet"):
        import_dataset(src, tmp_path / "out2")


# -- detection, output folder, CLI ---------------------------------------------------------------------

def test_unknown_source_names_what_was_looked_for(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.md").write_text("hi")
    with pytest.raises(DatasetError) as err:
        detect_format(tmp_path / "junk")
    for words in ("NeMo", "Common Voice", "trans.txt", "save_to_disk", "parquet", ".srt"):
        assert words in err.value.message
    ds = tmp_path / "ds"
    write_wav(ds / "a.wav")
    (ds / "metadata.csv").write_text("file_name,transcription\na.wav,hi\n")
    with pytest.raises(DatasetError, match="already a dataset"):
        detect_format(ds)
    sidecars = tmp_path / "sidecars"  # short clips with a .txt each: validate reads these as they are
    write_wav(sidecars / "a.wav")
    (sidecars / "a.txt").write_text("hello")
    with pytest.raises(DatasetError, match="already a dataset: its clips have a .txt"):
        detect_format(sidecars)
    with pytest.raises(DatasetError, match="does not look like"):
        import_dataset(tmp_path / "junk", tmp_path / "out", format="nemo")


def test_output_folder_rules(tmp_path):
    src = make_nemo(tmp_path / "nemo")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("user file")
    with pytest.raises(NotOurFolder):
        import_dataset(src, mine, force=True)
    assert (mine / "keep.txt").read_text() == "user file"
    with pytest.raises(DatasetError, match="holds the source"):
        import_dataset(src / "train_manifest.json", src)
    import_dataset(src, tmp_path / "out")
    with pytest.raises(DatasetError, match="--force"):
        import_dataset(src, tmp_path / "out")
    assert import_dataset(src, tmp_path / "out", force=True).clips == 3


def test_cli_prints_format_counts_and_skips(tmp_path, capsys):
    src = make_nemo(tmp_path / "nemo")
    assert main(["import", str(src), str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "Detected: NeMo JSONL manifest (nemo)" in printed
    assert "Clips: 3" in printed and "Skipped: 3 (" in printed and "missing audio" in printed
    assert f"Wrote: {tmp_path / 'out'}" in printed
    assert main(["import", str(tmp_path / "nothing-here"), str(tmp_path / "o2")]) == 2
    assert "Not found" in capsys.readouterr().err


def test_link_mode_shares_the_file(tmp_path):
    src = make_librispeech(tmp_path / "ls")
    report = import_dataset(src, tmp_path / "out", link=True)
    assert report.how == {"linked": 3}
    clip = tmp_path / "out" / "clips" / "84-121123-0000.flac"
    assert clip.stat().st_ino == (src / "train-clean-5/84/121123/84-121123-0000.flac").stat().st_ino
