"""Transcripts that cannot be trained on as they are: too many tokens for the decoder, or a word
rate no speaker has for the clip's length (most often the wrong transcript for the file).

Whisper's decoder has 448 positions; a label longer than that minus the prompt (start-of-transcript,
language, task, no-timestamps) and the end token cannot be trained on whole. Cutting it silently
would teach the model to stop mid-sentence, so such rows are flagged and left out instead. The
token count here uses the bundled tiny.en tokenizer (`tokenizers`, no torch): the training run
checks again with the model's own tokenizer (`training/job.py`).
"""

from __future__ import annotations

import functools
import re

from whisper_tui.whisper_facts import MAX_TARGET_TOKENS

DECODER_POSITIONS = MAX_TARGET_TOKENS  # Whisper's max_target_positions, every size
LONGEST_PROMPT = 4  # <|startoftranscript|> <|lang|> <|task|> <|notimestamps|> (multilingual models)
MAX_TRANSCRIPT_TOKENS = DECODER_POSITIONS - LONGEST_PROMPT - 1  # and <|endoftext|>

# Read speech runs at 2-3.5 words per second and fast talkers at about 5; auctioneer speed is 6+.
FASTEST_WPS = 6.0
SLACK_WORDS = 3  # very short clips: "thank you very much" in 0.6 s is plausible
# A long clip with almost no words is more often a wrong or truncated transcript than slow speech.
SLOWEST_WPS = 0.15
SLOW_CHECK_FROM_S = 8.0

_WORD = re.compile(r"\w+(?:['’]\w+)*")


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def implausible_rate(text: str, duration_s: float) -> str | None:
    """Why `text` cannot be what is said in `duration_s` seconds, or None when the rate is plausible."""
    if duration_s <= 0:
        return None
    words = word_count(text)
    if words > FASTEST_WPS * duration_s + SLACK_WORDS:
        return (f"{words} words in {duration_s:.1f} s ({words / duration_s:.1f} words/s; people speak at most "
                f"~{FASTEST_WPS:g})")
    if duration_s >= SLOW_CHECK_FROM_S and words < SLOWEST_WPS * duration_s:
        return f"{words} word{'s' if words != 1 else ''} in {duration_s:.1f} s ({words / duration_s:.2f} words/s)"
    return None


@functools.lru_cache(maxsize=1)
def _bundled_tokenizer():
    """The tiny.en tokenizer from the bundled model, or None when it cannot be loaded."""
    try:
        from tokenizers import Tokenizer

        from whisper_tui.models.convert import embedded_source_dir

        return Tokenizer.from_file(str(embedded_source_dir() / "tokenizer.json"))
    except Exception:  # no package, no file: the check is skipped, never fatal
        return None


def token_counts(texts: list[str]) -> list[int] | None:
    """Tokens of each transcript as the model reads it (a leading space, no special tokens); None without
    a tokenizer."""
    tok = _bundled_tokenizer()
    if tok is None:
        return None
    encoded = tok.encode_batch([" " + t.strip() for t in texts], add_special_tokens=False)
    return [len(e.ids) for e in encoded]
