"""The keep set (general speech, keep_set.py) and the best-checkpoint rule that guards it (best_rule.py)."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from conftest import JFK_TEXT
from helpers_audio import write_tone_dataset
from helpers_jobs import SHORT_RUN, tiny_job_profile
from whisper_tui.data import keep_set
from whisper_tui.errors import DatasetError
from whisper_tui.data.sample_data import EVERYDAY_SENTENCES
from whisper_tui.training import events as ev
from whisper_tui.training.best_rule import BestTracker, keep_limit, keep_summary, within_tolerance
from whisper_tui.training.job import TrainingJob


# -- keep_clips -----------------------------------------------------------------------------------


def test_bundled_jfk_is_mono_16k_flac_with_its_text():
    from whisper_tui.data.audio import audio_info

    clip = keep_set.jfk_clip()
    info = audio_info(clip.path)
    assert clip.path.name == "jfk.flac" and clip.path.parent.name == "data"
    assert (info.sample_rate, info.channels) == (16000, 1) and info.path.suffix == ".flac"
    assert 10.9 < info.duration_s < 11.1
    assert clip.transcription == JFK_TEXT == keep_set.JFK_TEXT


def test_default_keep_set_is_recorded_speech_then_the_everyday_sentences(session_keep_set, monkeypatch):
    monkeypatch.setenv("WHISPER_TUI_CACHE_DIR", str(session_keep_set.parent))
    clips = keep_set.keep_clips()
    real = keep_set.real_speech_clips()
    assert [c.transcription for c in clips] == [*(c.transcription for c in real), *EVERYDAY_SENTENCES]
    assert all(c.path.is_file() for c in clips)
    assert clips[len(real)].path.parent == session_keep_set and session_keep_set.name == "keep-set-v1"
    assert keep_set.keep_clips(include_default=False) == []
    assert [c.transcription for c in keep_set.keep_clips(synthetic=False)] == [c.transcription for c in real]


def test_the_shipped_real_speech_is_recorded_licensed_and_fits_a_short_window():
    """40 Asterisk prompts (one speaker) and jfk.flac (another): minutes, not hours, and attributed."""
    from whisper_tui.data.audio import audio_info

    clips = keep_set.real_speech_clips()
    assert clips[-1] == keep_set.jfk_clip() and len(clips) == 41
    prompts = clips[:-1]
    infos = [audio_info(c.path) for c in prompts]
    assert all((i.sample_rate, i.channels) == (16000, 1) for i in infos)
    assert all(2.0 <= i.duration_s <= 10.0 for i in infos)  # a 10 s window holds every prompt
    assert 60 < sum(i.duration_s for i in infos) < 300
    assert {c.column("speaker") for c in prompts} == {"allison"}
    assert all(len(c.transcription.split()) >= 5 for c in prompts)
    notice = (keep_set.real_speech_dir() / "NOTICE.md").read_text(encoding="utf-8")
    assert "Allison Smith" in notice and "CC-BY-SA-3.0" in notice
    assert all(c.file_name in notice for c in prompts)


def test_synthetic_references_name_the_espeak_sentences_only():
    from whisper_tui.inference.metrics import normalize

    refs = keep_set.synthetic_references()
    assert refs == {normalize(t) for t in EVERYDAY_SENTENCES}
    assert not refs & {normalize(c.transcription) for c in keep_set.real_speech_clips()}


def test_compute_metrics_scores_the_espeak_keep_sentences_as_a_second_line():
    """The keep figure is recorded speech: eSpeak clips come out as wer_synthetic, the rest as wer_real."""
    import numpy as np

    from whisper_tui.training.trainer_setup import make_compute_metrics

    texts = ["ask not what your country can do", EVERYDAY_SENTENCES[0], EVERYDAY_SENTENCES[1]]
    hyps = ["ask not what your county can do", EVERYDAY_SENTENCES[0], EVERYDAY_SENTENCES[1]]

    class Tok:
        pad_token_id = 0

        def batch_decode(self, rows, skip_special_tokens=True):
            return [self.table[int(r[0])] for r in rows]

    tok = Tok()
    tok.table = {1: texts[0], 2: texts[1], 3: texts[2], 4: hyps[0]}
    pred = SimpleNamespace(predictions=np.array([[4], [2], [3]]), label_ids=np.array([[1], [2], [3]]))
    metrics = make_compute_metrics(tok, keep_set.synthetic_references())(pred)
    assert metrics["wer_real"] == pytest.approx(1 / 7) and metrics["wer_synthetic"] == 0.0
    assert metrics["wer"] < metrics["wer_real"]  # the overall figure would hide the forgetting
    plain = make_compute_metrics(tok)(pred)
    assert "wer_real" not in plain and "wer_synthetic" not in plain


def test_everyday_sentences_are_cached_and_rebuilt_when_damaged(session_keep_set, tmp_path, monkeypatch):
    import shutil

    cache = tmp_path / "cache"
    shutil.copytree(session_keep_set, cache / session_keep_set.name)
    monkeypatch.setenv("WHISPER_TUI_CACHE_DIR", str(cache))
    folder = keep_set.everyday_dir()
    stamp = (folder / "everyday_03.wav").stat().st_mtime_ns
    assert len(keep_set.everyday_clips()) == len(EVERYDAY_SENTENCES)
    assert (folder / "everyday_03.wav").stat().st_mtime_ns == stamp  # reused, not spoken again

    (folder / "everyday_03.wav").write_bytes(b"")  # a damaged file: the folder is rebuilt
    clips = keep_set.everyday_clips()
    assert [c.transcription for c in clips] == EVERYDAY_SENTENCES
    assert (folder / "everyday_03.wav").stat().st_size > 1000

    (folder / "metadata.csv").unlink()
    assert len(keep_set.everyday_clips()) == len(EVERYDAY_SENTENCES)
    assert not [p for p in cache.iterdir() if p.name.endswith((".tmp", ".old"))]


def test_keep_dir_adds_its_usable_clips(tmp_path):
    from helpers_audio import write_metadata, write_wav

    folder = tmp_path / "general"
    folder.mkdir()
    write_wav(folder / "a.wav", 1.0)
    write_wav(folder / "b.wav", 1.0)
    write_metadata(folder, [("a.wav", "hello there"), ("b.wav", "good morning"), ("missing.wav", "gone")])
    logged = []
    clips = keep_set.keep_clips(str(folder), include_default=False, log=logged.append)
    assert [c.file_name for c in clips] == ["a.wav", "b.wav"]
    assert logged and "1 of 3 clips" in logged[0]


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_a_bad_keep_dir_names_the_key(tmp_path, make):
    folder = tmp_path / "general"
    if make == "empty":
        folder.mkdir()
        (folder / "metadata.csv").write_text("file_name,transcription\nnope.wav,gone\n")
    with pytest.raises(DatasetError) as info:
        keep_set.keep_clips(str(folder), include_default=False)
    assert info.value.where == "data.keep_dir" and "data.keep_dir" in info.value.message


def test_profile_keys_and_defaults():
    from whisper_tui.errors import ProfileError
    from whisper_tui.config.profile import apply_overrides, load_profile

    for name in ("cpu-quick", "cpu-gentle", "full", "lora-8gb", "qlora-4gb"):
        profile = load_profile(name)
        assert (profile.data.keep_set, profile.data.keep_dir, profile.training.keep_tolerance) == (True, "", 2.0)
        assert "keep_tolerance = 2.0" in profile.to_toml()
    assert apply_overrides(load_profile("cpu-quick"), {"training.keep_tolerance": 0}).training.keep_tolerance == 0
    with pytest.raises(ProfileError):
        apply_overrides(load_profile("cpu-quick"), {"training.keep_tolerance": -1})


# -- the best-checkpoint rule ---------------------------------------------------------------------


def test_tolerance_is_in_points_of_wer():
    assert keep_limit(0.158, 2.0) == pytest.approx(0.178)
    assert within_tolerance(0.178, 0.158, 2.0) and not within_tolerance(0.1781, 0.158, 2.0)
    assert within_tolerance(0.9, None, 2.0) and within_tolerance(None, 0.1, 2.0)  # nothing to compare: rule off
    assert within_tolerance(0.158, 0.158, 0.0) and not within_tolerance(0.159, 0.158, 0.0)


def test_within_tolerance_wins_over_a_lower_domain_wer():
    tracker = BestTracker(2.0, base_keep_wer=0.15)
    assert tracker.offer(10, 0.40, 0.16)  # first, within
    assert not tracker.offer(20, 0.20, 0.30)  # better on the domain, but general speech got much worse
    assert (tracker.best_step, tracker.best_wer, tracker.best_keep_wer, tracker.best_within) == (10, 0.40, 0.16, True)
    assert tracker.offer(30, 0.30, 0.17)  # within and better: the new best
    assert not tracker.offer(40, 0.31, 0.15)  # within but worse on the domain
    assert not tracker.offer(50, 0.30, 0.15)  # a tie keeps the earlier one
    assert tracker.best_step == 30


def test_out_of_tolerance_only_while_nothing_is_within():
    tracker = BestTracker(2.0, base_keep_wer=0.15)
    assert tracker.offer(10, 0.40, 0.30)  # none within yet: best domain WER anyway, marked
    assert not tracker.best_within
    assert tracker.offer(20, 0.35, 0.25)  # still over, better domain WER
    assert not tracker.offer(30, 0.36, 0.20)  # over and worse
    assert tracker.offer(40, 0.50, 0.16)  # the first within the tolerance replaces it, whatever its WER
    assert tracker.best_within and tracker.best_step == 40
    assert not tracker.offer(50, 0.10, 0.40)


def test_without_a_keep_set_the_rule_is_lowest_wer():
    tracker = BestTracker(2.0)
    assert tracker.offer(1, 0.5) and tracker.offer(2, 0.4) and not tracker.offer(3, 0.45)
    assert not tracker.offer(4, math.nan)
    assert tracker.best_step == 2 and tracker.best_keep_wer is None and tracker.best_within


def test_summary_wording():
    assert keep_summary(0.158, 0.149, 2.0) == ("general speech: 15.8% → 14.9% (kept)", False)
    assert keep_summary(0.158, 0.175, 2.0) == ("general speech: 15.8% → 17.5% (kept)", False)
    assert keep_summary(0.158, 0.21, 2.0) == (
        "general speech: 15.8% → 21.0% (worse by 5.2 points, over the 2-point tolerance)", True)
    assert keep_summary(None, 0.2) is None and keep_summary(0.2, None) is None


def _restored(run_dir, tolerance: float):
    """The figures a resumed run starts from (TrainingJob._restore_progress)."""
    from whisper_tui.training.runs import read_metrics_report
    from whisper_tui.training.scores import RunScores

    scores = RunScores(tolerance)
    scores.restore(read_metrics_report(run_dir).records)
    return scores


def _profile(tmp_path, **settings):
    from whisper_tui.config.profile import apply_overrides, load_profile

    return apply_overrides(load_profile("cpu-quick"), {"data.train_dir": str(tmp_path), **settings})


def _write_metrics(run_dir, records):
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"type": "ev')


def test_resume_restores_the_best_under_the_rule(tmp_path):
    run_dir = tmp_path / "run"
    _write_metrics(run_dir, [
        {"type": "eval", "step": 0, "wer": 0.8, "cer": 0.4, "base": True, "keep_wer": 0.15, "keep_cer": 0.05},
        {"type": "step", "step": 1, "loss": 2.0},
        {"type": "eval", "step": 10, "wer": 0.5, "base": False, "keep_wer": 0.16},
        {"type": "eval", "step": 20, "wer": 0.2, "base": False, "keep_wer": 0.40},  # over the tolerance
        {"type": "eval", "step": 30, "wer": 0.45, "base": False, "keep_wer": 0.17},
    ])
    scores = _restored(run_dir, 2.0)
    assert (scores.base_wer, scores.base_keep_wer) == (0.8, 0.15)
    assert (scores.best_step, scores.best_wer, scores.best_keep_wer) == (30, 0.45, 0.17)
    assert scores.evaluated_steps == {0, 10, 20, 30}  # a resumed run does not evaluate these again

    loose = _restored(run_dir, 30.0)
    assert (loose.best_step, loose.best_wer) == (20, 0.2)


def test_resume_of_a_run_without_keep_figures_reads_the_keep_base_record(tmp_path):
    run_dir = tmp_path / "run"
    _write_metrics(run_dir, [
        {"type": "eval", "step": 0, "wer": 0.8, "cer": 0.4, "base": True},
        {"type": "eval", "step": 10, "wer": 0.5, "base": False},
        {"type": "keep_base", "step": 0, "keep_wer": 0.2, "keep_cer": 0.1},
    ])
    scores = _restored(run_dir, 2.0)
    assert (scores.best_step, scores.base_keep_wer, scores.tracker.base_keep_wer) == (10, 0.2, 0.2)


# -- a real (tiny) run ----------------------------------------------------------------------------


@pytest.fixture
def tiny_assets(tmp_path, tiny_whisper_dir):
    return tiny_whisper_dir, write_tone_dataset(tmp_path / "data", n=8)


def _run(profile, out):
    seen = []
    job = TrainingJob(profile, out, listeners=[seen.append])
    return job, job.run(), seen


@pytest.mark.usefixtures("own_cache")
def test_training_writes_keep_wer_everywhere(tiny_assets, tmp_path):
    profile = tiny_job_profile(*tiny_assets, **{**SHORT_RUN, "training.num_train_epochs": 1, "data.keep_set": True})
    job, result, seen = _run(profile, tmp_path / "run")
    assert isinstance(result, ev.RunFinished), result
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["type"] == "eval"]
    assert len(evals) == 2 and all(0 <= r["keep_wer"] and "keep_cer" in r for r in evals)
    assert evals[0]["base"] and "keep_within" in evals[1]
    status = json.loads((tmp_path / "run" / "run.json").read_text())
    assert status["base_keep_wer"] == evals[0]["keep_wer"]
    assert status["best_keep_wer"] == evals[1]["keep_wer"] or not evals[1]["keep_within"]
    assert status["final_keep_wer"] == evals[1]["keep_wer"]
    events = [e for e in seen if isinstance(e, ev.EvalEvent)]
    assert [e.keep_wer for e in events] == [r["keep_wer"] for r in evals]
    assert result.metrics["base_keep_wer"] == status["base_keep_wer"]
    n_keep = len(keep_set.real_speech_clips()) + len(EVERYDAY_SENTENCES)
    assert result.metrics["keep_clips"] == n_keep
    assert result.metrics["keep_summary"].startswith("general speech: ")
    # the keep figure is the recorded speech; eSpeak is the second line, in metrics.jsonl and the events
    assert all(0 <= r["keep_synthetic_wer"] <= 5 for r in evals)
    assert [e.keep_synthetic_wer for e in events] == [r["keep_synthetic_wer"] for r in evals]
    logs = [e.message for e in seen if isinstance(e, ev.LogEvent)]
    assert any(m.startswith(f"keep set: {n_keep} clips") for m in logs)
    assert any(m.startswith("general speech: ") for m in logs)

    from whisper_tui.training.runs import read_run

    summary = read_run(tmp_path / "run")
    assert (summary.base_keep_wer, summary.final_keep_wer) == (status["base_keep_wer"], status["final_keep_wer"])


@pytest.mark.usefixtures("own_cache")
def test_keep_set_off_leaves_no_keep_figures(tiny_assets, tmp_path):
    profile = tiny_job_profile(*tiny_assets, **{**SHORT_RUN, "training.num_train_epochs": 1,
                                                "data.keep_set": False, "finetuning.encoder_cache": False})
    job, result, seen = _run(profile, tmp_path / "run")
    assert isinstance(result, ev.RunFinished), result
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert not any("keep_wer" in r for r in records)
    assert result.metrics["keep_summary"] is None and result.metrics["base_keep_wer"] is None


def test_clips_longer_than_the_window_are_skipped_with_one_line(tmp_path):
    from whisper_tui.training.data_prep import DataPrep

    lines = []
    prep = DataPrep(_profile(tmp_path), lambda message, level="info": lines.append(message))
    processor = SimpleNamespace(feature_extractor=SimpleNamespace(chunk_length=10))
    short = SimpleNamespace(path=keep_set.jfk_clip().path.parent / "missing.wav", file_name="missing.wav")
    fit = prep.keep_clips_that_fit([keep_set.jfk_clip(), short], processor, keep_tolerance=2.0)
    assert fit == []
    assert sum("skipped 1 clip(s) longer than the 10 s encoder window" in m and "jfk.flac" in m for m in lines) == 1
