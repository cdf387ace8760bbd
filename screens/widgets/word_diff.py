"""Word-level differences between two transcripts, as Rich Text for side-by-side display.

Words are matched on a lower-cased, punctuation-free form so "Hello," and "hello" count as the
same word (the WER scorer normalises the same way), while the original spelling is what shows.
Words only the first text has are struck through in red; words only the second has are green.
"""

from __future__ import annotations

import difflib
import re

from rich.text import Text

DELETED = "bold red strike"
INSERTED = "bold green"
_PUNCT = re.compile(r"[^\w']+")


def _key(word: str) -> str:
    return _PUNCT.sub("", word.lower()).strip("'") or word


def _opcodes(before: list[str], after: list[str]):
    matcher = difflib.SequenceMatcher(a=[_key(w) for w in before], b=[_key(w) for w in after], autojunk=False)
    return matcher.get_opcodes()


def _append(text: Text, words: list[str], style: str = "") -> None:
    for word in words:
        if text.plain:
            text.append(" ")
        text.append(word, style=style)


def side_by_side(before: str, after: str) -> tuple[Text, Text]:
    """(before with its dropped/replaced words marked red, after with its new words marked green)."""
    old, new = before.split(), after.split()
    left, right = Text(), Text()
    for tag, i1, i2, j1, j2 in _opcodes(old, new):
        if tag == "equal":
            _append(left, old[i1:i2])
            _append(right, new[j1:j2])
        else:
            _append(left, old[i1:i2], DELETED)
            _append(right, new[j1:j2], INSERTED)
    return left, right


def inline_diff(before: str, after: str) -> Text:
    """One line: kept words plain, removed words red struck through, added words green."""
    old, new = before.split(), after.split()
    text = Text()
    for tag, i1, i2, j1, j2 in _opcodes(old, new):
        if tag == "equal":
            _append(text, new[j1:j2])
            continue
        _append(text, old[i1:i2], DELETED)
        _append(text, new[j1:j2], INSERTED)
    return text


def changed_word_count(before: str, after: str) -> int:
    """How many words differ (removed + added), for a quick "n words changed" summary."""
    old, new = before.split(), after.split()
    return sum((i2 - i1) + (j2 - j1) for tag, i1, i2, j1, j2 in _opcodes(old, new) if tag != "equal")
