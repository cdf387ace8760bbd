"""Merge strength (WiSE-FT, merge_strength.py): the rule that picks it, the exact scaling, and a run that applies it."""

from __future__ import annotations

import json

import pytest

from helpers_audio import write_tone_dataset
from helpers_jobs import SHORT_RUN, tiny_job_profile
from whisper_tui.training import events as ev
from whisper_tui.training.best_rule import BestTracker
from whisper_tui.training.job import TrainingJob
from whisper_tui.training.merge_strength import LoraDelta, StrengthScore, choose
from whisper_tui.training.scores import RunScores


# -- the rule ---------------------------------------------------------------------------------------
def test_a_weaker_merge_wins_when_it_is_as_good_on_validation_and_forgets_less():
    scores = [StrengthScore(1.0, 0.120, 0.060), StrengthScore(0.75, 0.125, 0.045), StrengthScore(0.5, 0.200, 0.040)]
    choice = choose(scores, base_keep_wer=0.040, tolerance_points=2.0)
    assert choice.strength == 0.75  # 0.5 keeps more, but is 8 points worse on the domain
    assert "merge strength 0.75" in choice.why and "base keep 4.0%" in choice.why


def test_the_full_fine_tune_stays_when_weaker_merges_cost_domain_accuracy():
    scores = [StrengthScore(1.0, 0.10, 0.045), StrengthScore(0.75, 0.15, 0.044), StrengthScore(0.5, 0.3, 0.041)]
    assert choose(scores, 0.040, 2.0).strength == 1.0


def test_forgetting_over_the_tolerance_rules_a_strength_out_whatever_its_domain_wer():
    scores = [StrengthScore(1.0, 0.05, 0.090), StrengthScore(0.75, 0.10, 0.055), StrengthScore(0.5, 0.20, 0.045)]
    assert choose(scores, 0.040, 2.0).strength == 0.75  # 1.0 is best on the domain but 5 points over
    # none within: the one that forgets least
    assert choose(scores, 0.010, 1.0).strength == 0.5


def test_ties_go_to_the_higher_strength_and_no_keep_set_means_lowest_validation_wer():
    same = [StrengthScore(0.5, 0.1, 0.05), StrengthScore(1.0, 0.1, 0.05), StrengthScore(0.75, 0.1, 0.05)]
    assert choose(same, 0.05, 2.0).strength == 1.0
    no_keep = [StrengthScore(1.0, 0.2), StrengthScore(0.75, 0.15), StrengthScore(0.5, 0.15)]
    assert choose(no_keep, None, 2.0).strength == 0.75
    with pytest.raises(ValueError):
        choose([], 0.1, 2.0)


# -- the scaling ------------------------------------------------------------------------------------
def test_lora_delta_scales_the_change_exactly_and_strength_zero_is_the_base_model():
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    base = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    x = torch.randn(4, 6)
    expected_base = base(x).detach().clone()
    model = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["0", "2"], lora_dropout=0.0))
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p)  # a trained adapter (B starts at zero)
    delta = LoraDelta(model)
    assert delta and len(delta._weights) == 2
    trained = model(x).detach().clone()
    delta.set(0.0)
    assert torch.allclose(model(x), expected_base, atol=1e-6)
    delta.set(0.5)
    layer = model.base_model.model[2]
    assert torch.allclose(layer.lora_B["default"].weight, 0.5 * delta._weights[1][1])
    delta.set(1.0)
    assert torch.allclose(model(x), trained)
    assert not LoraDelta(torch.nn.Linear(2, 2))  # a full fine-tune has no LoRA change to scale


def test_a_per_part_strength_scales_the_encoders_and_the_decoders_adapters_apart(tiny_whisper_dir):
    """bench_merge_strength's eX/dY strengths: the encoder's lora_B at X, the decoder's at Y."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import WhisperForConditionalGeneration

    from benchmarks.bench_merge_strength import parse_strength, split_strength

    model = get_peft_model(WhisperForConditionalGeneration.from_pretrained(tiny_whisper_dir),
                           LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "fc1"], lora_dropout=0.0))
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p)
    delta = LoraDelta(model)
    delta.set(1.0, decoder=0.25)
    parts = {".encoder.": 1.0, ".decoder.": 0.25}
    checked = 0
    for param, trained, _in_decoder in delta._weights:
        name = next(n for n, p in model.named_parameters() if p is param)
        factor = next(f for part, f in parts.items() if part in name)
        assert torch.allclose(param, factor * trained), name
        checked += 1
    assert checked >= 4 and (delta.strength, delta.decoder_strength) == (1.0, 0.25)
    assert parse_strength("0.75") == 0.75 and split_strength(parse_strength("e1/d0.5")) == (1.0, 0.5)
    with pytest.raises(ValueError):
        parse_strength("e1/x0.5")


# -- a run ------------------------------------------------------------------------------------------
@pytest.fixture
def tiny_assets(tmp_path, tiny_whisper_dir):
    return tiny_whisper_dir, write_tone_dataset(tmp_path / "data", n=8)


def _lora_b(run_dir, folder="final"):
    from safetensors.torch import load_file

    tensors = load_file(str(run_dir / folder / "adapter_model.safetensors"))
    return {k: v for k, v in tensors.items() if "lora_B" in k}


def test_a_fixed_merge_strength_is_what_every_evaluation_measures_and_what_is_saved(tiny_assets, tmp_path):
    """Two runs, at strength 1 and 0.5, train the same weights (the scaling during evaluations is undone
    exactly). Whenever the 0.5 run evaluates, its adapters are half the trained ones: the best WER it
    reports and the best/ it picks are of the model it saves, not of the full fine-tune (a run once
    reported the full model's best WER beside a best/ saved at 0.75). final/ and best/ are at half."""
    import torch

    runs = {}
    for strength in (1.0, 0.5):
        profile = tiny_job_profile(*tiny_assets, **{**SHORT_RUN, "finetuning.merge_strength": strength})
        out = tmp_path / f"run-{strength}"
        job = TrainingJob(profile, out, evaluate_base=False)
        seen = {}

        def at_eval(event, job=job, seen=seen):
            if isinstance(event, ev.EvalEvent):
                seen[event.step] = {k: v.detach().clone() for k, v in job._model.named_parameters() if "lora_B" in k}

        job.add_listener(at_eval)
        result = job.run()
        assert isinstance(result, ev.RunFinished), result
        runs[strength] = ({f: _lora_b(out, f) for f in ("final", "best")}, result, seen)
    full_run, half_run = runs[1.0], runs[0.5]
    assert half_run[2].keys() == full_run[2].keys() and len(half_run[2]) >= 2
    for step, full in full_run[2].items():
        assert any(v.abs().max() > 0 for v in full.values())  # trained, not the zero init
        for key, value in full.items():
            assert torch.allclose(half_run[2][step][key], 0.5 * value, atol=1e-6), (step, key)
    full, half = full_run[0]["final"], half_run[0]["final"]
    assert full.keys() == half.keys() and full
    for key in full:
        assert torch.allclose(half[key], 0.5 * full[key], atol=1e-6), key
    best_step = half_run[1].metrics["best_step"]
    measured = {k.replace(".default", ""): v for k, v in half_run[2][best_step].items()}
    saved = half_run[0]["best"]
    assert measured.keys() == saved.keys(), (sorted(measured), sorted(saved))
    for key in saved:
        assert torch.allclose(measured[key], saved[key], atol=1e-6), key
    assert half_run[1].metrics["merge_strength"] == 0.5 and "merge_strength" not in full_run[1].metrics


@pytest.mark.usefixtures("own_cache")
def test_choosing_the_merge_strength_measures_each_and_records_why(tiny_assets, tmp_path):
    profile = tiny_job_profile(*tiny_assets, **{**SHORT_RUN, "training.num_train_epochs": 1, "data.keep_set": True,
                                                "finetuning.choose_merge_strength": True})
    seen = []
    result = TrainingJob(profile, tmp_path / "run", listeners=[seen.append]).run()
    assert isinstance(result, ev.RunFinished), result
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    chosen = [r for r in records if r["type"] == "merge_strength"]
    assert len(chosen) == 1 and [s["strength"] for s in chosen[0]["scores"]] == [1.0, 0.75, 0.5]
    assert all(s["keep_wer"] is not None for s in chosen[0]["scores"])
    # the probes are not the run's evaluations: base + one epoch only
    assert len([r for r in records if r["type"] == "eval"]) == 2
    status = json.loads((tmp_path / "run" / "run.json").read_text())
    assert status["merge_strength"] == chosen[0]["strength"] == result.metrics["merge_strength"]
    assert result.metrics["merge_strength_why"].startswith(f"merge strength {chosen[0]['strength']:g}")
    logs = [e.message for e in seen if isinstance(e, ev.LogEvent)]
    assert any(m.startswith("merge strength 0.75: validation WER") for m in logs)


# -- the validation signal ----------------------------------------------------------------------------
def test_equal_validation_wers_go_to_the_lower_loss():
    tracker = BestTracker(2.0)
    assert tracker.offer(10, 0.0, loss=0.9)
    assert not tracker.offer(20, 0.0, loss=1.1)
    assert tracker.offer(30, 0.0, loss=0.4) and tracker.best_step == 30
    assert not tracker.offer(40, 0.0)  # no loss to compare: the earlier one stays
    assert tracker.offer(50, -0.0 + 0.0, loss=0.3)


def test_a_validation_wer_of_about_zero_is_said_once():
    scores = RunScores(2.0)
    assert scores.saturation_note(0.12, 1.0) is None
    note = scores.saturation_note(0.0, 2.0)
    assert note and note.startswith("validation WER is 0.0% at epoch 2.0") and "data.test_dir" in note
    assert scores.saturation_note(0.0, 3.0) is None
