"""Transcripts made elsewhere (the Transcribe console's results for a folder) saved as a labelled dataset.

The rows look exactly like `whisper-tui label`'s: each file copied whole into `clips/`, status
`auto` (nobody has checked the text yet), `source` the file itself (its path and 0.00-duration),
and the same flags. So the Dataset screen can review them and training can use the reviewed ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from whisper_tui.data.audio import audio_info
from whisper_tui.errors import AudioError
from whisper_tui.labelling.run import CLIPS_DIR, LabelReport, _check_folders, _Labeller
from whisper_tui.labelling.table import AUTO, Row, format_number, format_source
from whisper_tui.labelling.verdict import judge
from whisper_tui.models.window import WHISPER_WINDOW_S

Item = tuple["str | os.PathLike", str, "float | None", "float | None"]


def save_transcripts_as_dataset(out_dir: str | os.PathLike, items: Iterable[Item]) -> LabelReport:
    """Write `items` — (audio_path, text, confidence or None, no_speech or None) — into `out_dir`.

    `out_dir` is new, empty, or a labelled dataset written before (then a file saved again
    replaces its `auto` row and never a reviewed one). Files with no text are left out and counted.
    """
    out_dir = Path(out_dir).expanduser().absolute()
    _check_folders(out_dir.parent, out_dir)
    report = LabelReport(out_dir, model="(transcripts)", backend="")
    job = _Labeller(out_dir.parent, out_dir, report.model, "", report, float(WHISPER_WINDOW_S), None, None)
    by_source = {r.source[0]: r for r in job.table.data_rows() if r.source is not None}
    for audio_path, text, confidence, no_speech in items:
        path = Path(audio_path).expanduser().absolute()
        report.files += 1
        try:
            duration = audio_info(path).duration_s
        except AudioError as exc:
            report.failed.append((str(path), exc.message))
            continue
        source = str(path)
        old = by_source.get(source)
        if old is not None and old.status != AUTO:
            report.kept_reviewed += 1
            continue
        if not (text or "").strip():
            report.left_out["no_speech"] = report.left_out.get("no_speech", 0) + 1
            continue
        verdict = judge(text, [], no_speech, duration, 0.0)
        values = {"transcription": " ".join(text.split()), "source": format_source(source, 0.0, duration),
                  "confidence": format_number(confidence), "no_speech": format_number(no_speech),
                  "flags": ";".join(verdict.flags), "status": AUTO}
        if old is not None:
            report.changed += old.get("transcription") != values["transcription"]
            report.relabelled += 1
            old.update(**values)
            continue
        name = job.claim(path.name, None, path.suffix.lower())
        job.write_clip(out_dir / CLIPS_DIR / name, path)
        row = Row({"file_name": f"{CLIPS_DIR}/{name}", **values})
        job.table.rows.append(row)
        by_source[source] = row
        report.written += 1
    job.save()
    return report
