"""Broken or unusual metadata.csv files, each built here.

Folder-level failures raise DatasetError naming the file/column/line; row-level ones become
problems with a stable kind and the right row number. The user's files are never modified,
and a file_name that leads outside the folder is never opened.
"""

from __future__ import annotations

import os

import pytest
import soundfile as sf
from helpers_audio import make_dataset, snapshot, write_metadata, write_wav

from whisper_tui.data import audio

from whisper_tui.data import dataset
from whisper_tui.data.dataset import validate_dataset
from whisper_tui.data.metadata import ensure_metadata, read_metadata
from whisper_tui.errors import DatasetError


def _folder_with_clips(tmp_path, names=("a.wav", "b.wav", "c.wav")):
    folder = tmp_path / "ds"
    for name in names:
        write_wav(folder / name, seconds=0.3)
    return folder


def _kinds(problems):
    return [(p.kind, p.row, p.file_name) for p in problems]


def _error(fn, *args) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        fn(*args)
    assert info.value.hint
    return info.value


# --------------------------------------------------------------------------- folder-level errors


def test_folder_missing(tmp_path):
    err = _error(read_metadata, tmp_path / "nowhere")
    assert "nowhere" in err.message and "not found" in err.message


def test_no_metadata_and_no_sidecars(tmp_path):
    folder = _folder_with_clips(tmp_path)
    before = snapshot(folder)
    err = _error(validate_dataset, folder)
    assert "No metadata.csv" in err.message and str(folder) in err.message
    assert snapshot(folder) == before


@pytest.mark.parametrize("header,missing,hint_word", [
    ("file,transcription", "'file_name'", "file_name,transcription"),
    ("file_name,text", "'transcription'", "rename the column 'text'"),
    ("a.wav,hello there", "'file_name', 'transcription'", "looks like data"),
])
def test_missing_column_is_named(tmp_path, header, missing, hint_word):
    folder = _folder_with_clips(tmp_path)
    csv_path = write_metadata(folder, "b.wav,hello\n", header=header)
    before = csv_path.read_bytes()
    err = _error(validate_dataset, folder)
    assert f"missing column {missing}" in err.message and "metadata.csv" in err.message
    assert hint_word in err.hint
    assert csv_path.read_bytes() == before


def test_empty_metadata_file(tmp_path):
    folder = _folder_with_clips(tmp_path)
    (folder / "metadata.csv").write_bytes(b"\xef\xbb\xbf\n\n")
    err = _error(read_metadata, folder)
    assert "is empty" in err.message


def test_unclosed_quote_names_its_line(tmp_path):
    folder = _folder_with_clips(tmp_path)
    write_metadata(folder, 'a.wav,fine\nb.wav,"He said hi\nc.wav,never seen\n')
    err = _error(read_metadata, folder)
    assert "line 3" in err.message and "never closed" in err.message


# --------------------------------------------------------------------------- forgiving reading


def test_bom_and_crlf(tmp_path):
    folder = _folder_with_clips(tmp_path)
    (folder / "metadata.csv").write_bytes(b"\xef\xbb\xbffile_name,transcription\r\na.wav,Hello.\r\nb.wav,World.\r\n")
    clips, problems = read_metadata(folder)
    assert [(c.file_name, c.transcription, c.row) for c in clips] == [("a.wav", "Hello.", 2), ("b.wav", "World.", 3)]
    assert problems == []


def test_utf16_from_excel_with_tabs(tmp_path):
    folder = _folder_with_clips(tmp_path)
    (folder / "metadata.csv").write_bytes("file_name\ttranscription\r\na.wav\tCafé au lait\r\n".encode("utf-16"))
    clips, problems = read_metadata(folder)
    assert [(c.file_name, c.transcription) for c in clips] == [("a.wav", "Café au lait")]
    assert problems == []


def test_semicolon_delimiter(tmp_path):
    folder = _folder_with_clips(tmp_path)
    write_metadata(folder, "a.wav;Guten Tag, sagte er\n", header="file_name;transcription")
    clips, _ = read_metadata(folder)
    assert clips[0].transcription == "Guten Tag, sagte er"


def test_quoted_commas_newlines_and_row_numbers(tmp_path):
    folder = _folder_with_clips(tmp_path)
    write_metadata(folder, 'a.wav,"Yes, doctor, I take it daily."\nb.wav,"Line one\nline two"\n\nc.wav,  spaced   out  \n')
    clips, problems = read_metadata(folder)
    assert [(c.file_name, c.transcription, c.row) for c in clips] == [
        ("a.wav", "Yes, doctor, I take it daily.", 2),
        ("b.wav", "Line one line two", 3),  # newline inside quotes collapsed to a space
        ("c.wav", "spaced out", 6),  # line 4 is the quoted continuation, line 5 is blank
    ]
    assert problems == []


def test_unquoted_comma_is_kept_and_flagged(tmp_path):
    folder = _folder_with_clips(tmp_path)
    write_metadata(folder, "a.wav,Hello, world\nb.wav,fine\n")
    clips, problems = read_metadata(folder)
    assert clips[0].transcription == "Hello, world"
    assert _kinds(problems) == [("extra_column", 2, "a.wav")]
    assert problems[0].severity == "warning" and "a.wav" in problems[0].message


def test_extra_columns_are_kept_and_unknown_ones_flagged(tmp_path):
    folder = _folder_with_clips(tmp_path)
    write_metadata(folder, "a.wav,alice,Hello.,3.1,x\n", header="file_name,speaker,transcription,duration,mood")
    report = validate_dataset(folder)
    assert [(c.file_name, c.transcription) for c in report.usable_clips] == [("a.wav", "Hello.")]
    clip = report.usable_clips[0]
    assert (clip.column("speaker"), clip.column("duration"), clip.column("mood")) == ("alice", "3.1", "x")
    assert _kinds(report.problems) == [("extra_column", 1, "")]  # speaker and duration have a known meaning
    assert "'mood'" in report.problems[0].message and "speaker" not in report.problems[0].message
    assert "data.split_by" in report.problems[0].hint


# --------------------------------------------------------------------------- row problems


def test_non_utf8_bytes_flag_the_row(tmp_path):
    folder = _folder_with_clips(tmp_path)
    csv_path = folder / "metadata.csv"
    csv_path.write_bytes(b"file_name,transcription\na.wav,fine\nb.wav,caf\xe9 cr\xe8me\n")
    before = csv_path.read_bytes()
    report = validate_dataset(folder)
    assert _kinds(report.problems) == [("encoding", 3, "b.wav")]
    problem = report.problems[0]
    assert problem.severity == "error" and "b.wav" in problem.message and "0xE9" in problem.message
    assert "UTF-8" in problem.hint
    b = next(c for c in report.clips if c.file_name == "b.wav")
    assert b.transcription == "caf\ufffd cr\ufffdme"  # replacement characters, never the raw bytes
    assert [c.file_name for c in report.usable_clips] == ["a.wav"]
    assert csv_path.read_bytes() == before


def test_empty_transcript_and_empty_file_name(tmp_path):
    folder = _folder_with_clips(tmp_path)
    write_metadata(folder, 'a.wav,\nb.wav,"   "\n,orphan text\nc.wav\n')
    report = validate_dataset(folder)
    assert _kinds(report.problems) == [("empty_transcript", 2, "a.wav"), ("empty_transcript", 3, "b.wav"),
                                       ("missing", 4, ""), ("empty_transcript", 5, "c.wav")]
    assert report.usable_clips == []
    assert "row 4" in report.format_text()


def test_duplicates_keep_the_first_row(tmp_path):
    folder = _folder_with_clips(tmp_path)
    write_metadata(folder, "a.wav,one\nb.wav,two\n./a.wav,one again\n")
    report = validate_dataset(folder)
    assert _kinds(report.problems) == [("duplicate", 4, "./a.wav")]
    assert "row 2" in report.problems[0].message
    assert [c.row for c in report.usable_clips] == [2, 3]
    assert report.total_seconds == pytest.approx(0.6)  # the duplicated file counts once


def test_absolute_path_inside_the_folder_is_fine(tmp_path):
    folder = _folder_with_clips(tmp_path)
    write_metadata(folder, [(str(folder / "a.wav"), "absolute"), ("sub\\d.wav", "windows path")])
    write_wav(folder / "sub" / "d.wav", seconds=0.3)
    report = validate_dataset(folder)
    assert report.problems == []
    assert [c.path for c in report.usable_clips] == [(folder / "a.wav").resolve(), (folder / "sub/d.wav").resolve()]


def test_paths_leaving_the_folder_are_refused_and_never_read(tmp_path, monkeypatch):
    folder = _folder_with_clips(tmp_path)
    outside = write_wav(tmp_path / "secret" / "private.wav", seconds=0.3)
    os.symlink(outside, folder / "link.wav")
    os.symlink(tmp_path / "secret", folder / "linkdir")
    csv_path = write_metadata(folder, [("a.wav", "fine"), ("../secret/private.wav", "dot dot"),
                                       (str(outside), "absolute"), ("link.wav", "file link"),
                                       ("linkdir/private.wav", "folder link")])
    before = snapshot(tmp_path)
    opened = []
    real_info, real_read = audio.sf.info, audio.sf.read
    monkeypatch.setattr(audio.sf, "info", lambda p, *a, **k: opened.append(p) or real_info(p, *a, **k))
    monkeypatch.setattr(audio.sf, "read", lambda p, *a, **k: opened.append(p) or real_read(p, *a, **k))

    report = validate_dataset(folder)

    assert _kinds(report.problems) == [("escapes_folder", 3, "../secret/private.wav"),
                                       ("escapes_folder", 4, str(outside)), ("escapes_folder", 5, "link.wav"),
                                       ("escapes_folder", 6, "linkdir/private.wav")]
    for p in report.problems:
        assert p.severity == "error" and p.file_name in p.message and "not read" in p.message
    assert all("secret" not in str(p) for p in opened) and len(opened) >= 1
    assert [c.file_name for c in report.usable_clips] == ["a.wav"]
    assert snapshot(tmp_path) == before
    assert csv_path.read_bytes() == before["ds/metadata.csv"]


# --------------------------------------------------------------------------- .txt sidecars


def test_sidecars_generate_metadata_once(tmp_path):
    folder = _folder_with_clips(tmp_path)
    (folder / "a.txt").write_text("Take one\ntablet daily.\n")
    (folder / "b.txt").write_bytes(b"\xef\xbb\xbfRun, then stop.")
    # c.wav has no sidecar: listed with an empty transcript so the user sees it
    report = validate_dataset(folder)
    assert report.metadata_generated
    assert (folder / "metadata.csv").read_text() == ('file_name,transcription\na.wav,Take one tablet daily.\n'
                                                     'b.wav,"Run, then stop."\nc.wav,\n')
    assert _kinds(report.problems) == [("empty_transcript", 4, "c.wav")]
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]  # atomic write left nothing behind
    assert ensure_metadata(folder) is False  # never overwrites an existing metadata.csv


def test_sidecar_with_bad_bytes_is_flagged(tmp_path):
    folder = _folder_with_clips(tmp_path, names=("a.wav",))
    (folder / "a.txt").write_bytes(b"na\xefve")
    report = validate_dataset(folder)
    assert _kinds(report.problems) == [("encoding", 2, "a.wav")]


def test_sidecar_linking_out_of_the_folder_is_not_read(tmp_path):
    folder = _folder_with_clips(tmp_path, names=("a.wav", "b.wav"))
    (folder / "a.txt").write_text("mine")
    (tmp_path / "elsewhere.txt").write_text("someone else's secret")
    os.symlink(tmp_path / "elsewhere.txt", folder / "b.txt")
    report = validate_dataset(folder)
    assert "secret" not in (folder / "metadata.csv").read_text()
    assert _kinds(report.problems) == [("empty_transcript", 3, "b.wav")]


def test_utf16_with_unpaired_bytes_is_flagged(tmp_path):
    folder = _folder_with_clips(tmp_path)
    raw = "file_name,transcription\na.wav,ok\nb.wav,bad\n".encode("utf-16-le")
    (folder / "metadata.csv").write_bytes(b"\xff\xfe" + raw[:-2] + b"\x00\xd8\n\x00")  # lone surrogate
    report = validate_dataset(folder)
    assert ("encoding", 3, "b.wav") in _kinds(report.problems)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_uses_sidecars_in_memory(tmp_path):
    folder = _folder_with_clips(tmp_path, names=("a.wav",))
    (folder / "a.txt").write_text("hello")
    folder.chmod(0o555)
    try:
        with pytest.raises(DatasetError, match="permission denied"):
            ensure_metadata(folder)
        report = validate_dataset(folder)
    finally:
        folder.chmod(0o755)
    assert not report.metadata_generated and not (folder / "metadata.csv").exists()
    assert [(c.file_name, c.transcription) for c in report.usable_clips] == [("a.wav", "hello")]


def test_validation_does_not_touch_a_good_dataset(tmp_path):
    folder = make_dataset(tmp_path / "ds", n=3)
    sf.write(folder / "x.flac", [0.1] * 1600, 16000)
    before = snapshot(folder)
    validate_dataset(folder)
    dataset.load_dataset_split(folder)
    assert snapshot(folder) == before
