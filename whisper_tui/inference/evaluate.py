"""Score a model on labelled clips: corpus WER/CER plus a per-clip account of what went wrong.

Scores use `whisper_tui.inference.metrics` (Whisper's English normaliser), the same numbers the training
loop reports, so "base WER" and "tuned WER" are comparable. A clip whose audio cannot be read is
listed with its error and left out of the scores rather than counted as silence: a broken file
says nothing about the model.

Each scored clip also carries its hallucination signs (`whisper_tui.inference.hallucination`: "loop",
"empty", "long"), totalled on the report; `groups` (file name -> label) adds per-subset scores,
e.g. new voices against voices heard in training.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from whisper_tui.storage.atomic import atomic_write_text
from whisper_tui.errors import DatasetError
from whisper_tui.inference.hallucination import KINDS, describe, totals
from whisper_tui.inference.hallucination import signs as hallucination_signs
from whisper_tui.inference.metrics import ClipErrors, clip_errors, error_rates
from whisper_tui.inference.transcribe import Transcriber


@dataclass(frozen=True)
class ClipResult(ClipErrors):
    """A clip's word errors (`metrics.ClipErrors`) with its file, length, read error and hallucination signs."""

    file_name: str = ""
    duration_s: float = 0.0
    error: str | None = None  # the audio could not be read: the clip is listed, not scored
    signs: tuple[str, ...] = ()

    @classmethod
    def unreadable(cls, file_name: str, reference: str, error: str) -> ClipResult:
        return cls(reference, "", 0.0, 0, 0, 0, 0, file_name=file_name, error=error)


@dataclass
class EvalReport:
    model: str
    wer: float
    cer: float
    n_clips: int
    audio_seconds: float
    elapsed_s: float
    clips: list[ClipResult] = field(default_factory=list)
    # {kind: scored clips showing it}, every kind of hallucination.KINDS
    hallucinations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    # {group label: {"wer", "cer", "n_clips", "n_flagged"}}; wer/cer None when no clip of it was readable
    subsets: dict[str, dict] = field(default_factory=dict)
    # general speech (the keep set) measured with the same model, when asked: `keep_summary(report)`
    keep: dict | None = None
    prompt: str | None = None  # the previous text every clip was decoded after (Transcriber.prompt)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def failed(self) -> list[ClipResult]:
        return [c for c in self.clips if c.error]

    @property
    def rtf(self) -> float:
        return self.elapsed_s / self.audio_seconds if self.audio_seconds > 0 else 0.0

    @property
    def flagged(self) -> list[ClipResult]:
        """Scored clips with at least one hallucination sign."""
        return [c for c in self.clips if c.signs and not c.error]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["rtf"] = self.rtf
        data["n_failed"] = len(self.failed)
        data["n_flagged"] = len(self.flagged)
        return data

    def save(self, path: str | os.PathLike, extra: dict | None = None) -> Path:
        """Write the report as JSON; `extra` adds top-level sections (e.g. the CLI's "keep")."""
        path = Path(path)
        data = {**self.to_dict(), **(extra or {})}
        atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return path

    def hallucination_line(self) -> str:
        """'hallucination signs: 2 loops, 1 empty (3 of 16 clips)' or '...: none'."""
        text = f"hallucination signs: {describe(self.hallucinations)}"
        if self.flagged:
            text += f" ({len(self.flagged)} of {self.n_clips} clip(s))"
        return text

    def subset_lines(self) -> list[str]:
        lines = []
        for label, s in self.subsets.items():
            if s.get("wer") is None:
                lines.append(f"  {label}: no readable clip")
                continue
            flags = f", {s['n_flagged']} with hallucination signs" if s.get("n_flagged") else ""
            lines.append(f"  {label}: WER {s['wer']:.3f}  CER {s['cer']:.3f}  on {s['n_clips']} clip(s){flags}")
        return lines

    def format_table(self, max_rows: int | None = None, width: int = 100) -> str:
        """Plain-text table: worst clips first (most word errors), then the totals."""
        rows = sorted(self.clips, key=lambda c: (c.error is None, -c.errors, c.file_name))
        shown = rows if max_rows is None else rows[:max(0, max_rows)]
        text_w = max(20, (width - 46) // 2)
        rule = "-" * (20 + 2 * text_w + 28)
        lines = [f"{'clip':<20} {'reference':<{text_w}} {'hypothesis':<{text_w}} {'S/D/I':>9} {'WER':>5} "
                 f"{'signs'}", rule]
        for c in shown:
            hyp = f"ERROR: {c.error}" if c.error else c.hypothesis
            sdi = "-" if c.error else f"{c.substitutions}/{c.deletions}/{c.insertions}"
            wer = "-" if c.error else f"{c.wer:.2f}"
            lines.append(f"{_clip(c.file_name, 20)} {_clip(c.reference, text_w)} {_clip(hyp, text_w)} "
                         f"{sdi:>9} {wer:>5} {','.join(c.signs)}".rstrip())
        if len(shown) < len(rows):
            lines.append(f"... {len(rows) - len(shown)} more clip(s) not shown")
        lines.append(rule)
        total = (f"{self.model}: WER {self.wer:.3f}  CER {self.cer:.3f}  on {self.n_clips} clip(s), "
                 f"{self.audio_seconds:.1f} s of audio in {self.elapsed_s:.1f} s (RTF {self.rtf:.3f})")
        if self.failed:
            total += f"; {len(self.failed)} clip(s) unreadable and not scored"
        lines.append(total)
        lines.append(self.hallucination_line())
        lines.extend(self.subset_lines())
        return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return f"{text:<{width}}" if len(text) <= width else text[: width - 1] + "…"


def evaluate_model(model_or_transcriber, clips: Sequence, batch_size: int = 8,
                   on_progress: Callable[[int, int], None] | None = None,
                   groups: dict[str, str] | None = None) -> EvalReport:
    """Transcribe `clips` (objects with file_name, path, transcription) and score them.

    `model_or_transcriber` is a Transcriber, a loaded (model, processor) pair, or any model name.
    `on_progress(done, total)` is called as clips finish. `groups` maps a clip's file_name to a
    label ("new voices", "known voices"); the report's `subsets` then scores each label's clips
    on their own (clips without a label are in the totals only).
    """
    transcriber = (model_or_transcriber if isinstance(model_or_transcriber, Transcriber)
                   else Transcriber(model_or_transcriber, batch_size=batch_size))
    total = len(clips)
    done = 0

    def progress(_result) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total)

    started = time.perf_counter()
    results = transcriber.transcribe_files([c.path for c in clips], on_result=progress)
    elapsed = time.perf_counter() - started

    clip_results: list[ClipResult] = []
    refs, hyps = [], []
    for clip, result in zip(clips, results, strict=True):
        if result.error:
            clip_results.append(ClipResult.unreadable(clip.file_name, clip.transcription, result.error))
            continue
        e = clip_errors(clip.transcription, result.text)
        clip_results.append(ClipResult(**asdict(e), file_name=clip.file_name, duration_s=result.duration_s,
                                       signs=hallucination_signs(clip.transcription, result.text, result.duration_s)))
        refs.append(clip.transcription)
        hyps.append(result.text)
    if clips and not refs:
        raise DatasetError(f"none of the {len(clips)} clip(s) could be read; first: {clip_results[0].error}",
                           "fix or remove the audio files (whisper-tui validate lists every problem)",
                           where=clip_results[0].file_name)
    wer, cer = error_rates(refs, hyps) if refs else (0.0, 0.0)
    scored = [c for c in clip_results if not c.error]
    return EvalReport(model=transcriber.model_name, wer=wer, cer=cer, n_clips=len(refs),
                      audio_seconds=sum(c.duration_s for c in clip_results), elapsed_s=elapsed,
                      clips=clip_results, hallucinations=totals(c.signs for c in scored),
                      subsets=subset_scores(clip_results, groups) if groups else {},
                      prompt=getattr(transcriber, "prompt", None))


def keep_summary(report: EvalReport, keep_dir: str | None = None) -> dict:
    """The part of a keep-set report that goes into another report's `keep`: scores, signs, clips."""
    data = report.to_dict()
    for key in ("model", "created", "keep", "subsets", "prompt"):
        data.pop(key, None)
    return {"keep_dir": keep_dir, **data}


def keep_line(keep: dict) -> str:
    """'general speech: WER 12.3% on 9 clips' (+ hallucination signs when there are any)."""
    text = f"general speech: WER {100 * keep['wer']:.1f}% on {keep['n_clips']} clips"
    if keep.get("n_flagged"):
        text += f"; hallucination signs: {describe(keep.get('hallucinations', {}))}"
    return text


def subset_scores(clips: Sequence[ClipResult], groups: dict[str, str]) -> dict[str, dict]:
    """{label: {"wer", "cer", "n_clips", "n_flagged"}} for each label in `groups` (file_name -> label),
    in order of first appearance among `clips`; unreadable clips are left out of the scores."""
    by_label: dict[str, list[ClipResult]] = {}
    for c in clips:
        label = groups.get(c.file_name)
        if label is not None:
            by_label.setdefault(str(label), []).append(c)
    out = {}
    for label, members in by_label.items():
        scored = [c for c in members if not c.error]
        wer, cer = (error_rates([c.reference for c in scored], [c.hypothesis for c in scored]) if scored
                    else (None, None))
        out[label] = {"wer": wer, "cer": cer, "n_clips": len(scored),
                      "n_flagged": sum(1 for c in scored if c.signs)}
    return out
