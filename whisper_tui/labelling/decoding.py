"""One window (at most 30 s) through Whisper: tokens with timestamps, each token's probability, no-speech.

Labelling needs more than text: where Whisper's own segments begin and end (to cut long files at
pauses), how sure it was of each token (the `confidence` column, so a reviewer starts with the
worst rows), and the probability of the no-speech token (to leave silence and music out instead
of labelling them with invented words). Two backends give the same `Decoded`:

- "ct2" (CTranslate2, the bundled tiny.en as it ships): greedy `generate` with
  `return_no_speech_prob` and `return_logits_vocab`; a token's probability is the softmax of the
  logits CTranslate2 returns for the step that chose it.
- "torch" (transformers, any model the resolver takes): greedy decoding (GenerationMixin's loop with
  transformers' Whisper timestamp rules), then one teacher-forced
  decoder pass over prompt + tokens, whose logits give every token's probability and, at the
  start-of-transcript position, the no-speech probability (OpenAI's definition).

Timestamp tokens are kept in `Decoded.tokens` (ids >= `timestamp_begin`); text tokens sit below
`eot`. Both backends stop a repetition loop the way `transcribe.LoopGuard` does (CT2: `CT2Whisper.decode`).

An any-window model (window.py) decodes a clip without timestamps (a short file kept whole, a
relabelled clip) at the shortest of its windows that holds it, as the transcriber does; a window of
a long recording, decoded with timestamps, runs at the longest (`window_to_decode`): its pieces are
cut at that window, and timestamps were only ever trained in full windows.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from whisper_tui.data.audio import SAMPLE_RATE
from whisper_tui.models.parts import encoder_of
from whisper_tui.models.window import window_for

TOKENS_PER_SECOND = 10  # generous: fast speech is about 4-5 tokens a second (as transcribe.py)
TOKEN_ALLOWANCE = 20


@dataclass(frozen=True)
class Decoded:
    """One window's decoding: tokens (text and timestamps, no prompt, no end token), their probabilities."""

    tokens: list[int]
    probs: list[float]
    no_speech: float


def window_to_decode(seconds: float, windows, timestamps: bool) -> int:
    """The window a clip of `seconds` is decoded at: the longest with timestamps, else `window_for`."""
    return max(int(w) for w in windows) if timestamps else window_for(seconds, windows)


def default_backend() -> str:
    """ct2 when CTranslate2 can run here (faster on CPU, and the bundled model's own format), else torch."""
    from whisper_tui.inference.backends import CT2, TORCH, ct2_available

    return CT2 if ct2_available() is None else TORCH


def _softmax_at(logits: np.ndarray, index: int) -> float:
    logits = np.asarray(logits, dtype=np.float64)
    top = logits.max()
    return float(math.exp(logits[index] - top) / np.exp(logits - top).sum())


class CT2Decoder:
    """The CTranslate2 model behind `whisper_tui.inference.transcribe.CT2Whisper` (exported once when needed)."""

    backend = "ct2"

    def __init__(self, model: str, device: str = "cpu") -> None:
        from whisper_tui.inference.transcribe import CT2Whisper

        self._cw = CT2Whisper(model, device=device)
        self.eot = self._cw.eot
        self.timestamp_begin = self._cw.timestamp_begin
        self.multilingual = self._cw.multilingual
        self.windows = self._cw.windows
        self.window_s = self._cw.window_s
        # CT2Whisper's numpy log-mel (`features_at`) and tokenizers-only tokenizer (`tokens`): no torch, no transformers
        self._decode_ids = self._cw.tokens.decode

    def decode(self, wave: np.ndarray, timestamps: bool, language: str = "en") -> Decoded:
        cw = self._cw
        window = window_to_decode(len(wave) / SAMPLE_RATE, self.windows, timestamps)
        features = cw.features_at(window)([wave])
        budget = math.ceil(len(wave) / SAMPLE_RATE * TOKENS_PER_SECOND) + TOKEN_ALLOWANCE
        if timestamps:
            budget *= 2  # a pair of timestamps per segment
        cut, results = cw.decode(features, [cw.prompt(language, timestamps)], budget,
                                 return_no_speech_prob=True, return_logits_vocab=True)
        result = results[0]
        ids = [t for t in cut[0] if t != self.eot]
        steps = result.logits[0]
        probs = [_softmax_at(np.asarray(steps[k]), t) for k, t in enumerate(ids) if k < len(steps)]
        return Decoded(ids[:len(probs)], probs, float(result.no_speech_prob))

    def text(self, ids: list[int]) -> str:
        return self._decode_ids([t for t in ids if t < self.eot]).strip()


class TorchDecoder:
    """A transformers Whisper (`load_model`: names, folders, run folders, adapters)."""

    backend = "torch"

    def __init__(self, model: str, device: str = "cpu") -> None:
        from whisper_tui.models.loading import load_model

        self.model, self.processor = load_model(model, device=device)
        self.model.eval()
        self.tokenizer = self.processor.tokenizer
        gen = self.model.generation_config
        self.eot = int(gen.eos_token_id)
        self.no_timestamps = int(gen.no_timestamps_token_id)
        self.timestamp_begin = self.no_timestamps + 1
        self.sot = int(gen.decoder_start_token_id)
        self.multilingual = bool(getattr(gen, "is_multilingual", False))
        self.no_speech_id = _no_speech_id(self.tokenizer)
        from whisper_tui.models.window import processor_window_s, supported_windows

        self.windows = supported_windows(self.processor)
        self.window_s = processor_window_s(self.processor)
        if len(self.windows) > 1:  # an any-window model: short clips run at a shorter window
            from whisper_tui.models.any_window import enable_any_window

            enable_any_window(self.model)

    def _prompt(self, language: str, timestamps: bool) -> list[int]:
        tok = self.tokenizer
        prompt = [self.sot]
        if self.multilingual:
            prompt += [tok.convert_tokens_to_ids(f"<|{language}|>"), tok.convert_tokens_to_ids("<|transcribe|>")]
        return prompt if timestamps else [*prompt, self.no_timestamps]

    def decode(self, wave: np.ndarray, timestamps: bool, language: str = "en") -> Decoded:
        import torch
        from transformers import GenerationMixin
        from transformers.generation import LogitsProcessorList, WhisperTimeStampLogitsProcessor

        from whisper_tui.inference.transcribe import LoopGuard

        model = self.model
        fe = self.processor.feature_extractor
        window = window_to_decode(len(wave) / SAMPLE_RATE, self.windows, timestamps)
        features = fe([wave], sampling_rate=SAMPLE_RATE, return_tensors="pt", max_length=window * fe.sampling_rate)
        dtype = next(model.parameters()).dtype
        input_features = features.input_features.to(model.device, dtype)
        budget = math.ceil(len(wave) / SAMPLE_RATE * TOKENS_PER_SECOND) + TOKEN_ALLOWANCE
        prompt = self._prompt(language, timestamps)
        processors = [LoopGuard(self.eot)]
        if timestamps:
            processors.insert(0, WhisperTimeStampLogitsProcessor(model.generation_config, begin_index=len(prompt)))
        with torch.inference_mode():
            encoded = encoder_of(model)(input_features)
            prompt_ids = torch.tensor([prompt], device=model.device)
            # GenerationMixin's plain greedy loop, not Whisper's generate: that one re-runs the
            # long-form pipeline and hands back its own post-processed sequence
            sequences = GenerationMixin.generate(
                model, encoder_outputs=encoded, decoder_input_ids=prompt_ids, do_sample=False, num_beams=1,
                max_length=len(prompt) + min(440, 2 * budget if timestamps else budget), eos_token_id=self.eot,
                logits_processor=LogitsProcessorList(processors))
            ids = [int(t) for t in sequences[0, len(prompt):].tolist()]
            if self.eot in ids:
                ids = ids[:ids.index(self.eot)]
            decoder_ids = torch.tensor([prompt + ids], device=model.device)
            logits = model(encoder_outputs=encoded, decoder_input_ids=decoder_ids).logits[0].float()
            logprobs = torch.log_softmax(logits, dim=-1)
        probs = [float(math.exp(logprobs[len(prompt) - 1 + k, t])) for k, t in enumerate(ids)]
        no_speech = float(math.exp(logprobs[0, self.no_speech_id])) if self.no_speech_id is not None else 0.0
        return Decoded(ids, probs, no_speech)

    def text(self, ids: list[int]) -> str:
        return self.tokenizer.decode([t for t in ids if t < self.eot], skip_special_tokens=True).strip()


def _no_speech_id(tokenizer) -> int | None:
    unknown = tokenizer.convert_tokens_to_ids(tokenizer.unk_token) if tokenizer.unk_token else None
    for name in ("<|nospeech|>", "<|nocaptions|>"):
        token = tokenizer.convert_tokens_to_ids(name)
        if token is not None and token != unknown:
            return int(token)
    return None


def make_decoder(model: str, backend: str | None = None, device: str = "auto"):
    """A CT2Decoder or TorchDecoder for `model` (anything `resolve_model` takes). The last one made
    is kept, so labelling the same folder again (a relabel, the app's next run) skips the loading."""
    return _cached_decoder(str(model), backend or default_backend(), device)


@functools.lru_cache(maxsize=1)
def _cached_decoder(model: str, backend: str, device: str):
    from whisper_tui.inference.backends import check_backend

    check_backend(backend)
    if backend == "ct2":
        from whisper_tui.inference.backends import ct2_device

        return CT2Decoder(model, ct2_device(device))
    from whisper_tui.models.loading import device_for

    return TorchDecoder(model, device_for(device))
