"""Timestamps and prompts that survive fine-tuning (issue 25): training.timestamp_share / training.prompt_share.

A share of the training clips is labelled `<|0.00|> text <|d|>` and a share is conditioned on previous text
(label_mix.py); which ones is fixed by (seed, epoch, clip), so a resumed run labels as the run it continues.
The prompt positions never reach the loss, and the decoder input of a prompted row is what transformers 5's
Whisper reads after `<|startofprev|>` at inference.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers_audio import write_tone_dataset
from helpers_jobs import SHORT_RUN, prepared_datasets, tiny_job_profile
from whisper_tui.training.collator import WhisperCollator
from whisper_tui.training.label_mix import LabelTokens, MixedLabels, chosen, label_plan
from whisper_tui.training.timed_labels import PROMPT_MASK, training_labels

SOT, NO_TS, EOT, TB, PREV = 50257, 50362, 50256, 50363, 50360  # tiny.en's ids (test_timed_labels checks them)
TOKENS = LabelTokens(eot=EOT, no_timestamps=NO_TS, timestamp_begin=TB, sot_prev=PREV)


class _Clips:
    """A training set of n clips of `seconds` each, labels sot notimestamps body eot."""

    def __init__(self, n: int, seconds: float = 2.0):
        self.labels = [[SOT, NO_TS, 100 + i, 200 + i, EOT] for i in range(n)]
        self.clips = list(range(n))
        self.seconds = seconds

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_features": np.zeros((80, 10), np.float32), "labels": self.labels[i],
                "n_samples": int(self.seconds * 16000)}


def _mixed(n=40, ts=0.5, pr=0.0, seed=42, prompt=(), seconds=2.0, max_length=448):
    return MixedLabels(_Clips(n, seconds), prefix_len=2, tokens=TOKENS, timestamp_share=ts, prompt_share=pr,
                       seed=seed, seconds=[seconds] * n, window_s=30, max_length=max_length, prompt=prompt)


def _timed(labels) -> bool:
    return NO_TS not in labels and TB in labels


@pytest.mark.parametrize("share", [0.0, 0.1, 0.5, 0.75, 1.0])
def test_the_share_gives_that_share_of_timestamp_labels_every_epoch(share):
    ds = _mixed(n=40, ts=share)
    for epoch in range(3):
        ds.set_epoch(epoch)
        items = [ds[i] for i in range(len(ds))]
        assert sum(_timed(it["labels"]) for it in items) == round(share * 40)
        for it in items:  # the others keep their plain labels
            assert _timed(it["labels"]) or it["labels"][:2] == [SOT, NO_TS]


def test_a_timestamp_label_is_zero_text_duration_within_the_window():
    ds = _mixed(n=4, ts=1.0, seconds=3.437)
    assert ds[1]["labels"] == [SOT, TB, 101, 201, TB + 172, EOT]
    long = MixedLabels(_Clips(2, 12.0), prefix_len=2, tokens=TOKENS, timestamp_share=1.0, prompt_share=0,
                       seed=1, seconds=[12.0, 12.0], window_s=10, max_length=448)
    assert long[0]["labels"][-2] == TB + 500  # never past the encoder window


def test_choice_is_deterministic_per_seed_and_epoch_and_resumable():
    first = _mixed(seed=7)
    seen = {}
    for epoch in range(4):
        first.set_epoch(epoch)
        seen[epoch] = [first[i]["labels"] for i in range(len(first))]
    resumed = _mixed(seed=7)
    resumed.set_epoch(2)  # a run resumed in its third epoch (DatasetEpochCallback sets it)
    assert [resumed[i]["labels"] for i in range(len(resumed))] == seen[2]
    assert seen[0] != seen[1]  # another epoch times other clips
    other = _mixed(seed=8)
    assert [other[i]["labels"] for i in range(len(other))] != seen[0]
    assert list(chosen(0.5, 40, 7, 2, 25)) == list(chosen(0.5, 40, 7, 2, 25))


def test_prompted_clips_take_another_clips_transcript_and_the_prompt_is_masked():
    ds = _mixed(n=20, ts=0.0, pr=0.25, seed=3)
    timed, partners = label_plan(20, timestamp_share=0.0, prompt_share=0.25, seed=3, epoch=0)
    assert not timed and len(partners) == 5 and all(i != j for i, j in partners.items())
    for i in range(20):
        item = ds[i]
        if i not in partners:
            assert "prompt" not in item and item["labels"] == ds.dataset.labels[i]
            continue
        j = partners[i]
        assert item["prompt"] == [PREV, 100 + j, 200 + j]
        assert item["labels"] == [PROMPT_MASK] * 3 + [SOT, NO_TS, 100 + i, 200 + i, EOT]


def test_model_prompt_is_the_previous_text_when_set():
    ds = _mixed(n=10, ts=0.0, pr=1.0, prompt=[5, 6, 7, 8])
    assert all(ds[i]["prompt"] == [PREV, 5, 6, 7, 8] for i in range(10))


def test_the_prompt_is_shortened_so_prompt_and_labels_fit_the_decoder():
    plain = [SOT, NO_TS, *range(1000, 1440), EOT]  # 443 tokens of 448
    labels, prompt = training_labels(plain, 2, eot=EOT, no_timestamps=NO_TS, timestamp_begin=TB, duration_s=5,
                                     timestamps=True, previous=list(range(300)), sot_prev=PREV, max_length=448)
    assert len(prompt) + len(labels) - len(prompt) <= 448 and len(labels) == 448
    assert prompt == [PREV, *range(300 - 3, 300)]  # the last tokens of the previous text, as OpenAI keeps them
    assert labels[:len(prompt)] == [PROMPT_MASK] * len(prompt)
    full, none = training_labels(plain, 2, eot=EOT, no_timestamps=NO_TS, timestamp_begin=TB, duration_s=5,
                                 timestamps=False, previous=[1, 2], sot_prev=PREV, max_length=444)
    assert none == [] and full == plain  # no room: no prompt, the transcript is never cut
    short, p = training_labels([SOT, NO_TS, 9, EOT], 2, eot=EOT, no_timestamps=NO_TS, timestamp_begin=TB,
                               duration_s=1, timestamps=False, previous=list(range(500)), sot_prev=PREV)
    assert len(p) == 224  # at most 223 tokens of previous text


def test_the_collator_builds_the_decoder_input_of_a_prompted_row():
    import torch
    from transformers.models.whisper.modeling_whisper import shift_tokens_right

    plain = {"input_features": np.zeros((80, 10), np.float32), "labels": [SOT, NO_TS, 11, 12, EOT]}
    prompted = {"input_features": np.zeros((80, 10), np.float32),
                "labels": [PROMPT_MASK] * 3 + [SOT, TB, 21, TB + 50, EOT], "prompt": [PREV, 7, 8]}
    collate = WhisperCollator(SOT, pad_token_id=EOT)
    batch = collate([plain, prompted])
    assert batch["decoder_input_ids"].tolist() == [[SOT, NO_TS, 11, 12, EOT, EOT, EOT],
                                                   [PREV, 7, 8, SOT, TB, 21, TB + 50]]
    assert batch["labels"].tolist() == [[NO_TS, 11, 12, EOT, -100, -100, -100],
                                        [-100, -100, SOT, TB, 21, TB + 50, EOT]]
    # the prompt's own tokens are never targets; each target is the token after its decoder input
    assert PREV not in batch["labels"].tolist()[1] and 7 not in batch["labels"].tolist()[1]
    # a row without a prompt gets what the model's own shift of the plain batch gives it
    alone = collate([plain])
    shifted = shift_tokens_right(alone["labels"], EOT, SOT)
    assert "decoder_input_ids" not in alone
    assert torch.equal(batch["decoder_input_ids"][0, :shifted.shape[1]], shifted[0])
    assert torch.equal(batch["labels"][0, :4], alone["labels"][0])


def test_prompted_loss_is_what_transformers_whisper_computes(tiny_whisper_dir):
    """label_positions_loss (the trainer's) = WhisperForConditionalGeneration(labels=, decoder_input_ids=).loss,
    and split_batch cuts the decoder input with the labels."""
    import torch
    from transformers import WhisperForConditionalGeneration

    from whisper_tui.training.batching import split_batch
    from whisper_tui.training.trainer import label_positions_loss

    model = WhisperForConditionalGeneration.from_pretrained(tiny_whisper_dir).eval()
    rows = [{"input_features": np.random.default_rng(i).standard_normal((80, 3000)).astype(np.float32),
             "labels": labels, **extra} for i, (labels, extra) in enumerate([
                 ([SOT, NO_TS, 11, 12, EOT], {}),
                 ([PROMPT_MASK] * 3 + [SOT, TB, 21, TB + 50, EOT], {"prompt": [PREV, 7, 8]})])]
    batch = WhisperCollator(SOT, pad_token_id=EOT)(rows)
    with torch.no_grad():
        ours = label_positions_loss(model, batch)
        theirs = model(**batch).loss
    assert torch.allclose(ours, theirs, atol=1e-5)
    first, second = split_batch(batch, 1)
    assert first["decoder_input_ids"].shape == first["labels"].shape == (1, 4)
    assert second["decoder_input_ids"].shape == second["labels"].shape == (1, 7)


def _long_text(tokenizer, tokens: int) -> str:
    """A transcript of exactly `tokens` text tokens."""
    text = " ".join(["alpha"] * tokens)
    assert len(tokenizer(" " + text, add_special_tokens=False).input_ids) == tokens
    return text


def test_training_clips_whose_timestamp_labels_would_not_fit_are_left_out(tiny_whisper_dir, tmp_path):
    """A plain label of exactly the decoder's 448 positions fits; its timestamp label (one longer) does not, so
    with a timestamp share the training side leaves the clip out; a test clip keeps its plain label and stays."""
    import dataclasses

    from whisper_tui.data.dataset import load_dataset_split
    from whisper_tui.models.loading import load_model
    from whisper_tui.training.data_prep import DataPrep, decoder_prefix, label_positions

    model, processor = load_model(str(tiny_whisper_dir), device="cpu")
    data = write_tone_dataset(tmp_path / "data", n=4)
    base = tiny_job_profile(tiny_whisper_dir, data)
    prefix, positions = decoder_prefix(base, model, processor), label_positions(model)
    clips, _test, _report = load_dataset_split(data, 0.0, 1)
    long = dataclasses.replace(clips[0], transcription=_long_text(processor.tokenizer, positions - len(prefix) - 1))
    for share, kept in ((0.0, 1), (0.5, 0)):
        logs = []
        prep = DataPrep(tiny_job_profile(tiny_whisper_dir, data, **{"training.timestamp_share": share}),
                        lambda m, level="info": logs.append(m))
        prep.durations = {c.path: 1.0 for c in clips}
        train, test = prep.clips_that_fit([*clips, long], [long], processor, model)
        assert sum(c == long for c in train) == kept, logs
        assert len(train) == len(clips) + kept and test == [long]
    assert any("training: skipped 1 clip(s) whose transcript is longer than the decoder's 444 tokens" in m
               for m in logs)


@pytest.mark.parametrize("setting", ["encoder cached", "no cache", "windows"])
def test_a_run_labels_the_share_of_its_training_clips_and_never_its_test_clips(tiny_whisper_dir, tmp_path, setting):
    """Fails when the share is ignored: half of the 6 training clips must come with timestamp labels."""
    data = write_tone_dataset(tmp_path / "data", n=8, seconds=1.0)
    extra = {"encoder cached": {}, "no cache": {"finetuning.encoder_cache": False},
             "windows": {"model.windows": [2, 30]}}[setting]
    profile = tiny_job_profile(tiny_whisper_dir, data, **{"training.timestamp_share": 0.5, **extra})
    setup, model, processor, train_ds, eval_ds, _cached, logged = prepared_datasets(profile, tmp_path / "run")
    try:
        items = [train_ds[i] for i in range(len(train_ds))]
        timed = [it["labels"] for it in items if _timed(it["labels"])]
        assert len(items) == 6 and len(timed) == 3
        assert all(labels[-2] == TB + 50 for labels in timed)  # <|1.00|>: each clip lasts 1 s
        assert all(NO_TS in eval_ds[i]["labels"] for i in range(len(eval_ds)))
        assert any(m.startswith("labels: 3 of 6 training clips per epoch labelled with timestamps") for m in logged)
        if setting == "windows":
            assert setup.window_mix is not None
    finally:
        setup.control.run_cleanups()


def test_a_tiny_whisper_trains_with_both_shares_on(tiny_whisper_dir, tmp_path, monkeypatch):
    from whisper_tui.training import events as ev
    from whisper_tui.training.job import TrainingJob

    prompted = []
    build = WhisperCollator._prompted
    monkeypatch.setattr(WhisperCollator, "_prompted", lambda self, ex: prompted.append(len(ex)) or build(self, ex))

    data = write_tone_dataset(tmp_path / "data", n=8)
    profile = tiny_job_profile(tiny_whisper_dir, data, **{**SHORT_RUN, "training.timestamp_share": 0.5,
                                                          "training.prompt_share": 0.5})
    seen = []
    job = TrainingJob(profile, tmp_path / "run", listeners=[seen.append])
    result = job.run()
    assert isinstance(result, ev.RunFinished), result
    logs = [e.message for e in seen if isinstance(e, ev.LogEvent)]
    assert any("labels: 3 of 6" in m and "conditioned on previous text" in m for m in logs)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if r.get("type") == "step"]
    assert len(losses) >= 4 and all(np.isfinite(losses))
    assert any(r.get("type") == "eval" and r.get("wer") is not None for r in records)
    assert prompted  # batches with previous text reached the model with their own decoder input
    # each epoch (and a resumed one) tells the labels which epoch runs: the choice follows (seed, epoch, clip)
    from whisper_tui.training.callbacks import DatasetEpochCallback

    assert any(isinstance(cb, DatasetEpochCallback) for cb in job.trainer.callback_handler.callbacks)
    assert job.trainer.train_dataset.dataset.epoch == 1  # SHORT_RUN: 2 epochs
    assert (tmp_path / "run" / "final").is_dir()


def test_a_perturbed_views_timestamp_ends_where_the_view_ends(tiny_whisper_dir, tmp_path):
    """Cached views (views.py) change a clip's length by their speed: <|end|> follows the view, not the clip."""
    data = write_tone_dataset(tmp_path / "data", n=8, seconds=1.0)
    profile = tiny_job_profile(tiny_whisper_dir, data, **{"training.timestamp_share": 1.0, "training.augment_views": 2,
                                                          "training.augment_speed": 0.2})
    setup, _model, _processor, train_ds, _eval, _cached, _logged = prepared_datasets(profile, tmp_path / "run")
    try:
        ends = set()
        for epoch in range(3):
            train_ds.set_epoch(epoch)
            for i in range(len(train_ds)):
                item = train_ds[i]
                seconds = item.get("n_samples", 16000) / 16000
                assert item["labels"][-2] == TB + round(seconds / 0.02)
                ends.add(item["labels"][-2])
        assert len(ends) > 1  # some views are faster or slower than the clip
    finally:
        setup.control.run_cleanups()
