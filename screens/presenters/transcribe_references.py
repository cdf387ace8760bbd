"""Reference transcripts for the files being transcribed, so the console can score each clip.

A dataset folder's `metadata.csv` (or, without one, a `.txt` transcript beside each audio file)
is what the user already has for training; reading it here means "transcribe this folder" also
tells them the WER per clip. No references is normal and simply means no WER column.
"""

from __future__ import annotations

from pathlib import Path


def _from_folder(folder: Path) -> dict[Path, str]:
    from whisper_tui.data.metadata import read_metadata
    from whisper_tui.errors import WhisperTuiError

    try:
        clips, _problems = read_metadata(folder)
    except (WhisperTuiError, OSError):
        return {}
    return {Path(clip.path).resolve(): clip.transcription for clip in clips if clip.transcription}


def find_references(target: str | Path, files: list[Path]) -> dict[Path, str]:
    """{resolved audio path: reference text} for those of `files` that have one."""
    target = Path(target).expanduser()
    folder = target if target.is_dir() else target.parent
    references = _from_folder(folder)
    wanted = {Path(f).resolve() for f in files}
    found = {path: text for path, text in references.items() if path in wanted}
    for file in files:  # a sidecar next to a lone file counts even when the folder has other metadata
        resolved = Path(file).resolve()
        sidecar = Path(file).with_suffix(".txt")
        if resolved not in found and sidecar.is_file():
            try:
                text = sidecar.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                continue
            if text:
                found[resolved] = text
    return found
