"""Issue 24: an adapt-window run stopped during training continues its training on the rerun.

Before, the rerun relabelled nothing (good) but trained the student again from step 0 in a new run folder:
every step before the stop was lost. Now the student run the last report names resumes from its last
checkpoint, or is used as it is when it had finished.
"""

from __future__ import annotations

import threading

import pytest

from helpers_audio import write_tone_dataset
from helpers_jobs import SHORT_RUN
from whisper_tui.training import events as ev
from whisper_tui.training.adapt_window import AdaptSettings
from whisper_tui.training.adapt_window import run as aw

pytestmark = pytest.mark.usefixtures("own_cache")

QUICK = {**SHORT_RUN, "training.num_train_epochs": 3, "training.eval_strategy": "no", "training.budget_s": 0,
         "data.keep_set": False, "finetuning.encoder_cache": False}


def test_a_student_stopped_during_training_resumes_from_its_checkpoint(tmp_path, tiny_whisper_dir):
    output = tmp_path / "adapted"
    for side in (aw.ADAPT, aw.HELD_OUT):
        write_tone_dataset(output / "student_data" / side, n=6)
    settings = AdaptSettings(windows=(10, 20, 30), overrides=QUICK, evaluate_base=False)
    said, seen = [], []

    noticed = threading.Event()

    def stop() -> bool:  # a Ctrl+C once step 2 is done (train_student polls this while the job runs)
        if any(isinstance(e, ev.StepEvent) and e.step >= 2 for e in seen):
            noticed.set()
        return noticed.is_set()

    def hold_step_2(event) -> None:  # training waits at step 2 until the stop is seen, however fast it runs
        if isinstance(event, ev.StepEvent) and event.step == 2:
            noticed.wait(30)

    first = aw.AdaptReport(output, str(tiny_whisper_dir), settings)
    with pytest.raises(aw._Stopped):
        aw.train_student(first, said.append, [seen.append, hold_step_2], stop)
    assert first.training == {"status": "cancelled", "step": 2}
    stopped_at = 2
    assert aw.earlier_run(output) == first.run_dir  # the report names the run, for the rerun

    seen.clear()
    again = aw.AdaptReport(output, str(tiny_whisper_dir), settings, run_dir=aw.earlier_run(output))
    model = aw.train_student(again, said.append, [seen.append], lambda: False)
    assert again.run_dir == first.run_dir and again.training["status"] == "finished"
    assert f"student: continuing {first.run_dir} from its last checkpoint" in said
    steps = [e.step for e in seen if isinstance(e, ev.StepEvent)]
    assert steps[0] == stopped_at + 1, steps  # not from step 1 again
    assert model == first.run_dir / "merged" and (model / "config.json").exists()
    assert [p.name for p in (output / "runs").iterdir()] == [first.run_dir.name]

    # stopped after training (while measuring): the finished student is used as it is
    seen.clear()
    third = aw.AdaptReport(output, str(tiny_whisper_dir), settings, run_dir=aw.earlier_run(output))
    assert aw.train_student(third, said.append, [seen.append], lambda: False) == model
    assert not seen and third.training["status"] == "finished"


def test_a_student_of_other_settings_is_trained_anew(tmp_path, tiny_whisper_dir):
    from whisper_tui.training.job import TrainingJob

    output = tmp_path / "adapted"
    for side in (aw.ADAPT, aw.HELD_OUT):
        write_tone_dataset(output / "student_data" / side, n=6)
    settings = AdaptSettings(windows=(10, 20, 30), overrides=QUICK, evaluate_base=False)
    profile = aw.student_profile(str(tiny_whisper_dir), settings.windows, output / "student_data" / aw.ADAPT,
                                 output / "student_data" / aw.HELD_OUT, output / "runs", settings)
    job = TrainingJob(profile, output / "runs" / "earlier", evaluate_base=False)
    job.add_listener(lambda e: job.cancel() if isinstance(e, ev.StepEvent) and e.step == 1 else None)
    assert isinstance(job.run(), ev.RunCancelled)
    assert aw.continuable(job.run_dir, profile)[0] == "resume"
    other = aw.student_profile(str(tiny_whisper_dir), (10, 30), output / "student_data" / aw.ADAPT,
                               output / "student_data" / aw.HELD_OUT, output / "runs", settings)
    how, why = aw.continuable(job.run_dir, other)
    assert how == "new" and "settings changed" in why
