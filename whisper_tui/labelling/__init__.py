"""Labelling: untranscribed recordings in, a dataset (clips + metadata.csv with status) out.

`label_folder` cuts and transcribes a folder (`whisper-tui label`), `save_transcripts_as_dataset`
keeps transcripts made elsewhere the same way. Rows start as `auto`; a person marks them
`reviewed` (the Dataset screen), training can keep only those (`data.only_reviewed`), and a
relabel with a better model changes only the rows still `auto`.
"""

from __future__ import annotations

from whisper_tui.labelling.run import LABEL_FILE, LabelProgress, LabelReport, is_label_dataset, label_folder
from whisper_tui.labelling.save import save_transcripts_as_dataset
from whisper_tui.labelling.table import AUTO, LABEL_COLUMNS, REVIEWED, format_source, parse_source

__all__ = ["AUTO", "LABEL_COLUMNS", "LABEL_FILE", "REVIEWED", "LabelProgress", "LabelReport", "format_source",
           "is_label_dataset", "label_folder", "parse_source", "save_transcripts_as_dataset"]
