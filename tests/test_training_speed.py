"""The training speed-ups are exact: cached cross-attention keys/values, label-only logits, thread tuning."""

from __future__ import annotations

import json
import os

import pytest

from conftest import build_tiny_whisper
from helpers_audio import write_tone_dataset
from helpers_jobs import tiny_job_profile
from whisper_tui.training import events as ev
from whisper_tui.training.job import TrainingJob


def _lora_model(tmp_path, targets=("q_proj", "k_proj", "v_proj"), dropout=0.0):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import WhisperForConditionalGeneration

    path = build_tiny_whisper(tmp_path / "model", decoder_layers=2, decoder_attention_heads=4)
    model = WhisperForConditionalGeneration.from_pretrained(path)
    model.requires_grad_(False)
    names = "|".join(targets)
    targets = rf".*decoder\.layers\.\d+\.(self_attn|encoder_attn)\.({names})$"
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, bias="none",
                                             target_modules=targets))
    torch.manual_seed(1)
    for name, p in model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero; make the adapters matter
            p.data.normal_(0, 0.5)
    model.train()
    return model


def _batch(model, batch=3, frames=1500, tokens=7, seed=0):
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    g = torch.Generator().manual_seed(seed)
    d = model.get_base_model().config.d_model
    hidden = torch.randn(batch, frames, d, generator=g)
    labels = torch.randint(0, 50000, (batch, tokens), generator=g)
    labels[0, -2:] = -100  # padding, as the collator makes it
    return {"encoder_outputs": BaseModelOutput(last_hidden_state=hidden), "labels": labels}


def _grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def test_cached_cross_attention_gives_the_stock_loss_and_gradients(tmp_path):
    import numpy as np
    import torch

    from whisper_tui.training.cross_kv import CrossKVCache, FastCrossAttention, cross_kv_is_valid

    model = _lora_model(tmp_path)
    assert cross_kv_is_valid(model) == (True, "")
    inputs = _batch(model)
    hidden = inputs["encoder_outputs"].last_hidden_state

    stock = model(**inputs).loss
    stock.backward()
    expected = _grads(model)
    model.zero_grad()

    kv = CrossKVCache.build(model, lambda i: hidden[i].numpy(), hidden.shape[0], batch_size=2, root=tmp_path / "kv")
    try:
        assert kv.array.shape == (3, 2, 2, 4, 1500, 8) and kv.array.dtype == np.float16
        fast = FastCrossAttention(model)
        fast.set_batch(hidden, torch.from_numpy(np.stack([kv.get(i) for i in range(3)])))
        loss = model(**inputs).loss
        loss.backward()
        got = _grads(model)
    finally:
        kv.close()
    assert not kv.path.exists()
    assert loss.item() == pytest.approx(stock.item(), rel=1e-3)
    assert got.keys() == expected.keys() and any("encoder_attn.k_proj.lora_A" in n for n in got)
    for name, grad in expected.items():
        assert torch.allclose(got[name], grad, rtol=2e-2, atol=1e-4), name

    # any other encoder states (generation, evaluation) take the stock path
    fast.remove()
    assert "forward" not in vars(model.get_base_model().model.decoder.layers[0].encoder_attn)


def _rss_bytes() -> int:
    """Resident anonymous + file-backed pages of this process (what ru_maxrss counts)."""
    fields = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    return sum(int(fields[k].split()[0]) * 1024 for k in ("RssAnon", "RssFile"))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
def test_building_the_cross_attention_cache_keeps_its_rows_out_of_the_rss(tmp_path):
    """Issue 23: the rows (9 MB a clip for tiny at 30 s) once went through a memory map, whose dirty pages count
    in the RSS until the build ended: a 1,000-clip run at one window would have needed ~9 GiB. Written batch by
    batch, a 150 MB cache leaves the RSS within a few batches of where it was, and reads back the same rows."""
    import numpy as np
    import torch

    from whisper_tui.training.cross_kv import CrossKVCache

    model = _lora_model(tmp_path)
    rows = 400  # 2 layers x (K, V) x 4 heads x 1500 positions x 8 dims x fp16 = 384 KB a row
    hidden = torch.randn(8, 1500, 32).numpy()
    CrossKVCache.build(model, lambda i: hidden[i % 8], 8, batch_size=4, root=tmp_path / "kv").close()  # warm up
    before, peak = _rss_bytes(), [0]

    def watch(_done, _total):
        peak[0] = max(peak[0], _rss_bytes())

    kv = CrossKVCache.build(model, lambda i: hidden[i % 8], rows, batch_size=4, root=tmp_path / "kv",
                            on_progress=watch)
    try:
        size = kv.path.stat().st_size
        assert size > rows * 380_000
        assert peak[0] - before < size // 5, (peak[0] - before, size)
        again = CrossKVCache.build(model, lambda i: hidden[i % 8], 8, batch_size=8, root=tmp_path / "kv")
        try:
            for i in (0, 5, 8 * 49 + 3):
                assert np.array_equal(kv.get(i), again.get(i % 8)), i
        finally:
            again.close()
    finally:
        kv.close()


def test_full_fine_tuning_keeps_the_stock_cross_attention(tmp_path):
    from transformers import WhisperForConditionalGeneration

    from whisper_tui.training.cross_kv import cross_kv_is_valid

    model = WhisperForConditionalGeneration.from_pretrained(build_tiny_whisper(tmp_path / "model"))
    ok, why = cross_kv_is_valid(model)
    assert not ok and "trained" in why


def test_lora_dropout_on_encoder_states_drops_p_of_the_elements_and_keeps_the_mean():
    import torch

    from whisper_tui.training.cross_kv import dropped_projection

    dropout = torch.nn.Dropout(0.25).train()
    h = torch.ones(4, 1500, 64)
    eye = torch.eye(64)
    torch.manual_seed(0)
    out = dropped_projection(h, dropout, eye)
    kept = (out != 0).float().mean().item()
    assert kept == pytest.approx(0.75, abs=0.01)
    assert out.mean().item() == pytest.approx(1.0, abs=0.02)  # rescaled by 1/(1-p)
    torch.manual_seed(0)
    assert torch.equal(out, dropped_projection(h, dropout, eye))  # same seed, same mask
    assert torch.equal(dropped_projection(h, dropout.eval(), eye), h)  # no dropout outside training


def test_label_positions_loss_equals_the_models_own_loss(tmp_path):
    from whisper_tui.training.trainer import label_positions_loss

    model = _lora_model(tmp_path, targets=("q_proj", "v_proj"))
    inputs = _batch(model, tokens=9)
    assert float(label_positions_loss(model, inputs)) == pytest.approx(float(model(**inputs).loss), rel=1e-5)


class _FakeClock:
    def __init__(self, seconds_per_thread):
        self.now = 0.0
        self.threads = 2
        self.cost = seconds_per_thread

    def perf_counter(self):
        return self.now

    def step(self, tuner):
        tuner.before()
        self.now += self.cost[self.threads]
        tuner.after()


def test_thread_tuner_keeps_the_faster_setting_and_checks_again(monkeypatch):
    from whisper_tui.system import threads

    clock = _FakeClock({2: 1.0, 1: 0.4})  # a busy machine: one thread wins
    monkeypatch.setattr(threads.time, "perf_counter", clock.perf_counter)
    monkeypatch.setattr(threads, "_set_threads", lambda n: setattr(clock, "threads", n))
    tuner = threads.ThreadTuner([2, 1], probe_steps=2, hold_steps=4)
    for _ in range(6):
        clock.step(tuner)
    assert tuner.choice == 1 and clock.threads == 1
    assert len(tuner.history) == 1 and tuner.history[0] == (1, pytest.approx(0.4))
    clock.cost = {2: 0.3, 1: 0.6}  # the load went away
    for _ in range(4 + 6):
        clock.step(tuner)
    assert tuner.choice == 2 and clock.threads == 2


def test_thread_candidates():
    from whisper_tui.system.threads import thread_candidates

    assert thread_candidates(1) == [1]
    assert thread_candidates(2) == [2, 1]
    assert thread_candidates(8) == [8, 4, 1]


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("speed")
    return build_tiny_whisper(root / "model", encoder_layers=2), write_tone_dataset(root / "data", n=8)


def _profile(assets, **overrides):
    return tiny_job_profile(*assets, **{"training.num_train_epochs": 1, "training.per_device_train_batch_size": 2,
                                        "training.per_device_eval_batch_size": 4, "training.generation_max_length": 8,
                                        "training.eval_strategy": "no", "finetuning.gradient_checkpointing": True,
                                        **overrides})


def test_a_cached_lora_run_uses_and_removes_the_cross_attention_cache(assets, tmp_path, own_cache):
    seen = []
    result = TrainingJob(_profile(assets), tmp_path / "run", evaluate_base=False, listeners=[seen.append]).run()
    assert isinstance(result, ev.RunFinished), result
    logs = [e.message for e in seen if isinstance(e, ev.LogEvent)]
    assert any(m.startswith("cross-attention keys/values of 6 clips") for m in logs)
    assert any(m.startswith("gradient checkpointing off") for m in logs)
    assert not list((own_cache / "cross-kv").glob("run-*"))  # the temporary file went with the run
    steps = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any(s["type"] == "step" and s["samples_per_second"] > 0 for s in steps)


def test_partial_freezing_keeps_checkpointing_and_skips_the_cross_attention_cache(assets, tmp_path, own_cache):
    seen = []
    profile = _profile(assets, **{"finetuning.freeze_encoder": False, "finetuning.frozen_encoder_layers": 1})
    result = TrainingJob(profile, tmp_path / "run", evaluate_base=False, listeners=[seen.append]).run()
    assert isinstance(result, ev.RunFinished), result
    logs = [e.message for e in seen if isinstance(e, ev.LogEvent)]
    assert not any("cross-attention keys/values" in m or "checkpointing off" in m for m in logs)
