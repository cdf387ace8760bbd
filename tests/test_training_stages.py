"""Each stage of a training run on its own, without a Trainer (job.py composes them; the whole run is
covered by test_training_job.py, test_cancel_phases.py and friends)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from helpers_audio import write_metadata, write_wav
from helpers_jobs import tiny_job_profile
from whisper_tui.errors import DatasetError
from whisper_tui.training import events as ev
from whisper_tui.training.run_control import Cancelled, RunControl
from whisper_tui.training.run_folder import RunFolder


def _control(folder: Path, seen: list | None = None) -> RunControl:
    return RunControl(RunFolder(folder), [seen.append] if seen is not None else [])


# -- run_control.py ------------------------------------------------------------------------------
def _wait_for(condition, timeout: float = 60.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("condition not reached")


def test_pause_blocks_between_steps_until_resume_and_cancel_ends_a_pause(tmp_path):
    seen: list = []
    control = _control(tmp_path / "run", seen)
    assert control.wait_while_paused(1) is True and seen == []  # not paused: goes straight on

    control.pause()
    answers = []
    worker = threading.Thread(target=lambda: answers.append(control.wait_while_paused(3)))
    worker.start()
    _wait_for(lambda: control.state == "paused")
    assert worker.is_alive() and seen == [ev.Paused(3)]
    control.resume()
    worker.join(60)
    assert answers == [True] and control.state == "running" and seen == [ev.Paused(3), ev.Resumed(3)]

    control.pause()
    worker = threading.Thread(target=lambda: answers.append(control.wait_while_paused(4)))
    worker.start()
    _wait_for(lambda: control.state == "paused")
    control.cancel()  # a cancel while paused: no Resumed, the caller checkpoints and stops
    worker.join(60)
    assert answers == [True, False] and seen[-1] == ev.Paused(4) and control.cancel_requested
    with pytest.raises(Cancelled):
        control.check_cancel()


def test_run_turns_every_ending_into_one_terminal_event_and_runs_the_cleanups(tmp_path):
    from whisper_tui.errors import ProfileError

    def fails():
        raise ProfileError("training.x is wrong", "set it right", where="training.x")

    seen: list = []
    control = _control(tmp_path / "run", seen)
    undone = []
    control.add_cleanup(lambda: undone.append("first"))
    control.add_cleanup(lambda: undone.append("second"))
    result = control.run(fails, resuming=False, on_cancel=lambda acquired: ev.RunCancelled(None, 0))
    assert isinstance(result, ev.RunFailed) and result.error_type == "ProfileError" and result.hint == "set it right"
    assert control.result is result and seen[-1] is result and control.wait(0) and control.state == "failed"
    assert undone == ["second", "first"]  # last added, first undone
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "failed"
    assert not (tmp_path / "run" / ".lock").exists()  # the folder is released

    def cancelled():
        control.cancel()
        control.check_cancel()

    control = _control(tmp_path / "cancelled")
    result = control.run(cancelled, resuming=False, on_cancel=lambda acquired: ev.RunCancelled(None, 7 * acquired))
    assert result == ev.RunCancelled(None, 7)

    control = _control(tmp_path / "oom")
    result = control.run(lambda: (_ for _ in ()).throw(MemoryError()), resuming=False, on_cancel=None)
    assert isinstance(result, ev.RunFailed) and result.error_type == "OutOfMemory" and "batch_size" in result.hint


def test_a_broken_listener_does_not_stop_the_others(tmp_path):
    seen: list = []

    def broken(event):
        raise RuntimeError("listener bug")

    control = RunControl(RunFolder(tmp_path / "run"), [broken, seen.append])
    (tmp_path / "run").mkdir()
    control.log("hello")
    assert seen == [ev.LogEvent("hello")]
    assert "listener failed" in (tmp_path / "run" / "train.log").read_text()


# -- data_prep.py --------------------------------------------------------------------------------
@pytest.fixture
def mixed_data(tmp_path) -> Path:
    """Six 1 s clips, one of 3 s and one of 1.8 s with a transcript of 12 words."""
    folder = tmp_path / "data"
    folder.mkdir()
    rows = []
    for i in range(6):
        write_wav(folder / f"ok{i}.wav", seconds=1.0)
        rows.append((f"ok{i}.wav", f"sentence number {i}"))
    write_wav(folder / "long.wav", seconds=3.0)
    rows.append(("long.wav", "a clip of three seconds"))
    write_wav(folder / "wordy.wav", seconds=1.8)
    rows.append(("wordy.wav", " ".join(["word"] * 12)))
    write_metadata(folder, rows)
    return folder


def test_data_prep_keeps_only_clips_the_model_holds_whole(tiny_whisper_dir, mixed_data):
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from whisper_tui.models.window import suggested_window_s
    from whisper_tui.training.data_prep import DataPrep

    logged = []
    profile = tiny_job_profile(tiny_whisper_dir, mixed_data, **{"data.max_duration_s": 2.0, "model.window_s": -1})
    prep = DataPrep(profile, lambda message, level="info": logged.append((level, message)))
    train, test = prep.load()
    assert len(train) + len(test) == 8 and prep.durations[mixed_data / "long.wav"] == pytest.approx(3.0)

    chosen = prep.auto_window(profile, train + test)
    assert chosen.model.window_s == (suggested_window_s(3.0) or 0) and profile.model.window_s == -1
    assert any("model.window_s auto" in m for _, m in logged)

    processor = WhisperProcessor.from_pretrained(tiny_whisper_dir)
    model = WhisperForConditionalGeneration.from_pretrained(tiny_whisper_dir)
    model.config.max_target_positions = 14  # a decoder too short for the 12 words (448 would take them)
    fit_train, fit_test = prep.clips_that_fit(train, test, processor, model)
    names = {c.file_name for c in fit_train + fit_test}
    assert names == {f"ok{i}.wav" for i in range(6)}
    warnings = [m for level, m in logged if level == "warning"]
    assert any("longer than data.max_duration_s" in m for m in warnings)
    assert any("transcript is longer than the decoder" in m and "wordy.wav" in m for m in warnings)

    with pytest.raises(DatasetError) as info:
        prep.clips_that_fit([c for c in train + test if c.file_name == "long.wav"], [], processor, model)
    assert info.value.where == "data.max_duration_s"


# -- trainer_setup.py ----------------------------------------------------------------------------
def test_training_arguments_follow_the_profile_and_never_print(tiny_whisper_dir, tmp_path):
    from whisper_tui.training.model_setup import choose_precision
    from whisper_tui.training.trainer_setup import estimate_steps, steps_per_epoch, training_arguments

    profile = tiny_job_profile(tiny_whisper_dir, tmp_path, **{
        "training.eval_strategy": "steps", "training.eval_steps": 5, "training.max_steps": -1,
        "training.num_train_epochs": 3, "training.per_device_train_batch_size": 2,
        "training.gradient_accumulation_steps": 2})
    tr = profile.training
    precision = choose_precision(profile, "cpu")
    args = training_arguments(tr, tmp_path / "ckpt", evaluates=True, lr=1e-3, precision=precision, device="cpu",
                              generation_length=40)
    assert (str(args.eval_strategy.value), str(args.save_strategy.value), args.eval_steps, args.save_steps) == (
        "steps", "steps", 5, 5)
    assert (args.learning_rate, args.generation_max_length, args.report_to, args.disable_tqdm) == (1e-3, 40, [], True)
    assert args.output_dir == str(tmp_path / "ckpt") and args.use_cpu and args.max_steps == -1
    quiet = training_arguments(tr, tmp_path / "ckpt", evaluates=False, lr=1e-3, precision=precision, device="cpu",
                               generation_length=40)
    assert (str(quiet.eval_strategy.value), str(quiet.save_strategy.value)) == ("no", "epoch")

    assert steps_per_epoch(tr, 9) == 3  # ceil(9 / (2 x 2))
    assert estimate_steps(tr, 9) == 9
    assert estimate_steps(SimpleNamespace(**{**vars(tr), "max_steps": 7}), 9) == 7


def test_compute_metrics_decodes_ignoring_padding_and_counts_hallucinations():
    from whisper_tui.training.trainer_setup import make_compute_metrics

    words = {0: "", 1: "hello", 2: "world", 3: "again"}
    tokenizer = SimpleNamespace(pad_token_id=0, batch_decode=lambda rows, skip_special_tokens: [
        " ".join(w for w in (words[int(t)] for t in row) if w) for row in rows])
    labels = np.array([[1, 2, -100], [3, -100, -100]])
    preds = np.array([[1, 2, 0], [1, -100, 0]])
    metrics = make_compute_metrics(tokenizer)(SimpleNamespace(predictions=(preds,), label_ids=labels))
    assert metrics["wer"] == pytest.approx(1 / 3) and set(metrics) == {"wer", "cer", "hallucinations"}


# -- scores.py -----------------------------------------------------------------------------------
def test_scores_follow_the_keep_rule_and_sum_up_the_keep_set():
    from whisper_tui.training.scores import RunScores

    scores = RunScores(2.0)
    scores.record_base(0.8, 0.10)
    assert (scores.base_wer, scores.base_keep_wer, scores.tracker.base_keep_wer) == (0.8, 0.10, 0.10)
    assert scores.record(10, 0.5, 0.11) == (True, True)
    assert scores.record(20, 0.3, 0.20) == (False, False)  # better domain WER, but general speech got worse
    assert (scores.best_step, scores.best_wer, scores.best_keep_wer) == (10, 0.5, 0.11)
    assert scores.keep_wer_at(20) == 0.20 and scores.keep_wer_at(10) is None
    assert scores.wer_at(20) == 0.3 and scores.wer_at(10) is None and scores.wer_at(30) is None  # final WER
    note = scores.over_limit_note(20, 0.20, False)
    assert "20.0% is over the limit (12.0%" in note and note.endswith("it cannot be the best checkpoint")
    keep = scores.keep_metrics(scores.keep_wer_at(20))
    assert keep["best_within_tolerance"] and not keep["keep_over"] and keep["keep_summary"].endswith("(kept)")


# -- saving.py -----------------------------------------------------------------------------------
class _Saves:
    def __init__(self, name: str):
        self.name = name

    def save_pretrained(self, folder) -> None:
        (Path(folder) / self.name).write_text("saved")


def test_a_model_folder_is_written_whole_with_what_it_is(tmp_path):
    from whisper_tui.training.saving import write_model_folder

    peft_like = SimpleNamespace(save_pretrained=_Saves("adapter.bin").save_pretrained,
                                get_base_model=lambda: SimpleNamespace(generation_config=_Saves("generation.json")))
    target = tmp_path / "best"
    write_model_folder(target, peft_like, _Saves("processor.json"), {"step": 3, "base_model": "tiny.en"})
    assert sorted(p.name for p in target.iterdir()) == [
        ".whisper-tui-folder", "adapter.bin", "generation.json", "processor.json", "whisper_tui.json"]
    assert json.loads((target / "whisper_tui.json").read_text()) == {"step": 3, "base_model": "tiny.en"}
    assert [p.name for p in tmp_path.iterdir()] == ["best"]  # no temporary folder left beside it
