"""Training at several encoder windows (`model.windows`): which window each batch runs at.

A batch runs at one window: its features (or cached encoder rows) share one length, and the
decoder's cross-attention has no mask to skip padding. So the window is chosen per batch, among
the windows that hold every clip of it (`window.windows_holding` on its longest clip), and each
clip is trained at every window it will later be transcribed at. Training draws one of them, the
shortest most often (SHORTEST_SHARE). The draw hashes the seed and the batch's clips: a resumed run
makes the same choices as an uninterrupted one.

Evaluation scores every clip at its own shortest window (`window.window_for`), the one the saved model
gives it when it transcribes: its batches never mix clips of different windows (`eval_batches`, read
by `WhisperTrainer.get_eval_dataloader`). Batches of consecutive clips would run a whole batch at the
window of its longest clip, so the WER behind best/ depended on where the long clips of the test set
happened to sit, and short clips were scored at windows the model would not run them at.

Features are computed at the longest window and cut to the batch's: Whisper's log-mel of a clip
padded to 10 s is the first 1000 frames of the same clip padded to 30 s. Cached encoder rows are
not (self-attention sees the padding), so the encoder cache keeps one cache per window
(`WindowCaches`), each holding the clips that window can run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from whisper_tui.models.window import MEL_FRAMES_PER_SECOND, window_for, windows_holding
from whisper_tui.whisper_facts import SAMPLE_RATE

# Share of training batches at the shortest window that holds them; the rest spread evenly over the longer
# ones. The shortest is where the saved model will run the batch, and the cheapest to train: on a CPU a step at
# 30 s costs 2.3x one at 10 s (cpu-quick, batch 8), so an even spread would cost a time budget's epochs. At 0.6
# a 5-minute cpu-quick run fit 5.9 epochs where the 10 s-only recipe fit 7 (benchmarks/RESULTS.md, section 11).
SHORTEST_SHARE = 0.8
TRAIN, EVAL = "train", "eval"


class WindowMix:
    """Fits a batch of examples to one window: cuts their features or fetches their cached rows."""

    def __init__(self, windows: Sequence[int], seed: int = 0, shortest_only: bool = False):
        self.windows = tuple(sorted(int(w) for w in windows))
        self.seed = int(seed)
        # True when the whole encoder is frozen (trainer_setup.py): a longer window would only show the decoder the
        # frozen encoder's output of more padding, while the saved model runs the batch at the shortest; training
        # there too trains what inference sees, and the encoder cache needs no rows at the longer windows
        self.shortest_only = bool(shortest_only)
        self.counts: dict[int, int] = {w: 0 for w in self.windows}  # training batches per window, for the log

    def choose(self, seconds: float, mode: str, keys: Sequence[int] = ()) -> int:
        candidates = windows_holding(seconds, self.windows)
        if mode != TRAIN or len(candidates) == 1 or self.shortest_only:
            return candidates[0]
        digest = hashlib.blake2b(f"{self.seed}:{sorted(keys)}".encode(), digest_size=8).digest()
        draw = int.from_bytes(digest, "little") / 2**64
        if draw < SHORTEST_SHARE:
            return candidates[0]
        longer = candidates[1:]
        return longer[min(len(longer) - 1, int((draw - SHORTEST_SHARE) / (1 - SHORTEST_SHARE) * len(longer)))]

    def cached_windows(self, seconds: Sequence[float], mode: str) -> list[list[int]]:
        """Per clip of a dataset (`seconds`: its clips' lengths), the windows a batch holding it can run at: the
        rows the encoder cache needs. A training draw may take any window that holds the batch; otherwise
        (evaluation, `shortest_only`) a batch runs at the shortest window holding its longest clip, so never
        above the one holding the dataset's longest clip."""
        holding = [windows_holding(s, self.windows) for s in seconds]
        if (mode == TRAIN and not self.shortest_only) or not holding:
            return holding
        cap = window_for(max(seconds), self.windows)
        return [[w for w in ws if w <= cap] for ws in holding]

    def fit(self, examples: list[dict]) -> tuple[list[dict], int]:
        """The examples with their encoder input at the chosen window (window keys removed), and the window."""
        mode = examples[0].get("window_mode", EVAL)
        seconds = max(float(e["window_seconds"]) for e in examples)
        window = self.choose(seconds, mode, [int(e.get("window_key", 0)) for e in examples])
        if mode == TRAIN:
            self.counts[window] = self.counts.get(window, 0) + 1
        frames = window * MEL_FRAMES_PER_SECOND
        fitted = []
        for e in examples:
            item = {k: v for k, v in e.items() if not k.startswith("window_")}
            if "window_caches" in e:
                item["encoder_hidden"] = e["window_caches"].get(e["window_clip"], window)
            elif "input_features" in item:
                item["input_features"] = item["input_features"][..., :frames]
            fitted.append(item)
        return fitted, window


class WindowedExamples:
    """A dataset whose items also carry what `WindowMix` needs: the clip's length, train or eval, its index.

    `seconds` are the clips' durations (a perturbed view's own length is taken from its wave when the
    item has one). With `caches` (`WindowCaches`) the items carry no encoder input of their own: the
    collator fetches the row of the window it chooses. Every other attribute is the wrapped dataset's.
    """

    def __init__(self, dataset, seconds: Sequence[float], mode: str, caches=None):
        self.dataset = dataset
        self.seconds = [float(s) for s in seconds]
        self.mode = mode
        self.caches = caches

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name):
        return getattr(self.__dict__["dataset"], name)

    def __setattr__(self, name, value):
        if name in ("dataset", "seconds", "mode", "caches"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.dataset, name, value)

    def eval_batches(self, batch_size: int, windows: Sequence[int]) -> list[list[int]] | None:
        """Evaluation batches of at most `batch_size` indices, each of clips with the same shortest window
        (`window.window_for` of its `seconds`), in dataset order within a window; None for a training set."""
        if self.mode != EVAL:
            return None
        by_window: dict[int, list[int]] = {}
        for i, seconds in enumerate(self.seconds):
            by_window.setdefault(window_for(seconds, windows), []).append(i)
        size = max(1, int(batch_size))
        return [group[k:k + size] for _, group in sorted(by_window.items()) for k in range(0, len(group), size)]

    def __getitem__(self, i: int) -> dict:
        if self.caches is not None:
            item = {"labels": self.dataset.labels[i], "window_caches": self.caches,
                    "window_clip": self.dataset.clips[i]}
        else:
            item = dict(self.dataset[i])
        n_samples = item.get("n_samples")  # kept: a timestamp label ends there too (label_mix.py)
        seconds = n_samples / SAMPLE_RATE if n_samples else self.seconds[i]
        item.update(window_seconds=seconds, window_mode=self.mode, window_key=i)
        return item


class WindowCaches:
    """One `encoder_cache.EncoderCache` per window, each over the clips that window holds."""

    def __init__(self, caches: dict):
        self.caches = dict(caches)

    def get(self, clip, window: int):
        return self.caches[window].get(clip)

    @property
    def is_full(self) -> bool:
        return all(c.is_full for c in self.caches.values())

    def close(self) -> None:
        for cache in self.caches.values():
            cache.close()

