"""A small clear-speech set (everyday sentences, two eSpeak voices, plus jfk.flac when present).

    python -m benchmarks.clear_speech [FOLDER]

The sample data is full of drug and tool names that tiny.en gets wrong anyway (WER ~0.8), which hides
what a change costs on speech the model already knows. bench_transcribe runs on this set with
`--data` to measure, for example, what cutting the encoder window without fine-tuning costs.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

SENTENCES = [
    "Hello.", "Good morning everyone.", "Please close the door.", "Thank you very much.", "Can you hear me?",
    "It is raining.", "The weather is nice today and the sun is shining.",
    "My phone number is five five five, one two three four.",
    "We will meet at the station at nine o'clock tomorrow morning, and then take the train to the city.",
    "The quick brown fox jumps over the lazy dog while the farmer watches from the window of his house.",
    "Turn left at the next corner, then walk two blocks north until you reach the old library building.",
    "In the beginning, the project was small, but over the years it grew into a large organisation with many "
    "offices around the world, employing thousands of people.",
    "Scientists have discovered a new species of frog in the rainforest, which is about the size of a "
    "fingernail and lives on the leaves of tall trees.",
]
VOICES = ["en-us", "en"]
JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")


def make_clear_speech(folder: Path) -> Path:
    import soundfile as sf

    from whisper_tui.storage.atomic import atomic_write_bytes
    from whisper_tui.data.dataset import metadata_csv_bytes
    from whisper_tui.data.tts import synthesize

    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(SENTENCES):
        for voice in VOICES:
            name = f"clear_{i:02d}_{voice}.wav"
            sf.write(folder / name, synthesize(text, voice=voice), 16000)
            rows.append((name, text))
    jfk = Path(__file__).resolve().parent.parent.parent / "shared" / "audio" / "jfk.flac"
    if jfk.is_file():
        shutil.copy(jfk, folder / "jfk.flac")
        rows.append(("jfk.flac", JFK_TEXT))
    atomic_write_bytes(folder / "metadata.csv", metadata_csv_bytes(rows))
    return folder


def clear_speech_dir() -> Path:
    """Made once under the user data dir, next to the sample data."""
    from whisper_tui.config.locations import default_sample_data_dir

    folder = default_sample_data_dir().parent / "clear-speech"
    if not (folder / "metadata.csv").exists():
        print(f"generating clear speech in {folder}", file=sys.stderr)
        make_clear_speech(folder)
    return folder


if __name__ == "__main__":
    print(make_clear_speech(Path(sys.argv[1])) if len(sys.argv) > 1 else clear_speech_dir())
