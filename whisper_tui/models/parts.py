"""Where the parts of a Whisper model are, whether peft wraps it or not.

Training code meets three shapes of the same model: `WhisperForConditionalGeneration`, the same
inside a `PeftModel` (LoRA/QLoRA), and occasionally the bare `WhisperModel`. Each helper here
reaches through the wrapper the same way, so a new wrapper (or a transformers rename) is fixed
in one place. Torch-free: it only follows attributes.
"""

from __future__ import annotations

# The linear layers inside Whisper's attention and feed-forward blocks: what LoRA may target. The
# trainer turns these names into a peft target regex, so any other name would silently match nothing.
WHISPER_LINEAR_LAYERS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")


def base_of(model):
    """The Whisper model under a peft wrapper (the model itself when it is not wrapped)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _inner(model):
    base = base_of(model)
    return getattr(base, "model", base)  # WhisperForConditionalGeneration.model is the WhisperModel


def encoder_of(model):
    """The audio encoder (`WhisperEncoder`)."""
    return _inner(model).encoder


def decoder_of(model):
    """The text decoder (`WhisperDecoder`)."""
    return _inner(model).decoder
