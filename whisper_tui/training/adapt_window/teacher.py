"""The teacher's transcripts: the model at its own 30 s window labels each side's recordings, and only
the rows it was sure of become the student's data.

Labelling reuses `whisper-tui label` (`labelling.label_folder`) as it is: long recordings are cut at
pauses and each clip keeps the text its 30 s window gave it, silence and music are left out, and a
rerun skips recordings already labelled, so a stopped adaptation loses no labelling.

A row the labeller kept but flagged (`labelling.verdict`: a loop, text that compresses like one,
probably no speech, too many or too few words), a row whose mean token probability is under
`min_confidence`, and a row with no words are left out of the student's data: the student copies
its teacher, so it must not be taught the teacher's mistakes. The label folder itself is never
changed (a person may review it); the student's data is a separate folder of hard-linked clips.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from whisper_tui.labelling.verdict import UNSURE_BELOW

MIN_CONFIDENCE = UNSURE_BELOW  # the labeller's own "unsure" line
LEFT_OUT_KINDS = ("flagged", "unsure", "no_words", "other_side")


@dataclass(frozen=True)
class TeacherRow:
    """One clip the student may learn from (or be measured on)."""

    file_name: str  # relative to the label folder
    transcription: str
    source: str  # the recording, relative to the side's audio folder


@dataclass
class RowFilter:
    """Which teacher rows are kept, and how many were left out for what."""

    kept: list[TeacherRow] = field(default_factory=list)
    left_out: Counter = field(default_factory=Counter)  # LEFT_OUT_KINDS -> rows
    flags: Counter = field(default_factory=Counter)  # flag -> rows (a row may carry several)

    @property
    def n_left_out(self) -> int:
        return sum(self.left_out.values())

    def describe(self) -> str:
        parts = []
        if self.left_out["flagged"]:
            flags = ", ".join(f"{n} {flag.replace('_', ' ')}" for flag, n in sorted(self.flags.items()))
            parts.append(f"{self.left_out['flagged']} flagged ({flags})")
        if self.left_out["unsure"]:
            parts.append(f"{self.left_out['unsure']} unsure")
        if self.left_out["no_words"]:
            parts.append(f"{self.left_out['no_words']} without words")
        if self.left_out["other_side"]:
            parts.append(f"{self.left_out['other_side']} from recordings now on the other side")
        return ", ".join(parts) or "none"

    def to_json(self) -> dict:
        return {"kept": len(self.kept), "left_out": {k: self.left_out[k] for k in LEFT_OUT_KINDS},
                "flags": dict(sorted(self.flags.items()))}


def _confidence(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def filter_rows(rows, recordings: set[str] | None, min_confidence: float = MIN_CONFIDENCE) -> RowFilter:
    """Sort label rows (`labelling.table.Row`-like: `.get(column)`, `.source`) into kept and left out.

    `recordings`: the recordings on this side now (relative paths); rows of any other recording are
    left out (a recording that moved sides since an earlier run keeps its old rows in the label folder).
    """
    from whisper_tui.labelling.verdict import words_of

    result = RowFilter()
    for row in rows:
        source = row.source
        rel = source[0] if source is not None else ""
        if recordings is not None and rel not in recordings:
            result.left_out["other_side"] += 1
            continue
        flags = [f for f in row.get("flags").split(";") if f.strip()]
        if flags:
            result.left_out["flagged"] += 1
            result.flags.update(f.strip() for f in flags)
            continue
        confidence = _confidence(row.get("confidence"))
        if confidence is not None and confidence < min_confidence:
            result.left_out["unsure"] += 1
            continue
        text = " ".join(row.get("transcription").split())
        if not words_of(text):
            result.left_out["no_words"] += 1
            continue
        result.kept.append(TeacherRow(row.get("file_name"), text, rel))
    return result


def read_label_rows(label_dir: Path) -> list:
    from whisper_tui.labelling.table import LabelTable

    return LabelTable.read(label_dir).data_rows()


def write_student_data(label_dir: Path, rows: list[TeacherRow], dest: Path) -> Path:
    """A dataset folder (clips + metadata.csv with the teacher's texts) of `rows`, replaced in one step.

    Clips are hard links to the label folder's (a copy where links cannot be made), so the data costs
    no space; the label folder is left as it is.
    """
    import os
    import shutil

    from whisper_tui.data.metadata import METADATA_FILE, metadata_csv_bytes
    from whisper_tui.storage.atomic import atomic_directory

    with atomic_directory(dest) as tmp:
        for row in rows:
            target = tmp / row.file_name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(label_dir / row.file_name, target)
            except OSError:
                shutil.copy2(label_dir / row.file_name, target)
        (tmp / METADATA_FILE).write_bytes(metadata_csv_bytes([(r.file_name, r.transcription, r.source) for r in rows],
                                                             ("source",)))
    return dest


_FEATURE_CONFIGS = ("preprocessor_config.json", "processor_config.json")


def teacher_model(model: str, folder: Path) -> str:
    """What the labeller should load as the teacher: `model` at its longest window only.

    An any-window model (several windows saved) decodes short clips at short windows, which would make
    the teacher the very thing the student is learning to become. Such a model gets a view in `folder`:
    links to its files, with feature-extractor configs that list no windows (so one window, the longest).
    A model with one window is its own teacher as it is.
    """
    import json
    import shutil

    from whisper_tui.models.loading import resolve_model
    from whisper_tui.models.window import saved_windows
    from whisper_tui.storage.atomic import atomic_directory

    ref = resolve_model(model)
    source = Path(ref.path)
    if len(saved_windows(source)) < 2:
        return model
    with atomic_directory(folder) as tmp:
        for path in sorted(source.iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            if path.name not in _FEATURE_CONFIGS:
                try:
                    (tmp / path.name).symlink_to(path.resolve())
                except OSError:
                    shutil.copy2(path, tmp / path.name)
                continue
            config = json.loads(path.read_text())
            inner = config.get("feature_extractor") if path.name == "processor_config.json" else config
            if isinstance(inner, dict):
                inner.pop("windows", None)
            (tmp / path.name).write_text(json.dumps(config, indent=2))
    return str(folder)
