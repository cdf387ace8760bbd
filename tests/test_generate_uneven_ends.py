"""Issue 24: generate from encoder outputs (the training evaluations, any-window models) when one clip of a batch
emits two timestamps in a row. transformers then took that clip for unfinished and went round its long-form loop,
which slices the input_features it was not given: TypeError in `_maybe_reduce_batch`, and the run failed."""

from __future__ import annotations

import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList, WhisperForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutput

from whisper_tui.models.any_window import enable_any_window


class _OneClipTimestamps(LogitsProcessor):
    """Clip 0 emits <|1.00|> twice after the prefix, every clip then ends: sequences that end at different steps."""

    def __init__(self, gen):
        self.timestamp = gen.no_timestamps_token_id + 51  # <|1.00|>
        self.eot = gen.eos_token_id

    def __call__(self, ids, scores):
        want = torch.full((ids.shape[0],), self.eot)
        if ids.shape[1] < 4:
            want[0] = self.timestamp
        out = torch.full_like(scores, -float("inf"))
        out[torch.arange(len(want)), want] = 0
        return out


@pytest.mark.parametrize("positions", [500, 1500])
def test_encoder_outputs_with_uneven_ends_decode_every_clip(tiny_whisper_dir, positions):
    model = WhisperForConditionalGeneration.from_pretrained(tiny_whisper_dir).eval()
    enable_any_window(model)
    hidden = torch.randn(3, positions, model.config.d_model)
    with torch.no_grad():
        out = model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), max_length=20,
                             logits_processor=LogitsProcessorList([_OneClipTimestamps(model.generation_config)]))
    assert out.shape[0] == 3
    assert int(out[0, 2]) == model.generation_config.no_timestamps_token_id + 51
