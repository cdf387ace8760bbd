"""Merge strength: how much of the fine-tune's change the saved model keeps (weight-space ensembling).

A fine-tune on one domain, many unusual voices above all, teaches the model its words so well that
they leak into ordinary speech ("Chicago also" -> "chocardiowal"). WiSE-FT (Wortsman et al., 2022)
answers that after training, for free at inference: the saved weights are the base weights plus
`strength` times the fine-tune's change. With LoRA the change is `scaling * B @ A`, so scaling every
`lora_B` by `strength` is exact, survives save / load / merge / export unchanged, and needs no copy of
the base (`LoraDelta`). Between 0 (the base model) and 1 (the fine-tune) there is usually a strength
that keeps nearly all of the domain gain and gives back most of what general speech lost.

`finetuning.merge_strength = "auto"` chooses it after training from STRENGTHS, on the run's own
validation (test) split and its keep set of recorded speech (`choose`); a number fixes it. The rule
in `choose` is the one measured in benchmarks/RESULTS.md ("Fine-tunes a user can trust").

Engine module: torch only through the model handed in.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

# candidates below 1.0, tried from the strongest down; 1.0 is the trained model, measured already by
# the run's last evaluation
STRENGTHS = (0.75, 0.5)
# domain WER points a weaker merge may give up for general speech (about one word in 300 is noise)
DOMAIN_SLACK_POINTS = 1.0


@dataclass(frozen=True)
class StrengthScore:
    """One merge strength measured: validation (test split) WER and keep-set (recorded speech) WER."""

    strength: float
    wer: float
    keep_wer: float | None = None
    eval_loss: float | None = None


@dataclass(frozen=True)
class StrengthChoice:
    strength: float
    scores: tuple[StrengthScore, ...]
    why: str  # one line for the log, the dashboard and the train summary


def _known(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def choose(scores: list[StrengthScore], base_keep_wer: float | None, tolerance_points: float,
           domain_slack_points: float = DOMAIN_SLACK_POINTS) -> StrengthChoice:
    """The strength to save, by this rule:

    1. Strengths whose keep WER is within `tolerance_points` of the base model's are *allowed*; when
       none is, the one with the lowest keep WER is taken (forgetting is what this guards against).
    2. Among allowed strengths, those within `domain_slack_points` of the lowest validation WER are
       *as good on the domain*; of those the lowest keep WER wins, then the higher strength.
    Without keep figures (no keep set) the lowest validation WER wins, ties to the higher strength.
    """
    if not scores:
        raise ValueError("no merge strength measured")
    by_strength = sorted(scores, key=lambda s: -s.strength)
    with_keep = [s for s in by_strength if _known(s.keep_wer)]
    if not with_keep or not _known(base_keep_wer):
        best = min(by_strength, key=lambda s: (s.wer, -s.strength))
        return StrengthChoice(best.strength, tuple(by_strength), f"merge strength {best.strength:g}: "
                              f"lowest validation WER ({100 * best.wer:.1f}%; no keep set to weigh)")
    limit = float(base_keep_wer) + tolerance_points / 100.0
    allowed = [s for s in with_keep if s.keep_wer <= limit + 1e-12]
    if not allowed:
        best = min(with_keep, key=lambda s: (s.keep_wer, -s.strength))
        why = (f"merge strength {best.strength:g}: every strength forgets general speech by more than "
               f"{tolerance_points:g} points; this one forgets least")
    else:
        floor = min(s.wer for s in allowed)
        as_good = [s for s in allowed if s.wer <= floor + domain_slack_points / 100.0 + 1e-12]
        best = min(as_good, key=lambda s: (s.keep_wer, -s.strength))
        why = f"merge strength {best.strength:g}"
        if best.strength < 1.0:
            why += f": as good on validation (within {domain_slack_points:g} pt) and keeps general speech best"
        else:
            why += ": the full fine-tune is best on validation and keeps general speech"
    return StrengthChoice(best.strength, tuple(by_strength), why + " (" + summary(by_strength, base_keep_wer) + ")")


def summary(scores, base_keep_wer: float | None) -> str:
    """'1: val 12.0% keep 5.2% · 0.75: val 12.4% keep 4.1% · base keep 3.8%'."""
    parts = [f"{s.strength:g}: val {100 * s.wer:.1f}%" + (f" keep {100 * s.keep_wer:.1f}%" if _known(s.keep_wer) else "")
             for s in scores]
    if _known(base_keep_wer):
        parts.append(f"base keep {100 * float(base_keep_wer):.1f}%")
    return " · ".join(parts)


class LoraDelta:
    """Scales a PEFT model's LoRA change in place: `set(s)` makes every lora_B `s` times its trained value;
    `set(s, decoder=d)` scales the encoder's adapters by s and the decoder's by d (a per-part WiSE-FT: the
    decoder holds the language-model side that leaks domain words into ordinary speech)."""

    def __init__(self, model):
        self._weights = []
        for name, param in model.named_parameters():
            if ".lora_B." in name or name.endswith("lora_B.weight"):
                self._weights.append((param, param.detach().clone(), ".decoder." in f".{name}"))
        self.strength = 1.0
        self.decoder_strength = 1.0

    def __bool__(self) -> bool:
        return bool(self._weights)

    def set(self, strength: float, decoder: float | None = None) -> None:
        import torch

        decoder = strength if decoder is None else decoder
        with torch.no_grad():
            for param, trained, in_decoder in self._weights:
                param.copy_(trained * (decoder if in_decoder else strength))
        self.strength, self.decoder_strength = float(strength), float(decoder)


class SavedStrength:
    """A fixed merge strength below 1, applied whenever the model is measured or saved during training.

    best/ and final/ are saved at `finetuning.merge_strength`, so the evaluations that choose best/ and
    the figures the run reports (best WER, keep WER, run.json) must be of the model at that strength,
    not of the full fine-tune that only exists while it trains. `applied()` scales the LoRA change for
    its block and restores the trained weights exactly after; nested blocks (the keep set evaluated,
    best/ saved, from inside an evaluation) do nothing more. `make_permanent()` after training leaves
    the model at the strength for good and turns the scaling off.
    """

    def __init__(self, model, strength: float):
        self.model = model
        self.strength = float(strength)
        self._depth = 0

    @contextmanager
    def applied(self):
        if self.strength == 1.0 or self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        delta = LoraDelta(self.model)
        delta.set(self.strength)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            delta.set(1.0)

    def make_permanent(self) -> None:
        if self.strength != 1.0 and not self._depth:
            LoraDelta(self.model).set(self.strength)
        self.strength = 1.0


def supports(strategy: str) -> bool:
    """Only adapter strategies can scale their change exactly without a copy of the base weights."""
    return strategy in ("lora", "qlora")
