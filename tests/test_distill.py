"""The KL term to the base model (training.distill_weight, training/distill.py; issue 22's candidate).

The base model is the LoRA model with its adapters switched off (no copy) or, for a full fine-tune, a frozen
copy. These tests fail when the term is ignored, when the "base" is in fact the fine-tune (the KL would then
be 0 and pull nothing), or when the base's encoder top runs with the adapters on.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import build_tiny_whisper
from helpers_audio import write_tone_dataset
from helpers_jobs import SHORT_RUN, tiny_job_profile


@pytest.fixture(scope="module")
def two_layer_whisper(tmp_path_factory):
    """Two encoder layers: the bottom one cached, the top one trained with adapters (cpu-quick's layout)."""
    return build_tiny_whisper(tmp_path_factory.mktemp("tiny-whisper-2"), encoder_layers=2)


def test_kl_is_zero_for_equal_logits_and_matches_its_definition():
    import torch

    from whisper_tui.training.distill import kl_to_base

    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(5, 11, generator=g), torch.randn(5, 11, generator=g)
    assert kl_to_base(teacher, teacher, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    t = 2.0
    p = torch.softmax(teacher / t, -1)
    expected = (p * (torch.log(p) - torch.log_softmax(student / t, -1))).sum() * t * t
    assert kl_to_base(student, teacher, t).item() == pytest.approx(expected.item(), rel=1e-5)
    assert kl_to_base(student, teacher, 1.0).item() > 0


def _batch(n=2):
    from whisper_tui.training.collator import WhisperCollator

    rows = [{"input_features": np.random.default_rng(i).standard_normal((80, 3000)).astype(np.float32),
             "labels": [50257, 50362, 11 + i, 12 + i, 13, 50256]} for i in range(n)]
    return WhisperCollator(50257, pad_token_id=50256)(rows)


def _bare_trainer(teacher, weight, temperature=2.0):
    """A WhisperTrainer with only what its loss reads (no Trainer setup: no data, no optimizer)."""
    from whisper_tui.training.trainer import WhisperTrainer

    trainer = object.__new__(WhisperTrainer)
    trainer.cached_top_from, trainer.fast_cross, trainer.args = None, None, None
    trainer.set_distillation(teacher, weight, temperature)
    return trainer


@pytest.mark.parametrize("strategy", ["lora", "full"])
def test_the_loss_adds_the_kl_to_the_untouched_base_model(tiny_whisper_dir, strategy):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import WhisperForConditionalGeneration

    from whisper_tui.training.distill import BaseTeacher, kl_to_base
    from whisper_tui.training.trainer import label_positions_logits, label_positions_loss

    base = WhisperForConditionalGeneration.from_pretrained(tiny_whisper_dir).eval()
    model = WhisperForConditionalGeneration.from_pretrained(tiny_whisper_dir).eval()
    if strategy == "lora":
        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "fc1"]))
    teacher = BaseTeacher(model)
    assert teacher.adapters == (strategy == "lora")
    batch = _batch()
    with torch.no_grad():
        ce = label_positions_loss(model, batch)
        # untouched (LoRA's B starts at 0; the copy is the model): the term is 0, the loss is the cross-entropy
        assert _bare_trainer(teacher, 1.0)._loss(model, batch).item() == pytest.approx(ce.item(), rel=1e-5)
        for name, p in model.named_parameters():  # the fine-tune moves: adapters (or every weight)
            if strategy == "full" or "lora_B" in name:
                p.add_(0.05 * torch.randn_like(p))
        moved_ce = label_positions_loss(model, batch)
        logits, targets = label_positions_logits(model, batch)
        base_logits, _ = label_positions_logits(base, batch)
        kl = kl_to_base(logits, base_logits, 2.0) / targets.numel()
        assert kl.item() > 1e-4
        assert _bare_trainer(teacher, 0.5)._loss(model, batch).item() == pytest.approx(
            (moved_ce + 0.5 * kl).item(), rel=1e-4)
        assert _bare_trainer(teacher, 0.0)._loss(model, batch).item() == pytest.approx(moved_ce.item(), rel=1e-5)
    if strategy == "lora":  # the adapters are back on after the teacher ran
        with torch.no_grad():
            assert label_positions_loss(model, batch).item() == pytest.approx(moved_ce.item(), rel=1e-6)


def _drift(job, data) -> float:
    """Mean KL (per label token) of the trained model to the base (its adapters off) on the run's clips."""
    import soundfile as sf
    import torch
    from transformers import WhisperProcessor

    from whisper_tui.training.collator import WhisperCollator
    from whisper_tui.training.distill import BaseTeacher, kl_to_base
    from whisper_tui.training.trainer import label_positions_logits

    model = job.trainer.model.eval()
    processor = WhisperProcessor.from_pretrained(job.profile.model.name)
    rows = []
    for line in (data / "metadata.csv").read_text().splitlines()[1:]:
        name, text = line.split(",", 1)
        audio, rate = sf.read(data / name, dtype="float32")
        features = processor.feature_extractor(audio, sampling_rate=rate, return_tensors="np").input_features[0]
        labels = processor.tokenizer(" " + text).input_ids
        rows.append({"input_features": features, "labels": labels})
    batch = WhisperCollator(model.config.decoder_start_token_id, pad_token_id=model.config.pad_token_id)(rows)
    with torch.no_grad():
        logits, targets = label_positions_logits(model, batch)
        with BaseTeacher(model).run(model) as base:
            base_logits, _ = label_positions_logits(base, batch)
    return kl_to_base(logits, base_logits, 1.0).item() / targets.numel()


def _train(tiny_whisper_dir, tmp_path, name, **settings):
    from whisper_tui.training import events as ev
    from whisper_tui.training.job import TrainingJob

    data = write_tone_dataset(tmp_path / "data", n=8, seed=3)
    profile = tiny_job_profile(tiny_whisper_dir, data, **{
        **SHORT_RUN, "training.num_train_epochs": 6, "training.learning_rate": 1e-2,
        "finetuning.freeze_encoder": False, "finetuning.frozen_encoder_layers": 1,  # cpu-quick: cached bottom
        "finetuning.lora.target_modules": ["q_proj", "v_proj", "fc1"], **settings})
    seen = []
    job = TrainingJob(profile, tmp_path / name, listeners=[seen.append])
    result = job.run()
    assert isinstance(result, ev.RunFinished), result
    logs = [e.message for e in seen if isinstance(e, ev.LogEvent)]
    records = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in records if r.get("type") == "step")
    return job, logs, data


def test_a_run_with_the_kl_term_drifts_less_from_the_base(two_layer_whisper, tmp_path):
    """Same data, seed and steps; the KL-weighted run ends closer to the base model on its own training clips."""
    plain, plain_logs, data = _train(two_layer_whisper, tmp_path, "plain")
    pulled, logs, _ = _train(two_layer_whisper, tmp_path, "pulled", **{"training.distill_weight": 10.0,
                                                                       "training.distill_temperature": 1.0})
    assert not any("KL term" in m for m in plain_logs)
    assert any(m.startswith("KL term to the base model: weight 10, temperature 1") and "adapters switched off" in m
               for m in logs)
    assert pulled.trainer.cached_top_from == 1  # the teacher ran the cached layer's top without the adapters
    assert _drift(pulled, data) < 0.8 * _drift(plain, data)


def test_a_full_fine_tune_distills_from_a_frozen_copy(two_layer_whisper, tmp_path):
    _job, logs, _ = _train(two_layer_whisper, tmp_path, "full", **{"training.distill_weight": 1.0,
                                                               "finetuning.strategy": "full"})
    assert any("KL term" in m and "frozen copy" in m for m in logs)
