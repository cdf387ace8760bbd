"""Batch assembly for Whisper seq2seq training.

Labels are padded with -100 so padding is ignored by the loss. The leading
<|startoftranscript|> is dropped when it equals `decoder_start_token_id`, because the model
prepends it again when it shifts labels right (the widely copied collator compares against
`bos_token_id` and never strips it: transformers#29973).

With several encoder windows (`model.windows`) the batch is first fitted to one (`window_mix.py`).

A row conditioned on previous text (an example with `prompt`, label_mix.py) cannot be made by that shift:
its decoder input starts `<|startofprev|> previous <|startoftranscript|>`, not with the start token. A batch
with such a row therefore carries `decoder_input_ids` of its own: per row the token sequence
`prompt + labels[len(prompt):]` without its last token, and the labels shifted by one to match (the prompt
positions stay -100, so the loss never teaches the previous text); a row without a prompt gets exactly what
the model's own shift would give it. transformers' Whisper uses `decoder_input_ids` when given with labels.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WhisperCollator:
    decoder_start_token_id: int
    dtype: object = None  # torch dtype of the model's encoder side (cached outputs are stored fp16)
    windows: object = None  # window_mix.WindowMix when training at several windows (model.windows)
    pad_token_id: int | None = None  # fills the decoder input of a prompted batch past each row's end

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

        if any(e.get("prompt") for e in examples):
            batch.update(self._prompted(examples))
            return batch
        width = max(len(e["labels"]) for e in examples)
        labels = torch.full((len(examples), width), -100, dtype=torch.long)
        for row, e in enumerate(examples):
            labels[row, : len(e["labels"])] = torch.tensor(e["labels"], dtype=torch.long)
        if bool((labels[:, 0] == self.decoder_start_token_id).all()):
            labels = labels[:, 1:]
        batch["labels"] = labels
        return batch

    def _prompted(self, examples: list[dict]) -> dict:
        """decoder_input_ids and labels of a batch where some rows start with previous text."""
        import torch

        inputs, targets = [], []
        for e in examples:
            labels = [int(t) for t in e["labels"]]
            prompt = [int(t) for t in (e.get("prompt") or [])]
            tokens = prompt + labels[len(prompt):]
            if not prompt and tokens[0] != self.decoder_start_token_id:
                tokens = [self.decoder_start_token_id, *tokens]  # as the model's shift would start it
                labels = [self.decoder_start_token_id, *labels]
            inputs.append(tokens[:-1])
            targets.append(labels[1:])
        width = max(len(r) for r in inputs)
        pad = self.decoder_start_token_id if self.pad_token_id is None else self.pad_token_id
        decoder_input_ids = torch.full((len(examples), width), int(pad), dtype=torch.long)
        labels = torch.full((len(examples), width), -100, dtype=torch.long)
        for row, (i, t) in enumerate(zip(inputs, targets)):
            decoder_input_ids[row, : len(i)] = torch.tensor(i, dtype=torch.long)
            labels[row, : len(t)] = torch.tensor(t, dtype=torch.long)
        return {"decoder_input_ids": decoder_input_ids, "labels": labels}
