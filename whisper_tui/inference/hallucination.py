"""Signs that a transcript was hallucinated rather than heard: loops, empty output, runaway length.

Whisper fails in recognisable ways, most of all after fine-tuning on a small dataset: it repeats a
word or phrase back to back until the token budget runs out, says nothing at all, or goes on far
past what was said. WER counts these as ordinary errors; `signs()` names them, per clip, so an
evaluation can say "2 loops, 1 empty" next to the score.

Texts are compared after Whisper's English normaliser (`whisper_tui.inference.metrics.normalize`), so
punctuation, case and fillers ("uh", "hmm") never matter. The kinds, in the order `signs()`
returns them:

- ``"loop"``: an n-gram repeated back to back in the hypothesis at least `LOOP_REPEATS[n]` times:
  a single word 4 times ("no no no no"), a phrase of 2-4 words 3 times ("thank you thank you thank
  you"), a phrase of 5 words or more twice. "very very good" or "no no" are speech, not loops.
  When there is a reference, a repetition the speaker made is not a loop: the hypothesis must
  repeat the n-gram at least `LOOP_REPEATS[n] - 1` times more than the reference does (a reference
  "no no no no" needs seven "no"s in the hypothesis, one with the phrase once needs two copies of a
  5-word phrase). Also a loop: a hypothesis of at least `MIN_WORDS_FOR_RATIO` words whose zlib
  compression ratio is over `COMPRESSION_RATIO` (Whisper's own fallback threshold, 2.4).
- ``"empty"``: nothing (after normalising) for a reference that has words.
- ``"long"``: more than ``2 * reference words + 3`` words in the hypothesis, i.e. more insertions
  than the reference has words (plus a slack of 3 for very short references). A reference that
  normalises to nothing (a silent clip) allows 3 words.
- ``"too_many_words"``: only without a reference (`reference=None`, as in transcription) and with
  the audio's duration: more than `MAX_WORDS_PER_SECOND` (6) words per second of audio, plus a
  slack of 2 words for very short clips. Fast English speech is 3-4 words a second.

No torch here (and transformers only when a text is normalised): the training loop, the CLI and
the app all call it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

KINDS: tuple[str, ...] = ("loop", "empty", "long", "too_many_words")
# back-to-back repeats that make a loop, by n-gram length (5 and longer: LONG_PHRASE_REPEATS)
LOOP_REPEATS: dict[int, int] = {1: 4, 2: 3, 3: 3, 4: 3}
LONG_PHRASE_REPEATS = 2
MAX_PHRASE_WORDS = 40
COMPRESSION_RATIO = 2.4
MIN_WORDS_FOR_RATIO = 12
LONG_FACTOR = 2
LONG_SLACK = 3
MAX_WORDS_PER_SECOND = 6.0
WPS_SLACK = 2

_LABELS = {"loop": ("loop", "loops"), "empty": ("empty", "empty"), "long": ("too long", "too long"),
           "too_many_words": ("too many words/s", "too many words/s")}


def _words(text: str | None) -> list[str]:
    from whisper_tui.inference.metrics import normalize

    # the normaliser keeps a lone "." or "..." (it guards decimal points): not a word
    return [w for w in normalize(text or "").split() if any(ch.isalnum() for ch in w)]


def _threshold(n: int) -> int:
    return LOOP_REPEATS.get(n, LONG_PHRASE_REPEATS)


def _runs(words: Sequence[str], n: int) -> dict[tuple[str, ...], int]:
    """{n-gram: most back-to-back copies of it} for n-grams repeated at least twice in a row."""
    out: dict[tuple[str, ...], int] = {}
    run = 0  # how many positions j in a row have words[j] == words[j + n]
    for j in range(len(words) - n + 1):
        if j + n < len(words) and words[j] == words[j + n]:
            run += 1
            continue
        if run >= n:  # a period-n stretch of run + n words holds (run + n) // n copies
            start = j - run
            copies = (run + n) // n
            gram = tuple(words[start:start + n])
            out[gram] = max(out.get(gram, 0), copies)
        run = 0
    return out


def _most_copies(words: Sequence[str], gram: tuple[str, ...]) -> int:
    """Most back-to-back copies of `gram` in `words` (0 when it does not occur)."""
    n, best, i = len(gram), 0, 0
    while i <= len(words) - n:
        copies = 0
        while tuple(words[i + copies * n:i + (copies + 1) * n]) == gram:
            copies += 1
        if copies:
            best = max(best, copies)
            i += copies * n
        else:
            i += 1
    return best


def _is_loop(hyp: list[str], ref: list[str] | None) -> bool:
    for n in range(1, min(MAX_PHRASE_WORDS, len(hyp) // 2) + 1):
        need = _threshold(n)
        for gram, copies in _runs(hyp, n).items():
            if copies < need:
                continue
            # the stretch may start mid-phrase ("you thank you thank you thank"): any rotation counts
            said = max(_most_copies(ref, gram[k:] + gram[:k]) for k in range(n)) if ref else 0
            if copies - said >= need - 1:
                return True
    if len(hyp) >= MIN_WORDS_FOR_RATIO:
        raw = " ".join(hyp).encode("utf-8")
        if len(raw) / len(zlib.compress(raw)) > COMPRESSION_RATIO:
            return not ref or _compression(ref) <= COMPRESSION_RATIO
    return False


def _compression(words: list[str]) -> float:
    raw = " ".join(words).encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def signs(reference: str | None, hypothesis: str, duration_s: float | None = None) -> tuple[str, ...]:
    """The hallucination kinds (a subset of `KINDS`, in that order) `hypothesis` shows.

    `reference=None` means there is none (transcription): then only "loop" and, given
    `duration_s`, "too_many_words" can be found. See the module docstring for the thresholds.
    """
    hyp = _words(hypothesis)
    ref = None if reference is None else _words(reference)
    found = []
    if hyp and _is_loop(hyp, ref):
        found.append("loop")
    if ref is not None:
        if ref and not hyp:
            found.append("empty")
        if len(hyp) > LONG_FACTOR * len(ref) + LONG_SLACK:
            found.append("long")
    elif duration_s is not None and duration_s > 0 and len(hyp) > MAX_WORDS_PER_SECOND * duration_s + WPS_SLACK:
        found.append("too_many_words")
    return tuple(found)


def signs_per_clip(references: Sequence[str | None], hypotheses: Sequence[str],
                   durations: Sequence[float | None] | None = None) -> list[tuple[str, ...]]:
    durations = durations if durations is not None else [None] * len(hypotheses)
    return [signs(r, h, d) for r, h, d in zip(references, hypotheses, durations, strict=True)]


def totals(per_clip: Iterable[Sequence[str]]) -> dict[str, int]:
    """{kind: clips showing it} for every kind in `KINDS` (zeros included, so the keys are stable)."""
    counts = dict.fromkeys(KINDS, 0)
    for kinds in per_clip:
        for kind in kinds:
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def count_signs(references: Sequence[str | None], hypotheses: Sequence[str],
                durations: Sequence[float | None] | None = None) -> dict[str, int]:
    """{kind: number of clips showing it}, every kind in `KINDS` present."""
    return totals(signs_per_clip(references, hypotheses, durations))


def flagged(references: Sequence[str | None], hypotheses: Sequence[str],
            durations: Sequence[float | None] | None = None) -> int:
    """How many clips show at least one sign (a loop that also runs long counts once)."""
    return sum(1 for kinds in signs_per_clip(references, hypotheses, durations) if kinds)


def describe(counts: dict[str, int]) -> str:
    """'2 loops, 1 empty' (kinds with no clip left out), or 'none'."""
    parts = []
    for kind, n in counts.items():
        if n:
            one, many = _LABELS.get(kind, (kind, kind))
            parts.append(f"{n} {one if n == 1 else many}")
    return ", ".join(parts) or "none"
