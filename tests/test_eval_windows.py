"""Issue 24: best/ of an any-window model (model.windows) is chosen by the WER the saved model gives, each test clip
at its own shortest window. Evaluation batches of consecutive clips ran whole at the window of their longest clip:
short clips beside a long one were scored at 20 or 30 s, windows the saved model would not run them at."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from transformers import Seq2SeqTrainingArguments, WhisperForConditionalGeneration, WhisperProcessor

from whisper_tui.models.any_window import enable_any_window
from whisper_tui.models.window import window_for
from whisper_tui.training.collator import WhisperCollator
from whisper_tui.training.speech_dataset import BadClips, SkipBadClips
from whisper_tui.training.trainer import WhisperTrainer
from whisper_tui.training.trainer_setup import make_compute_metrics
from whisper_tui.training.window_mix import EVAL, TRAIN, WindowedExamples, WindowMix

WINDOWS = (10, 20, 30)
SECONDS = [4.0, 4.0, 15.0, 4.0, 25.0, 4.0]  # a batch of 4 in order holds the 15 s clip: 20 s for all four


class _Clips:
    """Six test clips as a FeatureDataset gives them: features at the longest window, labels, the wave's length."""

    def __init__(self, seconds, labels):
        self.clips = [SimpleNamespace(path=f"/clips/{i}.wav", file_name=f"{i}.wav") for i in range(len(seconds))]
        self.labels = labels
        self.seconds = seconds

    def __len__(self):
        return len(self.clips)

    def __getitem__(self, i):
        return {"input_features": np.zeros((80, 3000), np.float32), "labels": self.labels[i],
                "n_samples": int(self.seconds[i] * 16000)}


def _eval_set(tokenizer, mode=EVAL):
    prefix = tokenizer.convert_tokens_to_ids(["<|startoftranscript|>", "<|notimestamps|>"])
    labels = [prefix + tokenizer.encode(" hello", add_special_tokens=False) + [tokenizer.eos_token_id]
              for _ in SECONDS]
    clips = _Clips(SECONDS, labels)
    return SkipBadClips(WindowedExamples(clips, SECONDS, mode), BadClips(len(SECONDS)))


def test_eval_batches_group_clips_by_their_own_window():
    ds = WindowedExamples(_Clips(SECONDS, [[1]] * len(SECONDS)), SECONDS, EVAL)
    assert ds.eval_batches(4, WINDOWS) == [[0, 1, 3, 5], [2], [4]]
    assert ds.eval_batches(3, WINDOWS) == [[0, 1, 3], [5], [2], [4]]
    assert WindowedExamples(ds.dataset, SECONDS, TRAIN).eval_batches(4, WINDOWS) is None


@pytest.mark.parametrize("batch_size", [4, 6])
def test_evaluation_scores_each_clip_at_its_own_shortest_window(tiny_whisper_dir, tmp_path, batch_size):
    model = WhisperForConditionalGeneration.from_pretrained(tiny_whisper_dir).eval()
    processor = WhisperProcessor.from_pretrained(tiny_whisper_dir)
    enable_any_window(model)
    rows_at: dict[int, int] = {}

    def record(_encoder, args, kwargs):
        features = kwargs.get("input_features", args[0] if args else None)
        frames = int(features.shape[-1])
        rows_at[frames // 100] = rows_at.get(frames // 100, 0) + int(features.shape[0])

    model.model.encoder.register_forward_pre_hook(record, with_kwargs=True)
    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=batch_size,
                                    predict_with_generate=True, generation_max_length=6, use_cpu=True, report_to=[],
                                    remove_unused_columns=False, label_names=["labels"], disable_tqdm=True)
    trainer = WhisperTrainer(model=model, args=args, eval_dataset=_eval_set(processor.tokenizer),
                             data_collator=WhisperCollator(model.config.decoder_start_token_id,
                                                           windows=WindowMix(WINDOWS)),
                             compute_metrics=make_compute_metrics(processor.tokenizer))
    metrics = trainer.evaluate()
    want: dict[int, int] = {}
    for seconds in SECONDS:
        want[window_for(seconds, WINDOWS)] = want.get(window_for(seconds, WINDOWS), 0) + 1
    assert want == {10: 4, 20: 1, 30: 1}
    # generate encodes once per batch, and the loss forward once more: every clip twice, at its own window
    assert rows_at == {w: 2 * n for w, n in want.items()}, rows_at
    assert isinstance(metrics["eval_wer"], float) and metrics["eval_samples_per_second"] > 0
