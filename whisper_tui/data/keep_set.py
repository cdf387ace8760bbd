"""The keep set: general human speech that fine-tuning must not make Whisper forget.

Fine-tuning on one domain (drug names, tech jargon, many unusual voices) can make a model worse at
everything else: domain words leak into ordinary speech. The keep set measures that: it is evaluated
before training and at every evaluation, and the run's best checkpoint and merge strength must stay
within `training.keep_tolerance` of the base model on it (`training/best_rule.py`,
`training/merge_strength.py`). Its figure is **recorded human speech**, because synthetic speech is
too easy to show forgetting (a run that got real speech 5 points worse read 0.0% -> 0.0% on eSpeak):

- 40 Asterisk prompts (Allison Smith, CC-BY-SA-3.0; `keep_speech/NOTICE.md`) shipped in the package,
  and `jfk.flac` (public domain; 11 s, mono, 16 kHz FLAC) with its text;
- the usable clips of a folder the user names (`data.keep_dir`, a standard dataset folder);
- the everyday eSpeak sentences of `sample_data.EVERYDAY_SENTENCES`, synthesised once into
  `locations.cache_dir()/keep-set-v1/` (metadata.csv + wavs, written atomically, rebuilt when
  missing, incomplete or made from another sentence list). They are scored as a second, labelled
  line ("eSpeak"), never as the keep figure: `synthetic_references()` tells them apart.

Engine module: no Textual, no torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from whisper_tui.data.metadata import Clip

JFK_FILE = "jfk.flac"
JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")
KEEP_SET_VERSION = 1
CACHE_FOLDER = f"keep-set-v{KEEP_SET_VERSION}"
VOICE = "en-us"
RATE_WPM = 160
PITCH = 50


def bundled_dir() -> Path:
    """The data stage's package folder, which holds jfk.flac."""
    return Path(__file__).resolve().parent


def jfk_clip() -> Clip:
    """The bundled JFK inaugural clip (public domain) with its reference text."""
    return Clip(JFK_FILE, bundled_dir() / JFK_FILE, JFK_TEXT, 0)


def real_speech_dir() -> Path:
    """The shipped recorded prompts (keep_speech/: FLAC + metadata.csv + NOTICE.md)."""
    return bundled_dir() / "keep_speech"


def real_speech_clips() -> list[Clip]:
    """The shipped recorded prompts, then jfk.flac: the keep set's real speech (two speakers)."""
    from whisper_tui.data.metadata import read_metadata

    clips, problems = read_metadata(real_speech_dir())
    if problems:  # a damaged install: say so rather than measure forgetting on half a set
        from whisper_tui.errors import DatasetError

        raise DatasetError(f"{real_speech_dir()}: the bundled keep set is damaged ({problems[0]})",
                           "reinstall whisper-tui")
    return [*clips, jfk_clip()]


def synthetic_references() -> frozenset[str]:
    """The eSpeak keep sentences as the WER normaliser writes them: their clips are the second keep line."""
    from whisper_tui.data.sample_data import EVERYDAY_SENTENCES
    from whisper_tui.inference.metrics import normalize

    return frozenset(normalize(text) for text in EVERYDAY_SENTENCES)


def everyday_dir() -> Path:
    from whisper_tui.config.locations import cache_dir

    return cache_dir() / CACHE_FOLDER


def _everyday_lines():
    from whisper_tui.data.sample_data import EVERYDAY_SENTENCES
    from whisper_tui.data.spoken_cache import SpokenLine

    return [SpokenLine(f"everyday_{i:02d}.wav", text, VOICE, RATE_WPM, PITCH)
            for i, text in enumerate(EVERYDAY_SENTENCES)]


def everyday_clips() -> list[Clip]:
    """The everyday sentences as clips, synthesised on first use and cached (all or nothing)."""
    from whisper_tui.data.spoken_cache import spoken_clips

    return spoken_clips(everyday_dir(), KEEP_SET_VERSION, _everyday_lines())


def user_keep_clips(keep_dir: str | os.PathLike, log: Callable[[str], None] | None = None) -> list[Clip]:
    """Usable clips of `keep_dir` (validated like a training folder); DatasetError naming data.keep_dir."""
    from whisper_tui.data.dataset import validate_dataset
    from whisper_tui.errors import DatasetError, WhisperTuiError

    folder = Path(keep_dir).expanduser()
    try:
        report = validate_dataset(folder)
    except WhisperTuiError as exc:
        raise DatasetError(f"data.keep_dir: {exc.message}", exc.hint or "fix data.keep_dir or leave it empty",
                           where="data.keep_dir") from exc
    usable = report.usable_clips
    if not usable:
        raise DatasetError(f"data.keep_dir: {folder} has no usable clips ({len(report.clips)} listed)",
                           f"run `whisper-tui validate {folder}` to see what is wrong, or leave data.keep_dir empty",
                           where="data.keep_dir")
    if log is not None and len(usable) < len(report.clips):
        log(f"keep set: {len(report.clips) - len(usable)} of {len(report.clips)} clips in {folder} are not usable "
            f"(run `whisper-tui validate {folder}`)")
    return usable


def keep_clips(keep_dir: str | None = None, *, include_default: bool = True, synthetic: bool = True,
               log: Callable[[str], None] | None = None) -> list[Clip]:
    """The keep set: the shipped real speech and jfk.flac (unless `include_default` is False), the usable
    clips of `keep_dir` (empty or None = none), then the everyday eSpeak sentences (with `include_default`
    and `synthetic`; scored apart, see `synthetic_references`).

    Raises DatasetError (where="data.keep_dir") when `keep_dir` is missing, unreadable or has no
    usable clip; AudioError when eSpeak cannot synthesise the everyday sentences.
    """
    clips: list[Clip] = []
    if include_default:
        clips.extend(real_speech_clips())
    if keep_dir:
        clips.extend(user_keep_clips(keep_dir, log))
    if include_default and synthetic:
        clips.extend(everyday_clips())
    return clips
