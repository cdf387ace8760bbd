"""Should a clip become a row, and what should a reviewer be warned about?

Silence and music must not become training rows with invented words ("you", "Thank you for
watching"), the classic Whisper hallucinations on audio without speech. A clip is left out when:

- `silence`: its loudest 100 ms is under `energy.SILENT_DBFS` (nothing to hear; not decoded);
- `no_speech`: the model wrote no words (only "[BLANK_AUDIO]", "(music)", "♪" and the like, which
  Whisper's English normaliser removes), or its no-speech probability is at least `NO_SPEECH_P` and it was
  unsure of the words (mean token probability under `UNSURE_BELOW`) or they look hallucinated
  (a loop, or far too few words for the voiced audio: tiny.en wrote "Thank you." with a no-speech
  probability of 0.85 and a confidence of 0.52 for 10 s of synthetic music). This is OpenAI's rule (no_speech > 0.6 and avg logprob < -1, which skips a window) with
  the hallucination signs added.

A kept row's `flags` (`;`-joined, in this order) name what deserves a look:
`loop` (`hallucination.signs`: a phrase repeated back to back, or a text that compresses like
one), `compression` (zlib ratio over
`hallucination.COMPRESSION_RATIO` on 12+ words: Whisper's own "this is a loop" test),
`no_speech` (no-speech probability >= `NO_SPEECH_P` and a mean token probability under
`CONFIDENT`: tiny.en gives clean read speech a no-speech probability of 0.6 now and then, so the
probability alone would flag good rows; in a long recording it is the probability of the whole
30 s window the clip was decoded in), `too_long` (more than 6 words a
second: `signs`' too_many_words), `too_short` (fewer than `MIN_WORDS_PER_VOICED_S` words per
second of voiced audio over at least `SHORT_MIN_VOICED_S`: words are probably missing).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from whisper_tui.inference import hallucination

FLAG_KINDS = ("loop", "compression", "no_speech", "too_long", "too_short")
LEFT_OUT_REASONS = ("silence", "no_speech")
NO_SPEECH_P = 0.6
NO_SPEECH_SURE = 0.8  # a long recording's window this sure has no speech: its unsure clips go
UNSURE_BELOW = 0.5  # a long recording's clips share their window's no-speech probability (0.6 seen on clean speech)
CONFIDENT = 0.8
MIN_WORDS_PER_VOICED_S = 0.6
SHORT_MIN_VOICED_S = 3.0


@dataclass(frozen=True)
class Verdict:
    left_out: str | None  # a LEFT_OUT_REASONS entry, or None: the clip becomes a row
    flags: tuple[str, ...]
    confidence: float | None


def words_of(text: str) -> list[str]:
    """Words after Whisper's English normaliser (`metrics.normalize`: "[BLANK_AUDIO]", "(music)" and "♪" go)."""
    from whisper_tui.inference.metrics import normalize

    return [w for w in normalize(text or "").split() if any(ch.isalnum() for ch in w)]


def compression_flag(words: list[str]) -> bool:
    if len(words) < hallucination.MIN_WORDS_FOR_RATIO:
        return False
    raw = " ".join(words).encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) > hallucination.COMPRESSION_RATIO


def judge(text: str, probs: list[float], no_speech: float | None, duration_s: float,
          voiced_s: float, *, window_shared: bool = False) -> Verdict:
    """The verdict on a clip the model wrote `text` for (`probs`: its text tokens' probabilities).

    `window_shared`: `no_speech` is the probability of the 30 s window the clip was cut from (a long
    recording), not the clip's own. Then low confidence alone does not leave the clip out: the window's
    other clips may be what made it look speechless, and a spoken sentence full of words the model does
    not know (drug names read at 0.45 confidence) is exactly the row a reviewer must see. It is kept and
    flagged `no_speech` unless the window is all but sure (`NO_SPEECH_SURE`); a loop or far too few words
    still leave it out. Measured with tiny.en (ct2): a window of eSpeak domain sentences 0.64 (clips at
    0.41-0.61 confidence), a 40 s plucked tune 0.91 and 0.83 ("So, I'm going to go ahead and do that." at 0.33).
    """
    confidence = sum(probs) / len(probs) if probs else None
    words = words_of(text)
    if not words:
        return Verdict("no_speech", (), confidence)
    signs = hallucination.signs(None, text, duration_s)
    flags = []
    if "loop" in signs:
        flags.append("loop")
    if compression_flag(words):
        flags.append("compression")
    too_short = voiced_s >= SHORT_MIN_VOICED_S and len(words) < MIN_WORDS_PER_VOICED_S * voiced_s
    unsure = confidence is not None and confidence < UNSURE_BELOW
    if no_speech is not None and no_speech >= NO_SPEECH_P:
        sure = not window_shared or no_speech >= NO_SPEECH_SURE
        if (unsure and sure) or flags or too_short:  # "Thank you." over 10 s of music
            return Verdict("no_speech", tuple(flags), confidence)
        if confidence is None or confidence < CONFIDENT:
            flags.append("no_speech")
    if "too_many_words" in signs:
        flags.append("too_long")
    if too_short:
        flags.append("too_short")
    return Verdict(None, tuple(flags), confidence)
