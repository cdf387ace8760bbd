"""Labels with timestamp tokens and previous text, as Whisper's own training mixes them (issue 25).

A model trained only on `<|notimestamps|>` labels forgets where segments start. A single clip of
duration d becomes `<|0.00|> text <|d|>` (d rounded to Whisper's 0.02 s step, within the window);
a clip conditioned on previous text starts with `<|startofprev|> previous text` before
<|startoftranscript|>, and those tokens are masked from the loss (`PROMPT_MASK`): the model reads them,
it is not taught to write them. `training_labels` makes either kind from a clip's plain label ids; the
shares of training clips that get them are `training.timestamp_share` and `training.prompt_share`
(label_mix.py chooses the clips, the collator builds the decoder input of a prompted row).
"""

from __future__ import annotations

from collections.abc import Sequence

from whisper_tui.whisper_facts import TIMESTAMP_STEP_S  # one timestamp token per 20 ms
from whisper_tui.models.window import WHISPER_WINDOW_S

PROMPT_MASK = -100  # the loss ignores these label positions
MAX_PREVIOUS_TOKENS = 223  # OpenAI keeps at most n_text_ctx // 2 - 1 tokens of previous text


def timestamp_token(seconds: float, timestamp_begin: int, window_s: float = WHISPER_WINDOW_S) -> int:
    """The id of <|t|> for `seconds` (rounded to 0.02 s, clamped to [0, window_s])."""
    return timestamp_begin + round(min(max(float(seconds), 0.0), float(window_s)) / TIMESTAMP_STEP_S)


def timed_label_ids(body: Sequence[int], prefix: Sequence[int], *, eot: int, no_timestamps: int,
                    timestamp_begin: int, duration_s: float, window_s: float = WHISPER_WINDOW_S,
                    previous: Sequence[int] | None = None, sot_prev: int | None = None) -> list[int]:
    """Labels for one clip: [<|startofprev|> previous (masked)] prefix without <|notimestamps|>,
    <|0.00|> body <|duration|> <|endoftext|>. `body` is the text's tokens, `prefix` the usual decoder
    prefix (<|startoftranscript|> [language task] <|notimestamps|>)."""
    start = [t for t in prefix if t != no_timestamps]
    ids = [*start, timestamp_token(0.0, timestamp_begin, window_s), *body,
           timestamp_token(duration_s, timestamp_begin, window_s), eot]
    if previous:
        if sot_prev is None:
            raise ValueError("previous text needs the <|startofprev|> id")
        kept = list(previous)[-MAX_PREVIOUS_TOKENS:]
        ids = [PROMPT_MASK] * (1 + len(kept)) + ids
    return ids


def prompt_ids(previous: Sequence[int], sot_prev: int) -> list[int]:
    """The decoder input for the masked positions of `timed_label_ids(previous=...)`."""
    return [sot_prev, *list(previous)[-MAX_PREVIOUS_TOKENS:]]


def training_labels(plain: Sequence[int], prefix_len: int, *, eot: int, no_timestamps: int, timestamp_begin: int,
                    duration_s: float, timestamps: bool, previous: Sequence[int] | None = None,
                    sot_prev: int | None = None, window_s: float = WHISPER_WINDOW_S,
                    max_length: int | None = None) -> tuple[list[int], list[int]]:
    """(labels, prompt) for one clip from its plain labels (prefix + text + <|endoftext|>, speech_dataset.label_ids).

    `timestamps`: `<|0.00|> text <|d|>` instead of <|notimestamps|> text. `previous`: the labels start with
    one PROMPT_MASK per prompt token and `prompt` is `<|startofprev|> previous` (its last tokens, at most
    MAX_PREVIOUS_TOKENS, and only as many as keep prompt + labels within `max_length`, the decoder's
    positions: the prompt is shortened, never the transcript; [] when none fits). The labels line up with
    the token sequence `prompt + labels[len(prompt):]`, the decoder input is that sequence without its last
    token and the targets are `labels[1:]` (collator.py)."""
    plain = list(plain)
    if timestamps:
        ids = timed_label_ids(plain[prefix_len:-1], plain[:prefix_len], eot=eot, no_timestamps=no_timestamps,
                              timestamp_begin=timestamp_begin, duration_s=duration_s, window_s=window_s)
    else:
        ids = plain
    if not previous:
        return ids, []
    if sot_prev is None:
        raise ValueError("previous text needs the <|startofprev|> id")
    room = MAX_PREVIOUS_TOKENS if max_length is None else min(MAX_PREVIOUS_TOKENS, int(max_length) - len(ids) - 1)
    if room <= 0:
        return ids, []
    prompt = prompt_ids(list(previous)[-room:], sot_prev)
    return [PROMPT_MASK] * len(prompt) + ids, prompt
