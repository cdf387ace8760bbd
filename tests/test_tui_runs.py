"""Runs screen: list run folders written by the test, open one, compare two, survive a broken one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import ContentSwitcher, DataTable, Label, Static
from helpers_tui_doubles import write_fake_run

from screens.runs_screen import RunsScreen
from screens.widgets.charts import MetricChart
from whisper_tui.training.run_folder import CHECKPOINT_MARK


class RunsApp(App):
    def __init__(self, **screen_kwargs) -> None:
        super().__init__()
        self.screen_kwargs = screen_kwargs
        self.opened: list[Path] = []
        self.started: list[tuple] = []

    async def open_transcribe(self, path, audio=None, compare=False) -> None:
        self.opened.append(Path(path))
        self.open_options = {"audio": audio, "compare": compare}

    async def start_training(self, profile, output_dir=None, resume_from=None) -> None:
        self.started.append((profile, output_dir, resume_from))

    def on_mount(self) -> None:
        self.runs_screen = RunsScreen(**self.screen_kwargs)
        self.push_screen(self.runs_screen)


def runs_root() -> Path:
    return Path(os.environ["WHISPER_TUI_DATA_DIR"]) / "runs"  # set per test by conftest


def make_runs() -> tuple[Path, Path, Path]:
    root = runs_root()
    older = write_fake_run(root, "20250301-100000-cpu-quick", started="2025-03-01T10:00:00", best_wer=0.18,
                           base_wer=0.32, duration_s=312, steps=30, strategy="lora", profile="cpu-quick")
    newer = write_fake_run(root, "20250302-093000-full", started="2025-03-02T09:30:00", best_wer=0.12,
                           base_wer=0.32, duration_s=1250, steps=60, strategy="full", profile="full")
    (newer / "best").mkdir()
    broken = root / "20250303-120000-qlora-4gb"
    broken.mkdir()
    (broken / "run.json").write_text('{"status": "runn')
    return older, newer, broken


def text_of(widget) -> str:
    return str(widget.content)


async def test_lists_runs_newest_first_and_reports_broken(tmp_path):
    older, newer, broken = make_runs()
    app = RunsApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.runs_screen.query_one("#runs-table", DataTable)
        assert table.row_count == 3
        assert [str(table.get_row_at(i)[-1]) for i in range(3)] == [broken.name, newer.name, older.name]
        assert [str(table.get_row_at(i)[2]) for i in range(3)] == ["broken", "finished", "finished"]
        assert str(table.get_row_at(1)[5]) == "12.0%" and str(table.get_row_at(1)[7]) == "20m50s"
        info = text_of(app.runs_screen.query_one("#runs-info", Static))  # cursor starts on the broken run
        assert "broken" in info and "not valid JSON" in info
        assert "3 runs" in text_of(app.runs_screen.query_one("#runs-status", Label))


async def test_opening_a_run_shows_its_curves(tmp_path):
    older, newer, _broken = make_runs()
    app = RunsApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        screen = app.runs_screen
        assert screen.shown.run_dir == older
        info = text_of(screen.query_one("#runs-info", Static))
        assert "Best WER 18.0%" in info and "before training 32.0%" in info and "30 steps" in info
        loss = screen.query_one("#runs-loss", MetricChart).series[0]
        assert list(loss.xs) == [float(s) for s in range(1, 31)]
        assert loss.ys[0] > loss.ys[-1]
        wer = screen.query_one("#runs-wer", MetricChart).series[0]
        assert wer.xs[0] == 0.0 and wer.ys[0] == 32.0  # the base evaluation starts the curve
        assert wer.ys[-1] == 18.0


async def test_mark_two_and_compare(tmp_path):
    older, newer, _broken = make_runs()
    app = RunsApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.runs_screen
        assert screen.check_action("compare", ()) is None
        await pilot.press("down", "space", "down", "space")
        assert screen.marked == [newer, older]
        await pilot.press("c")
        await pilot.pause()

        assert screen.query_one("#runs-view", ContentSwitcher).current == "runs-compare"
        assert not screen.query_one("#runs-table").display  # the comparison has the screen
        table = screen.query_one("#runs-compare-table", DataTable)
        rows = {str(table.get_row_at(i)[0]): (table.get_row_at(i)[1], table.get_row_at(i)[2])
                for i in range(table.row_count)}
        assert str(rows["Best WER"][0]) == "12.0%" and str(rows["Best WER"][1]) == "18.0%"
        assert rows["Best WER"][0].style == "bold green" or any(
            span.style == "bold green" for span in rows["Best WER"][0].spans)
        assert str(rows["Steps"][0]) == "60" and str(rows["Steps"][1]) == "30"
        assert str(rows["Change"][0]) == "-20.0 pts" and str(rows["Change"][1]) == "-14.0 pts"
        series = screen.query_one("#runs-compare-wer", MetricChart).series
        assert [s.label for s in series] == [f"A {newer.name}", f"B {older.name}"]
        assert all(s.xs[0] == 0.0 for s in series)

        await pilot.press("escape")
        await pilot.pause()
        assert screen.query_one("#runs-table").display
        assert screen.query_one("#runs-view", ContentSwitcher).current == "runs-detail"


async def test_a_third_mark_replaces_the_oldest(tmp_path):
    older, newer, broken = make_runs()
    app = RunsApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("space", "down", "space", "down", "space")
        assert app.runs_screen.marked == [newer, older]
        await pilot.press("space")  # unmark
        assert app.runs_screen.marked == [newer]


async def test_transcribe_and_resume_from_a_run(tmp_path):
    from whisper_tui.config.profile import load_profile, save_profile

    older, newer, _broken = make_runs()
    cancelled = write_fake_run(runs_root(), "20250304-080000-cpu-quick", status="cancelled",
                               started="2025-03-04T08:00:00", steps=10)
    checkpoint = cancelled / "checkpoints" / "checkpoint-10"
    checkpoint.mkdir(parents=True)
    (checkpoint / CHECKPOINT_MARK).write_text("done")
    save_profile(load_profile("cpu-quick"), cancelled / "profile.toml")

    app = RunsApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.runs_screen
        assert screen.shown.run_dir == cancelled
        assert screen.check_action("resume", ()) is True
        await pilot.press("u")
        await pilot.pause()
        (profile, output_dir, resume_from), = app.started
        assert resume_from == cancelled and output_dir is None
        assert profile.finetuning.strategy == load_profile("cpu-quick").finetuning.strategy

        await pilot.press("down", "down")  # past the broken run to the finished "full" one (best/ and final/)
        assert screen.check_action("resume", ()) is None
        await pilot.press("t")
        await pilot.pause()
        assert app.opened == [newer / "best"]
        assert app.open_options["compare"] is True  # base vs this run's model, on the run's own data


async def test_a_run_stopped_before_its_first_checkpoint_says_why_it_cannot_resume(tmp_path):
    """Issue 24: a cancelled run with no checkpoint (and a failed one with only a half-written checkpoint) says on
    the Runs screen, in train --resume's words, why `u` cannot resume it and to start a new run instead; `u` is
    off there and still on for a run with a complete checkpoint."""
    import json

    from whisper_tui.training.run_folder import nothing_to_resume

    root = runs_root()
    cancelled = write_fake_run(root, "20250305-080000-cpu-quick", status="cancelled", profile="cpu-quick",
                               started="2025-03-05T08:00:00", steps=0, wer_curve=[0.3])
    failed = write_fake_run(root, "20250304-080000-quick", status="failed", started="2025-03-04T08:00:00",
                            steps=0, wer_curve=[0.3], reason="out of memory during training")
    for run in (cancelled, failed):  # nothing trained: no model, no best WER
        (run / "final").rmdir()
        data = json.loads((run / "run.json").read_text())
        (run / "run.json").write_text(json.dumps({**data, "best_wer": None, "final_wer": None}))
    (failed / "checkpoints" / "checkpoint-5").mkdir(parents=True)  # being written when the run failed: no mark
    resumable = write_fake_run(root, "20250303-080000-cpu-quick", status="cancelled",
                               started="2025-03-03T08:00:00", steps=10)
    (resumable / "checkpoints" / "checkpoint-10").mkdir(parents=True)
    (resumable / "checkpoints" / "checkpoint-10" / CHECKPOINT_MARK).write_text("done")
    words = "before its first checkpoint, so there is nothing to resume"

    app = RunsApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.runs_screen
        assert screen.shown.run_dir == cancelled
        info = " ".join(text_of(screen.query_one("#runs-info", Static)).split())
        assert f"Cannot resume: the run was cancelled {words}." in info, info
        assert "Start a new run instead: press 2 (Train setup), load profile cpu-quick, then ctrl+t." in info, info
        assert words in nothing_to_resume(cancelled).message  # the CLI's train --resume says the same
        assert screen.check_action("resume", ()) is None
        await pilot.press("u")
        await pilot.pause()
        assert app.started == []
        await screen.action_resume()  # reached some other way: the same words, as a warning
        await pilot.pause()
        notes = [n.message for n in app._notifications]
        assert any(f"the run was cancelled {words}" in n and "Start a new run" in n for n in notes), notes

        await pilot.press("down")
        assert screen.shown.run_dir == failed
        info = " ".join(text_of(screen.query_one("#runs-info", Static)).split())
        assert f"Cannot resume: the run failed {words}." in info and "out of memory during training" in info, info
        assert "load profile quick, then ctrl+t" in info

        await pilot.press("down")
        assert screen.shown.run_dir == resumable
        assert "Cannot resume" not in text_of(screen.query_one("#runs-info", Static))
        assert screen.check_action("resume", ()) is True


async def test_no_runs_says_where_they_would_be(tmp_path):
    app = RunsApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.runs_screen
        assert screen.query_one("#runs-view", ContentSwitcher).current == "runs-empty"
        empty = text_of(screen.query_one("#runs-empty", Static))
        assert "No training runs yet" in empty and str(runs_root()) in empty


async def test_extra_roots_and_refresh(tmp_path):
    elsewhere = write_fake_run(tmp_path / "elsewhere", "20250305-100000-x", started="2025-03-05T10:00:00")
    app = RunsApp(extra_roots=[tmp_path / "elsewhere"])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        table = app.runs_screen.query_one("#runs-table", DataTable)
        assert table.row_count == 1 and str(table.get_row_at(0)[-1]) == elsewhere.name
        make_runs()
        await pilot.press("r")
        await pilot.pause()
        assert table.row_count == 4


def add_keep(run_dir: Path, base: float, best: float, tolerance: float | None = None) -> Path:
    """Give a fake run the keep set's figures, as TrainingJob writes them (run.json, metrics.jsonl, profile)."""
    import json

    status = json.loads((run_dir / "run.json").read_text())
    status.update(base_keep_wer=base, best_keep_wer=best, final_keep_wer=best)
    (run_dir / "run.json").write_text(json.dumps(status))
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["type"] == "eval"]
    for index, record in enumerate(evals):
        record["keep_wer"] = base + (best - base) * index / (len(evals) - 1)
    (run_dir / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    if tolerance is not None:
        (run_dir / "profile.toml").write_text(f"[training]\nkeep_tolerance = {tolerance}\n")
    return run_dir


async def test_runs_show_general_speech_base_to_best(tmp_path):
    older, newer, _broken = make_runs()
    add_keep(newer, 0.158, 0.149)
    add_keep(older, 0.158, 0.21, tolerance=3.0)
    app = RunsApp()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        screen = app.runs_screen
        table = screen.query_one("#runs-table", DataTable)
        labels = [str(c.label) for c in table.columns.values()]
        assert labels[labels.index("Before") + 1] == "General"
        assert str(table.get_row(str(newer))[labels.index("General")]) == "15.8% → 14.9%"
        assert str(table.get_row_at(0)[labels.index("General")]) == "—"  # the broken run
        await pilot.press("down")  # newest first: broken, newer, older
        await pilot.pause()
        assert screen.shown.run_dir == newer
        info = text_of(screen.query_one("#runs-info", Static))
        assert "General speech 15.8% → 14.9% (kept)" in info
        series = screen.query_one("#runs-wer", MetricChart).series
        assert [s.label for s in series] == ["WER %", "general speech"]
        assert series[1].xs[0] == 0.0 and series[1].ys[0] == pytest.approx(15.8)

        await pilot.press("down")
        await pilot.pause()
        info = text_of(screen.query_one("#runs-info", Static))
        assert "General speech 15.8% → 21.0% (worse by 5.2 points, over the 3-point tolerance)" in info

        await pilot.press("up", "space", "down", "space", "c")  # A = newer, B = older
        await pilot.pause()
        compare = screen.query_one("#runs-compare-table", DataTable)
        rows = {str(compare.get_row_at(i)[0]): compare.get_row_at(i)[1:] for i in range(compare.row_count)}
        assert [str(v) for v in rows["General speech (best)"]] == ["14.9%", "21.0%"]


async def test_runs_without_keep_figures_have_no_general_column(tmp_path):
    make_runs()
    app = RunsApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.runs_screen.query_one("#runs-table", DataTable)
        assert "General" not in [str(c.label) for c in table.columns.values()]


def spoil_metrics(run_dir: Path) -> list[int]:
    """Hand-edit a fake run's metrics.jsonl: a garbage line, a wrong-typed loss, a list, a torn last line.

    Returns the numbers of the spoiled lines (from 1)."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    lines[4] = "loss went down here, nice"  # hand-edited garbage
    lines[7] = lines[7].replace('"loss": ', '"loss": "oops", "was": ')  # a wrong-typed value
    lines.insert(10, "[1, 2, 3]")  # valid JSON, not a record
    text = "\n".join(lines) + '\n{"type": "step", "step": 31, "lo'  # cut short by a crash, no newline
    (run_dir / "metrics.jsonl").write_text(text)
    return [5, 8, 11, len(lines) + 1]


async def test_bad_metrics_lines_are_skipped_with_a_warning(tmp_path):
    older, newer, _broken = make_runs()
    bad = spoil_metrics(older)
    app = RunsApp()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("down", "down")  # broken, newer, older
        await pilot.pause()
        screen = app.runs_screen
        assert screen.shown.run_dir == older
        info = text_of(screen.query_one("#runs-info", Static))
        assert "Best WER 18.0%" in info  # the rest of the run is still there
        assert "⚠ metrics.jsonl: skipped 4 bad lines (5, 8, 11, 36: not valid JSON, a wrong-typed value, " \
               "not a record)" in info and bad == [5, 8, 11, 36]
        assert str(older) in info  # the folder it is in, on the line below
        details = str(screen.query_one("#runs-info", Static).tooltip)  # the full story on hover
        assert details.startswith(f"{older / 'metrics.jsonl'}: skipped 4 bad lines")
        assert "line 8: 'loss' is text, not a number" in details and "line 11: a list, not a JSON object" in details
        loss = screen.query_one("#runs-loss", MetricChart).series[0]
        assert len(loss.xs) == 28 and 31.0 not in loss.xs  # 30 steps less the garbled and the wrong-typed one
        assert screen.query_one("#runs-wer", MetricChart).series[0].ys[-1] == 18.0

        await pilot.press("up")  # a clean run shows no warning
        await pilot.pause()
        assert "skipped" not in text_of(screen.query_one("#runs-info", Static))
        assert screen.query_one("#runs-info", Static).tooltip is None

        await pilot.press("space", "down", "space", "c")
        await pilot.pause()
        status = text_of(screen.query_one("#runs-status", Label))
        assert "bad metrics.jsonl lines skipped in B" in status


async def test_garbage_run_files_do_not_break_the_screen(tmp_path):
    """run.json as a list, with wrong-typed fields or absurd numbers; metrics.jsonl of odd values; profile.toml
    with sections that are not tables: each run still lists and opens."""
    import json

    root = runs_root()
    as_list = root / "20250301-100000-list"
    as_list.mkdir(parents=True)
    (as_list / "run.json").write_text("[1, 2]")
    deep = root / "20250301-110000-deep"
    deep.mkdir()
    (deep / "run.json").write_text("[" * 100_000)
    typed = write_fake_run(root, "20250302-100000-typed", started="2025-03-02T10:00:00")
    (typed / "run.json").write_text(json.dumps({
        "status": "finished", "started": 12, "profile": ["x"], "strategy": {"a": 1}, "model": None,
        "best_wer": "0.1", "base_wer": [0.3], "duration_s": 1e999, "final_wer": True, "best_keep_wer": "x",
        "base_keep_wer": float("nan"), "finished": "yesterday", "reason": 5}))
    (typed / "profile.toml").write_text("data = 3\ntraining = 'x'\n")
    with (typed / "metrics.jsonl").open("a") as f:
        f.write('{"type": "step", "step": 1e999, "loss": 1}\n{"type": 7, "step": 2}\n'
                '{"type": "step", "step": ' + "9" * 400 + ', "loss": Infinity, "epoch": NaN}\n'
                '{"type": "eval", "step": 40, "wer": null, "keep_wer": "bad"}\n"just text"\n')
    huge = write_fake_run(root, "20250303-100000-huge", started="2025-03-03T10:00:00", status="running")
    (huge / ".lock").write_text("-5")
    (huge / "metrics.jsonl").write_text('{"type": "step", "step": ' + "9" * 400 + ', "loss": 2}\n')

    app = RunsApp()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        screen = app.runs_screen
        table = screen.query_one("#runs-table", DataTable)
        assert table.row_count == 4
        names = [str(table.get_row_at(i)[-1]) for i in range(4)]
        for _ in range(3):
            await pilot.press("down")
            await pilot.pause()
        assert screen.shown.name == names[-1]
        by_name = {run.name: run for run in screen.runs}
        assert by_name[as_list.name].status == "broken" and "holds a list" in by_name[as_list.name].reason
        assert by_name[deep.name].status == "broken"
        run = by_name[typed.name]
        assert run.best_wer == 0.1 and run.duration_s is None and run.base_keep_wer is None
        assert run.data_dir is None
        screen.show_run(run)
        await pilot.pause()
        info = text_of(screen.query_one("#runs-info", Static))
        assert "skipped 4 bad lines" in info
        assert "'type' is a number, not text" in str(screen.query_one("#runs-info", Static).tooltip)
        screen.show_run(by_name[huge.name])  # a step too big for a float: shown without a step count
        await pilot.pause()
        await pilot.press("space", "up", "space", "c")
        await pilot.pause()
        assert screen.query_one("#runs-view", ContentSwitcher).current == "runs-compare"


async def test_runs_under_a_profiles_output_dir_are_listed(tmp_path):
    from whisper_tui.training.runs import remember_runs_root

    older, newer, broken = make_runs()
    elsewhere = write_fake_run(tmp_path / "my-runs", "20250306-100000-mine", started="2025-03-06T10:00:00")
    remember_runs_root(tmp_path / "my-runs")  # as a run started with output.dir = my-runs does
    app = RunsApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.runs_screen.query_one("#runs-table", DataTable)
        assert [str(table.get_row_at(i)[-1]) for i in range(4)] == [elsewhere.name, broken.name, newer.name,
                                                                     older.name]
        assert app.runs_screen._run_roots_text() == f"{runs_root()}, {tmp_path / 'my-runs'}"
