"""Issue 24 (found by test_generation_fuzz.py): a clip of one window is decoded in one pass.

transformers' Whisper generate takes two timestamps in a row, which a random or looping model writes even
after <|notimestamps|>, for a segment that ends there, and decodes the window again from that timestamp. The
transcriber (torch backend) and the trainer's evaluation gave a clip's text once per second of its window:
"the the the ..." 20 or 30 times for a clip whose one pass says "the", and a 10-token budget came back as
4,000 characters after a minute of decoding (a random model with a prompt).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import (LogitsProcessor, LogitsProcessorList, Seq2SeqTrainingArguments,
                          WhisperForConditionalGeneration, WhisperProcessor)

from whisper_tui.inference.transcribe import Transcriber
from whisper_tui.models.any_window import enable_any_window
from whisper_tui.models.window import set_supported_windows
from whisper_tui.training.collator import WhisperCollator
from whisper_tui.training.trainer import WhisperTrainer


class _WordThenPair(LogitsProcessor):
    """Each pass writes " the", then <|1.00|><|1.00|> (a segment closed at 1 s), then <|endoftext|>."""

    def __init__(self, tokenizer, gen):
        stamp = gen.no_timestamps_token_id + 51
        self.script = [tokenizer.encode(" the", add_special_tokens=False)[0], stamp, stamp, gen.eos_token_id]
        self.after = gen.no_timestamps_token_id

    def __call__(self, ids, scores):
        out = torch.full_like(scores, -float("inf"))
        for row, seq in enumerate(ids.tolist()):
            written = len(seq) - seq.index(self.after) - 1 if self.after in seq else 0
            out[row, self.script[min(written, len(self.script) - 1)]] = 0
        return out


def _load(folder, windows):
    model = WhisperForConditionalGeneration.from_pretrained(folder).eval()
    processor = WhisperProcessor.from_pretrained(folder)
    if len(windows) > 1:
        set_supported_windows(processor, windows)
        enable_any_window(model)
    return model, processor


def _with_script(model, processor, monkeypatch):
    """The model's generate with `_WordThenPair` after the caller's own logits processors."""
    generate = model.generate

    def scripted(*args, **kwargs):
        extra = _WordThenPair(processor.tokenizer, model.generation_config)
        kwargs["logits_processor"] = LogitsProcessorList([*kwargs.get("logits_processor", []), extra])
        return generate(*args, **kwargs)

    monkeypatch.setattr(model, "generate", scripted)


@pytest.mark.parametrize("windows", [(30,), (10, 20, 30)], ids=["one window", "any window"])
def test_transcriber_decodes_each_piece_once(tiny_whisper_dir, monkeypatch, windows):
    model, processor = _load(tiny_whisper_dir, windows)
    _with_script(model, processor, monkeypatch)
    waves = [(np.random.RandomState(s).randn(int(sec * 16000)) * 0.1).astype(np.float32)
             for s, sec in ((1, 4.0), (2, 12.0))]
    texts = Transcriber((model, processor), batch_size=2, max_new_tokens=10).transcribe_waves(waves)
    assert texts == ["the", "the"]


def test_trainer_evaluation_decodes_each_clip_once(tiny_whisper_dir, tmp_path):
    model, processor = _load(tiny_whisper_dir, (30,))
    tok = processor.tokenizer
    prefix = tok.convert_tokens_to_ids(["<|startoftranscript|>", "<|notimestamps|>"])
    labels = prefix + tok.encode(" the", add_special_tokens=False) + [tok.eos_token_id]
    features = processor.feature_extractor([np.zeros(16000, np.float32)] * 2, sampling_rate=16000).input_features
    dataset = [{"input_features": f, "labels": labels} for f in features]
    seen = []

    def compute_metrics(pred):
        seen.extend(tok.batch_decode(np.where(pred.predictions == -100, tok.pad_token_id, pred.predictions),
                                     skip_special_tokens=True))
        return {}

    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=2, predict_with_generate=True,
                                    generation_max_length=10, use_cpu=True, report_to=[], remove_unused_columns=False,
                                    label_names=["labels"], disable_tqdm=True)
    trainer = WhisperTrainer(model=model, args=args, eval_dataset=dataset, compute_metrics=compute_metrics,
                             data_collator=WhisperCollator(model.config.decoder_start_token_id))
    trainer.evaluate(logits_processor=LogitsProcessorList([_WordThenPair(tok, model.generation_config)]))
    assert [t.strip() for t in seen] == ["the", "the"]
