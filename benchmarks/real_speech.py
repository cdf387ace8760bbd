"""Real recorded English for "did it forget?": Debian's Asterisk prompts as a whisper-tui dataset folder.

`asterisk-core-sounds-en-g722` holds 500+ professionally recorded prompts (one speaker, G.722 at
16 kHz, CC-BY-SA-3.0) and `asterisk-core-sounds-en` their transcripts (doc/core-sounds-en.txt).
Neither is something a user has, so only benchmarks use them (`apt-get install
asterisk-core-sounds-en-g722 asterisk-core-sounds-en`); the test suite never does.

The folder holds a fixed, evenly spread subset of the prompts with at least MIN_WORDS words
(one-word prompts like "Added." say little about a model), decoded with PyAV (faster-whisper's
dependency, in the `bench` extra) into 16 kHz mono WAV, plus metadata.csv. Bracketed entries
("[this is a simple beep tone]") are not speech and are skipped.
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

SOUNDS = Path("/usr/share/asterisk/sounds/en")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
MIN_WORDS = 4
MAX_SECONDS = 25.0
INSTALL_HINT = "apt-get install asterisk-core-sounds-en-g722 asterisk-core-sounds-en"


def available() -> bool:
    return SOUNDS.is_dir() and TRANSCRIPTS.is_file()


def _transcripts() -> dict[str, str]:
    lines = gzip.decompress(TRANSCRIPTS.read_bytes()).decode("utf-8", "replace").splitlines()
    out = {}
    for line in lines:
        if not line.strip() or line.startswith(";") or ":" not in line:
            continue
        name, text = line.split(":", 1)
        text = " ".join(text.split())
        if not text or text.startswith("[") or "[" in text:
            continue
        out[name.strip()] = text
    return out


def _decode(path: Path):
    import av
    import numpy as np

    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        chunks = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype("float32") if chunks else np.zeros(0, "float32")


def real_speech_dir(n_clips: int = 100) -> Path:
    """The dataset folder (made once, under the app's data dir); RuntimeError naming the packages if missing."""
    import soundfile as sf

    from whisper_tui.data.dataset import metadata_csv_bytes
    from whisper_tui.config.locations import data_dir

    folder = data_dir() / f"asterisk-prompts-{n_clips}"
    if (folder / "metadata.csv").is_file():
        return folder
    if not available():
        raise RuntimeError(f"the Asterisk prompts are not installed: {INSTALL_HINT}")
    texts = _transcripts()
    names = sorted(n for n, t in texts.items() if "/" not in n and len(re.findall(r"\w+", t)) >= MIN_WORDS
                   and (SOUNDS / f"{n}.g722").is_file())
    step = max(1, len(names) // n_clips)
    chosen = names[::step][:n_clips]
    print(f"decoding {len(chosen)} Asterisk prompts into {folder}", file=sys.stderr)
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in chosen:
        wave = _decode(SOUNDS / f"{name}.g722")
        if not 0.3 <= len(wave) / 16000 <= MAX_SECONDS:
            continue
        sf.write(tmp / f"{name}.wav", wave, 16000, subtype="PCM_16")
        rows.append((f"{name}.wav", texts[name], "allison"))
    (tmp / "metadata.csv").write_bytes(metadata_csv_bytes(rows, ("speaker",)))
    tmp.rename(folder)
    return folder


if __name__ == "__main__":
    print(real_speech_dir(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
