"""A synthetic dataset that shows fine-tuning working, made offline in a few seconds.

Whisper Tiny mishears domain words: drug names ("levothyroxine") and software names ("kubectl",
"nginx"). The sample set speaks such words in short sentences with several eSpeak voices and
speeds; the transcripts keep the written forms (casing, punctuation), so a fine-tuned model
has something real to learn. Tool names are spoken the way people say them ("cube control",
"engine x"), which is exactly the mapping a base model cannot guess.

Each domain word appears in several sentences and voices. Words are dealt separately to the
clips that the default split (test_split 0.2, seed 42) puts in the test set and to the rest, so
with the default profile every word is heard in training and tested on unseen clips.
Output is byte-identical for the same seed (see tts.py for how eSpeak is made deterministic).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .atomic import atomic_directory
from .audio import SAMPLE_RATE
from .errors import DatasetError

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
RATE_WPM = (135, 185)
PITCH = (35, 65)
MAX_SECONDS = 6.0
DEFAULT_SPLIT = (0.2, 42)  # the profile's default data.test_split / data.split_seed
SAMPLE_MARKER = ".whisper-tui-sample.json"
_GENERATOR_VERSION = 1


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


def _test_indices(n_clips: int) -> set[int]:
    from .dataset import Clip, split_clips

    clips = [Clip(_file_name(i), Path(_file_name(i)), "", i + 2) for i in range(n_clips)]
    _train, test = split_clips(clips, *DEFAULT_SPLIT)
    return {c.row - 2 for c in test}


def _file_name(i: int) -> str:
    return f"clip_{i:03d}.wav"


def plan_sample_dataset(n_clips: int = 80, seed: int = 0, voices: list[str] | None = None) -> list[dict]:
    """What each clip says and how: [{file_name, text, spoken, voice, rate_wpm, pitch, words}]."""
    rng = np.random.default_rng(seed)
    voices = voices or VOICES
    test_idx = _test_indices(n_clips)
    kinds = {"drug": (DRUG_WORDS, DRUG_TEMPLATES), "tool": (TOOL_WORDS, TOOL_TEMPLATES)}
    words = {(side, k): _cycle_shuffled(kinds[k][0], rng) for side in ("train", "test") for k in kinds}
    templates = {k: _cycle_shuffled(kinds[k][1], rng) for k in kinds}
    voice_stream = _cycle_shuffled(voices, rng)
    position = {"train": 0, "test": 0}
    plan = []
    for i in range(n_clips):
        side = "test" if i in test_idx else "train"
        kind = ("drug", "tool")[position[side] % 2]  # each side alternates, so both sides get both kinds
        position[side] += 1
        a, b = _two_different(words[(side, kind)])
        template = next(templates[kind])
        plan.append({
            "file_name": _file_name(i),
            "text": template.format(a=a, b=b),
            "spoken": template.format(a=SPOKEN_FORMS.get(a, a), b=SPOKEN_FORMS.get(b, b)),
            "voice": next(voice_stream),
            "rate_wpm": int(rng.integers(RATE_WPM[0], RATE_WPM[1] + 1)),
            "pitch": int(rng.integers(PITCH[0], PITCH[1] + 1)),
            "gain": float(rng.uniform(0.45, 0.9)),
            "noise_seed": int(rng.integers(0, 2**31 - 1)),
            "words": [a, b],
        })
    return plan


def _render(item: dict) -> tuple[np.ndarray, int]:
    """(wave, rate used): speech with a short lead-in, a set level and faint noise (never digital silence)."""
    from .tts import RATE_RANGE, synthesize

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


def make_sample_dataset(out_dir: str | os.PathLike, n_clips: int = 80, seed: int = 0) -> Path:
    """Write clip_NNN.wav (16 kHz mono PCM16) + metadata.csv into `out_dir`, all or nothing."""
    import soundfile as sf

    from .dataset import METADATA_FILE, metadata_csv_bytes
    from .tts import voice_available

    if n_clips < 1:
        raise ValueError(f"n_clips must be at least 1, got {n_clips}")
    out_dir = Path(out_dir).expanduser()
    _check_target(out_dir)
    voices = [v for v in VOICES if voice_available(v)]
    if not voices:
        raise DatasetError("eSpeak NG has none of the English voices the sample dataset uses",
                           f"reinstall espeakng-loader; wanted one of {', '.join(VOICES)}")
    plan = plan_sample_dataset(n_clips, seed, voices)
    with atomic_directory(out_dir) as tmp:
        for item in plan:
            wave, item["rate_wpm"] = _render(item)
            sf.write(tmp / item["file_name"], wave, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        (tmp / METADATA_FILE).write_bytes(metadata_csv_bytes([(p["file_name"], p["text"]) for p in plan]))
        marker = {"generator_version": _GENERATOR_VERSION, "seed": seed, "n_clips": n_clips,
                  "clips": [{k: p[k] for k in ("file_name", "voice", "rate_wpm", "pitch", "words")} for p in plan]}
        (tmp / SAMPLE_MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
    return out_dir


def word_counts(plan: list[dict]) -> dict[str, int]:
    """How many clips say each domain word (for tests and the dataset browser)."""
    counts = dict.fromkeys(DOMAIN_WORDS, 0)
    for word in itertools.chain.from_iterable(p["words"] for p in plan):
        counts[word] += 1
    return counts
