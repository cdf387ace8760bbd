"""Bring other people's data in: `whisper-tui import SRC OUT` writes a standard dataset folder.

Formats (detect.py tries them in this order): a Hugging Face `save_to_disk` folder (hf_disk.py),
Common Voice (common_voice.py), NeMo JSONL manifests (nemo.py), LibriSpeech `*.trans.txt`
(librispeech.py), parquet files with an audio column (parquet.py), long recordings with `.srt`/`.vtt`
subtitles (subtitle_cuts.py, cut at cue times by segments.py), and long recordings with a plain
`.txt` transcript (transcripts.py, aligned by align.py). Each reader turns its source into entries
(entries.py); writer.py places the audio and writes `metadata.csv`; run.py ties them together inside
one atomic folder swap. Source files are only ever read.
"""

from __future__ import annotations

from whisper_tui.data.importers.detect import FORMATS, detect_format
from whisper_tui.data.importers.entries import Options
from whisper_tui.data.importers.report import ImportReport
from whisper_tui.data.importers.run import import_dataset

__all__ = ["FORMATS", "ImportReport", "Options", "detect_format", "import_dataset"]
