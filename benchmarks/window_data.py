"""Data and model folders for bench_window: an honest split of the Asterisk prompts, jfk.flac, window copies.

The Asterisk prompts (`real_speech.py`: one professional speaker, Debian's recordings) serve two jobs
in bench_window: short test clips (3-8 s) and about 10 minutes of *unlabelled* audio that
`whisper-tui adapt-window` distils on. Those must never meet, so `asterisk_split` deals every prompt
to one side only: the test side is every other prompt of 3-8 s with at least MIN_WORDS words; the
adaptation side takes the others (in a fixed shuffled order, each at most 30 s) and leaves out any
whose text equals, contains or is contained in a test prompt's text (the set repeats some sentences:
"the conference is now locked" is recorded more than once). The adaptation folder has no
metadata.csv: adapt-window never sees a transcript. It is the same speaker on both sides, which the
report says.

`with_windows` makes a CTranslate2 folder that differs from another only in the windows its
preprocessor_config.json lists: the same model.bin at 30 s only (what the model gives without short
windows) or tiny.en with an adapted model's windows (tiny.en cut to short windows without adapting).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sys
from pathlib import Path

from . import real_speech
from .common import ROOT

TEST_MIN_S, TEST_MAX_S = 3.0, 8.0
ADAPT_MAX_CLIP_S = 30.0
MIN_WORDS = real_speech.MIN_WORDS
JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def _overlaps(text: str, tests: list[str]) -> bool:
    mine = f" {_words(text)} "
    return any(f" {t} " in mine or mine.strip() and mine in f" {t} " for t in tests)


def plan_asterisk_split(durations: dict[str, float], texts: dict[str, str], adapt_s: float,
                        n_test: int | None = None) -> tuple[list[str], list[str], list[str]]:
    """(test names, adaptation names, names left out for sharing a test sentence); names sorted, disjoint."""
    eligible = sorted(n for n, d in durations.items()
                      if TEST_MIN_S <= d <= TEST_MAX_S and len(_words(texts[n]).split()) >= MIN_WORDS)
    test = eligible[::2]
    if n_test is not None:
        step = max(1, len(test) // n_test)
        test = test[::step][:n_test]
    test_words = [_words(texts[n]) for n in test]
    rest = sorted(n for n in durations if n not in set(test) and durations[n] <= ADAPT_MAX_CLIP_S)
    shared = [n for n in rest if _overlaps(texts[n], test_words)]
    pool = [n for n in rest if n not in set(shared)]
    random.Random(0).shuffle(pool)
    adapt, total = [], 0.0
    for name in pool:
        if total >= adapt_s:
            break
        adapt.append(name)
        total += durations[name]
    return test, sorted(adapt), shared


def asterisk_split(root: Path, adapt_s: float = 600.0, n_test: int | None = None) -> dict:
    """Write root/asterisk-test (WAV + metadata.csv) and root/asterisk-adapt (WAV only); returns their facts.

    Made once per (adapt_s, n_test); RuntimeError naming the packages when the prompts are not installed.
    """
    import soundfile as sf

    from whisper_tui.data.dataset import metadata_csv_bytes

    folder = root / f"asterisk-split-{int(adapt_s)}s-{n_test or 'all'}"
    facts_file = folder / "split.json"
    if facts_file.is_file():
        return json.loads(facts_file.read_text())
    if not real_speech.available():
        raise RuntimeError(f"the Asterisk prompts are not installed: {real_speech.INSTALL_HINT}")
    texts = real_speech._transcripts()
    names = sorted(n for n in texts if "/" not in n and (real_speech.SOUNDS / f"{n}.g722").is_file())
    print(f"decoding {len(names)} Asterisk prompts for the test/adaptation split", file=sys.stderr)
    waves = {n: real_speech._decode(real_speech.SOUNDS / f"{n}.g722") for n in names}
    durations = {n: len(w) / 16000 for n, w in waves.items() if len(w) >= 1600}
    test, adapt, shared = plan_asterisk_split(durations, texts, adapt_s, n_test)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "asterisk-test").mkdir(parents=True)
    (tmp / "asterisk-adapt").mkdir()
    for n in test:
        sf.write(tmp / "asterisk-test" / f"{n}.wav", waves[n], 16000, subtype="PCM_16")
    (tmp / "asterisk-test" / "metadata.csv").write_bytes(
        metadata_csv_bytes([(f"{n}.wav", texts[n], "allison") for n in test], ("speaker",)))
    for n in adapt:
        sf.write(tmp / "asterisk-adapt" / f"{n}.wav", waves[n], 16000, subtype="PCM_16")
    facts = {"test": str(folder / "asterisk-test"), "adapt": str(folder / "asterisk-adapt"),
             "test_clips": len(test), "test_audio_s": round(sum(durations[n] for n in test), 1),
             "test_range_s": [round(min(durations[n] for n in test), 2), round(max(durations[n] for n in test), 2)],
             "adapt_clips": len(adapt), "adapt_audio_s": round(sum(durations[n] for n in adapt), 1),
             "left_out_sharing_a_test_sentence": len(shared), "prompts": len(names),
             "speaker": "one (Allison Smith, all Asterisk prompts)", "test_names": test, "adapt_names": adapt}
    assert not set(test) & set(adapt)
    (tmp / "split.json").write_text(json.dumps(facts, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return facts


def jfk_dir(root: Path) -> Path | None:
    """A one-clip dataset folder with jfk.flac (11 s, real speech, another speaker), or None when absent."""
    from whisper_tui.data.dataset import metadata_csv_bytes

    import whisper_tui

    bundled = Path(whisper_tui.__file__).resolve().parent / "data" / "jfk.flac"
    source = next((p for p in (ROOT.parent / "shared" / "audio" / "jfk.flac", bundled) if p.is_file()), None)
    if source is None:
        return None
    folder = root / "jfk"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, folder / "jfk.flac")
    (folder / "metadata.csv").write_bytes(metadata_csv_bytes([("jfk.flac", JFK_TEXT)]))
    return folder


def small_split(source: Path, out: Path, n_train: int = 8, n_test: int = 4) -> Path:
    """The first `n_train` training and `n_test` test rows of a dataset with a split column (smoke runs)."""
    import csv
    import io

    from whisper_tui.storage.atomic import atomic_write_bytes

    with open(source / "metadata.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "split" not in rows[0]:
        return source
    keep = ([r for r in rows if r["split"] == "train"][:n_train] + [r for r in rows if r["split"] != "train"][:n_test])
    out.mkdir(parents=True, exist_ok=True)
    for row in keep:
        target = out / row["file_name"]
        if not target.exists():
            shutil.copy2(source / row["file_name"], target)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(keep)
    atomic_write_bytes(out / "metadata.csv", text.getvalue().encode("utf-8"))
    return out


def folder_of_clips(dataset: Path, out: Path) -> Path:
    """The audio files of `dataset` alone in `out` (hard links where possible): what `label` is given."""
    from whisper_tui.data.dataset import read_metadata

    out.mkdir(parents=True, exist_ok=True)
    clips, _problems = read_metadata(dataset)
    for clip in clips:
        target = out / clip.file_name
        if not target.exists():
            try:
                os.link(clip.path, target)
            except OSError:
                shutil.copy2(clip.path, target)
    return out


def with_windows(ct2_folder: Path, windows, out: Path, template: Path | None = None) -> Path:
    """A CTranslate2 folder: `ct2_folder`'s files (linked) with `windows` in its preprocessor_config.json.

    `windows` (30,) strips the list, so the model runs at 30 s only. `template`: where to take
    preprocessor_config.json from when `ct2_folder` has none (the bundled tiny.en).
    """
    ct2_folder, out = Path(ct2_folder), Path(out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for f in ct2_folder.iterdir():
        if f.is_file() and f.name != "preprocessor_config.json":
            try:
                os.symlink(f.resolve(), out / f.name)
            except OSError:
                shutil.copy2(f, out / f.name)
    source = ct2_folder / "preprocessor_config.json"
    if not source.is_file():
        source = Path(template) / "preprocessor_config.json"
    config = json.loads(source.read_text())
    ordered = sorted({int(w) for w in windows})
    config["chunk_length"] = ordered[-1]
    config["n_samples"] = ordered[-1] * int(config.get("sampling_rate", 16000))
    config["nb_max_frames"] = config["n_samples"] // int(config.get("hop_length", 160))
    config.pop("windows", None)
    if len(ordered) > 1:
        config["windows"] = ordered
    (out / "preprocessor_config.json").write_text(json.dumps(config, indent=2))
    return out
