"""whisper_tui.training.runs: listing run folders in every state a crash can leave them in."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from whisper_tui.training import runs
from whisper_tui.training.run_folder import CHECKPOINT_MARK


def write_run(root: Path, name: str, **fields) -> Path:
    run_dir = root / name
    run_dir.mkdir(parents=True)
    data = {"status": "finished", "started": "2025-03-01T10:00:00", "finished": "2025-03-01T10:05:00",
            "profile": "quick", "strategy": "full", "model": "tiny.en", "best_wer": 0.2, "base_wer": 0.35,
            "final_wer": 0.21, "duration_s": 300.0, "pid": 1, "host": "h", "reason": None}
    data.update(fields)
    (run_dir / "run.json").write_text(json.dumps(data))
    return run_dir


def test_list_runs_newest_first_with_fields(tmp_path):
    write_run(tmp_path, "20250301-100000-quick")
    write_run(tmp_path, "20250302-090000-lora", started="2025-03-02T09:00:00", profile="lora",
              strategy="lora", best_wer=None, base_wer="0.4", duration_s=12)
    (tmp_path / "not-a-run").mkdir()  # unrelated folder: ignored
    (tmp_path / ".hidden").mkdir()

    listed = runs.list_runs(tmp_path)

    assert [r.name for r in listed] == ["20250302-090000-lora", "20250301-100000-quick"]
    newest, oldest = listed
    assert newest.started == datetime(2025, 3, 2, 9, 0, 0)
    assert newest.profile == "lora" and newest.strategy == "lora"
    assert newest.best_wer is None and newest.base_wer == pytest.approx(0.4)  # string coerced
    assert newest.duration_s == 12.0
    assert oldest.status == "finished" and oldest.best_wer == pytest.approx(0.2)
    assert oldest.final_wer == pytest.approx(0.21)
    assert oldest.finished == datetime(2025, 3, 1, 10, 5, 0)


def test_half_written_run_json_is_broken_not_a_crash(tmp_path):
    run_dir = tmp_path / "20250303-120000-quick"
    run_dir.mkdir()
    (run_dir / "run.json").write_text('{"status": "runn')
    write_run(tmp_path, "20250301-100000-quick")

    listed = runs.list_runs(tmp_path)

    broken = next(r for r in listed if r.name == run_dir.name)
    assert broken.status == "broken"
    assert "not valid JSON" in broken.reason and "run.json" in broken.reason
    # what the folder name says is still shown
    assert broken.profile == "quick" and broken.started == datetime(2025, 3, 3, 12, 0, 0)
    assert len(listed) == 2


def test_missing_run_json_with_metrics_is_broken(tmp_path):
    run_dir = tmp_path / "20250303-120000-x"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text("")
    (listed,) = runs.list_runs(tmp_path)
    assert listed.status == "broken" and "missing" in listed.reason


@pytest.mark.parametrize("payload", ['[1, 2]', '{"status": "exploded"}'])
def test_wrong_shapes_are_broken(tmp_path, payload):
    run_dir = tmp_path / "20250303-120000-x"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(payload)
    (listed,) = runs.list_runs(tmp_path)
    assert listed.status == "broken" and listed.reason


def test_running_without_lock_is_interrupted(tmp_path):
    run_dir = write_run(tmp_path, "20250301-100000-quick", status="running", finished=None)
    for step in (10, 200, 30, 300):
        (run_dir / "checkpoints" / f"checkpoint-{step}").mkdir(parents=True)
        if step != 300:  # checkpoint-300 was being written when the process died
            (run_dir / "checkpoints" / f"checkpoint-{step}" / CHECKPOINT_MARK).write_text("x")

    (listed,) = runs.list_runs(tmp_path)

    assert listed.status == "interrupted" and ".lock" in listed.reason
    assert listed.latest_checkpoint == run_dir / "checkpoints" / "checkpoint-200"


def test_running_with_live_lock_stays_running_and_dead_pid_is_interrupted(tmp_path):
    import socket

    alive = write_run(tmp_path, "20250301-100000-a", status="running", host=socket.gethostname())
    (alive / ".lock").write_text(str(os.getpid()))
    dead = write_run(tmp_path, "20250301-100001-b", status="running", host=socket.gethostname())
    (dead / ".lock").write_text("999999999")

    by_name = {r.name: r for r in runs.list_runs(tmp_path)}

    assert by_name[alive.name].status == "running"
    assert by_name[dead.name].status == "interrupted" and "999999999" in by_name[dead.name].reason


def test_model_dirs_only_lists_existing(tmp_path):
    run_dir = write_run(tmp_path, "20250301-100000-quick")
    (run_dir / "final").mkdir()
    (summary,) = runs.list_runs(tmp_path)
    assert summary.model_dirs == [("final", run_dir / "final")]
    (run_dir / "best").mkdir()
    assert [label for label, _ in runs.read_run(run_dir).model_dirs] == ["final", "best"]


def test_default_root_and_extra_roots(tmp_path, monkeypatch):
    monkeypatch.setenv("WHISPER_TUI_DATA_DIR", str(tmp_path / "data"))
    write_run(tmp_path / "data" / "runs", "20250301-100000-quick")
    elsewhere = write_run(tmp_path / "elsewhere", "20250305-100000-other", started="2025-03-05T10:00:00")
    single = write_run(tmp_path / "direct", "myrun", started="2025-03-04T10:00:00")

    names = [r.name for r in runs.list_runs(extra_roots=[tmp_path / "elsewhere", single, tmp_path / "nope"])]

    assert names == [elsewhere.name, "myrun", "20250301-100000-quick"]
    assert runs.list_runs(tmp_path / "does-not-exist") == []


def test_read_metrics_skips_torn_lines(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    lines = [
        {"type": "step", "step": 1, "epoch": 0.1, "loss": 3.0, "learning_rate": 1e-5},
        {"type": "eval", "step": 2, "epoch": 0.2, "wer": 0.5, "cer": 0.3},
        {"type": "step", "step": 3, "epoch": 0.3, "loss": 2.0, "learning_rate": 2e-5},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + '\n\n{"type": "step", "st'
    (run_dir / "metrics.jsonl").write_text(text)

    records = runs.read_metrics(run_dir)

    assert records == lines
    assert runs.metric_series(records, "step", "loss") == ([1.0, 3.0], [3.0, 2.0])
    assert runs.metric_series(records, "eval", "wer") == ([2.0], [0.5])
    assert runs.read_metrics(tmp_path / "missing") == []


def test_read_metrics_report_lists_the_lines_it_skipped(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    good = [{"type": "eval", "step": 0, "wer": 0.4, "base": True, "eval_loss": None},
            {"type": "step", "step": 1, "loss": float("nan"), "learning_rate": 1e-5},
            {"type": "eval", "step": 2, "wer": 0.3, "keep_wer": 0.2}]
    lines = [json.dumps(good[0]), "garbage typed by hand", json.dumps(good[1]),
             '{"type": "eval", "step": 2, "wer": "0.1"}', '{"type": "step", "step": null, "loss": 2}',
             '{"type": "step", "step": true}', "", "42", json.dumps(good[2]), '{"type": ["eval"]}',
             '{"type": "eval", "step": Infinity, "wer": 0.1}', '{"type": "st']
    (run_dir / "metrics.jsonl").write_text("\n".join(lines))

    report = runs.read_metrics_report(run_dir)

    assert report.path == run_dir / "metrics.jsonl" and report.error == ""
    assert json.dumps(report.records) == json.dumps(good)  # (NaN != NaN, so compare the text)
    assert report.bad_line_numbers == [2, 4, 5, 6, 8, 10, 11, 12]
    problems = {bad.number: bad.problem for bad in report.bad_lines}
    assert problems[2] == problems[12] == "not valid JSON (cut short, or edited by hand)"
    assert problems[4] == "'wer' is text, not a number" and problems[5] == "'step' is null, not a number"
    assert problems[6] == "'step' is true/false, not a number" and problems[8] == "a number, not a JSON object"
    assert problems[10] == "'type' is a list, not text" and problems[11] == "'step' is inf, not a step number"
    assert report.summary == ("metrics.jsonl: skipped 8 bad lines (2, 4, 5, 6, 8, 10, 11, 12: "
                              "not valid JSON, a wrong-typed value, not a record)")
    assert report.warning.startswith(f"{run_dir / 'metrics.jsonl'}: skipped 8 bad lines (line 2: not valid JSON")
    assert report.warning.endswith("; and 3 more (10, 11, 12))")
    assert runs.read_metrics(run_dir) == report.records


def test_read_metrics_report_of_a_clean_missing_or_unreadable_file(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text('{"type": "step", "step": 1, "loss": 2.0}\n')
    clean = runs.read_metrics_report(run_dir)
    assert clean.records == [{"type": "step", "step": 1, "loss": 2.0}]
    assert (clean.bad_lines, clean.warning, clean.summary) == ((), "", "")
    missing = runs.read_metrics_report(tmp_path / "nothing")
    assert (missing.records, missing.warning) == ([], "")
    (tmp_path / "dir" / "metrics.jsonl").mkdir(parents=True)  # a folder where the file should be
    unreadable = runs.read_metrics_report(tmp_path / "dir")
    assert unreadable.records == [] and "cannot be read" in unreadable.warning
    assert unreadable.summary == "metrics.jsonl cannot be read: no curves"


def test_mixed_naive_and_aware_start_times_sort(tmp_path):
    write_run(tmp_path, "20250301-100000-a", started="2025-03-01T10:00:00+00:00")
    write_run(tmp_path, "20250302-100000-b", started="2025-03-02T10:00:00")
    assert [r.name for r in runs.list_runs(tmp_path)] == ["20250302-100000-b", "20250301-100000-a"]


def test_data_dir_comes_from_the_runs_profile(tmp_path):
    from whisper_tui.config.locations import default_sample_data_dir
    from whisper_tui.config.profile import apply_overrides, load_profile, save_profile
    from whisper_tui.training.runs import read_run

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text('{"status": "finished"}')
    assert read_run(run).data_dir is None  # no profile.toml: nothing to offer
    save_profile(load_profile("cpu-quick"), run / "profile.toml")
    assert read_run(run).data_dir == default_sample_data_dir()
    save_profile(apply_overrides(load_profile("cpu-quick"), {"data.train_dir": str(tmp_path / "speech")}),
                 run / "profile.toml")
    assert read_run(run).data_dir == tmp_path / "speech"


def test_output_dir_is_where_new_runs_go_and_where_listing_looks(tmp_path, monkeypatch):
    from whisper_tui.errors import ProfileError
    from whisper_tui.config.locations import default_runs_dir
    from whisper_tui.config.profile import apply_overrides, load_profile

    profile = load_profile("cpu-quick")
    assert runs.runs_root_for(profile) is None  # empty: TrainingJob's default, the app's runs folder
    assert runs.runs_roots() == [default_runs_dir()]

    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    root = runs.runs_root_for(apply_overrides(profile, {"output.dir": "my-runs"}))
    assert root == elsewhere / "my-runs"  # relative: to the folder whisper-tui was started from
    assert runs.runs_root_for(apply_overrides(profile, {"output.dir": str(root)})) == root
    assert runs.remembered_runs_roots() == [root]  # once, however often it is used
    assert runs.runs_roots() == [default_runs_dir(), root]
    assert runs.runs_roots(tmp_path / "x") == [tmp_path / "x"]  # an explicit root is looked at alone

    write_run(root, "20250301-100000-quick")
    write_run(default_runs_dir(), "20250302-100000-quick")
    monkeypatch.chdir(tmp_path)  # listing later, from another folder, still finds it
    assert [r.name for r in runs.list_runs()] == ["20250302-100000-quick", "20250301-100000-quick"]

    assert runs.runs_root_for(apply_overrides(profile, {"output.dir": str(default_runs_dir())})) == default_runs_dir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert runs.runs_root_for(apply_overrides(profile, {"output.dir": "~/r"})) == tmp_path / "home" / "r"
    assert runs.remembered_runs_roots() == [root, tmp_path / "home" / "r"]  # not the default runs folder

    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ProfileError) as info:
        runs.runs_root_for(apply_overrides(profile, {"output.dir": str(tmp_path / "a-file")}))
    assert info.value.where == "output.dir" and "is a file, not a folder" in info.value.message


def test_a_damaged_run_folders_list_is_read_as_far_as_it_goes(tmp_path):
    from whisper_tui.config.locations import data_dir, default_runs_dir

    data_dir().mkdir(parents=True)
    (data_dir() / runs.RUN_FOLDERS_FILE).write_bytes(b"relative/path\n\xff\xfe\n\n" + str(tmp_path).encode() + b"\n")
    assert runs.remembered_runs_roots() == [tmp_path]
    assert runs.runs_roots() == [default_runs_dir(), tmp_path]
