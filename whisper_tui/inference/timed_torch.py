"""One window of timed decoding on a transformers Whisper (the torch backend of inference/timed.py).

transformers' own timestamp generation: `generate(return_timestamps=True)` applies Whisper's timestamp
rules (WhisperTimeStampLogitsProcessor: timestamps in pairs and rising, the first within 1 s, a timestamp
forced when their total probability beats any text token), the rules CTranslate2 applies on the ct2
backend. `force_unique_generate_call=True` keeps it to the one window given: without it transformers
would seek on inside the window itself, and the seek belongs to timed.py's loop, shared by both
backends. The prompt (<|startofprev|> previous text) comes from the same `WhisperTokens.prompt` as
CTranslate2's, passed as `prompt_ids`; transformers adds <|startoftranscript|> (+ language, task).
"""

from __future__ import annotations

import numpy as np

from whisper_tui.inference.loop_guard import LoopGuard
from whisper_tui.models.window import processor_window_s
from whisper_tui.whisper_facts import MAX_TARGET_TOKENS, SAMPLE_RATE

_WINDOW_TOKENS = 224  # as timed.py: new tokens per window (OpenAI's sample_len)


class TorchWindows:
    """`decode_window` for a transformers Whisper `model` with its `processor` and `tokens` (WhisperTokens)."""

    backend = "torch"

    def __init__(self, model, processor, tokens, language: str = "en") -> None:
        self.model = model
        self.processor = processor
        self.tokens = tokens
        self.language = language or "en"
        self.window = int(processor_window_s(processor))
        self.multilingual = bool(getattr(model.generation_config, "is_multilingual", False))

    def decode_window(self, chunk: np.ndarray, prompt: list[int]) -> list[int]:
        """The ids transformers generates for one window after `prompt`: text and timestamps, no prompt."""
        import torch
        from transformers.generation import LogitsProcessorList

        model, tokens = self.model, self.tokens
        fe = self.processor.feature_extractor
        features = fe([chunk], sampling_rate=SAMPLE_RATE, return_tensors="pt", max_length=self.window * SAMPLE_RATE)
        param = next(model.parameters())
        start = prompt.index(tokens.sot)
        after_sot = len(prompt) - start  # <|startoftranscript|> (+ language + task): transformers adds them itself
        kwargs: dict = {"return_timestamps": True, "force_unique_generate_call": True,
                        "logits_processor": LogitsProcessorList([LoopGuard(tokens.eot)]),
                        # a total length (transformers adds the prompt's length to it, within the 448 positions)
                        "max_length": min(_WINDOW_TOKENS, MAX_TARGET_TOKENS - len(prompt))}
        if start:
            kwargs["prompt_ids"] = torch.tensor(prompt[:start], device=param.device)
        if self.multilingual:
            kwargs.update(language=self.language, task="transcribe")
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                out = model.generate(input_features=features.input_features.to(param.device, param.dtype), **kwargs)
        finally:
            model.train(was_training)
        sequence = (out.sequences if hasattr(out, "sequences") else out)[0].tolist()
        ids = sequence[sequence.index(tokens.sot) + after_sot:]  # the generated part
        return ids[:ids.index(tokens.eot) + 1] if tokens.eot in ids else ids
