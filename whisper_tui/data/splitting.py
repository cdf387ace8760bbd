"""Train/test splits that measure what a user wants to know: new sentences, and new voices.

A split that deals clips at random measures memorisation whenever a sentence (or a voice) is
recorded more than once: the same words end up on both sides and the test WER looks far better
than the model will do on anything new. So whole *groups* are held out (`data.split_by`):

- `text` (what `auto` uses): clips whose transcripts are the same sentence (case, punctuation and
  spacing ignored) stay on one side.
- a metadata.csv column, e.g. `speaker`: every value is a group, so a held-out speaker is heard
  only at test time.
- several keys joined by `+`, e.g. `text+speaker`: groups of each key are held out, so the test
  set has new sentences from known speakers and new speakers. With `text` among the keys no test
  clip says a training sentence: a held-out speaker's clip that would is left out of both sides
  and counted, never quietly leaked.
- `auto`: a `split` column when metadata.csv has one (train / test; dev and validation count as
  test), as curated datasets such as the bundled sample set ship; otherwise `text`.
- `clip`: the old per-file split, for data where every clip is a different sentence anyway.

Groups are taken in the order of a hash of (seed, key, value) until about `test_split` of the
clips are held out, so the split depends on the seed and the groups, never on row order. With k
keys each key holds out a share 1-(1-test_split)^(1/k), so the test set is about `test_split`
of the data either way.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field

from whisper_tui.errors import DatasetError

AUTO = "auto"
TEXT = "text"
CLIP = "clip"
SPLIT_COLUMN = "split"
SPEAKER_COLUMN = "speaker"
TRAIN_VALUES = frozenset({"train", "training"})
TEST_VALUES = frozenset({"test", "testing", "dev", "validation", "valid", "val", "eval", "evaluation",
                         "holdout", "heldout", "held-out"})
KNOWN_VOICES, NEW_VOICES = "known voices", "new voices"

_WORD = re.compile(r"[^\w']+", re.UNICODE)


def sentence_key(text: str) -> str:
    """The sentence a transcript says, for grouping: case, punctuation and spacing ignored.

    Deliberately simpler than Whisper's normaliser (which scoring uses): it needs no model files
    and two transcripts that differ only in writing style are still grouped together.
    """
    return " ".join(_WORD.sub(" ", text.casefold()).split())


@dataclass
class Split:
    """Which clips train, which test, and how that was decided (shown by `validate` and the Dataset screen)."""

    train: list
    test: list
    how: str  # one line: "by sentence: clips with the same transcript stay on one side"
    keys: tuple[str, ...] = ()
    left_out: list = field(default_factory=list)  # would have shared a group across the split
    shared_sentences: int = 0  # test clips whose sentence is also a training sentence
    notes: list[str] = field(default_factory=list)  # warnings for the log and `validate`

    def test_groups(self) -> dict[str, str]:
        """file_name -> "known voices" / "new voices" for test clips, when the data names speakers.

        The two figures a user asks for: the usual case (new sentences from voices the model was
        tuned on) and the hard one (someone it never heard). Empty when there is no speaker column.
        """
        if not any(c.column(SPEAKER_COLUMN) for c in self.test):
            return {}
        trained = {c.column(SPEAKER_COLUMN) for c in self.train if c.column(SPEAKER_COLUMN)}
        return {c.file_name: KNOWN_VOICES if c.column(SPEAKER_COLUMN) in trained else NEW_VOICES
                for c in self.test}

    def summary(self) -> str:
        """'train 84 · test 36 · by the split column' plus what was left out."""
        text = f"train {len(self.train)} · test {len(self.test)} · {self.how}"
        if self.left_out:
            text += f" · {len(self.left_out)} left out (would share a group with training)"
        return text

    def describe_test(self) -> str:
        """'36 test clips: 18 known voices, 18 new voices' (or just the count)."""
        groups = self.test_groups()
        if not groups:
            return f"{len(self.test)} test clips"
        known = sum(1 for g in groups.values() if g == KNOWN_VOICES)
        return f"{len(self.test)} test clips: {known} {KNOWN_VOICES}, {len(groups) - known} {NEW_VOICES}"


def parse_split_by(split_by: str) -> tuple[str, ...]:
    keys = tuple(k.strip().lower() for k in str(split_by or AUTO).split("+") if k.strip())
    if not keys:
        return (AUTO,)
    if len(keys) > 1 and (AUTO in keys or CLIP in keys):
        raise DatasetError(f"data.split_by = {split_by!r}: 'auto' and 'clip' cannot be combined with other keys",
                           "use e.g. text+speaker", where="data.split_by")
    return keys


def _check_fraction(test_split) -> float:
    if not isinstance(test_split, (int, float)) or not 0.0 <= float(test_split) <= 1.0:
        raise DatasetError(f"test_split must be between 0 and 1, got {test_split!r}",
                           "use e.g. 0.2 for 20% test clips", where="data.test_split")
    return float(test_split)


def _group_value(clip, key: str) -> str:
    if key == TEXT:
        return sentence_key(clip.transcription)
    if key == CLIP:
        return clip.file_name
    value = clip.column(key).strip().casefold()
    return value or f"\0clip:{clip.file_name}"  # no value: a group of its own


def _rank(seed: int, key: str, value: str) -> str:
    return hashlib.sha256(f"{seed}\0{key}\0{value}".encode("utf-8", "surrogatepass")).hexdigest()


def _held_out_groups(clips: list, key: str, share: float, seed: int) -> set[str]:
    """Groups of `key` to hold out: hash order, until about `share` of the clips; never none or all."""
    sizes: dict[str, int] = defaultdict(int)
    for clip in clips:
        sizes[_group_value(clip, key)] += 1
    ranked = sorted(sizes, key=lambda v: _rank(seed, key, v))
    if share >= 1.0:
        return set(ranked)
    target = share * len(clips)
    held: set[str] = set()
    count = 0
    for value in ranked:
        if count + sizes[value] / 2 > target:  # taking it would overshoot more than it helps
            continue
        held.add(value)
        count += sizes[value]
    if share > 0 and not held and len(ranked) >= 2:
        held.add(min(ranked[:-1], key=lambda v: sizes[v]))  # the smallest group among all but one
    if len(held) == len(ranked) and len(ranked) >= 2:
        held.discard(ranked[-1])
    return held


def _columns_of(clips: list) -> set[str]:
    return {k for c in clips for k, v in c.extra if v}


def split_dataset(clips: list, test_split: float = 0.2, seed: int = 42, split_by: str = AUTO) -> Split:
    """Split usable clips into train and test by whole groups (see the module docstring)."""
    share = _check_fraction(test_split)
    clips = list(clips)
    keys = parse_split_by(split_by)
    if keys == (AUTO,):
        keys = (SPLIT_COLUMN,) if SPLIT_COLUMN in _columns_of(clips) else (TEXT,)
    if keys == (SPLIT_COLUMN,):
        return _by_split_column(clips)
    missing = [k for k in keys if k not in (TEXT, CLIP) and k not in _columns_of(clips)]
    if missing and clips:
        have = sorted(_columns_of(clips))
        raise DatasetError(f"data.split_by names {', '.join(repr(m) for m in missing)}, which metadata.csv "
                           f"does not have (other columns: {', '.join(have) or 'none'})",
                           "use text, clip, or the name of a metadata.csv column such as speaker",
                           where="data.split_by")
    per_key = 1.0 - (1.0 - share) ** (1.0 / len(keys)) if share < 1.0 else 1.0
    held = {k: _held_out_groups(clips, k, per_key, seed) for k in keys}
    test_side = [any(_group_value(c, k) in held[k] for k in keys) for c in clips]
    train = [c for c, t in zip(clips, test_side) if not t]
    # A held-out speaker's clip may say a sentence that training has: that would test memory, so with
    # `text` among the keys such clips are used on neither side. A test clip from a speaker training
    # has is fine: it is the "known voices" case.
    trained_sentences = {sentence_key(c.transcription) for c in train} if TEXT in keys else set()
    test, left_out = [], []
    for clip, t in zip(clips, test_side):
        if t:
            (left_out if sentence_key(clip.transcription) in trained_sentences else test).append(clip)
    split = Split(train, test, _describe(keys), keys, left_out)
    if left_out:
        split.notes.append(f"{len(left_out)} clip(s) left out of both sides: held out by "
                           f"{' or '.join(k for k in keys if k != TEXT)}, but they say a sentence that training has")
    split.shared_sentences = shared_sentences(train, test)
    return split


def _by_split_column(clips: list) -> Split:
    train, test, other = [], [], []
    for clip in clips:
        value = clip.column(SPLIT_COLUMN).strip().casefold()
        (train if value in TRAIN_VALUES else test if value in TEST_VALUES else other).append(clip)
    split = Split(train, test, "by the metadata's split column", (SPLIT_COLUMN,), other)
    if other:
        split.notes.append(f"{len(other)} clip(s) have a split value other than train/test (or none) "
                           "and are used on neither side")
    _note_shared(split)
    return split


def check_separate_test_set(train: list, test: list) -> Split:
    """An explicit test folder: nothing to decide, but say when it repeats training sentences."""
    split = Split(list(train), list(test), "separate test folder", ())
    _note_shared(split)
    return split


def _note_shared(split: Split) -> None:
    split.shared_sentences = shared_sentences(split.train, split.test)
    if split.shared_sentences:
        split.notes.append(f"{split.shared_sentences} of {len(split.test)} test clip(s) say a sentence that is "
                           "also in training: their WER measures memory, not generalisation")


def shared_sentences(train: list, test: list) -> int:
    """How many test clips say a sentence that a training clip also says."""
    seen = {sentence_key(c.transcription) for c in train}
    return sum(1 for c in test if sentence_key(c.transcription) in seen)


def _noun(key: str) -> str:
    return {TEXT: "sentence", CLIP: "file"}.get(key, key)


def _describe(keys: tuple[str, ...]) -> str:
    if keys == (TEXT,):
        return "by sentence: no sentence on both sides"
    if keys == (CLIP,):
        return "by clip: a sentence recorded twice may be on both sides"
    if len(keys) == 1:
        return f"by {keys[0]}: each {keys[0]}'s clips on one side"
    return f"by {' and '.join(_noun(k) for k in keys)}: each held out on its own"
