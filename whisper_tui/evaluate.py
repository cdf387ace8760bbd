"""Score a model on labelled clips: corpus WER/CER plus a per-clip account of what went wrong.

Scores use `whisper_tui.metrics` (Whisper's English normaliser), the same numbers the training
loop reports, so "base WER" and "tuned WER" are comparable. A clip whose audio cannot be read is
listed with its error and left out of the scores rather than counted as silence: a broken file
says nothing about the model.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .atomic import atomic_write_text
from .errors import DatasetError
from .metrics import clip_errors, error_rates
from .transcribe import Transcriber


@dataclass(frozen=True)
class ClipResult:
    file_name: str
    reference: str
    hypothesis: str
    wer: float
    substitutions: int
    deletions: int
    insertions: int
    duration_s: float = 0.0
    error: str | None = None

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions


@dataclass
class EvalReport:
    model: str
    wer: float
    cer: float
    n_clips: int
    audio_seconds: float
    elapsed_s: float
    clips: list[ClipResult] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def failed(self) -> list[ClipResult]:
        return [c for c in self.clips if c.error]

    @property
    def rtf(self) -> float:
        return self.elapsed_s / self.audio_seconds if self.audio_seconds > 0 else 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["rtf"] = self.rtf
        data["n_failed"] = len(self.failed)
        return data

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
        return path

    def format_table(self, max_rows: int | None = None, width: int = 100) -> str:
        """Plain-text table: worst clips first (most word errors), then the totals."""
        rows = sorted(self.clips, key=lambda c: (c.error is None, -c.errors, c.file_name))
        shown = rows if max_rows is None else rows[:max(0, max_rows)]
        text_w = max(20, (width - 36) // 2)
        lines = [f"{'clip':<20} {'reference':<{text_w}} {'hypothesis':<{text_w}} {'S/D/I':>9} {'WER':>5}",
                 "-" * (20 + 2 * text_w + 18)]
        for c in shown:
            hyp = f"ERROR: {c.error}" if c.error else c.hypothesis
            sdi = "-" if c.error else f"{c.substitutions}/{c.deletions}/{c.insertions}"
            wer = "-" if c.error else f"{c.wer:.2f}"
            lines.append(f"{_clip(c.file_name, 20)} {_clip(c.reference, text_w)} {_clip(hyp, text_w)} "
                         f"{sdi:>9} {wer:>5}")
        if len(shown) < len(rows):
            lines.append(f"... {len(rows) - len(shown)} more clip(s) not shown")
        lines.append("-" * (20 + 2 * text_w + 18))
        total = (f"{self.model}: WER {self.wer:.3f}  CER {self.cer:.3f}  on {self.n_clips} clip(s), "
                 f"{self.audio_seconds:.1f} s of audio in {self.elapsed_s:.1f} s (RTF {self.rtf:.3f})")
        if self.failed:
            total += f"; {len(self.failed)} clip(s) unreadable and not scored"
        lines.append(total)
        return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return f"{text:<{width}}" if len(text) <= width else text[: width - 1] + "…"


def evaluate_model(model_or_transcriber, clips: Sequence, batch_size: int = 8,
                   on_progress: Callable[[int, int], None] | None = None) -> EvalReport:
    """Transcribe `clips` (objects with file_name, path, transcription) and score them.

    `model_or_transcriber` is a Transcriber, a loaded (model, processor) pair, or any model name.
    `on_progress(done, total)` is called as clips finish.
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
            clip_results.append(ClipResult(clip.file_name, clip.transcription, "", 0.0, 0, 0, 0, 0.0, result.error))
            continue
        e = clip_errors(clip.transcription, result.text)
        clip_results.append(ClipResult(clip.file_name, clip.transcription, result.text, e.wer, e.substitutions,
                                       e.deletions, e.insertions, result.duration_s))
        refs.append(clip.transcription)
        hyps.append(result.text)
    if clips and not refs:
        raise DatasetError(f"none of the {len(clips)} clip(s) could be read; first: {clip_results[0].error}",
                           "fix or remove the audio files (whisper-tui validate lists every problem)",
                           where=clip_results[0].file_name)
    wer, cer = error_rates(refs, hyps) if refs else (0.0, 0.0)
    return EvalReport(model=transcriber.model_name, wer=wer, cer=cer, n_clips=len(refs),
                      audio_seconds=sum(c.duration_s for c in clip_results), elapsed_s=elapsed,
                      clips=clip_results)
