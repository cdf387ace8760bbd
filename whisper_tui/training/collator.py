"""Batch assembly for Whisper seq2seq training.

Labels are padded with -100 so padding is ignored by the loss. The leading
<|startoftranscript|> is dropped when it equals `decoder_start_token_id`, because the model
prepends it again when it shifts labels right (the widely copied collator compares against
`bos_token_id` and never strips it: transformers#29973).

With several encoder windows (`model.windows`) the batch is first fitted to one (`window_mix.py`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WhisperCollator:
    decoder_start_token_id: int
    dtype: object = None  # torch dtype of the model's encoder side (cached outputs are stored fp16)
    windows: object = None  # window_mix.WindowMix when training at several windows (model.windows)

    def __call__(self, examples: list[dict]) -> dict:
        import numpy as np
        import torch
        from transformers.modeling_outputs import BaseModelOutput

        if self.windows is not None and "window_seconds" in examples[0]:
            examples, _window = self.windows.fit(examples)
        batch: dict = {}
        if "input_features" in examples[0]:
            feats = np.stack([np.asarray(e["input_features"], dtype=np.float32) for e in examples])
            batch["input_features"] = torch.from_numpy(feats)
            if self.dtype is not None:
                batch["input_features"] = batch["input_features"].to(self.dtype)
        else:
            hidden = torch.stack([torch.as_tensor(e["encoder_hidden"]) for e in examples])
            hidden = hidden.to(self.dtype or torch.float32)
            batch["encoder_outputs"] = BaseModelOutput(last_hidden_state=hidden)
            if "cross_kv" in examples[0]:
                # stays fp16 here: each decoder layer widens only its own slice, right before use
                batch["cross_kv"] = torch.from_numpy(np.stack([e["cross_kv"] for e in examples]))

        width = max(len(e["labels"]) for e in examples)
        labels = torch.full((len(examples), width), -100, dtype=torch.long)
        for row, e in enumerate(examples):
            labels[row, : len(e["labels"])] = torch.tensor(e["labels"], dtype=torch.long)
        if bool((labels[:, 0] == self.decoder_start_token_id).all()):
            labels = labels[:, 1:]
        batch["labels"] = labels
        return batch
