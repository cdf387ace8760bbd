"""`whisper-tui adapt-window`: a model's own 30 s transcripts of unlabelled recordings teach it shorter windows
(whisper_tui/training/adapt_window).

The parts are tested without a model: the split by recording, the rows the teacher was unsure of
left out, the before/after figures. The command's refusals need at most the tiny random Whisper
(tests/conftest.py), whose texts are all loops, so it also shows a teacher that is sure of nothing.
One end-to-end run (slow) adapts the real tiny.en on eSpeak sentences for one training step: stopped
while labelling, continued by the command line without labelling again, then used by `transcribe`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
from helpers_audio import LECTURE_SENTENCES, snapshot, write_wav

from whisper_tui.cli.main import main
from whisper_tui.data.audio import SAMPLE_RATE
from whisper_tui.errors import AudioError, ProfileError
from whisper_tui.labelling.table import LabelTable, format_source
from whisper_tui.training.adapt_window import AdaptSettings, agreement
from whisper_tui.training.adapt_window.run import check_windows, student_profile
from whisper_tui.training.adapt_window.split import link_recordings, split_files
from whisper_tui.training.adapt_window.teacher import filter_rows, read_label_rows, write_student_data


# -- the split -----------------------------------------------------------------------------------
def test_split_is_by_recording_seeded_and_stable():
    rels = [f"day{d}/rec{k:02d}.wav" for d in range(2) for k in range(10)]
    split = split_files(rels, 0.2, seed=42)
    assert len(split.held_out) == 4 and len(split.adapt) == 16
    assert set(split.adapt).isdisjoint(split.held_out) and set(split.adapt) | set(split.held_out) == set(rels)
    assert split_files(list(reversed(rels)), 0.2, seed=42) == split  # order of listing does not matter
    assert split_files(rels, 0.2, seed=7) != split  # the seed decides
    # adding recordings leaves most of the old ones on their side
    more = split_files(rels + [f"day2/rec{k:02d}.wav" for k in range(5)], 0.2, seed=42)
    assert len(set(split.held_out) & set(more.held_out)) >= 3


def test_split_holds_out_at_least_one_and_keeps_one_to_adapt_on():
    assert split_files(["a.wav", "b.wav"], 0.01).held_out and split_files(["a.wav", "b.wav"], 0.99).adapt
    assert len(split_files(["a.wav", "b.wav", "c.wav"], 0.9).adapt) == 1
    with pytest.raises(AudioError, match="at least 2"):
        split_files(["only.wav"], 0.2, where="/rec")


def test_link_recordings_mirrors_one_side_and_drops_what_moved(tmp_path):
    audio = tmp_path / "audio"
    for rel in ("a.wav", "sub/b.wav", "c.wav"):
        write_wav(audio / rel, 0.2)
    dest = tmp_path / "side"
    link_recordings(audio, ("a.wav", "sub/b.wav"), dest)
    found = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.wav"))
    assert found == ["a.wav", "sub/b.wav"]
    assert (dest / "sub/b.wav").read_bytes() == (audio / "sub/b.wav").read_bytes()
    link_recordings(audio, ("c.wav",), dest)  # a and b went to the other side
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == ["c.wav"]
    assert (audio / "a.wav").is_file() and (audio / "sub/b.wav").is_file()  # the recordings themselves stay


# -- the teacher's rows --------------------------------------------------------------------------
def _label_folder(folder: Path, rows: list[dict]) -> Path:
    """A label dataset (as `whisper-tui label` writes it) with the given rows and a short clip each."""
    table = LabelTable()
    for k, values in enumerate(rows):
        name = f"clips/r{k}.wav"
        write_wav(folder / name, 0.3)
        table.add(file_name=name, status="auto", **values)
    table.save(folder)
    return folder


def test_unsure_flagged_and_wordless_rows_are_left_out(tmp_path):
    folder = _label_folder(tmp_path / "teacher", [
        {"transcription": "Please close the door.", "source": format_source("a.wav", 0, 2), "confidence": "0.910"},
        {"transcription": "thank you thank you thank you thank you", "source": format_source("a.wav", 2, 4),
         "confidence": "0.700", "flags": "loop;compression"},
        {"transcription": "So I went.", "source": format_source("b.wav", 0, 9), "confidence": "0.650",
         "flags": "too_short"},
        {"transcription": "mumble", "source": format_source("b.wav", 9, 11), "confidence": "0.310"},
        {"transcription": "[BLANK_AUDIO]", "source": format_source("b.wav", 11, 12), "confidence": "0.900"},
        {"transcription": "We will meet at noon.", "source": format_source("moved.wav", 0, 2), "confidence": "0.95"},
        {"transcription": "A kept row without a confidence.", "source": format_source("b.wav", 12, 14)},
    ])
    rows = filter_rows(read_label_rows(folder), {"a.wav", "b.wav"}, min_confidence=0.5)
    assert [r.transcription for r in rows.kept] == ["Please close the door.", "A kept row without a confidence."]
    assert [r.source for r in rows.kept] == ["a.wav", "b.wav"]
    assert dict(rows.left_out) == {"flagged": 2, "unsure": 1, "no_words": 1, "other_side": 1}
    assert dict(rows.flags) == {"loop": 1, "compression": 1, "too_short": 1}
    assert rows.n_left_out == 5
    text = rows.describe()
    assert "2 flagged (1 compression, 1 loop, 1 too short)" in text and "1 unsure" in text
    assert rows.to_json()["left_out"] == {"flagged": 2, "unsure": 1, "no_words": 1, "other_side": 1}
    # a stricter confidence line leaves out more; without a list of recordings every recording counts
    strict = filter_rows(read_label_rows(folder), None, min_confidence=0.95)
    assert [r.source for r in strict.kept] == ["moved.wav", "b.wav"] and strict.left_out["unsure"] == 3


def test_student_data_is_a_dataset_of_the_kept_rows_and_the_label_folder_is_untouched(tmp_path):
    from whisper_tui.data.metadata import read_metadata

    folder = _label_folder(tmp_path / "teacher", [
        {"transcription": "One, two.", "source": format_source("a.wav", 0, 1), "confidence": "0.9"},
        {"transcription": "loop loop loop loop loop", "source": format_source("a.wav", 1, 2), "flags": "loop"},
    ])
    before = snapshot(folder)
    rows = filter_rows(read_label_rows(folder), {"a.wav"})
    dest = write_student_data(folder, rows.kept, tmp_path / "student")
    clips, problems = read_metadata(dest)
    assert [(c.file_name, c.transcription) for c in clips] == [("clips/r0.wav", "One, two.")]
    assert not [p for p in problems if p.severity == "error"]
    assert (dest / "clips/r0.wav").samefile(folder / "clips/r0.wav")  # a hard link: no space used
    assert not (dest / "clips/r1.wav").exists()
    assert snapshot(folder) == before
    write_student_data(folder, [], dest)  # written again: replaced as a whole
    assert read_metadata(dest)[0] == []


def test_an_any_window_model_teaches_at_its_longest_window_only(tmp_path, tiny_whisper_dir):
    import shutil

    from whisper_tui.models.loading import load_model
    from whisper_tui.models.window import saved_windows, supported_windows
    from whisper_tui.training.adapt_window.teacher import teacher_model

    assert teacher_model(str(tiny_whisper_dir), tmp_path / "view") == str(tiny_whisper_dir)  # one window: as it is
    assert not (tmp_path / "view").exists()
    model = shutil.copytree(tiny_whisper_dir, tmp_path / "any-window")
    for name in ("preprocessor_config.json", "processor_config.json"):
        if (model / name).is_file():
            config = json.loads((model / name).read_text())
            (config.get("feature_extractor") or config)["windows"] = [10, 30]
            (model / name).write_text(json.dumps(config))
    assert saved_windows(model) == (10, 30)
    view = Path(teacher_model(str(model), tmp_path / "view"))
    assert view == tmp_path / "view" and saved_windows(view) == (30,)
    assert saved_windows(model) == (10, 30)  # the model itself is left as it was
    _model, processor = load_model(str(view))
    assert supported_windows(processor) == (30,)
    assert teacher_model(str(model), tmp_path / "view") == str(view)  # made again on a rerun: replaced whole


# -- the figures ---------------------------------------------------------------------------------
def _clips() -> list[agreement.HeldOutClip]:
    return [agreement.HeldOutClip("a.wav", "close the door", 4.0),
            agreement.HeldOutClip("b.wav", "we will meet at the station", 9.7),  # over 10 s with the margin
            agreement.HeldOutClip("c.wav", "the shop sells fresh bread and coffee", 25.0)]


def test_each_window_runs_the_clips_it_holds_and_the_longest_runs_all():
    assert agreement.plan(_clips(), (10, 20, 30)) == {10: [0], 20: [0, 1], 30: [0, 1, 2]}
    assert agreement.plan(_clips(), (4, 30)) == {4: [], 30: [0, 1, 2]}  # 4 s + the margin is over 4 s


def test_scores_against_the_teacher_per_window_and_as_transcription_runs():
    texts = agreement.WindowTexts("m", texts={10: {0: "close the door"},
                                              20: {0: "close a door", 1: "we will meet at the station"},
                                              30: {0: "close the door", 1: "we will meet at a station",
                                                   2: "the shop sells fresh bread and coffee"}},
                                  elapsed_s={10: 0.5, 20: 1.0, 30: 2.0})
    s = agreement.scores(_clips(), texts, (10, 20, 30))
    assert list(s) == ["10", "20", "30", "auto"]
    assert s["10"] == {"wer": 0.0, "cer": 0.0, "n_clips": 1, "audio_s": 4.0, "elapsed_s": 0.5}
    assert s["20"]["wer"] == pytest.approx(1 / 9, abs=1e-4) and s["20"]["n_clips"] == 2  # 1 of 3 + 6 words
    assert s["30"]["wer"] == pytest.approx(1 / 16, abs=1e-4) and s["30"]["n_clips"] == 3
    # auto: a at 10 s (right), b at 20 s (right), c at 30 s (right)
    assert s["auto"]["wer"] == 0.0 and s["auto"]["n_clips"] == 3 and s["auto"]["elapsed_s"] is None
    empty = agreement.scores(_clips(), agreement.WindowTexts("m", texts={5: {}, 30: {}}), (5, 30))
    assert empty["5"]["wer"] is None and empty["5"]["n_clips"] == 0
    table = agreement.format_table(s, None)
    assert "10 s" in table and "auto" in table and "-" in table.splitlines()[1]


def test_windows_must_stay_within_the_model_and_include_its_own():
    assert check_windows([30, 10, 20, 10], 30) == (10, 20, 30)
    for bad, words in (([10, 20], "missing"), ([10, 40], "longer than"), ([30], "nothing to adapt"),
                       ([0, 30], "positive")):
        with pytest.raises(ProfileError, match=words):
            check_windows(bad, 30)


def test_student_profile_is_cpu_quick_at_the_windows_on_the_teacher_data(tmp_path):
    settings = AdaptSettings(strategy="full", budget_s=120, overrides={"training.learning_rate": "5e-4"})
    p = student_profile("tiny.en", (10, 20, 30), tmp_path / "a", tmp_path / "h", tmp_path / "runs", settings)
    assert tuple(p.model.windows) == (10, 20, 30) and p.model.window_s == 0 and p.model.name == "tiny.en"
    assert (p.data.train_dir, p.data.test_dir) == (str(tmp_path / "a"), str(tmp_path / "h"))
    assert str(p.data.only_reviewed).lower() == "false"  # teacher rows are `auto`
    assert p.finetuning.strategy == "full" and p.output.merge_lora is True
    assert p.training.budget_s == 120 and p.training.learning_rate == 5e-4
    with pytest.raises(ProfileError):
        student_profile("tiny.en", (10, 30), tmp_path / "a", tmp_path / "h", tmp_path / "runs",
                        AdaptSettings(overrides={"training.no_such_key": "1"}))


# -- the command's refusals ----------------------------------------------------------------------
def _audio(folder: Path, n: int) -> Path:
    for k in range(n):
        write_wav(folder / f"r{k}.wav", 0.5)
    return folder


def test_cli_refuses_bad_input_without_a_traceback(tmp_path, capsys, tiny_whisper_dir):
    out = tmp_path / "out"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not audio")
    cases = [
        (["adapt-window", str(tmp_path / "missing"), "--output", str(out)], "does not exist"),
        (["adapt-window", str(empty), "--output", str(out)], "no audio files"),
        (["adapt-window", str(_audio(tmp_path / "one", 1)), "--output", str(out), "--model", str(tiny_whisper_dir)],
         "at least 2"),
        (["adapt-window", str(_audio(tmp_path / "two", 2)), "--output", str(out), "--model", str(tmp_path / "nope")],
         "not found"),
        (["adapt-window", str(tmp_path / "two"), "--output", str(out), "--model", str(tiny_whisper_dir),
          "--windows", "10,20"], "30 s window is missing"),
        (["adapt-window", str(tmp_path / "two"), "--output", str(out), "--model", str(tiny_whisper_dir),
          "--windows", "10,45"], "longer than"),
        (["adapt-window", str(tmp_path / "two"), "--output", str(out), "--windows", "ten"], "whole seconds"),
        (["adapt-window", str(tmp_path / "two"), "--output", str(out), "--held-out", "1.5"], "between 0 and 1"),
        (["adapt-window", str(tmp_path / "two"), "--output", str(out), "--budget", "soon"], "--budget"),
    ]
    for argv, words in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, (argv, err)
    assert not out.exists()  # nothing written for bad input
    mine = tmp_path / "my-stuff"
    mine.mkdir()
    (mine / "thesis.txt").write_text("precious")
    assert main(["adapt-window", str(tmp_path / "two"), "--output", str(mine), "--model", str(tiny_whisper_dir)]) == 2
    assert "did not write" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["thesis.txt"]


def test_a_teacher_sure_of_nothing_is_refused_by_name(tmp_path, capsys, tiny_whisper_dir):
    """The random tiny Whisper writes loops for everything: each row is flagged, none may teach."""
    audio = _audio(tmp_path / "audio", 2)
    out = tmp_path / "out"
    code = main(["adapt-window", str(audio), "--output", str(out), "--model", str(tiny_whisper_dir),
                 "--backend", "torch"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "teacher kept no clip of the adapt recordings" in err and "flagged" in err
    report = json.loads((out / "adapt_window.json").read_text())
    assert report["status"] == "failed" and report["teacher"]["adapt"]["rows"]["kept"] == 0
    assert not (out / "config.json").exists()  # no model was made


# -- end to end (slow) ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> Path:
    from whisper_tui.data.tts import synthesize

    folder = tmp_path_factory.mktemp("spoken")
    for k, sentence in enumerate(LECTURE_SENTENCES[:6]):
        sf.write(folder / f"s{k}.wav", synthesize(sentence, rate_wpm=150, pitch=40 + 4 * (k % 5)), SAMPLE_RATE)
    return folder


QUICK = ["--set", "training.max_steps=1", "--set", "data.keep_set=false", "--set", "training.eval_strategy=no"]


@pytest.mark.slow
def test_stopped_run_continues_without_relabelling_and_the_result_transcribes(spoken, tmp_path, capsys):
    from whisper_tui.models.window import saved_windows
    from whisper_tui.training.adapt_window import adapt_window

    out = tmp_path / "adapted"
    sides = []

    def stop_when_held_out_starts(side, _progress):
        sides.append(side)

    stopped = adapt_window(spoken, "tiny.en", out, AdaptSettings(backend="ct2"), on_label_progress=stop_when_held_out_starts,
                           should_stop=lambda: "held_out" in sides)
    assert stopped.status == "stopped" and stopped.labels["adapt"]["files_labelled"] == len(stopped.split.adapt)
    assert json.loads((out / "adapt_window.json").read_text())["status"] == "stopped"
    assert not (out / "config.json").exists()

    code = main(["adapt-window", str(spoken), "--output", str(out), "--backend", "ct2", "--no-base-eval", "--json",
                 *QUICK])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report == json.loads((out / "adapt_window.json").read_text())
    assert report["status"] == "finished" and report["windows"] == [10, 20, 30]
    adapt, held = report["recordings"]["adapt"], report["recordings"]["held_out"]
    assert len(held) == 1 and set(adapt).isdisjoint(held) and len(adapt) == 5
    label = report["teacher"]["adapt"]["label"]
    assert label["files_skipped"] == len(adapt) and label["files_labelled"] == 0  # labelled once only
    # held-out audio never taught the student
    trained_on = (out / "student_data" / "adapt" / "metadata.csv").read_text()
    assert all(Path(h).stem not in trained_on for h in held)
    for which in ("before", "after"):
        figures = report["agreement"][which]
        assert set(figures) == {"10", "20", "30", "auto"}
        assert figures["30"]["n_clips"] >= 1 and 0.0 <= figures["30"]["wer"] <= 1.0
    assert "WER before" not in captured.out  # --json: the report only
    assert saved_windows(out) == (10, 20, 30)
    from whisper_tui.training.runs import list_runs

    assert [r.status for r in list_runs() if r.run_dir == Path(report["run_dir"])] == ["finished"]  # Runs screen

    assert main(["transcribe", str(spoken / held[0]), "--model", str(out)]) == 0
    assert len(capsys.readouterr().out.split()) >= 4
