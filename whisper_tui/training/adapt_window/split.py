"""Which recordings teach the student and which only judge it.

The split is by recording, never by clip: clips cut from one long recording share its voice, room
and often its words, so a held-out clip from a recording the student adapted on would flatter it.
A recording's side comes from a hash of its path and the seed, so the same folder splits the same
way on every run and on every machine (a rerun relabels nothing), and adding recordings moves
few of the old ones.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from whisper_tui.errors import AudioError

ADAPT, HELD_OUT = "adapt", "held_out"
SIDES = (ADAPT, HELD_OUT)


@dataclass(frozen=True)
class FileSplit:
    """Recordings (paths relative to the audio folder, posix) on each side."""

    adapt: tuple[str, ...]
    held_out: tuple[str, ...]

    def side(self, name: str) -> tuple[str, ...]:
        return self.adapt if name == ADAPT else self.held_out


def _rank(rel: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{rel}".encode("utf-8", "surrogateescape")).hexdigest()


def split_files(rels: list[str], held_out: float, seed: int = 42, *, where: str = "") -> FileSplit:
    """Hold out `held_out` of the recordings (at least one), keeping at least one to adapt on.

    Raises AudioError naming `where` when there are fewer than two recordings: nothing could be
    held out without leaving nothing to learn from.
    """
    if not 0.0 < held_out < 1.0:
        raise ValueError(f"held_out must be between 0 and 1 (got {held_out})")
    rels = sorted(set(rels))
    if len(rels) < 2:
        raise AudioError(f"{where or 'the audio folder'} has {len(rels)} recording(s); adapt-window needs at least 2 "
                         "(some to adapt on, at least one held out to measure the result on)",
                         "add recordings (a few minutes of speech in several files)", where=where)
    n_held = min(len(rels) - 1, max(1, round(len(rels) * held_out)))
    ranked = sorted(rels, key=lambda rel: _rank(rel, seed))
    held = set(ranked[:n_held])
    return FileSplit(tuple(r for r in rels if r not in held), tuple(r for r in rels if r in held))


def link_recordings(audio_dir: Path, rels: tuple[str, ...], dest: Path) -> None:
    """`dest` becomes a folder holding exactly `rels` (same relative paths) as links to the recordings.

    The labeller reads a folder, so each side gets one; symbolic links cost nothing, a hard link or a
    copy stands in where links cannot be made. Anything else under `dest` (a recording that moved to
    the other side) is removed: `dest` holds only what this function put there.
    """
    wanted = {Path(rel) for rel in rels}
    if dest.is_dir():
        for root, dirs, files in os.walk(dest, topdown=False):
            for name in files:
                path = Path(root) / name
                if path.relative_to(dest) not in wanted or not _same_file(path, audio_dir / path.relative_to(dest)):
                    path.unlink()
            for name in dirs:
                folder = Path(root) / name
                if folder.is_symlink():
                    folder.unlink()
                elif not any(folder.iterdir()):
                    folder.rmdir()
    for rel in sorted(wanted):
        target, source = dest / rel, (audio_dir / rel).absolute()
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.symlink_to(source)
        except OSError:
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)


def _same_file(link: Path, source: Path) -> bool:
    try:
        return link.samefile(source) or (not link.is_symlink() and link.stat().st_size == source.stat().st_size)
    except OSError:
        return False
