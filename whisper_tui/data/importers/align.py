"""Cut a long recording with one plain transcript into training clips of at most 30 s.

A lecture, audiobook chapter or meeting often comes as one long audio file and one `.txt` with
everything that was said, with no times. Whisper trains on clips of at most 30 s, so the
transcript has to be placed in time and cut. This is how `cut_by_alignment` does it:

1. **Recognise with times.** The base model (the bundled tiny.en unless told otherwise) transcribes
   the recording piece by piece (`transcribe.plan_chunks`: pieces of at most one window, cut at the
   quietest moment near each window's end, so no word is split between pieces) through CTranslate2.
   Each piece's text tokens are then aligned to its audio by CTranslate2's `align` (dynamic time
   warping over the cross-attention of the model's alignment heads: OpenAI's word-timestamp method,
   also used by faster-whisper), which gives every recognised word a start and an end.
2. **Normalise both sides.** Lower case, punctuation and apostrophes dropped ("Clock's" -> "clocks"),
   numbers left as they come ("13" and "thirteen" are different words and simply do not match).
3. **Align the word sequences.** difflib's SequenceMatcher (no auto-junk) pairs the transcript's
   words with recognised words in order; inside the stretches it leaves unpaired, a small dynamic
   programme also pairs near spellings (character similarity >= `FUZZY_MIN_RATIO`, so "colour" and
   "color" match) and words Whisper wrote split or joined ("seashore" / "sea shore"). Paired words
   are *anchors*: they take the recognised word's times.
4. **Time every transcript word.** Words between two anchors take the times of the recognised words
   between those anchors (one to one when both stretches have the same number of words, else
   spread over their time span in proportion to word length); when Whisper heard nothing there, the
   gap between the anchors is shared out the same way. These times are estimates, not measurements:
   they are used to choose cuts, and a segment made mostly of them is marked poor (below).
5. **Cut.** Segments end at sentence ends (. ! ? … and line breaks) and are never longer than
   `max_s` (30 s): a longer sentence is cut at clause punctuation (, ; : —) or, failing that, at the
   widest pause between recognised words, never inside a word. Sentences shorter than `min_s` are
   joined to a neighbour while the result stays within `max_s`. Each cut goes at the quietest
   moment (100 ms smoothed energy) between the two words, and silence at a clip's ends is trimmed
   to `KEEP_SILENCE_S`. Speech heard between two segments that the transcript does not have (an
   aside the transcript left out) goes into neither clip.
6. **Score.** A segment's `quality` is `matched / max(transcript words, recognised words)` within it:
   the share of its transcript words that were found in the audio, lowered also when the audio holds
   speech the transcript does not have. A segment with `quality < POOR_BELOW` (0.6), or with no
   anchor at all, gets `status` "poor": its text and audio probably do not belong together (a
   stretch of the transcript that was not read, an ad-lib, a wrong file) and it must not be trained
   on. The clip is still written, so it can be listened to and fixed by hand.

The threshold: tiny.en mishears 5-20 % of the words of clean read speech and more of spontaneous
speech; fuzzy pairing recovers part of that. 0.6 lets a segment through with up to 40 % of its words
misheard, while text that does not belong to the audio pairs only the odd common word ("the",
"and") by chance and stays far below it (about 0.0-0.2 in the tests).

The recording is never modified; each segment is a new 16 kHz mono 16-bit WAV in `out_dir`.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from whisper_tui.data.audio import SAMPLE_RATE, load_audio
from whisper_tui.inference.energy import frame_db, quietest
from whisper_tui.data.metadata import MAX_CLIP_SECONDS
from whisper_tui.errors import WhisperTuiError

MIN_SEGMENT_S = 2.0  # shorter sentences are joined to a neighbour when they fit
POOR_BELOW = 0.6  # quality under this -> status "poor" (see the module docstring)
FUZZY_MIN_RATIO = 0.75  # character similarity for two differently spelled words to count as the same word
KEEP_SILENCE_S = 0.25  # silence kept before the first and after the last word of a clip
MAX_LEAD_S = 1.0  # a clip starts at most this long before its first word's estimated start (and ends after)
PAUSE_S = 0.3  # a gap this long between recognised words counts as a pause (a place to cut a long sentence)
TOKENS_PER_SECOND = 50  # alignment time steps: one per encoder position (20 ms)
_BATCH = 8
_SILENCE_DB = 35.0  # a frame this far below the recording's speech level is silence
_FUZZY_CELLS = 40_000  # stretches bigger than this (words x words) are left to the plain matcher
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*$")
_CLAUSE_END = re.compile(r"([,;:]|--|—|–)[\"'”’»)\]]*$")
_ABBREVIATIONS = frozenset({"mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "vs.", "e.g.", "i.e.", "no.", "jr.", "sr."})

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class RecognisedWord:
    """A word the base model heard, with its times in seconds from the start of the recording."""

    text: str
    start: float
    end: float
    probability: float = 1.0

    @property
    def norm(self) -> str:
        return normalise_word(self.text)


def normalise_word(word: str) -> str:
    """Lower case, letters and digits only ("Clock's," -> "clocks"; "13" stays "13")."""
    word = unicodedata.normalize("NFKC", word).lower()
    return "".join(ch for ch in word if ch.isalnum())


# --- 1. recognition with word times ---


@functools.lru_cache(maxsize=1)
def _ct2_model(model: str | None, device: str):
    from whisper_tui.inference.transcribe import CT2Whisper

    return CT2Whisper(model, device=device)


def recognise_words(wave: np.ndarray, model: str | None = None, *, device: str = "auto",
                    language: str = "en", on_progress: ProgressFn | None = None) -> list[RecognisedWord]:
    """Every word the base model hears in a 16 kHz mono wave of any length, with start and end times."""
    from whisper_tui.models.loading import device_for
    from whisper_tui.inference.transcribe import _MIN_SAMPLES, CUT_SEARCH_S, plan_chunks
    from whisper_tui.models.window import processor_window_s

    cw = _ct2_model(None if model is None else str(model), device_for(device))
    window_s = processor_window_s(cw.processor)
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    pieces = [(s, e) for s, e in plan_chunks(wave, max_s=window_s, search_s=min(CUT_SEARCH_S, window_s / 3))
              if e - s >= _MIN_SAMPLES]
    prompt = cw.prompt(language)
    align_prompt = cw.prompt(language, timestamps=True)  # the same start without <|notimestamps|>
    tok = cw.processor.tokenizer
    words: list[RecognisedWord] = []
    for begin in range(0, len(pieces), _BATCH):
        batch = pieces[begin:begin + _BATCH]
        waves = [wave[s:e] for s, e in batch]
        features = cw.processor.feature_extractor(waves, sampling_rate=SAMPLE_RATE, return_tensors="np").input_features
        encoded = cw.model.encode(cw.storage(features))
        longest_s = max(len(w) for w in waves) / SAMPLE_RATE
        cut, _ = cw.decode(encoded, [prompt] * len(batch), math.ceil(longest_s * 10) + 20 + len(prompt))
        token_lists = [[t for t in ids if t < cw.eot] for ids in cut]
        keep = [i for i, ids in enumerate(token_lists) if ids]
        if keep:
            sub = encoded if len(keep) == len(batch) else cw.storage(features[keep])
            frames = [max(1, len(waves[i]) // (SAMPLE_RATE // 100)) for i in keep]
            aligned = cw.model.align(sub, align_prompt, [token_lists[i] for i in keep], frames)
            for i, result in zip(keep, aligned, strict=True):
                offset = batch[i][0] / SAMPLE_RATE
                words.extend(_words_from_alignment(tok, token_lists[i], result, offset, len(waves[i]) / SAMPLE_RATE))
        if on_progress is not None:
            on_progress(min(begin + _BATCH, len(pieces)), len(pieces))
    return words


_recognised_files: dict[tuple, list[RecognisedWord]] = {}


def recognise_file(audio_path: Path, model: str | None = None, *, device: str = "auto", language: str = "en",
                   on_progress: ProgressFn | None = None) -> tuple[np.ndarray, list[RecognisedWord]]:
    """The recording (16 kHz mono) and its recognised words. The words of the last few files are
    kept, so aligning a corrected transcript to the same unchanged file again skips the recognition."""
    audio_path = Path(audio_path)
    st = audio_path.stat()
    key = (str(audio_path.resolve()), st.st_size, st.st_mtime_ns, None if model is None else str(model),
           device, language)
    wave = load_audio(audio_path)
    if key in _recognised_files:
        if on_progress is not None:
            on_progress(1, 1)
        return wave, _recognised_files[key]
    words = recognise_words(wave, model, device=device, language=language, on_progress=on_progress)
    while len(_recognised_files) >= 4:
        _recognised_files.pop(next(iter(_recognised_files)))
    _recognised_files[key] = words
    return wave, words


def _words_from_alignment(tok, ids: list[int], result, offset: float, piece_s: float) -> list[RecognisedWord]:
    """Group tokens into words (a token starting with a space starts a word) and time them from the
    DTW path: a token starts where the path first reaches it (as in faster-whisper's find_alignment)."""
    pairs = np.asarray(result.alignments, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        return []
    text_idx, time_idx = pairs[:, 0], pairs[:, 1]
    jumps = np.concatenate([[True], np.diff(text_idx) != 0])
    jump_times = time_idx[jumps] / TOKENS_PER_SECOND  # one per token, then one for <|endoftext|>
    probs = np.asarray(result.text_token_probs, dtype=np.float64)
    pieces = tok.convert_ids_to_tokens(ids)
    groups: list[list[int]] = []
    for k, piece in enumerate(pieces):
        if not groups or piece.startswith("Ġ") or piece.startswith(" "):
            groups.append([k])
        else:
            groups[-1].append(k)
    def at(k: int) -> float:
        return float(jump_times[k]) if k < len(jump_times) else piece_s

    words = []
    for group in groups:
        text = tok.decode([ids[k] for k in group]).strip()
        if not text:
            continue
        # a word ends where its trailing punctuation starts: the path tends to give the pause after
        # a sentence to its full stop
        spoken = [k for k in group if normalise_word(tok.decode([ids[k]]))] or group
        first, last = group[0], spoken[-1] + 1
        start, end = min(at(first), piece_s), min(at(last), piece_s)
        prob = float(probs[first:last].mean()) if last <= len(probs) else 0.0
        words.append(RecognisedWord(text, offset + start, offset + max(end, start), prob))
    return words


# --- 3. sequence alignment ---


def match_words(ref: list[str], hyp: list[str]) -> list[tuple[int, int, int, int]]:
    """Pairs of word spans (ref_start, ref_end, hyp_start, hyp_end), in order, that are the same words.

    `ref` and `hyp` are normalised words (no empty strings). Exact pairs come from SequenceMatcher;
    inside the stretches it leaves, near spellings pair one to one and split / joined words one to two.
    """
    matcher = difflib.SequenceMatcher(None, ref, hyp, autojunk=False)
    pairs: list[tuple[int, int, int, int]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pairs.extend((i1 + k, i1 + k + 1, j1 + k, j1 + k + 1) for k in range(i2 - i1))
        elif op == "replace" and (i2 - i1) * (j2 - j1) <= _FUZZY_CELLS:
            pairs.extend((i1 + a, i1 + b, j1 + c, j1 + d) for a, b, c, d in _fuzzy_pairs(ref[i1:i2], hyp[j1:j2]))
    return pairs


def _similar(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if min(len(a), len(b)) < 3:
        return 0.0  # short words are either equal or different ("a" / "i", "on" / "in")
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _fuzzy_pairs(ref: list[str], hyp: list[str]) -> list[tuple[int, int, int, int]]:
    """Monotone pairing inside one unmatched stretch, maximising the summed similarity (DP)."""
    n, m = len(ref), len(hyp)
    score = np.zeros((n + 1, m + 1))
    move = np.zeros((n + 1, m + 1), dtype=np.int8)  # 0 skip ref, 1 skip hyp, 2 one-one, 3 one-two, 4 two-one
    move[0, 1:] = 1
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            best, how = score[i - 1, j], 0
            if score[i, j - 1] > best:
                best, how = score[i, j - 1], 1
            sim = _similar(ref[i - 1], hyp[j - 1])
            if sim >= FUZZY_MIN_RATIO and score[i - 1, j - 1] + sim > best:
                best, how = score[i - 1, j - 1] + sim, 2
            # one transcript word written as two ("seashore" / "sea shore"), and two written as one
            if (j >= 2 and score[i - 1, j - 2] + 1 > best
                    and _similar(ref[i - 1], hyp[j - 2] + hyp[j - 1]) >= FUZZY_MIN_RATIO):
                best, how = score[i - 1, j - 2] + 1, 3
            if (i >= 2 and score[i - 2, j - 1] + 2 > best
                    and _similar(ref[i - 2] + ref[i - 1], hyp[j - 1]) >= FUZZY_MIN_RATIO):
                best, how = score[i - 2, j - 1] + 2, 4
            score[i, j], move[i, j] = best, how
    out = []
    i, j = n, m
    while i > 0 and j > 0:
        how = move[i, j]
        if how == 0:
            i -= 1
        elif how == 1:
            j -= 1
        elif how == 2:
            out.append((i - 1, i, j - 1, j))
            i, j = i - 1, j - 1
        elif how == 3:
            out.append((i - 1, i, j - 2, j))
            i, j = i - 1, j - 2
        else:
            out.append((i - 2, i, j - 1, j))
            i, j = i - 2, j - 1
    return out[::-1]


# --- 4. a time for every transcript word ---


@dataclass
class _Word:
    token: str  # as written in the transcript
    norm: str
    start: float = 0.0
    end: float = 0.0
    matched: bool = False
    rec: tuple[int, int] | None = None  # the recognised words (first, last) it is paired with


def _time_words(words: list[_Word], rec: list[RecognisedWord], duration_s: float) -> list[int | None]:
    """Pair and time every transcript word; return, per recognised word, the transcript word it is paired with."""
    ref_idx = [i for i, w in enumerate(words) if w.norm]
    hyp_idx = [j for j, r in enumerate(rec) if r.norm]
    owner: list[int | None] = [None] * len(rec)
    for a, b, c, d in match_words([words[i].norm for i in ref_idx], [rec[j].norm for j in hyp_idx]):
        wi, hj = ref_idx[a:b], hyp_idx[c:d]
        _spread([words[i] for i in wi], rec[hj[0]].start, rec[hj[-1]].end)
        for i in wi:
            words[i].matched = True
            words[i].rec = (hj[0], hj[-1])
        for j in hj:
            owner[j] = wi[0]
    # unmatched stretches between anchors: use the recognised words between the same anchors
    anchors = [i for i, w in enumerate(words) if w.matched]
    bounds = [-1, *anchors, len(words)]
    for left, right in zip(bounds[:-1], bounds[1:], strict=True):
        run = list(range(left + 1, right))
        if not run:
            continue
        j_lo = words[left].rec[1] + 1 if left >= 0 else 0
        j_hi = words[right].rec[0] if right < len(words) else len(rec)
        between = [rec[j] for j in range(j_lo, j_hi) if rec[j].norm]
        t_left = words[left].end if left >= 0 else None
        t_right = words[right].start if right < len(words) else None
        spoken = [words[i] for i in run if words[i].norm]
        if between and len(between) == len(spoken):
            for w, r in zip(spoken, between, strict=True):
                w.start, w.end = r.start, r.end
        elif between:
            _spread(spoken, between[0].start, between[-1].end)
        else:
            lo = t_left if t_left is not None else max(0.0, (t_right or 0.0) - _guess_s(spoken))
            hi = t_right if t_right is not None else min(duration_s, lo + _guess_s(spoken))
            _spread(spoken, lo, max(lo, hi))
        # tokens with no letters or digits ("—", "&") sit at their neighbour's time
        for i in run:
            if not words[i].norm:
                prev = words[i - 1].end if i > 0 else (t_right or 0.0)
                words[i].start = words[i].end = prev
    return owner


def _guess_s(words: list[_Word]) -> float:
    return sum(len(w.norm) for w in words) * 0.07 + 0.2  # about 14 characters a second


def _spread(words: list[_Word], t0: float, t1: float) -> None:
    """Share [t0, t1] among `words` in proportion to their length."""
    if not words:
        return
    weights = np.array([max(1, len(w.norm)) for w in words], dtype=np.float64)
    edges = t0 + (t1 - t0) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    for w, a, b in zip(words, edges[:-1], edges[1:], strict=True):
        w.start, w.end = float(a), float(b)


# --- 5. cutting ---


def _boundary_rank(token: str, next_token: str | None, newline: bool) -> int:
    """How good a place the boundary after `token` is to end a segment: 3 sentence end, 2 clause, 0 other."""
    if next_token is None or newline:
        return 3
    if _SENTENCE_END.search(token) and token.lower() not in _ABBREVIATIONS:
        return 3
    if _CLAUSE_END.search(token) or next_token in {"—", "–", "--"}:
        return 2
    return 0


def _split_long(words: list[_Word], ranks: list[int], lo: int, hi: int, limit_s: float) -> list[tuple[int, int]]:
    """Cut words[lo:hi] into spans of at most `limit_s`: at the latest best place (clause > pause > any)."""
    spans = []
    while lo < hi:
        if words[hi - 1].end - words[lo].start <= limit_s:
            spans.append((lo, hi))
            break
        best, best_key = lo + 1, (-1.0, -1.0)
        for k in range(lo + 1, hi):  # a cut before word k
            if words[k - 1].end - words[lo].start > limit_s:
                break
            gap = max(0.0, words[k].start - words[k - 1].end)
            score = ranks[k - 1] + (1.0 if gap >= PAUSE_S else 0.0)
            key = (score, gap if score == 0 else k)  # the latest of the best places; else the widest gap
            if key > best_key:
                best, best_key = k, key
        spans.append((lo, best))
        lo = best
    return spans


def _plan_segments(words: list[_Word], ranks: list[int], max_s: float, min_s: float,
                   poor_below: float) -> list[tuple[int, int]]:
    limit_s = max_s - 2 * KEEP_SILENCE_S
    sentences, start = [], 0
    for i, rank in enumerate(ranks):
        if rank == 3:
            sentences.append((start, i + 1))
            start = i + 1
    spans = []
    for lo, hi in sentences:
        spans.extend(_split_long(words, ranks, lo, hi, limit_s))

    def length(lo: int, hi: int) -> float:
        return words[hi - 1].end - words[lo].start

    def sound(lo: int, hi: int) -> bool:  # joining a poor stretch to a good one would lose both
        spoken = [w for w in words[lo:hi] if w.norm]
        return not spoken or sum(w.matched for w in spoken) >= poor_below * len(spoken)

    merged: list[tuple[int, int]] = []
    for span in spans:
        if merged and ranks[merged[-1][1] - 1] == 3 and length(merged[-1][0], span[1]) <= limit_s and (
                length(*merged[-1]) < min_s or length(*span) < min_s) and sound(*merged[-1]) and sound(*span):
            merged[-1] = (merged[-1][0], span[1])
        else:
            merged.append(span)
    return merged


def _energy_db(wave: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-20 ms-frame energy (dB, inference/energy.py's frame_db) and the level under which a frame is silence."""
    db = frame_db(wave)
    return db, max(float(np.percentile(db, 95)) - _SILENCE_DB, -90.0)


def _trim(db: np.ndarray, silence: float, lo: float, hi: float, first: float, last: float) -> tuple[float, float]:
    """Clip bounds inside [lo, hi]: silence at either end cut to KEEP_SILENCE_S, and at most
    MAX_LEAD_S (+ KEEP_SILENCE_S) beyond the first and last word's estimated times."""
    lo = max(lo, first - MAX_LEAD_S)
    hi = min(hi, last + MAX_LEAD_S)
    f0, f1 = int(lo * 50), int(math.ceil(hi * 50))
    loud = np.flatnonzero(db[f0:f1] > silence)
    if len(loud):
        lo = max(lo, (f0 + loud[0]) / 50 - KEEP_SILENCE_S)
        hi = min(hi, (f0 + loud[-1] + 1) / 50 + KEEP_SILENCE_S)
    return lo, max(hi, lo)


def _first_spoken(words: list[_Word], lo: int, hi: int) -> _Word:
    return next((w for w in words[lo:hi] if w.norm), words[lo])


def _last_spoken(words: list[_Word], lo: int, hi: int) -> _Word:
    return next((w for w in reversed(words[lo:hi]) if w.norm), words[hi - 1])


def _foreign_between(before: _Word | None, after: _Word | None, rec: list[RecognisedWord],
                     owner: list[int | None]) -> list[RecognisedWord]:
    """Recognised words between two segments that belong to neither: both sides' facing words are
    paired, and what was heard between their pairs is not in the transcript."""
    if (before is not None and before.rec is None) or (after is not None and after.rec is None):
        return []
    j0 = before.rec[1] + 1 if before is not None else 0
    j1 = after.rec[0] if after is not None else len(rec)
    return [rec[j] for j in range(j0, j1) if owner[j] is None and rec[j].norm]


# --- the whole job ---


def tokenize_transcript(transcript: str) -> tuple[list[str], list[bool]]:
    """Whitespace-separated tokens, and for each whether a line break follows it."""
    matches = list(re.finditer(r"\S+", transcript))
    tokens = [m.group() for m in matches]
    newline = ["\n" in transcript[a.end():b.start()] for a, b in zip(matches[:-1], matches[1:], strict=True)]
    return tokens, [*newline, True][:len(tokens)]


def align_transcript(wave: np.ndarray, transcript: str, recognised: list[RecognisedWord], *,
                     max_s: float = MAX_CLIP_SECONDS, min_s: float = MIN_SEGMENT_S,
                     poor_below: float = POOR_BELOW) -> list[dict]:
    """Segments (without files): {text, start, end, quality, status, words, matched} for a wave whose
    recognised words are known. `cut_by_alignment` is this plus the recognition and the files."""
    tokens, newline = tokenize_transcript(transcript)
    if not any(normalise_word(t) for t in tokens):
        raise WhisperTuiError("the transcript has no words", "give the text that is spoken in the recording")
    duration_s = len(wave) / SAMPLE_RATE
    words = [_Word(t, normalise_word(t)) for t in tokens]
    owner = _time_words(words, recognised, duration_s)
    for w in words:  # estimates stay inside the recording and in order
        w.start = min(max(w.start, 0.0), duration_s)
        w.end = min(max(w.end, w.start), duration_s)
    ranks = [_boundary_rank(t, tokens[i + 1] if i + 1 < len(tokens) else None, newline[i])
             for i, t in enumerate(tokens)]
    spans = _plan_segments(words, ranks, max_s, min_s, poor_below)
    db, silence = _energy_db(wave)
    starts, ends = [], []  # per segment: the earliest start and latest end its clip may have
    for k in range(len(spans) + 1):
        before = _last_spoken(words, *spans[k - 1]) if k > 0 else None
        after = _first_spoken(words, *spans[k]) if k < len(spans) else None
        foreign = _foreign_between(before, after, recognised, owner)
        if before is None and after is None:
            continue
        if before is None:
            starts.append(quietest(db, foreign[-1].start, after.start + 0.1) if foreign else 0.0)
        elif after is None:
            ends.append(quietest(db, before.start, foreign[0].start + 0.1) if foreign else duration_s)
        elif foreign:  # speech the transcript does not have: neither clip gets it
            ends.append(quietest(db, before.start, foreign[0].start + 0.1))
            starts.append(quietest(db, foreign[-1].start, after.start + 0.1))
        else:
            # between the last word's start and the next word's: a word's estimated end can run on
            # through the pause that follows it
            a, b = before.start, after.start
            cut = quietest(db, min(a, b), max(a, b) + 0.1)
            ends.append(cut)
            starts.append(cut)
    # middles of the recognised words no transcript word is paired with: speech a clip may hold beyond its text
    unpaired = np.array(sorted((r.start + r.end) / 2 for j, r in enumerate(recognised) if owner[j] is None and r.norm))
    segments = []
    for k, (lo, hi) in enumerate(spans):
        start, end = _trim(db, silence, starts[k], ends[k], words[lo].start, words[hi - 1].end)
        if end - start > max_s:  # only when the word times themselves run over (a poor stretch)
            end = start + max_s
        spoken = [w for w in words[lo:hi] if w.norm]
        matched = sum(w.matched for w in spoken)
        extra = int(np.searchsorted(unpaired, end) - np.searchsorted(unpaired, start))
        denominator = max(len(spoken), matched + extra)
        quality = matched / denominator if denominator else 0.0
        segments.append({"text": " ".join(w.token for w in words[lo:hi]), "start": round(float(start), 3),
                         "end": round(float(end), 3), "quality": round(float(quality), 3),
                         "status": "ok" if matched and quality >= poor_below else "poor",
                         "words": len(spoken), "matched": matched})
    return segments


def cut_by_alignment(audio_path: Path, transcript: str, out_dir: Path, *, model: str | None = None,
                     on_progress: ProgressFn | None = None, device: str = "auto", language: str = "en",
                     max_s: float = MAX_CLIP_SECONDS, min_s: float = MIN_SEGMENT_S,
                     poor_below: float = POOR_BELOW) -> list[dict]:
    """Cut `audio_path` into clips of at most `max_s` that go with the plain `transcript`.

    Returns one row per segment, in order: `file_name` (a 16 kHz mono WAV written into `out_dir`,
    named relative to it), `text` (the transcript's own words for the clip, as written), `start` and
    `end` (seconds in the recording), `quality` (0..1) and `status` ("ok", or "poor" when
    quality < `poor_below` or no word of it was found in the audio: not to be trained on).
    `on_progress(done, total)` counts recognised pieces (about 30 s each).
    """
    import soundfile as sf

    audio_path, out_dir = Path(audio_path), Path(out_dir)
    if max_s <= 2 * KEEP_SILENCE_S + 1:
        raise WhisperTuiError(f"segments must be allowed more than {2 * KEEP_SILENCE_S + 1:.1f} s (got {max_s})",
                              "use the default of 30 s", where="max_s")
    wave, recognised = recognise_file(audio_path, model, device=device, language=language, on_progress=on_progress)
    segments = align_transcript(wave, transcript, recognised, max_s=max_s, min_s=min_s, poor_below=poor_below)
    out_dir.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(len(segments))))
    rows = []
    for k, seg in enumerate(segments, start=1):
        name = f"{audio_path.stem}_{k:0{width}d}.wav"
        clip = wave[int(round(seg["start"] * SAMPLE_RATE)):int(round(seg["end"] * SAMPLE_RATE))]
        sf.write(out_dir / name, clip, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        rows.append({"file_name": name, "text": seg["text"], "start": seg["start"], "end": seg["end"],
                     "quality": seg["quality"], "status": seg["status"]})
    return rows
