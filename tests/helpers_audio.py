"""Small audio files and dataset folders built inside a test's tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

# Twelve everyday sentences spoken one after another into a long recording (test_align, test_label):
# words tiny.en knows, so what is measured is the cutting, not the vocabulary.
LECTURE_SENTENCES = [
    "Please close the door when you leave.",
    "The children are playing in the park after school.",
    "We will meet at the train station at noon.",
    "Can you tell me where the library is?",
    "My brother bought a new car last month.",
    "It is a lovely day for a long walk by the river.",
    "Please put the milk back in the fridge.",
    "Thank you very much for your help with the garden.",
    "The weather will be cold and windy tomorrow morning.",
    "She reads a book every night before going to bed.",
    "Our teacher asked us to write a short story about summer.",
    "The shop on the corner sells fresh bread and coffee.",
]


def tone(seconds: float = 0.5, sr: int = 16000, freq: float = 440.0, amp: float = 0.3, channels: int = 1) -> np.ndarray:
    """A sine (frames,) or (frames, channels); channel k is scaled by 1/(k+1) so a downmix is checkable."""
    t = np.arange(int(round(seconds * sr))) / sr
    mono = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    if channels == 1:
        return mono
    return np.stack([mono / (k + 1) for k in range(channels)], axis=1)


def write_wav(path: Path, seconds: float = 0.5, sr: int = 16000, channels: int = 1, subtype: str = "PCM_16",
              amp: float = 0.3, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tone(seconds, sr, amp=amp, channels=channels) if amp else np.zeros(
        (int(round(seconds * sr)), channels) if channels > 1 else int(round(seconds * sr)), np.float32)
    sf.write(path, data, sr, subtype=subtype, format=fmt)
    return path


def write_metadata(folder: Path, rows: list[tuple[str, str]] | str, header: str = "file_name,transcription") -> Path:
    """rows as (file_name, text) pairs (quoted as needed), or the whole body as raw text."""
    import csv
    import io

    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(rows, str):
        body = rows
    else:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        body = buf.getvalue()
    path = folder / "metadata.csv"
    path.write_text(header + "\n" + body, encoding="utf-8")
    return path


def make_dataset(folder: Path, n: int = 3, seconds: float = 0.5, sr: int = 16000) -> Path:
    """n good clips a0.wav... with transcripts 'clip number i'."""
    rows = []
    for i in range(n):
        write_wav(folder / f"a{i}.wav", seconds=seconds, sr=sr)
        rows.append((f"a{i}.wav", f"clip number {i}"))
    write_metadata(folder, rows)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder with its bytes, to prove nothing was changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


TONE_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def write_tone_dataset(folder: Path, n: int = 8, seconds: float = 1.0, seed: int = 0) -> Path:
    """A trainable dataset without TTS: n clips of distinct tones + noise, each labelled with two words."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    rows = []
    for i in range(n):
        wave = 0.3 * np.sin(2 * np.pi * (180 + 40 * i) * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(folder / f"clip{i:02d}.wav", wave.astype(np.float32), 16000)
        rows.append((f"clip{i:02d}.wav", f"{TONE_WORDS[i % 8]} {TONE_WORDS[(i + 3) % 8]}"))
    write_metadata(folder, rows)
    return folder
