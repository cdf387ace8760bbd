"""Transcribe console: real (tiny, random) models in a worker, results table, compare mode, references."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from rich.text import Text
from textual.app import App
from textual.widgets import Input, Label, Select, Static
from textual.worker import WorkerFailed
from helpers_tui import settle
from helpers_tui_doubles import CannedTranscriber, write_clips, write_fake_run

from screens.transcribe_screen import TranscribeScreen
from screens.widgets.transcribe_results import ResultsTable
from screens.widgets.word_diff import DELETED, INSERTED, changed_word_count, inline_diff, side_by_side

REFS = {"a.wav": "the quick brown fox", "b.wav": "please call stella", "c.wav": "six spoons of snow peas"}


class TxApp(App):
    def __init__(self, **screen_kwargs) -> None:
        super().__init__()
        self.screen_kwargs = screen_kwargs

    def on_mount(self) -> None:
        self.tx = TranscribeScreen(**self.screen_kwargs)
        self.push_screen(self.tx)


async def run_folder(pilot, app: TxApp, target: Path) -> None:
    app.tx.query_one("#tx-audio", Input).value = str(target)
    app.tx.query_one("#tx-audio", Input).focus()
    await pilot.press("enter")
    await pilot.pause()
    await wait_for_workers(pilot, app)


async def wait_for_workers(pilot, app: TxApp) -> None:
    """Until the run is over; a run that fails is the screen's to report (the tests check how)."""
    try:
        await app.workers.wait_for_complete()
    except WorkerFailed:
        pass
    await pilot.pause(0.2)


def status_text(app: TxApp) -> str:
    return str(app.tx.query_one("#tx-status", Label).content)


def detail_text(app: TxApp) -> str:
    return str(app.tx.query_one("#tx-detail", Static).content)


def cell_texts(table: ResultsTable, column: str) -> list[str]:
    return [str(table.get_cell(str(row.path), column)) for row in table.clip_rows]


async def test_folder_of_three_wavs_gives_three_rows_with_a_real_model(tmp_path, tiny_whisper_dir):
    audio = write_clips(tmp_path / "audio", [("a.wav", 1.0), ("b.wav", 1.5), ("c.wav", 0.5)])
    app = TxApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.tx.select_model(tiny_whisper_dir)
        assert app.tx.query_one("#tx-model", Select).value == str(tiny_whisper_dir)
        await run_folder(pilot, app, audio)

        table = app.tx.query_one(ResultsTable)
        assert [row.path.name for row in table.clip_rows] == ["a.wav", "b.wav", "c.wav"]
        assert table.row_count == 3
        assert cell_texts(table, "dur") == ["1.0s", "1.5s", "0.5s"]
        assert all(row.results["model"].ok for row in table.clip_rows)
        assert all(float(value) > 0 for value in cell_texts(table, "rtf"))
        assert "WER" not in [str(c.label) for c in table.columns.values()]  # no references here
        summary = str(app.tx.query_one("#tx-summary", Static).content)
        assert "RTF" in summary and "3 files, 3.0 s of audio" in summary
        assert "Done: 3 files" in status_text(app)


async def test_compare_mode_shows_two_model_columns_with_real_models(tmp_path, tiny_whisper_dir):
    from conftest import build_tiny_whisper

    other = build_tiny_whisper(tmp_path / "other-model", seed=1)
    audio = write_clips(tmp_path / "audio", [("a.wav", 1.0), ("b.wav", 0.8), ("c.wav", 0.6)], REFS)
    app = TxApp(base_model=str(tiny_whisper_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.tx.select_model(other)
        await pilot.press("ctrl+t")  # compare on (nothing transcribed yet, so nothing runs)
        assert app.tx.query_one("#tx-compare").value is True
        await run_folder(pilot, app, audio)

        table = app.tx.query_one(ResultsTable)
        assert table.compare and table.row_count == 3
        labels = [str(column.label) for column in table.columns.values()]
        assert labels[2:4] == ["tiny-whisper0", "other-model"]
        assert labels[4:] == ["WER base", "WER tuned"]
        for row in table.clip_rows:
            assert set(row.results) == {"base", "model"} and row.reference == REFS[row.path.name]
        summary = str(app.tx.query_one("#tx-summary", Static).content).splitlines()
        assert summary[0].startswith("tiny-whisper0: RTF") and summary[1].startswith("other-model: RTF")
        assert all("WER" in line for line in summary)

        await pilot.press("ctrl+t")  # compare off again: the same audio is transcribed again, one model
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        assert not table.compare and table.row_count == 3
        assert set(table.clip_rows[0].results) == {"model"}


def canned(texts_base: dict, texts_model: dict, calls: list | None = None):
    """A transcriber factory with fixed texts; `calls` collects the (model, backend) of each load."""
    def factory(model, backend="torch"):
        if calls is not None:
            calls.append((model, backend))
        return CannedTranscriber(model, texts_base if model == "tiny.en" else texts_model, backend)

    return factory


async def test_compare_marks_word_differences_and_scores_each_clip(tmp_path):
    audio = write_clips(tmp_path / "audio", [("a.wav", 1.0), ("b.wav", 1.0), ("c.wav", 1.0)], REFS)
    base = {"a.wav": "the quick brown fax", "b.wav": "please call stella", "c.wav": "six spoons snow peas"}
    tuned = {"a.wav": "the quick brown fox", "b.wav": "please call stella", "c.wav": "six spoons of snow peas"}
    app = TxApp(transcriber_factory=canned(base, tuned))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.tx.select_model(tmp_path)  # any existing folder: the canned factory ignores it
        app.tx.query_one("#tx-compare").value = True
        await run_folder(pilot, app, audio)

        table = app.tx.query_one(ResultsTable)
        assert cell_texts(table, "wer_base") == ["25.0%", "0.0%", "20.0%"]
        assert cell_texts(table, "wer_model") == ["0.0%", "0.0%", "0.0%"]
        left = table.get_cell(str(audio / "a.wav"), "base")
        right = table.get_cell(str(audio / "a.wav"), "model")
        assert isinstance(left, Text) and isinstance(right, Text)
        assert [left.plain[span.start:span.end] for span in left.spans if span.style == DELETED] == ["fax"]
        assert [right.plain[span.start:span.end] for span in right.spans if span.style == INSERTED] == ["fox"]
        summary = str(app.tx.query_one("#tx-summary", Static).content)
        assert "tiny.en: RTF 0.05 (CTranslate2 int8) · WER 16.7%" in summary  # 2 errors in 12 reference words
        detail = detail_text(app)
        assert "reference  the quick brown fox" in detail and "WER 25.0%" in detail


async def test_done_line_names_a_backend_both_sides_share_once(tmp_path):
    """README capture: "Done: 120 files with CTranslate2 int8 and CTranslate2 int8, windows 10/20/30 s" when
    base and fine-tuned both ran on CTranslate2 int8 and only the fine-tuned model has several windows."""
    from whisper_tui.inference.backends import backend_info

    def factory(model, backend="torch"):
        t = CannedTranscriber(model, {}, backend)
        if model != "tiny.en":  # an any-window fine-tuned model
            t.backend_info = backend_info(backend, "int8", "cpu", windows=(10, 20, 30))
        return t

    audio = write_clips(tmp_path / "audio", [("a.wav", 0.5), ("b.wav", 0.5)])
    app = TxApp(transcriber_factory=factory)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.tx.backend = "ct2"
        app.tx.select_model(tmp_path)
        app.tx.query_one("#tx-compare").value = True
        await run_folder(pilot, app, audio)
        assert status_text(app) == ("Done: 2 files with CTranslate2 int8 (fine-tuned: windows 10/20/30 s). "
                                    "ctrl+r runs again.")


async def test_compare_with_the_bundled_model_itself_runs_once_and_says_why(tmp_path):
    audio = write_clips(tmp_path / "audio", [("a.wav", 1.0)])
    app = TxApp(transcriber_factory=canned({"a.wav": "hello"}, {}))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.tx.query_one("#tx-compare").value = True
        await run_folder(pilot, app, audio)
        table = app.tx.query_one(ResultsTable)
        assert not table.compare and cell_texts(table, "model") == ["hello"]
        assert any("pick one under Model" in n.message for n in app._notifications)


async def test_single_file_uses_its_txt_sidecar_as_reference(tmp_path):
    audio = write_clips(tmp_path / "audio", [("one.wav", 1.0), ("two.wav", 1.0)])
    (audio / "one.txt").write_text("hello there world\n")
    app = TxApp(transcriber_factory=canned({"one.wav": "hello world"}, {}))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await run_folder(pilot, app, audio / "one.wav")
        table = app.tx.query_one(ResultsTable)
        assert table.row_count == 1 and cell_texts(table, "wer_model") == ["33.3%"]


async def test_missing_path_is_reported(tmp_path):
    app = TxApp(transcriber_factory=canned({}, {}))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await run_folder(pilot, app, tmp_path / "nope")
        status = status_text(app)
        assert "does not exist" in status
        assert app.tx.query_one(ResultsTable).row_count == 0


async def test_models_of_past_runs_are_offered(tmp_path):
    runs_root = Path(os.environ["WHISPER_TUI_DATA_DIR"]) / "runs"
    run = write_fake_run(runs_root, "20250301-100000-quick", best_wer=0.125)
    (run / "best").mkdir()
    app = TxApp(transcriber_factory=canned({}, {}))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        select = app.tx.query_one("#tx-model", Select)
        options = {value: str(label) for label, value in select._options}
        assert options["tiny.en"] == "tiny.en (bundled)"
        assert options[str(run / "final")] == "20250301-100000-quick · final"
        assert options[str(run / "best")] == "20250301-100000-quick · best · WER 12.5%"
        app.tx.query_one("#tx-model-path", Input).value = "org/some-whisper"
        app.tx.query_one("#tx-model-path", Input).focus()
        await pilot.press("enter")
        assert select.value == "org/some-whisper" and app.tx.model_value == "org/some-whisper"


async def test_escape_stops_after_the_current_batch(tmp_path):
    audio = write_clips(tmp_path / "audio", [(f"{n}.wav", 0.3) for n in "abcdef"])
    started, released = threading.Event(), threading.Event()

    class Slow(CannedTranscriber):
        """The first batch holds until escape has been handled, so no load makes the run finish first."""

        def transcribe_files(self, paths, on_result=None):
            started.set()
            released.wait(30)
            return super().transcribe_files(paths, on_result)

    app = TxApp(transcriber_factory=lambda model, backend="torch": Slow(model, {}, backend))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.tx.query_one("#tx-audio", Input).value = str(audio)
        app.tx.query_one("#tx-audio", Input).focus()
        await pilot.press("enter")
        for _ in range(1500):
            if started.is_set():
                break
            await pilot.pause(0.02)
        await pilot.press("escape")
        released.set()
        await app.workers.wait_for_complete()
        await settle(pilot)
        rows = app.tx.query_one(ResultsTable).row_count
        assert rows < 6  # batches of 2: it stopped before the end
        assert "Stopped" in status_text(app)


@pytest.mark.parametrize(("before", "after", "changed"), [
    ("the quick brown fox", "the quick brown fox", 0),
    ("Hello, world.", "hello world", 0),  # case and punctuation don't count
    ("a b c", "a x c", 2),
    ("a b", "a b c d", 2),
])
def test_word_diff(before, after, changed):
    assert changed_word_count(before, after) == changed
    left, right = side_by_side(before, after)
    assert left.plain == " ".join(before.split()) and right.plain == " ".join(after.split())
    assert sum(1 for s in left.spans if s.style == DELETED) + sum(1 for s in right.spans if s.style == INSERTED) \
        == changed


def test_inline_diff_keeps_both_sides_in_order():
    text = inline_diff("ask not what your country", "ask what their country can")
    assert text.plain == "ask not what your their country can"
    assert [text.plain[s.start:s.end] for s in text.spans if s.style == DELETED] == ["not", "your"]
    assert [text.plain[s.start:s.end] for s in text.spans if s.style == INSERTED] == ["their", "can"]


async def test_opens_off_the_text_fields_and_escape_leaves_one(tmp_path):
    app = TxApp(transcriber_factory=canned({}, {}))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not isinstance(app.focused, Input)  # number keys reach the app's screen switching
        app.tx.query_one("#tx-audio", Input).focus()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.focused, Input)
        assert "Stopping" not in status_text(app)
        app.tx.select_model(tmp_path)  # e.g. "transcribe with this model" from the dashboard
        await pilot.pause()
        assert app.focused is app.tx.query_one("#tx-audio", Input)  # the next thing to fill in


async def test_from_a_finished_run_the_console_is_ready_to_compare_on_its_data(tmp_path):
    from textual.widgets import Switch

    app = TxApp(transcriber_factory=canned({}, {}))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.tx.select_model(tmp_path, audio="/data/speech", compare=True)
        await pilot.pause()
        assert app.tx.query_one("#tx-audio", Input).value == "/data/speech"
        assert app.tx.query_one("#tx-compare", Switch).value is True
        app.tx.query_one("#tx-audio", Input).value = "/mine"
        app.tx.select_model(tmp_path, audio="/data/speech")  # never overwrites what the user typed
        await pilot.pause()
        assert app.tx.query_one("#tx-audio", Input).value == "/mine"


async def test_opened_from_a_run_with_its_data_the_comparison_starts(tmp_path, tiny_whisper_dir):
    """Issue 15: `t` on the Dashboard (or Runs) filled in the run's model and data and then waited for Enter."""
    from conftest import build_tiny_whisper

    tuned = build_tiny_whisper(tmp_path / "tuned", seed=1)
    audio = write_clips(tmp_path / "data", [("a.wav", 1.0), ("b.wav", 0.6)], {"a.wav": "hello", "b.wav": "world"})
    app = TxApp(base_model=str(tiny_whisper_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.tx.select_model(tuned, audio=str(audio), compare=True)  # what the app's open_transcribe does
        await wait_for_workers(pilot, app)

        table = app.tx.query_one(ResultsTable)
        assert table.row_count == 2, status_text(app)  # before the fix: 0, "type an audio file or folder..."
        assert table.compare
        for row in table.clip_rows:
            assert set(row.results) == {"base", "model"} and all(r.ok for r in row.results.values())
        assert "Done: 2 files" in status_text(app)
        assert not isinstance(app.focused, Input)  # number keys switch screens while results come in


async def test_ctrl_r_transcribes_whatever_audio_is_filled_in(tmp_path, tiny_whisper_dir):
    first = write_clips(tmp_path / "first", [("a.wav", 0.5)])
    second = write_clips(tmp_path / "second", [("x.wav", 0.5), ("y.wav", 0.4)])
    app = TxApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.tx.select_model(tiny_whisper_dir)  # no audio: the console waits for it
        await pilot.pause()
        table = app.tx.query_one(ResultsTable)
        assert table.row_count == 0
        audio_field = app.tx.query_one("#tx-audio", Input)
        assert app.focused is audio_field

        audio_field.value = str(first)  # filled in, Enter not pressed
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_for_workers(pilot, app)
        assert [row.path.name for row in table.clip_rows] == ["a.wav"]  # before the fix: nothing ran

        audio_field.value = str(second)
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_for_workers(pilot, app)
        assert [row.path.name for row in table.clip_rows] == ["x.wav", "y.wav"]

        audio_field.value = ""  # nothing filled in: the last audio again
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_for_workers(pilot, app)
        assert [row.path.name for row in table.clip_rows] == ["x.wav", "y.wav"]
        assert "Done: 2 files" in status_text(app)


async def test_results_for_a_folder_are_saved_as_a_labelled_dataset(tmp_path):
    import csv

    from screens.modals.folder_prompt import FolderPrompt

    audio = write_clips(tmp_path / "audio", [("a.wav", 1.0), ("b.wav", 0.6), ("c.wav", 0.5)])
    texts = {"a.wav": "hello there", "b.wav": "general kenobi", "c.wav": ""}  # c: nothing heard
    app = TxApp(transcriber_factory=canned(texts, {}))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.tx.check_action("save_dataset", ()) is False  # nothing to save yet: not offered
        await run_folder(pilot, app, audio)
        assert app.tx.check_action("save_dataset", ()) is True

        await pilot.press("ctrl+s")
        await pilot.pause()
        prompt = app.screen
        assert isinstance(prompt, FolderPrompt)
        field = prompt.query_one(Input)
        assert field.value == str(tmp_path / "audio-labelled")  # beside the audio, named after it
        field.value = str(tmp_path / "mine")
        await pilot.press("enter")
        await wait_for_workers(pilot, app)

        assert app.screen is app.tx
        out = tmp_path / "mine"
        with open(out / "metadata.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [row["transcription"] for row in rows] == ["hello there", "general kenobi"]
        assert {row["status"] for row in rows} == {"auto"}
        for row in rows:
            assert (out / row["file_name"]).is_file()
        report = app.tx.last_saved_dataset
        assert report.written == 2 and report.left_out == {"no_speech": 1}
        assert "Saved 2 clip(s) as a dataset in" in status_text(app) and "1 left out" in status_text(app)

        await pilot.press("ctrl+s")  # escape leaves the prompt without saving
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.tx

        other = tmp_path / "notes"  # a folder of someone else's files: the engine refuses, the console says why
        other.mkdir()
        (other / "todo.txt").write_text("mine\n")
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one(Input).value = str(other)
        await pilot.press("enter")
        await wait_for_workers(pilot, app)
        assert "Not saved" in status_text(app) and str(other) in detail_text(app)
        assert sorted(p.name for p in other.iterdir()) == ["todo.txt"]


# -- backend: CTranslate2 int8 or torch --------------------------------------------------------------
def summary_lines(app: TxApp) -> list[str]:
    return str(app.tx.query_one("#tx-summary", Static).content).splitlines()


async def test_each_backend_transcribes_with_it_and_the_results_say_which(tmp_path, tiny_whisper_dir):
    audio = write_clips(tmp_path / "audio", [("a.wav", 1.0), ("b.wav", 0.6)])
    app = TxApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        backend = app.tx.query_one("#tx-backend", Select)
        assert backend.value == "ct2" and app.tx.backend == "ct2"  # ctranslate2 imports here: the default
        assert "Backend" in {b.binding.description for b in app.tx.active_bindings.values() if b.binding.show}

        app.tx.select_model(tiny_whisper_dir)
        backend.value = "torch"  # as if chosen in the Select
        await pilot.pause()
        assert app.tx.backend == "torch"
        await run_folder(pilot, app, audio)
        table = app.tx.query_one(ResultsTable)
        assert table.row_count == 2 and all(row.results["model"].ok for row in table.clip_rows)
        assert summary_lines(app)[0].startswith("tiny-whisper0: RTF") and "(torch)" in summary_lines(app)[0]
        assert "with torch" in status_text(app)
        torch_rtf = float(cell_texts(table, "rtf")[0])

        await pilot.press("ctrl+o")  # the key switches to CTranslate2 (exported once from the HF folder)
        assert backend.value == "ct2" and "CTranslate2 int8" in status_text(app)
        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        assert table.row_count == 2 and all(row.results["model"].ok for row in table.clip_rows)
        assert "(CTranslate2 int8)" in summary_lines(app)[0]
        assert "with CTranslate2 int8" in status_text(app)
        ct2_rtf = float(cell_texts(table, "rtf")[0])
        assert torch_rtf > 0 and ct2_rtf > 0  # each measured on its own backend
        loaded = {key: t.backend for key, t in app.tx._transcribers._loaded.items()}
        assert loaded == {(str(tiny_whisper_dir), "torch"): "torch", (str(tiny_whisper_dir), "ct2"): "ct2"}


async def test_compare_runs_both_sides_on_the_chosen_backend(tmp_path):
    audio = write_clips(tmp_path / "audio", [("a.wav", 1.0)], {"a.wav": "hello"})
    calls: list = []
    app = TxApp(transcriber_factory=canned({"a.wav": "hello"}, {"a.wav": "hello"}, calls))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.tx.select_model(tmp_path)
        app.tx.query_one("#tx-compare").value = True
        await run_folder(pilot, app, audio)
        assert calls == [("tiny.en", "ct2"), (str(tmp_path), "ct2")]
        assert all("(CTranslate2 int8)" in line for line in summary_lines(app)) and len(summary_lines(app)) == 2

        await pilot.press("ctrl+o", "ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        assert calls[2:] == [("tiny.en", "torch"), (str(tmp_path), "torch")]
        assert all("(torch)" in line for line in summary_lines(app)) and len(summary_lines(app)) == 2


async def test_a_model_ct2_cannot_export_is_explained_and_torch_still_works(tmp_path, monkeypatch):
    from conftest import build_tiny_whisper

    import whisper_tui.models.export

    def broken_converter(*args, **kwargs):
        raise RuntimeError("Unsupported model architecture")

    monkeypatch.setattr(whisper_tui.models.export, "export_ct2", broken_converter)
    model = build_tiny_whisper(tmp_path / "odd-model")  # a new model: nothing exported in the cache yet
    audio = write_clips(tmp_path / "audio", [("a.wav", 0.5)])
    app = TxApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.tx.select_model(model)
        await run_folder(pilot, app, audio)

        status = status_text(app)
        assert status.startswith("Failed: CTranslate2 could not load odd-model: RuntimeError: Unsupported model")
        detail = detail_text(app)
        assert "Switch the backend to torch (ctrl+o) and run again (ctrl+r)" in detail and "Traceback" not in detail
        assert any("Switch the backend to torch" in n.message and "unexpected" not in n.title
                   for n in app._notifications)
        assert not app.tx._busy and app.tx.query_one(ResultsTable).row_count == 0

        await pilot.press("ctrl+o", "ctrl+r")  # the screen stays usable: torch transcribes the same model
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        assert app.tx.query_one(ResultsTable).row_count == 1
        assert "(torch)" in summary_lines(app)[0]
        assert detail_text(app) != detail


async def test_a_broken_model_names_the_model_and_what_to_fix(tmp_path, tiny_whisper_dir):
    audio = write_clips(tmp_path / "audio", [("a.wav", 0.5)])
    adapter = tmp_path / "orphan-adapter"  # a LoRA adapter whose base model is gone: torch cannot help either
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"base_model_name_or_path": "%s"}' % (tmp_path / "gone"))
    app = TxApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.tx.select_model(adapter)
        await run_folder(pilot, app, audio)

        status = status_text(app)
        assert status.startswith("Failed: Cannot load orphan-adapter: the base model")
        detail = detail_text(app)
        assert "restore that model" in detail and "torch" not in detail
        assert not app.tx._busy

        app.tx.select_model(tiny_whisper_dir)  # another model runs fine on the same backend
        await run_folder(pilot, app, audio)
        assert app.tx.query_one(ResultsTable).row_count == 1
        assert "(CTranslate2 int8)" in summary_lines(app)[0]


async def test_torch_is_the_default_where_ctranslate2_does_not_import(monkeypatch):
    import screens.transcribe_screen as tx_module

    monkeypatch.setattr(tx_module, "ct2_problem", lambda: "ImportError: libctranslate2.so: cannot open")
    app = TxApp(transcriber_factory=canned({}, {}))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.tx.backend == "torch" and app.tx.query_one("#tx-backend", Select).value == "torch"
        assert "CTranslate2 cannot run here" in status_text(app)


def test_initial_backend_needs_the_package(monkeypatch):
    import importlib.util

    from screens.presenters import transcribe_backend as tx_backend

    assert tx_backend.initial_backend() == "ct2"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert tx_backend.initial_backend() == "torch"


def test_ran_with_names_each_backend_once_and_whose_windows():
    from screens.presenters.transcribe_backend import ran_with
    from whisper_tui.inference.backends import backend_info

    ct2, torch = backend_info("ct2", "int8", "cpu"), backend_info("torch", "float32", "cpu")
    windowed = backend_info("ct2", "int8", "cpu", windows=(10, 20, 30))
    names = {"base": "tiny.en", "model": "fine-tuned"}
    assert ran_with({"base": ct2, "model": ct2}, names) == "CTranslate2 int8"
    assert ran_with({"base": torch, "model": ct2}, names) == "torch and CTranslate2 int8"
    assert ran_with({"model": windowed}, names) == "CTranslate2 int8, windows 10/20/30 s"
    assert ran_with({"base": ct2, "model": windowed}, names) == "CTranslate2 int8 (fine-tuned: windows 10/20/30 s)"
    assert ran_with({"base": windowed, "model": windowed}, names) == (
        "CTranslate2 int8 (tiny.en: windows 10/20/30 s; fine-tuned: windows 10/20/30 s)")


def test_loaded_models_are_kept_per_backend_and_bounded():
    from screens.presenters.transcriber_cache import TranscriberCache

    made: list = []
    cache = TranscriberCache(lambda model, backend: made.append((model, backend)) or (model, backend), limit=2)
    assert cache.get("tiny.en", "torch") == ("tiny.en", "torch")
    cache.get("/a", "torch")
    cache.get("bundled", "torch")  # an alias of tiny.en: no reload
    assert made == [("tiny.en", "torch"), ("/a", "torch")]
    cache.get("/b", "torch")  # the compare base stays, the other model goes
    assert cache.keys() == [("tiny.en", "torch"), ("/b", "torch")]
    assert cache.get("/b", "ct2") == ("/b", "ct2")  # another backend is another model: the oldest goes
    assert cache.keys() == [("/b", "torch"), ("/b", "ct2")]


JFK = Path(__file__).resolve().parents[1] / "whisper_tui" / "data" / "jfk.flac"


@pytest.mark.timeout(120)
async def test_one_file_shows_its_timed_segments_and_w_saves_srt_and_vtt(tmp_path):
    """The real tiny.en (CTranslate2) on jfk.flac: two segments with their times, the prompt reaches the
    decoder (one segment after "President Kennedy."), and w writes jfk.srt and jfk.vtt beside the audio."""
    import shutil

    from whisper_tui.inference.subtitles import parse

    audio = tmp_path / "talk"
    audio.mkdir()
    shutil.copy(JFK, audio / "jfk.flac")
    app = TxApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.tx.check_action("save_subtitles", ()) is False  # nothing timed yet: hidden
        await run_folder(pilot, app, audio / "jfk.flac")
        table = app.tx.query_one(ResultsTable)
        row = table.clip_rows[0]
        # the model says 0.00 and 8.00; each cue starts at its first sound (timed.snap_starts): ~0.3 s and ~8.2 s
        (a, b), (c, d) = [(s.start, s.end) for s in row.segments]
        assert 0.2 <= a <= 0.5 and b == 8.0 and 8.0 <= c <= 8.3 and d == 11.0, row.segments
        cell = cell_texts(table, "model")[0].splitlines()
        assert cell[0].startswith("0:00.3–0:08.0  And so my fellow Americans") and cell[1].startswith("0:08.")
        assert "2 segments · w saves jfk.srt" in detail_text(app)
        assert app.tx.check_action("save_subtitles", ()) is True
        await pilot.press("w")
        assert [s.start for s in parse((audio / "jfk.srt").read_text(), "srt")] == [s.start for s in row.segments]
        assert parse((audio / "jfk.vtt").read_text(), "vtt") == list(row.segments)
        assert "Saved jfk.srt and jfk.vtt" in status_text(app)

        app.tx.query_one("#tx-prompt", Input).value = "President Kennedy."
        await pilot.press("ctrl+r")
        await wait_for_workers(pilot, app)
        assert len(table.clip_rows[0].segments) == 1 and table.clip_rows[0].segments[0].end == 11.0
        (audio / "jfk.srt").unlink()
        (audio / "jfk.srt").mkdir()  # a name it cannot write over (even as root): said in the screen
        table.focus()
        await pilot.press("w")
        assert "Subtitles not saved" in status_text(app) and (audio / "jfk.srt").is_dir()
        assert sorted(p.name for p in audio.iterdir()) == ["jfk.flac", "jfk.srt", "jfk.vtt"]  # no temp file left


async def test_a_folder_is_transcribed_as_text_and_offers_no_subtitles(tmp_path):
    audio = write_clips(tmp_path / "audio", [("a.wav", 1.0), ("b.wav", 0.6)])
    app = TxApp(transcriber_factory=canned({"a.wav": "hello", "b.wav": "there"}, {}))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await run_folder(pilot, app, audio)
        table = app.tx.query_one(ResultsTable)
        assert cell_texts(table, "model") == ["hello", "there"] and not any(r.segments for r in table.clip_rows)
        assert app.tx.check_action("save_subtitles", ()) is False
        await run_folder(pilot, app, audio / "a.wav")  # one file: the timed path, with its segment
        assert [(s.start, s.text) for s in table.clip_rows[0].segments] == [(0.0, "hello")]
        assert cell_texts(table, "model") == ["0:00.0–0:01.0  hello"]
