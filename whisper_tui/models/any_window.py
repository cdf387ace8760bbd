"""Let a transformers Whisper encoder run at any window up to its own, batch by batch.

transformers' `WhisperEncoder.forward` insists on exactly `max_source_positions x 2` mel frames and
adds its whole position table. An any-window model (`model.windows`) must run a 10 s batch and
then a 30 s one with the same weights, so the table is kept whole and each forward uses its first
`frames / 2` rows, as OpenAI's own code does for shorter input. This is done without swapping
modules or touching the shared config: the position embedding's class becomes `WindowPositions`
(same weight, same state_dict key, so saving is unchanged whatever window ran last) and the encoder
gets a private copy of its config, whose `max_source_positions` a forward pre-hook sets to the
batch's length. CTranslate2 needs none of this: it slices its table itself.
"""

from __future__ import annotations

import copy

import torch

from whisper_tui.models.parts import encoder_of

_HOOKED = "_whisper_tui_any_window"


class WindowPositions(torch.nn.Embedding):
    """An nn.Embedding whose `num_embeddings` is the current batch's positions; the weight stays whole."""

    @property
    def num_embeddings(self) -> int:
        return int(self.__dict__.get("_window_positions") or self.weight.shape[0])

    @num_embeddings.setter
    def num_embeddings(self, value: int) -> None:  # nn.Embedding.__init__ and copies set it
        self.__dict__["_window_positions"] = None


def _fit_to_input(encoder, args, kwargs) -> None:
    features = kwargs.get("input_features", args[0] if args else None)
    if features is None:
        return
    full = encoder.embed_positions.weight.shape[0]
    stride = encoder.conv1.stride[0] * encoder.conv2.stride[0]
    positions = int(features.shape[-1]) // stride
    if positions > full:
        raise ValueError(f"{features.shape[-1]} mel frames is a longer window than this encoder's "
                         f"{full * stride // 100:g} s; cut the audio into pieces of at most that")
    encoder.embed_positions.__dict__["_window_positions"] = positions
    encoder.config.max_source_positions = positions


def one_segment(gen_kwargs: dict) -> dict:
    """Generate kwargs for input of one window per clip (features of at most one window, or encoder outputs):
    one decoding pass.

    Without it transformers' generate treats a clip whose tokens hold two timestamps in a row (a random or
    looping model emits them, <|notimestamps|> or not) as a segment that ends there and goes round its
    long-form loop again from that timestamp. From encoder outputs the loop slices the input_features it was
    not given: TypeError "'NoneType' object is not subscriptable" in `_maybe_reduce_batch`, for the whole
    batch. From features it decodes the window again and again, a second further each time: a clip's text
    repeated once per second of its window (issue 24's fuzz: a 10-token budget gave 4,000 characters in a
    minute). A window is one segment, so one pass is all.
    """
    return {**gen_kwargs, "force_unique_generate_call": True}


def _generate_at_input_window(self, *args, **kwargs):
    """Whisper's generate at the window of the features (or encoder outputs) it is given.

    transformers' generate pads every segment to `config.max_source_positions x 2` frames before it encodes
    (generation_whisper._get_input_segment), which would run a 10 s batch at 30 s. For the length of the call
    the config says the input's window; longer input (long-form) goes through as it is.
    """
    features = kwargs.get("input_features", args[0] if args else None)
    encoded = kwargs.get("encoder_outputs")
    full = int(self.config.max_source_positions)
    if features is not None:
        encoder = encoder_of(self)
        positions = int(features.shape[-1]) // (encoder.conv1.stride[0] * encoder.conv2.stride[0])
    elif encoded is not None:
        hidden = encoded[0] if isinstance(encoded, tuple | list) else encoded.last_hidden_state
        positions = int(hidden.shape[1])
    else:
        positions = full
    if positions <= full:  # one window per clip (longer features are long-form: the loop is wanted)
        kwargs = one_segment(kwargs)
    if not 0 < positions < full:
        return type(self).generate(self, *args, **kwargs)
    self.config.max_source_positions = positions
    try:
        return type(self).generate(self, *args, **kwargs)
    finally:
        self.config.max_source_positions = full


def enable_any_window(model) -> None:
    """Make `model` (its encoder and its generate) take any mel length up to its window (in place; calling
    again is a no-op)."""
    import types

    from whisper_tui.models.parts import base_of

    encoder = encoder_of(model)
    if getattr(encoder, _HOOKED, False):
        return
    encoder.embed_positions.__class__ = WindowPositions
    encoder.embed_positions.__dict__["_window_positions"] = None
    encoder.config = copy.copy(encoder.config)  # the pre-hook changes this one only; the model's config stays whole
    encoder.register_forward_pre_hook(_fit_to_input, with_kwargs=True)
    base = base_of(model)
    # bound to the instance (a deep copy of the model rebinds it to the copy), calling the class's own generate
    base.generate = types.MethodType(_generate_at_input_window, base)
    setattr(encoder, _HOOKED, True)
