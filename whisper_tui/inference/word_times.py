"""Word-level timestamps from cross-attention alignment (issue 25 item 5; OpenAI's `--word_timestamps`).

Whisper's timestamp tokens time whole segments. To time words, each decoded window is run once more with its
text forced on the decoder, and the cross-attention of the model's alignment heads
(`generation_config.alignment_heads`, chosen by OpenAI per checkpoint) says which audio frames each token looks
at. Normalised per frame over the tokens, median-filtered over time and averaged over the heads, they form a
cost matrix whose cheapest monotonic path (dynamic time warping) gives every token a first frame; a word
starts where its first token's row begins on that path and ends where the next word's begins. This is
OpenAI's `whisper/timing.py` and faster-whisper's `add_word_timestamps`: CTranslate2 computes the path itself
(`Whisper.align`), the torch backend here (`TorchAligner` + `path_from_weights`). A word is a run of tokens
up to the next one that begins with a space, so punctuation stays with its word (" Kubernetes,").

A word's times are kept inside its segment (after `timed.snap_starts` moved segment starts to the first sound),
so words and cues never disagree, and trimmed to its loud part (`fit_words`), the VAD that OpenAI's comments
ask for in place of their longest-word heuristics.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from whisper_tui.whisper_facts import SAMPLE_RATE

FRAME_S = 0.02  # one encoder position (Whisper's 50 per second)
MEDIAN_WIDTH = 7  # OpenAI's medfilt_width


@dataclass(frozen=True)
class Word:
    start: float  # seconds from the start of the recording
    end: float
    text: str  # with its leading space, as Whisper writes it (" Kubernetes,")
    probability: float  # the mean probability of the word's tokens with the text forced


def split_words(tokens, ids: list[int]) -> list[list[int]]:
    """`ids` (text tokens) grouped into words: a token whose text begins with a space starts a new word."""
    words: list[list[int]] = []
    for t in ids:
        piece = tokens.tokenizer.id_to_token(int(t)) or ""
        if not words or piece.startswith(("Ġ", " ")):
            words.append([int(t)])
        else:
            words[-1].append(int(t))
    return words


def dtw(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest monotonic path through `cost` (tokens x frames) from its first cell to its last: (token rows,
    frames), one pair per step. OpenAI's `dtw_cpu`, with its tie rule (diagonal, then up, else left), computed
    one anti-diagonal at a time (each needs only the two before it) so a 30 s window costs milliseconds."""
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    trace = np.full((n + 1, m + 1), 2, np.int8)  # 0 diagonal, 1 up (previous token), 2 left (previous frame)
    for d in range(2, n + m + 1):
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        diag, up, left = acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]
        step = np.where((diag < up) & (diag < left), 0, np.where((up < diag) & (up < left), 1, 2))
        best = np.choose(step, [diag, up, left])
        acc[i, j] = cost[i - 1, j - 1] + best
        trace[i, j] = step
    trace[0, :], trace[:, 0] = 2, 1
    i, j = n, m
    rows, frames = [], []
    while i > 0 and j > 0:
        rows.append(i - 1)
        frames.append(j - 1)
        step = trace[i, j]
        if step == 0:
            i, j = i - 1, j - 1
        elif step == 1:
            i -= 1
        else:
            j -= 1
    return np.array(rows[::-1], dtype=np.int64), np.array(frames[::-1], dtype=np.int64)


def median_filter(x: np.ndarray, width: int) -> np.ndarray:
    """Median over the last axis in windows of `width` (reflect-padded), as OpenAI's `median_filter`."""
    if width <= 1 or x.shape[-1] <= width // 2:
        return x
    pad = width // 2
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1), axis=-1)


def path_from_weights(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`weights`: the alignment heads' cross-attention (heads x rows x frames), rows = the positions that predict
    each text token and <|endoftext|>, frames = the audio's. OpenAI's recipe: each row renormalised over these
    frames, standardised per frame over the rows, median-filtered over time, averaged over the heads; then
    `dtw` on its negative."""
    w = weights.astype(np.float64)
    w = w / np.maximum(w.sum(axis=-1, keepdims=True), 1e-12)
    mean, std = w.mean(axis=-2, keepdims=True), w.std(axis=-2, keepdims=True)
    w = (w - mean) / np.maximum(std, 1e-10)
    matrix = median_filter(w, MEDIAN_WIDTH).mean(axis=0)
    return dtw(-matrix)


def word_spans(rows: np.ndarray, frames: np.ndarray, words: list[list[int]]) -> list[tuple[float, float]]:
    """(start s, end s) per word from a path over the text tokens + <|endoftext|> (faster-whisper's jumps: the
    first frame of each row on the path)."""
    jumps = np.pad(np.diff(rows), (1, 0), constant_values=1).astype(bool)
    jump_times = frames[jumps] * FRAME_S
    bounds = np.pad(np.cumsum([len(w) for w in words]), (1, 0))
    if len(jump_times) < bounds[-1] + 1:  # a degenerate path (fewer frames than rows): repeat its last time
        jump_times = np.pad(jump_times, (0, int(bounds[-1]) + 1 - len(jump_times)), mode="edge")
    return [(float(jump_times[a]), float(jump_times[b])) for a, b in zip(bounds[:-1], bounds[1:])]


def window_words(aligner, chunk: np.ndarray, texts: list[str]) -> list[tuple[Word, ...]]:
    """Words of one decoded window: `texts` are its segments' texts in order, `chunk` its 16 kHz audio; times in
    seconds from the window's start, one tuple per text. One alignment covers the whole window, as OpenAI's."""
    tokens = aligner.tokens
    per_text = [tokens.encode(t) if t.strip() else [] for t in texts]
    ids = [t for group in per_text for t in group]
    if not ids or len(chunk) < SAMPLE_RATE // 10:
        return [() for _ in texts]
    rows, frames, probs = aligner.align(chunk, ids)
    groups = [split_words(tokens, g) for g in per_text]
    flat = [w for g in groups for w in g]
    spans = word_spans(rows, frames, flat)
    out, k, first = [], 0, 0
    for g in groups:
        words = []
        for w in g:
            start, end = spans[k]
            p = float(np.mean(probs[first:first + len(w)])) if len(probs) >= first + len(w) else float("nan")
            words.append(Word(round(start, 3), round(max(end, start), 3), tokens.decode(w), round(p, 3)))
            k, first = k + 1, first + len(w)
        out.append(tuple(words))
    return out


def offset_words(words: tuple[Word, ...], offset: float) -> tuple[Word, ...]:
    return tuple(dataclasses.replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3)) for w in words)


def fit_words(segment, db: np.ndarray | None = None, level: float | None = None):
    """`segment` (subtitles.Segment) with its words' times inside its own start and end and, given the
    recording's frame levels (energy.frame_db) and pause level, each word fitted to its sound.

    The path gives a pause to a neighbouring word (tiny.en's "ask" of jfk.flac spans the 1 s pause before it)
    and lags a word's start by a few frames into the word before; the audio says where sound is. A word's span
    holding several loud runs (split by pauses) keeps its longest, and a run cut off at the span's end is the
    next word's beginning, so that word starts there. A word with no loud moment keeps its path times. This is
    the VAD that OpenAI's timing.py comments ask for in place of its longest-word heuristics."""
    from whisper_tui.inference import energy

    if not segment.words:
        return segment
    words, carry = [], None
    for w in segment.words:
        start = min(max(w.start, segment.start), segment.end)
        end = min(max(w.end, start), segment.end)
        if carry is not None and carry < start:
            start = carry
        carry = None
        runs = energy.loud_runs(db, start, end, level) if db is not None and end > start else []
        if runs:
            best = max(runs, key=lambda r: r[1] - r[0])
            if runs[-1] is not best and runs[-1][1] >= end - 1.0 / energy.FRAMES_PER_SECOND:
                carry = max(runs[-1][0], best[1])  # the next word's sound began inside this span
            start, end = max(start, best[0]), min(end, best[1])
        words.append(dataclasses.replace(w, start=round(start, 3), end=round(max(end, start), 3)))
    return dataclasses.replace(segment, words=tuple(words))


class CT2Aligner:
    """Alignment by CTranslate2's own `Whisper.align` (path and token probabilities) on a CT2Whisper."""

    def __init__(self, cw) -> None:
        self.cw, self.tokens, self.window = cw, cw.tokens, cw.windows[-1]
        # faster-whisper's sot_sequence: <|startoftranscript|> (+ language + task), no <|notimestamps|>
        self.start = [t for t in cw.tokens.prompt("en") if t != cw.tokens.no_timestamps]

    def align(self, chunk: np.ndarray, text_ids: list[int]):
        features = self.cw.features_at(self.window)([chunk])
        mel_frames = min(int(features.shape[-1]), int(round(len(chunk) / SAMPLE_RATE * 100)))
        result = self.cw.model.align(self.cw.storage(features), self.start, [text_ids], [mel_frames],
                                     median_filter_width=MEDIAN_WIDTH)[0]
        pairs = np.array(result.alignments, dtype=np.int64).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1], np.array(result.text_token_probs, dtype=np.float64)


class TorchAligner:
    """Alignment on a transformers Whisper: the alignment heads' cross-attention with the text forced, then
    `path_from_weights`. The weights come from the eager attention (SDPA computes none), switched on for the
    one forward pass and back after."""

    def __init__(self, model, processor, tokens) -> None:
        from whisper_tui.models.window import processor_window_s

        self.model, self.processor, self.tokens = model, processor, tokens
        self.window = int(processor_window_s(processor))
        heads = getattr(model.generation_config, "alignment_heads", None)
        if not heads:  # OpenAI's default: every head of the decoder's top half
            layers, n_heads = model.config.decoder_layers, model.config.decoder_attention_heads
            heads = [[layer, h] for layer in range(layers // 2, layers) for h in range(n_heads)]
        self.heads = [(int(layer), int(h)) for layer, h in heads]
        self.start = tokens.prompt("en")  # <|startoftranscript|> (+ language + task) + <|notimestamps|>, as OpenAI

    def align(self, chunk: np.ndarray, text_ids: list[int]):
        import torch

        model = self.model
        fe = self.processor.feature_extractor
        features = fe([chunk], sampling_rate=SAMPLE_RATE, return_tensors="pt", max_length=self.window * SAMPLE_RATE)
        param = next(model.parameters())
        ids = torch.tensor([[*self.start, *text_ids, self.tokens.eot]], device=param.device)
        previous = model.config._attn_implementation
        was_training = model.training
        model.eval()
        try:
            if previous != "eager":
                model.set_attn_implementation("eager")
            with torch.inference_mode():
                out = model(input_features=features.input_features.to(param.device, param.dtype),
                            decoder_input_ids=ids, output_attentions=True, use_cache=False)
        finally:
            if previous != "eager":
                model.set_attn_implementation(previous)
            model.train(was_training)
        n = len(self.start)
        frames = max(1, min(int(round(len(chunk) / SAMPLE_RATE / FRAME_S)), out.cross_attentions[0].shape[-1]))
        weights = torch.stack([out.cross_attentions[layer][0, h] for layer, h in self.heads])
        weights = weights[:, n - 1:-1, :frames].float().cpu().numpy()  # rows predicting each text token and eot
        rows, cols = path_from_weights(weights)
        probs = torch.softmax(out.logits[0, n - 1:n - 1 + len(text_ids)].float(), dim=-1)
        picked = probs[torch.arange(len(text_ids)), torch.tensor(text_ids)].cpu().numpy()
        return rows, cols, picked.astype(np.float64)


def aligner_for(decoder):
    """The aligner for a timed window decoder (timed.CT2Windows or timed_torch.TorchWindows)."""
    if getattr(decoder, "backend", None) == "ct2":
        return CT2Aligner(decoder.cw)
    return TorchAligner(decoder.model, decoder.processor, decoder.tokens)
