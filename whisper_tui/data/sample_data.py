"""A synthetic dataset that shows fine-tuning working, made offline in a few seconds, and measured honestly.

Whisper Tiny mishears domain words: drug names ("levothyroxine") and software names ("kubectl",
"nginx"). The sample set speaks such words in short sentences with several eSpeak voices and
speeds; the transcripts keep the written forms (casing, punctuation), so a fine-tuned model
has something real to learn. Tool names are spoken the way people say them ("cube control",
"engine x"), which is exactly the mapping a base model cannot guess.

The test side is what a user cares about, not what the model memorised: its clips use sentence
frames that training never hears (the domain words recur, as they do in real life), half of them
in voices training has (*new sentences, known voices*: the usual case) and half in voices that
only the test side has (*new voices*). metadata.csv says so in its `split` and `speaker` columns,
which `data.split_by = auto` follows (splitting.py); every domain word is on both sides.
Output is byte-identical for the same seed (see tts.py for how eSpeak is made deterministic).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from whisper_tui.storage.atomic import atomic_directory
from whisper_tui.data.audio import SAMPLE_RATE
from whisper_tui.errors import DatasetError

DRUG_WORDS = ["atorvastatin", "metoprolol", "levothyroxine", "omeprazole", "amlodipine", "gabapentin",
              "hydrochlorothiazide", "rosuvastatin", "escitalopram", "montelukast"]
TOOL_WORDS = ["kubectl", "nginx", "PostgreSQL", "Kubernetes", "pytest", "GraphQL", "Terraform", "webpack",
              "Redis", "Grafana"]
DOMAIN_WORDS = DRUG_WORDS + TOOL_WORDS

# How a person says them; eSpeak would spell out or mangle the written form.
SPOKEN_FORMS = {
    "kubectl": "cube control", "nginx": "engine x", "PostgreSQL": "post gress Q L", "Kubernetes": "koo ber net eez",
    "pytest": "pie test", "GraphQL": "graph Q L", "Terraform": "terra form", "webpack": "web pack",
    "Redis": "red iss", "Grafana": "gruh fah nuh",
    "levothyroxine": "lee voe thigh rox een", "hydrochlorothiazide": "hydro chloro thigh uh zide",
    "escitalopram": "ess sit al oh pram", "montelukast": "mon tuh loo cast", "omeprazole": "oh mep ruh zole",
    "amlodipine": "am low dih peen", "gabapentin": "gabba pen tin", "metoprolol": "meh toe pro lol",
    "atorvastatin": "uh tor vuh stat in", "rosuvastatin": "roe soo vuh stat in",
}

DRUG_TEMPLATES = [
    "The patient was switched from {a} to {b} last week.",
    "Please refill the {a} and stop the {b}.",
    "She takes {a} every morning and {b} at night.",
    "Do not combine {a} with {b} without asking the pharmacist.",
    "The pharmacy is out of {a}, so we ordered {b} instead.",
    "Is {a} safe to take together with {b}?",
    "Continue the {a} and review the {b} in three months.",
    "The discharge summary lists {a}, {b}, and aspirin.",
    "His doctor lowered the {a} dose and added {b}.",
    "Side effects of {a} are rare, but {b} can cause dizziness.",
    # frames below are only ever used on the test side (TEST_FRAMES)
    "Her blood pressure improved after a month on {a} and {b}.",
    "We need an approval for {a} before we can try {b}.",
    "The nurse gave {a} at eight and {b} at noon.",
    "Ask whether {a} interacts with {b} in older patients.",
]
TOOL_TEMPLATES = [
    "We moved the {a} setup into {b} last sprint.",
    "The {a} dashboard shows errors from {b}.",
    "Install {a} first, then configure {b} on the staging server.",
    "Our {a} checks fail when {b} is not running.",
    "Can you check the {a} logs and restart {b}?",
    "The migration replaces {a} with {b} next quarter.",
    "I wrote a small script that connects {a} to {b}.",
    "Upgrade {a} before you touch the {b} settings.",
    "The new release of {a} works well with {b}.",
    "Ask the platform team why {a} cannot reach {b}.",
    # frames below are only ever used on the test side (TEST_FRAMES)
    "The deploy failed because {a} could not talk to {b}.",
    "Please add a health check for {a} next to {b}.",
    "Nobody on call knew how {a} depends on {b}.",
    "Move the {a} config out of {b} before the release.",
]

# Plain sentences for checking that fine-tuning didn't break everyday English. Spoken by
# synthesize(s) (en-us, 160 wpm), the bundled tiny.en transcribed each one word for word
# (after normalisation) when this list was chosen; sentences it misheard were swapped out.
EVERYDAY_SENTENCES = [
    "Please close the door when you leave.",
    "The children are playing in the park.",
    "We will meet at the train station at noon.",
    "Can you tell me where the library is?",
    "My brother bought a new car last month.",
    "It is a lovely day for a walk.",
    "Please put the milk back in the fridge.",
    "Thank you very much for your help.",
]

VOICES = ["en-us", "en", "en-gb-x-rp", "en-029", "en-gb-scotland", "en-us-nyc", "en-us+f3", "en+m3"]
# Heard only on the test side: an accent and a female voice that training never has.
TEST_VOICES = ("en-gb-scotland", "en-us+f3")
TEST_FRAMES = 4  # the last frames of each template list are test-only sentences
TEST_SHARE = 0.3  # of the clips; half of them in known voices, half in new ones
DEFAULT_CLIPS = 120
RATE_WPM = (135, 185)
PITCH = (35, 65)
MAX_SECONDS = 6.0
SAMPLE_MARKER = ".whisper-tui-sample.json"
COLUMNS = ("speaker", "split")  # metadata.csv columns after file_name,transcription
_GENERATOR_VERSION = 2  # 2: held-out sentence frames and voices, speaker and split columns


def _cycle_shuffled(items: list, rng: np.random.Generator) -> Iterator:
    """Every item once per round, in a new order each round: even use, no fixed pattern."""
    while True:
        for i in rng.permutation(len(items)):
            yield items[i]


def _two_different(stream: Iterator[str]) -> tuple[str, str]:
    a = next(stream)
    b = next(stream)
    while b == a:
        b = next(stream)
    return a, b


def _file_name(i: int) -> str:
    return f"clip_{i:03d}.wav"


def _sides(n_clips: int, rng: np.random.Generator) -> list[str]:
    """'train' / 'test-known' / 'test-new' per clip, in a shuffled order (file names say nothing)."""
    n_test = int(round(n_clips * TEST_SHARE)) if n_clips >= 4 else 0
    n_new = n_test // 2
    sides = ["test-new"] * n_new + ["test-known"] * (n_test - n_new) + ["train"] * (n_clips - n_test)
    return [sides[i] for i in rng.permutation(n_clips)]


def _voice_sets(voices: list[str]) -> tuple[list[str], list[str]]:
    """(voices for training and known-voice tests, voices heard only at test time)."""
    held = [v for v in voices if v in TEST_VOICES]
    if not held and len(voices) >= 2:
        held = voices[-1:]
    known = [v for v in voices if v not in held] or list(voices)
    return known, held or known


def plan_sample_dataset(n_clips: int = DEFAULT_CLIPS, seed: int = 0, voices: list[str] | None = None) -> list[dict]:
    """What each clip says and how: [{file_name, text, spoken, voice, split, rate_wpm, pitch, words}]."""
    rng = np.random.default_rng(seed)
    known_voices, new_voices = _voice_sets(list(voices or VOICES))
    kinds = {"drug": (DRUG_WORDS, DRUG_TEMPLATES), "tool": (TOOL_WORDS, TOOL_TEMPLATES)}
    frames = {("train", k): t[:-TEST_FRAMES] for k, (_w, t) in kinds.items()}
    frames.update({("test", k): t[-TEST_FRAMES:] for k, (_w, t) in kinds.items()})
    words = {(side, k): _cycle_shuffled(kinds[k][0], rng) for side in ("train", "test") for k in kinds}
    templates = {key: _cycle_shuffled(value, rng) for key, value in frames.items()}
    voice_streams = {"train": _cycle_shuffled(known_voices, rng), "test-known": _cycle_shuffled(known_voices, rng),
                     "test-new": _cycle_shuffled(new_voices, rng)}
    position = {"train": 0, "test": 0}
    plan = []
    for i, where in enumerate(_sides(n_clips, rng)):
        side = "train" if where == "train" else "test"
        kind = ("drug", "tool")[position[side] % 2]  # each side alternates, so both sides get both kinds
        position[side] += 1
        a, b = _two_different(words[(side, kind)])
        template = next(templates[(side, kind)])
        plan.append({
            "file_name": _file_name(i),
            "text": template.format(a=a, b=b),
            "spoken": template.format(a=SPOKEN_FORMS.get(a, a), b=SPOKEN_FORMS.get(b, b)),
            "voice": next(voice_streams[where]),
            "split": side,
            "rate_wpm": int(rng.integers(RATE_WPM[0], RATE_WPM[1] + 1)),
            "pitch": int(rng.integers(PITCH[0], PITCH[1] + 1)),
            "gain": float(rng.uniform(0.45, 0.9)),
            "noise_seed": int(rng.integers(0, 2**31 - 1)),
            "words": [a, b],
        })
    return plan


def _render(item: dict) -> tuple[np.ndarray, int]:
    """(wave, rate used): speech with a short lead-in, a set level and faint noise (never digital silence)."""
    from whisper_tui.data.tts import RATE_RANGE, synthesize

    rate = item["rate_wpm"]
    wave = synthesize(item["spoken"], item["voice"], rate, item["pitch"])
    seconds = len(wave) / SAMPLE_RATE
    if seconds > MAX_SECONDS:  # a long sentence at a slow rate: speak it faster instead
        rate = min(RATE_RANGE[1], int(np.ceil(rate * seconds / (MAX_SECONDS - 0.2))))
        wave = synthesize(item["spoken"], item["voice"], rate, item["pitch"])
    peak = float(np.max(np.abs(wave))) or 1.0
    wave = wave * (item["gain"] / peak)
    noise = np.random.default_rng(item["noise_seed"]).standard_normal(len(wave)).astype(np.float32)
    return (wave + 0.002 * noise).astype(np.float32), rate


def _check_target(out_dir: Path) -> None:
    """Never replace a folder we did not make: atomic_directory swaps the whole folder."""
    if out_dir.exists() and not out_dir.is_dir():
        raise DatasetError(f"{out_dir} exists and is not a folder", "choose another output folder",
                           where=str(out_dir))
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / SAMPLE_MARKER).exists():
        raise DatasetError(f"{out_dir} already holds files that are not a whisper-tui sample dataset",
                           "choose an empty or new folder; nothing was changed", where=str(out_dir))


def make_sample_dataset(out_dir: str | os.PathLike, n_clips: int = DEFAULT_CLIPS, seed: int = 0,
                        on_progress: Callable[[int, int], None] | None = None) -> Path:
    """Write clip_NNN.wav (16 kHz mono PCM16) + metadata.csv into `out_dir`, all or nothing.

    `on_progress(done, total)` is called after each clip (from this thread), for a progress bar.
    """
    import soundfile as sf

    from whisper_tui.data.metadata import METADATA_FILE, metadata_csv_bytes
    from whisper_tui.data.tts import voice_available

    if n_clips < 1:
        raise ValueError(f"n_clips must be at least 1, got {n_clips}")
    out_dir = Path(out_dir).expanduser()
    _check_target(out_dir)
    voices = [v for v in VOICES if voice_available(v)]
    if not voices:
        raise DatasetError("eSpeak NG has none of the English voices the sample dataset uses",
                           f"reinstall espeakng-loader; wanted one of {', '.join(VOICES)}")
    plan = plan_sample_dataset(n_clips, seed, voices)
    with atomic_directory(out_dir, ours=(SAMPLE_MARKER,)) as tmp:
        for done, item in enumerate(plan, 1):
            wave, item["rate_wpm"] = _render(item)
            sf.write(tmp / item["file_name"], wave, SAMPLE_RATE, subtype="PCM_16", format="WAV")
            if on_progress is not None:
                on_progress(done, len(plan))
        rows = [(p["file_name"], p["text"], p["voice"], p["split"]) for p in plan]
        (tmp / METADATA_FILE).write_bytes(metadata_csv_bytes(rows, COLUMNS))
        marker = {"generator_version": _GENERATOR_VERSION, "seed": seed, "n_clips": n_clips,
                  "clips": [{k: p[k] for k in ("file_name", "voice", "split", "rate_wpm", "pitch", "words")}
                            for p in plan]}
        (tmp / SAMPLE_MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
    return out_dir


def is_current_sample_dataset(folder: str | os.PathLike) -> bool:
    """Whether `folder` holds a sample set made by this generator version (older ones split dishonestly)."""
    try:
        marker = json.loads((Path(folder) / SAMPLE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("generator_version") == _GENERATOR_VERSION and (Path(folder) / "metadata.csv").is_file()


def ensure_sample_dataset(folder: str | os.PathLike | None = None, log: Callable[[str], None] | None = None, *,
                          n_clips: int = DEFAULT_CLIPS, on_progress: Callable[[int, int], None] | None = None) -> Path:
    """The sample set at `folder` (default: the app's), generated when missing or made by an older version.

    The one "make the sample data if it is missing" of the CLI, the training job, the Dataset screen
    and the benchmarks: `log` hears one line when it is (re)generated, `on_progress` as make_sample_dataset.
    A folder of the user's (no sample marker) is never replaced: make_sample_dataset refuses it.
    """
    from whisper_tui.config.locations import default_sample_data_dir

    folder = Path(folder) if folder is not None else default_sample_data_dir()
    if is_current_sample_dataset(folder):
        return folder
    if log is not None:
        old = (folder / SAMPLE_MARKER).exists()
        log(f"{'regenerating the sample dataset (made by an older version)' if old else 'generating the sample dataset'}"
            f" in {folder}")
    return make_sample_dataset(folder, n_clips=n_clips, on_progress=on_progress)


def word_counts(plan: list[dict]) -> dict[str, int]:
    """How many clips say each domain word (for tests and the dataset browser)."""
    counts = dict.fromkeys(DOMAIN_WORDS, 0)
    for word in itertools.chain.from_iterable(p["words"] for p in plan):
        counts[word] += 1
    return counts
