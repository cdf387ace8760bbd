"""Replay speech (data.replay_share): everyday sentences mixed into training against forgetting (issue 22)."""

from __future__ import annotations

import pytest

from helpers_audio import write_tone_dataset
from helpers_jobs import SHORT_RUN, tiny_job_profile
from whisper_tui.data import replay_speech
from whisper_tui.data.replay_sentences import REPLAY_SENTENCES
from whisper_tui.inference.metrics import normalize
from whisper_tui.training import events as ev
from whisper_tui.training.job import TrainingJob


def test_replay_shares_no_sentence_with_the_keep_set_the_sample_set_or_the_real_speech():
    """Replay is training data: a sentence the keep set or a benchmark scores must not be in it."""
    from whisper_tui.data import keep_set
    from whisper_tui.data.sample_data import EVERYDAY_SENTENCES, plan_sample_dataset

    replay = {normalize(s) for s in REPLAY_SENTENCES}
    assert len(replay) == len(REPLAY_SENTENCES) == 64
    scored = {normalize(s) for s in EVERYDAY_SENTENCES}
    scored |= {normalize(c.transcription) for c in keep_set.real_speech_clips()}
    scored |= {normalize(row["text"]) for row in plan_sample_dataset(200)}
    assert not replay & scored


def test_replay_never_speaks_in_a_voice_the_sample_set_holds_out():
    from whisper_tui.data.sample_data import TEST_VOICES

    voices = {line.voice for line in replay_speech.replay_lines()}
    assert voices and not voices & set(TEST_VOICES)
    assert len(voices) >= 4  # many voices, as the domain data has
    assert replay_speech.replay_lines() == replay_speech.replay_lines()  # same list, same audio


@pytest.mark.parametrize(("share", "n_train", "count"), [(0, 80, 0), (0.25, 0, 0), (0.25, 84, 21), (0.01, 10, 1),
                                                          (0.5, 1000, 64), (1.0, 30, 30)])
def test_replay_count(share, n_train, count):
    assert replay_speech.replay_count(share, n_train) == count


def test_replay_clips_are_spoken_once_and_chosen_by_the_seed():
    first = replay_speech.replay_clips(10, 42)
    folder = replay_speech.replay_dir()
    stamp = (folder / "replay_000.wav").stat().st_mtime_ns
    assert len(first) == 10 and all(c.path.parent == folder and c.path.is_file() for c in first)
    assert {c.transcription for c in first} <= set(REPLAY_SENTENCES)
    assert replay_speech.replay_clips(10, 42) == first
    assert replay_speech.replay_clips(10, 7) != first
    assert (folder / "replay_000.wav").stat().st_mtime_ns == stamp  # reused, not spoken again
    assert replay_speech.replay_clips(0, 42) == []


def _run(profile, out):
    seen = []
    result = TrainingJob(profile, out, listeners=[seen.append]).run()
    return result, [e.message for e in seen if isinstance(e, ev.LogEvent)], seen


def test_a_run_trains_on_replay_and_never_tests_on_it(tmp_path, tiny_whisper_dir):
    data = write_tone_dataset(tmp_path / "data", n=8)
    profile = tiny_job_profile(tiny_whisper_dir, data, **{**SHORT_RUN, "training.num_train_epochs": 1,
                                                          "data.replay_share": 0.5})
    result, logs, seen = _run(profile, tmp_path / "run")
    assert isinstance(result, ev.RunFinished), result
    started = next(e for e in seen if isinstance(e, ev.RunStarted))
    # 8 clips, a quarter tested; 3 replay clips go to the training side only, after the split
    assert (started.train_clips, started.test_clips) == (6 + 3, 2)
    line = next(m for m in logs if m.startswith("replay: "))
    assert "3 everyday sentences" in line and "6 training clips" in line and "data.replay_share 0.5" in line
    assert (tmp_path / "run" / "final").is_dir()
    said = "forgetting control: replay 3 everyday clips (data.replay_share 0.5)"
    assert result.metrics["forgetting_control"].startswith(said) and any(m.startswith(said) for m in logs)


def test_without_espeak_the_run_goes_on_without_replay(tmp_path, tiny_whisper_dir, monkeypatch):
    from whisper_tui.errors import AudioError

    def no_espeak(count, seed):
        raise AudioError("espeak-ng: cannot load the library", "install espeak-ng", where="espeak-ng")

    monkeypatch.setattr(replay_speech, "replay_clips", no_espeak)
    data = write_tone_dataset(tmp_path / "data", n=8)
    profile = tiny_job_profile(tiny_whisper_dir, data, **{**SHORT_RUN, "training.num_train_epochs": 1,
                                                          "data.replay_share": 0.5})
    result, logs, seen = _run(profile, tmp_path / "run")
    assert isinstance(result, ev.RunFinished), result
    assert next(e for e in seen if isinstance(e, ev.RunStarted)).train_clips == 6
    assert any("replay: the everyday sentences cannot be spoken" in m and "data.replay_share" in m for m in logs)


def test_the_profile_key_and_its_flag(tmp_path):
    from whisper_tui.config.profile import apply_overrides, load_profile
    from whisper_tui.errors import ProfileError

    assert load_profile("cpu-quick").data.replay_share >= 0
    assert apply_overrides(load_profile("cpu-quick"), {"data.replay_share": "0.3"}).data.replay_share == 0.3
    with pytest.raises(ProfileError) as info:
        apply_overrides(load_profile("cpu-quick"), {"data.replay_share": "1.5"})
    assert "data.replay_share" in str(info.value)


def test_forgetting_line_names_each_control_by_its_key_and_the_figures():
    from whisper_tui.training.forgetting import forgetting_control_line

    line = forgetting_control_line(replay_clips=21, replay_share=0.25, strength=0.75, chosen=False, wer=0.19,
                                   keep_wer=0.045, base_keep_wer=0.048)
    assert line == ("forgetting control: replay 21 everyday clips (data.replay_share 0.25), merge strength 0.75 "
                    "(finetuning.merge_strength): validation WER 0.190, general speech 4.5% vs 4.8% before training")
    chosen = forgetting_control_line(replay_clips=0, replay_share=0, strength=0.5, chosen=True, wer=None,
                                     keep_wer=None, base_keep_wer=None)
    assert chosen == "forgetting control: merge strength 0.5 (chosen on validation + general speech " \
                     "(finetuning.choose_merge_strength))"
    assert forgetting_control_line(replay_clips=0, replay_share=0, strength=1.0, chosen=False, wer=0.3,
                                   keep_wer=None, base_keep_wer=None).startswith("forgetting control: none (")


def test_the_dashboard_summary_shows_the_forgetting_line(tmp_path):
    from screens.presenters.dashboard_state import RunState
    from screens.presenters.dashboard_summary import summary_text

    state = RunState()
    line = "forgetting control: replay 3 everyday clips (data.replay_share 0.5): validation WER 0.500"
    state.finished = ev.RunFinished(tmp_path, tmp_path / "final", None, None, 12.0, {"forgetting_control": line})
    assert line in summary_text(state).plain
