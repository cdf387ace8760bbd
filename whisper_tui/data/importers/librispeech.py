"""LibriSpeech layout: `SPEAKER/CHAPTER/SPEAKER-CHAPTER.trans.txt` lines `ID TEXT`, audio `ID.flac` beside them.

The whole tree under the source is searched, so a LibriSpeech root with several subsets
(`train-clean-100`, `dev-clean`, ...) imports in one go and the subset names give the `split`
column. The speaker is the first part of the utterance id (`84-121123-0000` -> `84`). Transcripts
are kept as written (LibriSpeech's are upper case without punctuation).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from whisper_tui.data.audio import AUDIO_EXTENSIONS
from whisper_tui.data.importers.common import (
    DETECT_DEPTH,
    DETECT_LIMIT,
    find_files,
    read_text,
    relative,
    split_from_name,
)
from whisper_tui.data.importers.entries import Entry, FileAudio, Options, Plan, Skipped

NAME = "librispeech"
LABEL = "LibriSpeech-style *.trans.txt"
LOOKS_FOR = "LibriSpeech *.trans.txt (lines `ID TEXT`, ID.flac beside them)"
SUFFIX = ".trans.txt"
_PREFERRED = (".flac", ".wav")


def _is_transcript(name: str) -> bool:
    return name.lower().endswith(SUFFIX)


def transcripts(src: Path) -> list[Path]:
    if src.is_file():
        return [src] if src.name.lower().endswith(SUFFIX) else []
    return list(find_files(src, _is_transcript))


def detect(src: Path) -> bool:
    if src.is_file():
        return bool(transcripts(src))
    return next((True for _p in find_files(src, _is_transcript, max_depth=DETECT_DEPTH, limit=DETECT_LIMIT)), False)


def _audio_for(folder: Path, utt: str) -> Path:
    for ext in (*_PREFERRED, *sorted(AUDIO_EXTENSIONS - set(_PREFERRED))):
        if (folder / f"{utt}{ext}").is_file():
            return folder / f"{utt}{ext}"
    return folder / f"{utt}.flac"


def _rows(files: list[Path], root: Path) -> Iterator[Entry | Skipped]:
    for trans in files:
        parts = trans.parent.relative_to(root).parts if trans.is_relative_to(root) else ()
        split = split_from_name(*parts, root.name)
        name = relative(trans, root)
        for number, line in enumerate(read_text(trans).splitlines(), start=1):
            if not line.strip():
                continue
            utt, _, text = line.strip().partition(" ")
            audio = _audio_for(trans.parent, utt)
            columns = {"speaker": utt.split("-", 1)[0] if "-" in utt else "", "split": split,
                       "source": relative(audio, root)}
            yield Entry(FileAudio(audio), text, utt, columns, f"{name} line {number}")


def read(src: Path, options: Options) -> Plan:
    files = transcripts(src)
    root = src.parent if src.is_file() else src
    total = sum(1 for f in files for line in read_text(f).splitlines() if line.strip())
    return Plan(_rows(files, root), total, [f"{len(files)} transcript file(s)"])
