"""The HF Seq2SeqTrainer, taught to train from cached encoder outputs.

Using the stock Trainer (not a home-made loop) keeps multi-GPU (torchrun/accelerate), mixed
precision, checkpoint/resume and schedulers as transformers does them. The only addition: when
the cache holds the output of frozen layer K < all, the top encoder layers run here, with grad,
before the decoder sees the hidden states.
"""

from __future__ import annotations

from transformers import Seq2SeqTrainer


class WhisperTrainer(Seq2SeqTrainer):
    def __init__(self, *args, cached_top_from: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.cached_top_from = cached_top_from

    def _expand_cached(self, inputs):
        if self.cached_top_from is None or "encoder_outputs" not in inputs:
            return inputs
        from transformers.modeling_outputs import BaseModelOutput

        from .encoder_cache import encode_top
        from .model_setup import encoder_of

        enc = encoder_of(self.model)
        param = next(enc.parameters())
        hidden = inputs["encoder_outputs"].last_hidden_state.to(param.device)
        hidden = encode_top(enc, hidden, self.cached_top_from)
        inputs = dict(inputs)
        inputs["encoder_outputs"] = BaseModelOutput(last_hidden_state=hidden)
        return inputs

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        return super().compute_loss(model, self._expand_cached(inputs), return_outputs=return_outputs,
                                    num_items_in_batch=num_items_in_batch)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None, **gen_kwargs):
        import torch

        if self.cached_top_from is not None and "encoder_outputs" in inputs:
            with torch.no_grad():
                inputs = self._expand_cached(inputs)
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys, **gen_kwargs)
