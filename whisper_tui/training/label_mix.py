"""Which training clips are labelled with timestamps or conditioned on previous text (issue 25).

A model fine-tuned only on `<|notimestamps|>` labels loses the timestamps the base model has, and one never
shown `<|startofprev|>` text may stop following prompts. As Whisper's own training mixes both, a share of the
training clips gets `<|0.00|> text <|d|>` labels (`training.timestamp_share`) and a share is conditioned on
previous text (`training.prompt_share`): `model.prompt` when the profile sets one, else another training
clip's transcript. The labels are made by `timed_labels.training_labels`; the test set and the keep set keep
their plain labels, so the WER is measured as before.

Which clips: per epoch, exactly round(share x clips) of them, drawn from (training.seed, epoch) alone, so a
resumed run (`callbacks.DatasetEpochCallback` sets the epoch it resumes in) labels every clip as the run it
continues did, and another epoch draws other clips. `<|d|>` is the length of the audio as served: a
perturbed view's own length (views.py, `n_samples` of the item), else the clip's duration; it is rounded to
0.02 s within the encoder window (a clip longer than its window never reaches training: data_prep.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from whisper_tui.whisper_facts import SAMPLE_RATE

_TIMESTAMP_DRAW, _PROMPT_DRAW = 25, 26  # keep the two draws apart (and apart from the other per-epoch draws)


@dataclass(frozen=True)
class LabelTokens:
    """The special tokens the labels need."""

    eot: int
    no_timestamps: int
    timestamp_begin: int
    sot_prev: int

    @classmethod
    def of(cls, generation_config, tokenizer) -> LabelTokens:
        no_ts = getattr(generation_config, "no_timestamps_token_id", None)
        if no_ts is None:
            no_ts = tokenizer.convert_tokens_to_ids("<|notimestamps|>")
        return cls(eot=int(tokenizer.eos_token_id), no_timestamps=int(no_ts), timestamp_begin=int(no_ts) + 1,
                   sot_prev=int(tokenizer.convert_tokens_to_ids("<|startofprev|>")))


def chosen(share: float, n: int, seed: int, epoch: int, draw: int) -> np.ndarray:
    """Indices (sorted) of the round(share x n) clips of `epoch` that get `draw`'s labels."""
    count = int(round(min(max(float(share), 0.0), 1.0) * n))
    if count <= 0 or n <= 0:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), draw]))
    return np.sort(rng.permutation(n)[:count])


def label_plan(n: int, *, timestamp_share: float, prompt_share: float, seed: int, epoch: int
               ) -> tuple[frozenset[int], dict[int, int]]:
    """(clips with timestamp labels, {prompted clip: the clip whose transcript is its previous text}) of an epoch."""
    timed = frozenset(int(i) for i in chosen(timestamp_share, n, seed, epoch, _TIMESTAMP_DRAW))
    prompted = chosen(prompt_share, n, seed, epoch, _PROMPT_DRAW)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), _PROMPT_DRAW, 1]))
    partners = {}
    for i in prompted:  # another clip, never itself (a clip's own transcript as its prompt would leak the answer)
        partners[int(i)] = int((i + 1 + rng.integers(n - 1)) % n) if n > 1 else -1
    return timed, partners


class MixedLabels:
    """The training set with timestamp / previous-text labels on the epoch's chosen clips.

    Every other attribute (clips, labels, lengths, cross_kv ...) is the wrapped dataset's. An item gets
    `prompt` (the `<|startofprev|>` ids) when it is conditioned on previous text; the collator turns it into
    the row's decoder input.
    """

    def __init__(self, dataset, *, prefix_len: int, tokens: LabelTokens, timestamp_share: float,
                 prompt_share: float, seed: int, seconds: Sequence[float], window_s: float, max_length: int,
                 prompt: Sequence[int] = ()):
        values = dict(dataset=dataset, prefix_len=int(prefix_len), tokens=tokens,
                      timestamp_share=float(timestamp_share), prompt_share=float(prompt_share), seed=int(seed),
                      seconds=[float(s) for s in seconds], window_s=float(window_s), max_length=int(max_length),
                      prompt=list(prompt), epoch=0, _plan=None)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    _OWN = ("dataset", "prefix_len", "tokens", "timestamp_share", "prompt_share", "seed", "seconds", "window_s",
            "max_length", "prompt", "epoch", "_plan")

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name):
        return getattr(self.__dict__["dataset"], name)

    def __setattr__(self, name, value):
        if name in self._OWN:
            object.__setattr__(self, name, value)
        else:  # e.g. cross_kv set on the training set
            setattr(self.dataset, name, value)

    def set_epoch(self, epoch: int) -> None:
        object.__setattr__(self, "epoch", int(epoch))
        if hasattr(self.dataset, "set_epoch"):  # SpecAugment masks, views: drawn per epoch too
            self.dataset.set_epoch(epoch)

    def plan(self) -> tuple[frozenset[int], dict[int, int]]:
        if self._plan is None or self._plan[0] != self.epoch:
            plan = label_plan(len(self.dataset), timestamp_share=self.timestamp_share,
                              prompt_share=self.prompt_share, seed=self.seed, epoch=self.epoch)
            object.__setattr__(self, "_plan", (self.epoch, plan))
        return self._plan[1]

    def previous(self, i: int, partner: int) -> list[int]:
        """Previous text of clip `i`: the profile's prompt, else the partner clip's transcript tokens."""
        if self.prompt:
            return list(self.prompt)
        if partner < 0:
            return []
        other = self.dataset.labels[partner]
        return list(other[self.prefix_len:-1])

    def labels_of(self, i: int, plain: Sequence[int], seconds: float) -> tuple[list[int], list[int]]:
        from whisper_tui.training.timed_labels import training_labels

        timed, partners = self.plan()
        previous = self.previous(i, partners[i]) if i in partners else None
        t = self.tokens
        return training_labels(plain, self.prefix_len, eot=t.eot, no_timestamps=t.no_timestamps,
                               timestamp_begin=t.timestamp_begin, duration_s=seconds, timestamps=i in timed,
                               previous=previous, sot_prev=t.sot_prev, window_s=self.window_s,
                               max_length=self.max_length)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.dataset[i])
        if item.get("n_samples"):  # the audio as served (a perturbed view lasts its own length)
            seconds = float(item["n_samples"]) / SAMPLE_RATE
        else:  # a cached clip: its duration
            seconds = self.seconds[i]
        labels, prompt = self.labels_of(i, item["labels"], seconds)
        item["labels"] = labels
        if prompt:
            item["prompt"] = prompt
        return item

    def describe(self) -> str:
        """The log line: how many clips per epoch get each kind of label."""
        n = len(self.dataset)
        parts = []
        if self.timestamp_share > 0:
            parts.append(f"{len(chosen(self.timestamp_share, n, self.seed, 0, _TIMESTAMP_DRAW))} of {n} training "
                         f"clips per epoch labelled with timestamps <|0.00|> text <|end|> (training.timestamp_share "
                         f"{self.timestamp_share:g})")
        if self.prompt_share > 0:
            source = "model.prompt" if self.prompt else "another training clip's transcript"
            parts.append(f"{len(chosen(self.prompt_share, n, self.seed, 0, _PROMPT_DRAW))} of {n} conditioned on "
                         f"previous text ({source}; training.prompt_share {self.prompt_share:g})")
        return "labels: " + "; ".join(parts) + "; test clips keep plain labels"


def mixed_labels(profile, dataset, generation_config, tokenizer, prefix: Sequence[int],
                 seconds: Sequence[float], window_s: float, max_length: int):
    """`dataset` with the profile's timestamp / prompt shares (`MixedLabels`), or `dataset` when both are 0."""
    tr = profile.training
    ts_share, prompt_share = float(tr.timestamp_share), float(tr.prompt_share)
    if ts_share <= 0 and prompt_share <= 0:
        return dataset
    text = (profile.model.prompt or "").strip()
    prompt = tokenizer(" " + text, add_special_tokens=False).input_ids if text else []
    return MixedLabels(dataset, prefix_len=len(prefix), tokens=LabelTokens.of(generation_config, tokenizer),
                       timestamp_share=ts_share, prompt_share=prompt_share, seed=int(tr.seed), seconds=seconds,
                       window_s=window_s, max_length=max_length, prompt=prompt)
