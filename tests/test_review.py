"""whisper_tui.data.review: edits rewrite only their lines, undo is byte-exact, saves are atomic and careful."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from helpers_review import HEADER, TEXTS, make_labelled_dataset, metadata_lines

from whisper_tui.data.dataset import load_dataset_split
from whisper_tui.data.review import (ReviewSheet, only_reviewed_summary, resolve_only_reviewed,
                                     reviewed_clips)
from whisper_tui.errors import DatasetError, ProfileError
from whisper_tui.storage import atomic

AWKWARD = (b"\xef\xbb\xbf" + b"file_name,transcription,status\r\n"
           b"a.wav,\"hello, world\",auto\r\n"
           b"\r\n"
           b"b.wav,\"a quoted\nnewline\",auto\r\n"
           b"c.wav,  spaced   out  ,auto\r\n"
           b"d.wav,no final newline,auto")


def write(folder, data: bytes):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metadata.csv").write_bytes(data)
    return folder


def test_reads_status_confidence_and_flags(tmp_path):
    sheet = ReviewSheet.open(make_labelled_dataset(tmp_path / "ds"))
    assert [r.file_name for r in sheet.rows] == ["a.wav", "b.wav", "c.wav", "d.wav", "e.wav"]
    b, c, e = sheet.rows[1], sheet.rows[2], sheet.rows[4]
    assert b.transcription == TEXTS["b.wav"] and b.confidence == pytest.approx(0.42) and b.flags == ("repetition",)
    assert c.reviewed and not b.reviewed and b.status == "auto"
    assert e.flags == ("too_long", "compression") and e.no_speech == pytest.approx(0.1)
    assert [r.line for r in sheet.rows] == [2, 3, 4, 5, 6]


def test_an_edit_rewrites_only_its_line_and_keeps_every_other_byte(tmp_path):
    folder = write(tmp_path / "ds", AWKWARD)
    sheet = ReviewSheet.open(folder)
    assert [r.transcription for r in sheet.rows] == ["hello, world", "a quoted newline", "spaced out",
                                                     "no final newline"]
    assert [r.line for r in sheet.rows] == [2, 4, 6, 7]
    sheet.edit(2, "  spaced   in ")
    assert (folder / "metadata.csv").read_bytes() == AWKWARD.replace(b"c.wav,  spaced   out  ,auto",
                                                                      b"c.wav,spaced in,reviewed")
    sheet.edit(3, "the last, with a comma")  # needs quotes; still no final newline
    assert (folder / "metadata.csv").read_bytes().endswith(b"\r\nd.wav,\"the last, with a comma\",reviewed")
    sheet.mark_reviewed(0)
    assert b"a.wav,\"hello, world\",reviewed\r\n" in (folder / "metadata.csv").read_bytes()
    assert ReviewSheet.open(folder).rows[0].reviewed  # what it wrote reads back


def test_undo_restores_the_file_byte_for_byte_step_by_step(tmp_path):
    folder = write(tmp_path / "ds", AWKWARD)
    sheet = ReviewSheet.open(folder)
    versions = [AWKWARD]
    for index, action in ((1, "edit"), (0, "mark"), (1, "edit")):
        if action == "edit":
            sheet.edit(index, f"changed {len(versions)}")
        else:
            sheet.mark_reviewed(index)
        versions.append((folder / "metadata.csv").read_bytes())
    assert len(set(versions)) == 4
    for expected in reversed(versions[:-1]):
        sheet.undo()
        assert (folder / "metadata.csv").read_bytes() == expected
    assert sheet.undo() is None and not sheet.can_undo
    assert sheet.rows[1].transcription == "a quoted newline" and sheet.rows[1].status == "auto"


def test_a_dataset_without_status_gains_the_column_only_when_reviewed(tmp_path):
    plain = b"file_name,transcription,speaker\na.wav,one,ann\nb.wav,two,bob\n"
    folder = write(tmp_path / "ds", plain)
    sheet = ReviewSheet.open(folder)
    assert not sheet.has_status and sheet.mark_reviewed  # opening writes nothing
    assert (folder / "metadata.csv").read_bytes() == plain
    sheet.edit(1, "two, really")
    assert (folder / "metadata.csv").read_bytes() == (
        b"file_name,transcription,speaker,status\na.wav,one,ann\nb.wav,\"two, really\",bob,reviewed\n")
    assert sheet.has_status and sheet.names[-1] == "status"
    sheet.undo()
    assert (folder / "metadata.csv").read_bytes() == plain and not sheet.has_status


def test_nothing_to_change_is_no_step(tmp_path):
    folder = make_labelled_dataset(tmp_path / "ds")
    before = (folder / "metadata.csv").read_bytes()
    sheet = ReviewSheet.open(folder)
    sheet.mark_reviewed(2)  # c.wav is reviewed already
    sheet.edit(2, TEXTS["c.wav"])
    assert not sheet.can_undo and (folder / "metadata.csv").read_bytes() == before
    with pytest.raises(DatasetError, match="empty transcription"):
        sheet.edit(0, "   ")


def test_a_file_changed_on_disk_is_refused_not_overwritten(tmp_path):
    folder = make_labelled_dataset(tmp_path / "ds")
    sheet = ReviewSheet.open(folder)
    sheet.mark_reviewed(0)
    relabelled = (folder / "metadata.csv").read_bytes().replace(b"0.420", b"0.990")  # e.g. a relabel run
    (folder / "metadata.csv").write_bytes(relabelled)
    with pytest.raises(DatasetError) as caught:
        sheet.edit(1, "my correction")
    assert str(folder / "metadata.csv") in caught.value.message and "changed on disk" in caught.value.message
    assert (folder / "metadata.csv").read_bytes() == relabelled
    assert sheet.rows[1].transcription == TEXTS["b.wav"] and not sheet.rows[1].reviewed  # memory as the file was
    with pytest.raises(DatasetError, match="changed on disk"):
        sheet.undo()  # undo would overwrite it too
    assert (folder / "metadata.csv").read_bytes() == relabelled and sheet.can_undo


def test_a_failure_between_temp_write_and_rename_keeps_the_previous_file(tmp_path, monkeypatch):
    folder = make_labelled_dataset(tmp_path / "ds")
    sheet = ReviewSheet.open(folder)
    before = (folder / "metadata.csv").read_bytes()
    real_replace = os.replace
    calls = []

    def killed(src, dst):  # what a kill after the temp file is written and before the rename leaves
        calls.append(src)
        assert (folder / os.path.basename(src)).read_bytes() != before  # the new version was fully written
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(atomic.os, "replace", killed)
    with pytest.raises(DatasetError, match="your change was not saved"):
        sheet.edit(0, "never saved")
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    assert calls and (folder / "metadata.csv").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # temp file removed
    assert sheet.rows[0].transcription == TEXTS["a.wav"] and not sheet.can_undo
    sheet.edit(0, "saved now")  # the sheet still matches the file, so the next save works
    assert b"a.wav,saved now," in (folder / "metadata.csv").read_bytes()


SAVER = textwrap.dedent("""
    import sys
    from whisper_tui.data.review import ReviewSheet
    sheet = ReviewSheet.open(sys.argv[1])
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        sheet.edit(0, f"version {n} " + "word " * 2000)  # a long row: the write takes a while
        sheet.undo()
""")


def test_sigkill_during_saves_always_leaves_a_readable_previous_or_new_file(tmp_path):
    folder = make_labelled_dataset(tmp_path / "ds")
    original = metadata_lines(folder)
    for round_ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(folder)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        try:
            proc.wait(timeout=0.05 + 0.07 * round_)  # it never exits: this only lets it save for a while
        except subprocess.TimeoutExpired:
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        lines = metadata_lines(folder)
        sheet = ReviewSheet.open(folder)  # parses: never half a file
        assert lines[1:] == original[1:] or (lines[2:] == original[2:] and lines[1].startswith(b"a.wav,version "))
        assert lines[0] == original[0] and len(sheet.rows) == 5
    ReviewSheet.open(folder).edit(1, "after the kills")  # leftover temp files of the dead writers are no obstacle
    assert not [p for p in folder.iterdir() if p.name.startswith(".metadata.csv.")]


def test_utf16_is_refused_with_a_hint(tmp_path):
    folder = write(tmp_path / "ds", "file_name,transcription\na.wav,one\n".encode("utf-16"))
    with pytest.raises(DatasetError, match="UTF-16"):
        ReviewSheet.open(folder)


def test_counts_and_next_unreviewed(tmp_path):
    sheet = ReviewSheet.open(make_labelled_dataset(tmp_path / "ds"))
    counts = sheet.counts({"a.wav": 60.0, "c.wav": 30.0, "d.wav": 90.0})
    assert (counts.reviewed, counts.total, counts.reviewed_s, counts.total_s) == (1, 5, 30.0, 180.0)
    assert counts.summary() == "reviewed 1/5 · 0.5 of 3.0 min audio"
    assert sheet.next_unreviewed(1) == 3  # c (2) is reviewed
    assert sheet.next_unreviewed(4) == 0  # wraps around
    assert sheet.next_unreviewed(3, order=[3, 2, 4]) == 4  # the order shown (c skipped: reviewed)
    for index in (0, 1, 3, 4):
        sheet.mark_reviewed(index)
    assert sheet.next_unreviewed(0) is None and sheet.counts().reviewed == 5


# -- data.only_reviewed ------------------------------------------------------------------------

def test_only_reviewed_filters_training_and_fails_early_when_none_is(tmp_path):
    folder = make_labelled_dataset(tmp_path / "ds")
    train, test, report = load_dataset_split(folder, 0.0)  # auto: the status column turns it on
    assert [c.file_name for c in train + test] == ["c.wav"]
    # e.wav (0.6 s for 9 words) is not usable anyway: implausible_rate
    assert only_reviewed_summary(report.usable_clips, "auto") == "only reviewed: 1 of 4 clips"
    train, test, _ = load_dataset_split(folder, 0.0, only_reviewed="false")
    assert len(train + test) == 4
    sheet = ReviewSheet.open(folder)
    sheet.mark_reviewed(0)
    assert len(load_dataset_split(folder, 0.0, only_reviewed=True)[0]) == 2

    (folder / "metadata.csv").write_bytes((folder / "metadata.csv").read_bytes().replace(b"reviewed", b"auto"))
    with pytest.raises(DatasetError) as caught:
        load_dataset_split(folder, 0.2)
    assert caught.value.where == "data.only_reviewed" and "data.only_reviewed = false" in caught.value.hint


def test_only_reviewed_auto_is_off_without_a_status_column(tmp_path):
    from helpers_tui import make_dataset

    report_clips = load_dataset_split(make_dataset(tmp_path / "plain", problems=False), 0.0)[0]
    assert len(report_clips) == 6
    assert not resolve_only_reviewed("auto", report_clips) and resolve_only_reviewed("true", report_clips)
    assert reviewed_clips(report_clips, None) == (report_clips, False)
    assert only_reviewed_summary(report_clips, "auto") == ""
    with pytest.raises(DatasetError, match="auto, true or false"):
        resolve_only_reviewed("maybe", report_clips)


def test_profile_key_takes_auto_true_false_and_toml_booleans(tmp_path):
    from whisper_tui.config.profile import read_profile_file

    for written, expected in (("true", "true"), ("false", "false"), ('"auto"', "auto"), ('"TRUE"', "true")):
        path = tmp_path / "p.toml"
        path.write_text(f"[data]\nonly_reviewed = {written}\n")
        assert read_profile_file(path).data.only_reviewed == expected
    path.write_text('[data]\nonly_reviewed = "sometimes"\n')
    with pytest.raises(ProfileError, match="only_reviewed"):
        read_profile_file(path)


def test_header_constant_matches_the_label_contract():
    assert HEADER.split(",") == ["file_name", "transcription", "source", "confidence", "no_speech", "flags", "status"]
