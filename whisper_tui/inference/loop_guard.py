"""The logits guard that ends a repetition loop ("thank you thank you thank you ...") in every decode.

A phrase already repeated back to back may not start again: transformers runs `LoopGuard` as a logits
processor, and decoders that take none (CTranslate2) cut their output with `LoopGuard.cut`, the same stop
after the fact. Ordinary repetition is untouched: only back-to-back repeats count.
"""

from __future__ import annotations

from collections.abc import Sequence


class LoopGuard:
    """Logits processor: ban the token that would extend a phrase repeated back to back.

    A phrase of `p` tokens already repeated `repeats(p)` times in a row at the end of a sequence
    may not start again. Very short units need more repeats ("no, no, no" is speech; nine
    "no"s is a loop).
    """

    def __init__(self, eos_token_id: int | None, max_period: int = 40, repeats_short: int = 6,
                 repeats_long: int = 3, short_period: int = 3) -> None:
        self.eos_token_id = eos_token_id
        self.max_period = max_period
        self.repeats_short = repeats_short
        self.repeats_long = repeats_long
        self.short_period = short_period

    def __call__(self, input_ids, scores):
        batch, length = input_ids.shape
        for period in range(1, self.max_period + 1):
            repeats = self.repeats_short if period < self.short_period else self.repeats_long
            span = period * repeats
            if span > length:
                continue  # a longer period with fewer required repeats may still fit
            blocks = input_ids[:, -span:].reshape(batch, repeats, period)
            looping = (blocks == blocks[:, -1:, :]).all(dim=2).all(dim=1)
            if not bool(looping.any()):
                continue
            rows = looping.nonzero().flatten()
            banned = input_ids[rows, -period]
            keep = banned != self.eos_token_id if self.eos_token_id is not None else banned >= 0
            scores[rows[keep], banned[keep]] = float("-inf")
        return scores

    def cut(self, tokens: Sequence[int]) -> list[int]:
        """`tokens` up to the first one this guard would have banned: the same stop, after the fact,
        for decoders that take no logits processor (CTranslate2)."""
        tokens = list(tokens)
        for end in range(1, len(tokens)):
            for period in range(1, min(self.max_period, end) + 1):
                repeats = self.repeats_short if period < self.short_period else self.repeats_long
                span = period * repeats
                if span > end or tokens[end] != tokens[end - period] or tokens[end] == self.eos_token_id:
                    continue
                tail = tokens[end - span:end]
                if all(tail[i] == tail[i % period + span - period] for i in range(span)):
                    return tokens[:end]
        return tokens
