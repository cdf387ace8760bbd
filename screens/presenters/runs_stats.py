"""Numbers about one run that only its metrics.jsonl knows (steps, epochs, last loss), for the Runs screen."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RunStats:
    steps: int | None
    epochs: float | None
    final_loss: float | None
    evaluations: int
    samples_per_second: float | None


def _number(value) -> float | None:
    """A finite float, or None for anything else (a hand-edited value, NaN, inf, an int too big for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def run_stats(records: list[dict]) -> RunStats:
    steps = [r for r in records if r.get("type") == "step"]
    evals = [r for r in records if r.get("type") == "eval" and not r.get("base")]
    last = steps[-1] if steps else {}
    losses = [_number(r.get("loss")) for r in steps]
    losses = [v for v in losses if v is not None]
    speeds = [_number(r.get("samples_per_second")) for r in steps[-20:]]
    speeds = [v for v in speeds if v]
    step = _number(last.get("step"))
    return RunStats(
        steps=int(step) if step is not None else None,
        epochs=_number(last.get("epoch")),
        final_loss=losses[-1] if losses else None,
        evaluations=len(evals),
        samples_per_second=sum(speeds) / len(speeds) if speeds else None,
    )


def wer_curve(records: list[dict]) -> tuple[list[float], list[float]]:
    """(steps, WER %) including the base-model evaluation at step 0, so the curve shows the gain."""
    xs, ys = [], []
    for record in records:
        if record.get("type") != "eval":
            continue
        step, wer = _number(record.get("step")), _number(record.get("wer"))
        if step is not None and wer is not None:
            xs.append(0.0 if record.get("base") else step)
            ys.append(100 * wer)
    return xs, ys


def keep_curve(records: list[dict]) -> tuple[list[float], list[float]]:
    """(steps, general-speech WER %): the keep set's WER at each evaluation, the base model's at step 0."""
    xs, ys = [], []
    for record in records:
        kind = record.get("type")
        if kind not in ("eval", "keep_base"):
            continue
        step, wer = _number(record.get("step")), _number(record.get("keep_wer"))
        if step is not None and wer is not None:
            xs.append(0.0 if record.get("base") or kind == "keep_base" else step)
            ys.append(100 * wer)
    order = sorted(range(len(xs)), key=lambda i: xs[i])  # a base measured on resume comes late in the file
    return [xs[i] for i in order], [ys[i] for i in order]
