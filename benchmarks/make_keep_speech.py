"""Rebuild the real-speech keep set shipped in whisper_tui/data/keep_speech/ (a maintainer's tool, run once).

    apt-get install asterisk-core-sounds-en-g722 asterisk-core-sounds-en
    python -m benchmarks.make_keep_speech

Why these prompts: the keep set must be recorded human speech that may be redistributed (the Asterisk
core sounds, Allison Smith, CC-BY-SA-3.0) and must never be what a benchmark measures forgetting on.
So it takes only prompts that `real_speech.real_speech_dir(100)` (bench_quality's real-speech set)
does not choose, and none whose words equal, contain or are contained in a chosen prompt's words; it
keeps prompts of 2-9.5 s (a 10 s window holds them) with at least 5 words, evenly spread over the
rest, N_CLIPS of them. Output: 16 kHz mono FLAC, metadata.csv (file_name, transcription, speaker) and
NOTICE.md with the attribution the licence asks for.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from . import real_speech

N_CLIPS = 40
MIN_WORDS = 5
MIN_S, MAX_S = 2.0, 9.5
TARGET = Path(__file__).resolve().parents[1] / "whisper_tui" / "data" / "keep_speech"

NOTICE = """# The real-speech keep set

Recorded human speech that every fine-tune is measured on, before training and at every evaluation,
to see whether the model forgets general English (whisper_tui/data/keep_set.py).

## Source and licence
{n} prompts of the Asterisk core sound prompts (English), recorded by **Allison Smith**
(http://www.theivrvoice.com), financial contributions by Digium, Inc. (http://www.digium.com),
as packaged by Debian (`asterisk-core-sounds-en-g722`, transcripts from `asterisk-core-sounds-en`).
Licence: **Creative Commons Attribution-ShareAlike 3.0 Unported** (CC-BY-SA-3.0,
https://creativecommons.org/licenses/by-sa/3.0/). Changes: decoded from G.722 to 16 kHz mono
FLAC; transcripts copied from core-sounds-en.txt. These files (audio and metadata.csv) are
distributed under the same licence; the rest of whisper-tui is under its own LICENSE.

`jfk.flac` beside this folder (John F. Kennedy's inaugural address, 1961, public domain; from the
openai/whisper repository's tests) is the second speaker of the keep set.

## Files
{files}
"""


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def choose(texts: dict[str, str], durations: dict[str, float], bench: list[str]) -> list[str]:
    """The keep prompts: not in `bench` and sharing no sentence with it, MIN_S..MAX_S, evenly spread."""
    bench_words = [_words(texts[n]) for n in bench]

    def shares(name: str) -> bool:
        mine = _words(texts[name])
        return any(mine == b or f" {mine} " in f" {b} " or f" {b} " in f" {mine} " for b in bench_words)

    pool = sorted(n for n in texts if n in durations and n not in set(bench) and not shares(n)
                  and MIN_S <= durations[n] <= MAX_S and len(_words(texts[n]).split()) >= MIN_WORDS)
    step = max(1, len(pool) // N_CLIPS)
    return pool[::step][:N_CLIPS]


def main() -> int:
    import soundfile as sf

    from whisper_tui.data.dataset import metadata_csv_bytes

    if not real_speech.available():
        print(f"the Asterisk prompts are not installed: {real_speech.INSTALL_HINT}", file=sys.stderr)
        return 2
    texts = real_speech._transcripts()
    bench_dir = real_speech.real_speech_dir(100)
    bench = [p.stem for p in bench_dir.glob("*.wav")]
    waves, durations = {}, {}
    for name in texts:
        path = real_speech.SOUNDS / f"{name}.g722"
        if "/" in name or not path.is_file():
            continue
        waves[name] = real_speech._decode(path)
        durations[name] = len(waves[name]) / 16000
    chosen = choose(texts, durations, bench)
    TARGET.mkdir(parents=True, exist_ok=True)
    for old in TARGET.glob("*.flac"):
        old.unlink()
    rows = []
    for name in chosen:
        sf.write(TARGET / f"{name}.flac", waves[name], 16000, subtype="PCM_16", format="FLAC")
        rows.append((f"{name}.flac", texts[name], "allison"))
    (TARGET / "metadata.csv").write_bytes(metadata_csv_bytes(rows, ("speaker",)))
    files = "\n".join(f"- `{f}` ({durations[Path(f).stem]:.1f} s): {t}" for f, t, _s in rows)
    (TARGET / "NOTICE.md").write_text(NOTICE.format(n=len(rows), files=files), encoding="utf-8")
    total = sum(durations[n] for n in chosen)
    print(f"{len(rows)} prompts, {total:.0f} s, {sum(len(_words(texts[n]).split()) for n in chosen)} words -> {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
