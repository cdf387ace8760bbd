"""bench_window: short windows by default (issue 14), each of its three "done when" figures in one run.

    python -m benchmarks.bench_window            # ~40 min on 2 loaded cores (a fine-tune, an adaptation, 3 rounds)
    python -m benchmarks.bench_window --smoke    # ~2 min: 2 steps on 12 clips, 20 s adapting on 30 s, 3 clips a set

A. The default fine-tune: `whisper-tui train --profile cpu-quick` (its defaults, on the sample set's
   training side), its final model (best/ is picked on the very held-out clips measured here), exported
   with `whisper-tui export` (int8). On short held-out clips, the held-out sentences (the sample set's test
   side: sentence frames training never had, half in two voices it never heard) and real speech (Asterisk
   prompts of 3-8 s): faster-whisper int8 running that 30 s export, whisper-tui's ct2 backend on the same
   export (windows per batch, what `whisper-tui transcribe --backend ct2` does) and whisper-tui on the same
   model.bin at 30 s only (its preprocessor_config.json without `windows`).
B. tiny.en after `whisper-tui adapt-window` on ~10 minutes of unlabelled Asterisk prompts (none of the
   test prompts, none sharing a test sentence: window_data.py; one speaker on both sides), exported the
   same way. On the Asterisk test clips and jfk.flac: faster-whisper int8 on tiny.en, whisper-tui on
   tiny.en (30 s), whisper-tui on the adapted model (its short windows) and tiny.en cut to the same
   windows without adapting (the "before").
C. `whisper-tui label` (label_folder, ct2) on a folder of the Asterisk test clips: tiny.en (30 s) vs the
   adapted model (short windows), and tiny.en cut; speed (audio-s/s, model loading not counted) and the
   labels' WER against the true transcripts.

Method: every variant runs in a fresh process per round (model loading and one warm-up clip not timed;
a timed pass reads the audio, makes features, decodes and detokenises, like bench_transcribe); rounds
interleave the variants, alternating their order, and the median round counts (all are in the JSON).
Greedy decoding everywhere; faster-whisper goes file by file with its fastest settings for short clips
(beam 1, no timestamps, no temperature fallback, no VAD); whisper-tui batches 8 files like its CLI.
The load average is recorded before every round and at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import (format_table, heldout_data_dir, machine_info, peak_rss_mb, ratio, run_cli, run_variant,
                     sample_data_dir, write_json)

WER_MARGIN = 0.01
SPEED_TARGET = 2.0
# variant -> (part, engine, model key, sets); engines: fw (faster-whisper), ours (Transcriber ct2), label
VARIANTS = {
    "A fw int8 (30 s export)": ("A", "fw", "a_export", ("heldout", "asterisk")),
    "A ours ct2 (windows per batch)": ("A", "ours", "a_export", ("heldout", "asterisk")),
    "A ours ct2 (30 s only)": ("A", "ours", "a_30", ("heldout", "asterisk")),
    "B fw int8 (tiny.en)": ("B", "fw", "tiny", ("asterisk", "jfk")),
    "B ours ct2 (tiny.en 30 s)": ("B", "ours", "tiny", ("asterisk", "jfk")),
    "B ours ct2 (adapted tiny.en)": ("B", "ours", "b_export", ("asterisk", "jfk")),
    "B ours ct2 (tiny.en cut: not adapted)": ("B", "ours", "tiny_cut", ("asterisk", "jfk")),
    "C label ct2 (tiny.en 30 s)": ("C", "label", "tiny", ("label",)),
    "C label ct2 (adapted tiny.en)": ("C", "label", "b_export", ("label",)),
    "C label ct2 (tiny.en cut: not adapted)": ("C", "label", "tiny_cut", ("label",)),
}


# -- one variant in its own process ----------------------------------------------------------------
def _dataset(folder: str, n: int):
    from whisper_tui.data.dataset import read_metadata

    clips, _problems = read_metadata(folder)
    return clips[:n] if n else clips


def _transcriber(engine: str, model: str):
    """A function: list of paths -> texts."""
    if engine == "ours":
        from whisper_tui.inference.transcribe import Transcriber

        t = Transcriber(model, device="cpu", batch_size=8, backend="ct2")  # what `transcribe --backend ct2` builds
        return lambda paths: [r.text for r in t.transcribe_files(paths)]
    from faster_whisper import WhisperModel

    fw = WhisperModel(model, device="cpu", compute_type="int8")

    def one_by_one(paths):
        out = []
        for p in paths:
            segments, _info = fw.transcribe(str(p), beam_size=1, language="en", without_timestamps=True,
                                            temperature=0.0, condition_on_previous_text=False, vad_filter=False)
            out.append(" ".join(s.text.strip() for s in segments))
        return out
    return one_by_one


def _label_pass(model: str, folder: Path, truth: dict[str, str], work: Path) -> dict:
    from whisper_tui.labelling import label_folder

    from .bench_label import label_wer

    out = work / "labelled"
    shutil.rmtree(out, ignore_errors=True)
    report = label_folder(folder, out, model=model, backend="ct2")
    return {"audio_s": report.audio_s, "elapsed_s": report.elapsed_s - report.load_s,
            "audio_s_per_s": report.audio_seconds_per_second, "load_s": report.load_s, "rows": report.written,
            "left_out": sum(report.left_out.values()), "wer": label_wer(out, truth)}


def run_one(args) -> dict:
    from whisper_tui.data.audio import audio_info
    from whisper_tui.inference.metrics import error_rates
    from whisper_tui.system.quiet import quiet_libraries

    quiet_libraries()
    sets = json.loads(args.sets)
    out: dict = {"sets": {}}
    if args.engine == "label":
        from .window_data import folder_of_clips

        with tempfile.TemporaryDirectory(prefix="bench-window-label-") as tmp:
            clips = _dataset(sets["label"], args.clips)
            folder = folder_of_clips(Path(sets["label"]), Path(tmp) / "clips")
            keep = {c.file_name for c in clips}
            for f in folder.iterdir():
                if f.name not in keep:
                    f.unlink()
            warm = Path(tmp) / "warm"
            warm.mkdir()
            shutil.copy(folder / clips[0].file_name, warm / clips[0].file_name)
            _label_pass(args.model, warm, {clips[0].file_name: clips[0].transcription}, Path(tmp))  # warm-up
            out["sets"]["label"] = _label_pass(args.model, folder, {c.file_name: c.transcription for c in clips},
                                               Path(tmp))
        out["peak_rss_mb"] = peak_rss_mb()
        return out
    try:
        transcribe = _transcriber(args.engine, args.model)
        first = next(iter(sets.values()))
        transcribe([Path(_dataset(first, 1)[0].path)])  # warm-up: first-call allocations, lazy imports
    except ValueError as exc:
        # faster-whisper pads every segment to 30 s; CTranslate2 refuses that for a model whose table is shorter
        return {"error": f"{type(exc).__name__}: {exc}", "peak_rss_mb": peak_rss_mb()}
    for name, folder in sets.items():
        clips = _dataset(folder, args.clips)
        paths = [Path(c.path) for c in clips]
        started = time.perf_counter()
        texts = transcribe(paths)
        elapsed = time.perf_counter() - started
        audio_s = sum(audio_info(p).duration_s for p in paths)
        wer, _cer = error_rates([c.transcription for c in clips], texts)
        out["sets"][name] = {"audio_s": audio_s, "elapsed_s": elapsed, "audio_s_per_s": audio_s / elapsed,
                             "wer": wer, "clips": len(paths), "texts": texts}
    out["peak_rss_mb"] = peak_rss_mb()
    return out


# -- making the models ------------------------------------------------------------------------------
def _cli(argv: list[str], what: str) -> float:
    """Run `whisper-tui ARGV` (a fresh process; in process for smoke tests); returns its wall time."""
    print(f"  {what}: whisper-tui {' '.join(argv)}", file=sys.stderr)
    code, took = run_cli(argv)
    if code != 0:
        raise RuntimeError(f"whisper-tui {argv[0]} failed (exit code {code})")
    print(f"  ... {took:.0f} s", file=sys.stderr)
    return took


def _windows(folder) -> list[int]:
    from whisper_tui.models.window import saved_windows

    return list(saved_windows(Path(folder)))


def make_models(args, sets: dict, work: Path, facts: dict) -> dict[str, str]:
    """Model folders by key; what could not be made is named in facts['not_made']."""
    from whisper_tui.models.convert import embedded_source_dir
    from whisper_tui.models.loading import EMBEDDED_ALIASES

    from .window_data import with_windows

    models: dict[str, str] = {}
    base = args.model
    tiny = str(embedded_source_dir()) if base.strip().lower() in EMBEDDED_ALIASES else base
    if any(VARIANTS[v][2] in ("tiny", "tiny_cut") for v in args.variants):
        if base.strip().lower() not in EMBEDDED_ALIASES:  # a random model for smoke tests: export it once
            facts["base_export_s"] = _cli(["export", base, str(work / "base-export")], "base model to CTranslate2")
            tiny = str(work / "base-export")
        models["tiny"] = tiny
    facts["not_made"] = {}
    if any(VARIANTS[v][0] == "A" for v in args.variants):
        train = ["train", "--profile", "cpu-quick", "--model", base, "--data", args.train_data,
                 "--output", str(work / "a-run"), "--no-base-eval", "--quiet", *args.train_args]
        facts["a_train_s"] = _cli(train, "A: the default fine-tune")
        facts["a_profile_windows"] = _run_windows(work / "a-run")
        facts["a_export_s"] = _cli(["export", str(work / "a-run" / "final"), str(work / "a-export")],
                                   "A: its export (int8)")
        models["a_export"] = str(work / "a-export")
        windows = _windows(work / "a-export")
        facts["a_windows"] = windows
        models["a_30"] = str(with_windows(work / "a-export", [max(windows)], work / "a-export-30s"))
    if any(VARIANTS[v][2] in ("b_export", "tiny_cut") for v in args.variants):
        adapt = ["adapt-window", sets["adapt"], "--model", base, "--output", str(work / "b-adapted"), *args.adapt_args]
        try:
            facts["b_adapt_s"] = _cli(adapt, "B: tiny.en adapted to short windows")
        except RuntimeError as exc:
            facts["not_made"]["b_export"] = facts["not_made"]["tiny_cut"] = str(exc)
            return models
        report = work / "b-adapted" / "adapt_window.json"
        facts["b_adapt_report"] = json.loads(report.read_text()) if report.is_file() else None
        facts["b_export_s"] = _cli(["export", str(work / "b-adapted"), str(work / "b-export")], "B: its export (int8)")
        models["b_export"] = str(work / "b-export")
        facts["b_windows"] = _windows(work / "b-export")
        models["tiny_cut"] = str(with_windows(Path(models.get("tiny", tiny)), facts["b_windows"], work / "tiny-cut",
                                              template=work / "b-export"))
    return models


def _run_windows(run_dir: Path):
    """The windows the run trained at, as its saved profile says (model.windows / model.window_s)."""
    try:
        import tomllib

        model = tomllib.loads((run_dir / "profile.toml").read_text()).get("model", {})
    except (OSError, ValueError):
        return None
    return {k: model[k] for k in ("windows", "window_s") if k in model}


# -- the run ----------------------------------------------------------------------------------------
def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _summarise(rounds: list[dict], variants: list[str]) -> dict[str, dict[str, dict]]:
    """variant -> set -> median speed, spread, WER (first round), rounds counted."""
    out: dict[str, dict[str, dict]] = {}
    for v in variants:
        mine = [r for r in rounds if r["variant"] == v]
        errors = [r["error"] for r in mine if "error" in r]
        if errors and len(errors) == len(mine):
            out[v] = {"error": errors[0]}
            continue
        out[v] = {}
        for name in VARIANTS[v][3]:
            runs = [r["sets"][name] for r in mine if name in r.get("sets", {})]
            if not runs:
                continue
            speeds = [x["audio_s_per_s"] for x in runs]
            out[v][name] = {"median_audio_s_per_s": statistics.median(speeds), "min": min(speeds), "max": max(speeds),
                            "rounds": len(runs), "wer": runs[0]["wer"], "audio_s": runs[0]["audio_s"],
                            "wer_same_every_round": len({round(x["wer"], 6) for x in runs}) == 1}
            if "rows" in runs[0]:
                out[v][name].update(rows=runs[0]["rows"], left_out=runs[0]["left_out"], load_s=runs[0]["load_s"])
    return out


def _get(summary, variant, name, key):
    return summary.get(variant, {}).get(name, {}).get(key)


def targets(summary: dict) -> list[dict]:
    """The issue's done-when figures, each with its value and whether it is met (None: not measured)."""
    out = []

    def check(label, speed_of, speed_vs, wer_of, wer_vs, name):
        speed = ratio(_get(summary, speed_of, name, "median_audio_s_per_s"),
                      _get(summary, speed_vs, name, "median_audio_s_per_s"))
        wer_a, wer_b = _get(summary, wer_of, name, "wer"), _get(summary, wer_vs, name, "wer")
        delta = None if wer_a is None or wer_b is None else wer_a - wer_b
        out.append({"target": label, "set": name, "speed_ratio": speed,
                    "speed_met": None if speed is None else speed >= SPEED_TARGET,
                    "wer": wer_a, "wer_reference": wer_b, "wer_delta": delta,
                    "wer_met": None if delta is None else delta <= WER_MARGIN + 1e-9})

    for name in ("heldout", "asterisk"):
        check("A: default fine-tune, ours vs faster-whisper int8 (same model)", "A ours ct2 (windows per batch)",
              "A fw int8 (30 s export)", "A ours ct2 (windows per batch)", "A fw int8 (30 s export)", name)
    for name in ("asterisk", "jfk"):  # jfk.flac (11 s, one clip, another speaker) is an extra, not a target
        check("B: adapted tiny.en (ours) vs faster-whisper int8 on tiny.en; WER vs tiny.en at 30 s (ours)"
              + (" [extra, not a target]" if name == "jfk" else ""),
              "B ours ct2 (adapted tiny.en)", "B fw int8 (tiny.en)", "B ours ct2 (adapted tiny.en)",
              "B ours ct2 (tiny.en 30 s)", name)
    after = _get(summary, "C label ct2 (adapted tiny.en)", "label", "median_audio_s_per_s")
    before = _get(summary, "C label ct2 (tiny.en 30 s)", "label", "median_audio_s_per_s")
    out.append({"target": "C: label speed, adapted / tiny.en 30 s", "set": "label", "speed_ratio": ratio(after, before),
                "wer": _get(summary, "C label ct2 (adapted tiny.en)", "label", "wer"),
                "wer_reference": _get(summary, "C label ct2 (tiny.en 30 s)", "label", "wer")})
    return out


def _print_tables(summary: dict, variants: list[str], fw_of: dict[str, str]) -> None:
    rows = []
    for v in variants:
        if "error" in summary.get(v, {}):
            rows.append({"variant": v, "set": "-", "error": summary[v]["error"][:80]})
            continue
        for name, s in summary.get(v, {}).items():
            fw = fw_of.get(VARIANTS[v][0])
            rows.append({"variant": v, "set": name, "speed": s["median_audio_s_per_s"], "lo": s["min"], "hi": s["max"],
                         "vs_fw": ratio(s["median_audio_s_per_s"], _get(summary, fw, name, "median_audio_s_per_s"))
                         if fw else None, "wer": s["wer"], "audio": s["audio_s"]})
    print(format_table(rows, [("variant", "variant", ""), ("set", "set", ""), ("audio", "audio s", ".1f"),
                              ("speed", "audio-s/s (median)", ".2f"), ("lo", "min", ".2f"), ("hi", "max", ".2f"),
                              ("vs_fw", "x faster-whisper", ".2f"), ("wer", "WER", ".3f"), ("error", "error", "")]))


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_window", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny.en", help="base model of A and B (tiny.en; a folder for smoke tests)")
    p.add_argument("--train-data", default=None, help="A's training data (default: the sample set)")
    p.add_argument("--heldout", default=None, help="A's held-out sentences (default: the sample set's test side)")
    p.add_argument("--asterisk", default=None, help="a test folder instead of the Asterisk split (no adaptation "
                                                    "audio then: give --adapt-audio)")
    p.add_argument("--adapt-audio", default=None, help="B's unlabelled audio folder instead of the Asterisk split")
    p.add_argument("--adapt-s", type=float, default=600.0, help="seconds of Asterisk prompts to adapt on")
    p.add_argument("--train-arg", dest="train_args", action="append", default=[],
                   help="extra `whisper-tui train` argument (repeat; e.g. --train-arg=--max-steps --train-arg=2)")
    p.add_argument("--adapt-arg", dest="adapt_args", action="append", default=[],
                   help="extra `whisper-tui adapt-window` argument (repeat)")
    p.add_argument("--clips", type=int, default=0, help="at most this many clips per set (0 = all)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--variants", default=None, help="comma-separated subset of: " + ", ".join(VARIANTS))
    p.add_argument("--no-jfk", action="store_true")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--out", default=None)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--engine", help=argparse.SUPPRESS)
    p.add_argument("--sets", help=argparse.SUPPRESS)
    p.add_argument("--json-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.variant:
        Path(args.json_out).write_text(json.dumps(run_one(args)))
        return 0
    if args.smoke:  # tiny sizes: a few clips, 2 training steps on 12 clips, a 20 s adaptation on 30 s of audio
        args.rounds, args.clips = 1, args.clips or 3
        args.adapt_s = min(args.adapt_s, 30.0)
        if not any(a.startswith("--max-steps") for a in args.train_args):
            args.train_args += ["--max-steps", "2", "--set", "data.keep_set=false"]
        if not args.adapt_args:
            args.adapt_args = ["--budget", "20s", "--no-base-eval", "--quiet", "--set", "data.keep_set=false"]
    args.variants = [v.strip() for v in (args.variants or ",".join(VARIANTS)).split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s): {unknown}")
    info = machine_info()
    if not args.train_data:
        args.train_data = str(sample_data_dir())
        if args.smoke:
            from whisper_tui.config.locations import data_dir

            from .window_data import small_split

            args.train_data = str(small_split(Path(args.train_data), data_dir() / "bench-window" / "sample-small"))
    sets = {"heldout": args.heldout or str(heldout_data_dir())}
    facts: dict = {"load_before_making_models": _load(), "engine_commit": _commit()}
    with tempfile.TemporaryDirectory(prefix="bench-window-") as tmp:
        work = Path(tmp)
        _data_sets(args, sets, facts)
        started = time.perf_counter()
        models = make_models(args, sets, work, facts)
        facts["making_models_s"] = time.perf_counter() - started
        runnable = [v for v in args.variants if VARIANTS[v][2] in models and any(s in sets for s in VARIANTS[v][3])]
        skipped = {v: facts["not_made"].get(VARIANTS[v][2], "none of its sets is here")
                   for v in args.variants if v not in runnable}
        rounds: list[dict] = []
        loads = []
        for r in range(args.rounds):
            loads.append(_load())
            for v in (runnable if r % 2 == 0 else list(reversed(runnable))):
                part, engine, key, needs = VARIANTS[v]
                print(f"  round {r + 1}: {v}", file=sys.stderr)
                res = run_variant("benchmarks.bench_window", [
                    "--variant", v, "--engine", engine, "--model", models[key], "--clips", str(args.clips),
                    "--sets", json.dumps({s: sets[s] for s in needs if s in sets})])
                res.update({"variant": v, "round": r + 1})
                rounds.append(res)
    facts["load_at_end"] = _load()
    summary = _summarise(rounds, runnable)
    fw_of = {"A": "A fw int8 (30 s export)", "B": "B fw int8 (tiny.en)", "C": "C label ct2 (tiny.en 30 s)"}
    _print_tables(summary, runnable, fw_of)
    checks = targets(summary)
    for c in checks:
        speed = "-" if c["speed_ratio"] is None else f"{c['speed_ratio']:.2f}x"
        delta = "" if c.get("wer_delta") is None else f", WER {c['wer']:.3f} vs {c['wer_reference']:.3f} ({c['wer_delta']:+.3f})"
        verdict = "" if "speed_met" not in c else (
            f"  speed {'MET' if c['speed_met'] else 'missed' if c['speed_met'] is False else 'not measured'}, "
            f"WER {'MET' if c['wer_met'] else 'missed' if c['wer_met'] is False else 'not measured'}")
        print(f"{c['target']} [{c['set']}]: {speed}{delta}{verdict}")
    for v, why in skipped.items():
        print(f"not run: {v}: {why}")
    print(f"load average (1/5/15 min): before the models {facts['load_before_making_models']}, "
          f"before each round {loads}, at the end {facts['load_at_end']}")
    data = {"benchmark": "bench_window", "machine": info, "model": args.model, "sets": sets, "facts": facts,
            "rounds_run": args.rounds, "load_before_rounds": loads, "summary": summary, "targets": checks,
            "skipped": skipped, "rounds": rounds, "smoke": args.smoke}
    path = write_json("bench_window", data, smoke=args.smoke, path=args.out)
    print(f"results: {path}", file=sys.stderr)
    return 0


def _commit() -> str | None:
    """The engine's git commit (and whether whisper_tui/ had uncommitted changes): the tree is shared."""
    try:
        import whisper_tui

        repo = Path(whisper_tui.__file__).resolve().parent.parent
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "whisper_tui"], cwd=repo, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + (" (whisper_tui/ with uncommitted changes)" if dirty else "")


def _data_sets(args, sets: dict, facts: dict) -> None:
    """Fill `sets` with the Asterisk test/adaptation folders and jfk; facts says what they hold."""
    from whisper_tui.config.locations import data_dir

    from .window_data import asterisk_split, jfk_dir

    root = data_dir() / "bench-window"
    if args.asterisk:
        sets["asterisk"] = args.asterisk
    if args.adapt_audio:
        sets["adapt"] = args.adapt_audio
    adapting = any(VARIANTS[v][2] in ("b_export", "tiny_cut") for v in args.variants)
    if not args.asterisk or (adapting and not args.adapt_audio):
        try:
            split = asterisk_split(root, args.adapt_s, n_test=args.clips or None)
        except RuntimeError as exc:
            facts["asterisk"] = str(exc)
        else:
            facts["asterisk"] = {k: v for k, v in split.items() if not k.endswith("_names")}
            sets.setdefault("asterisk", split["test"])
            sets.setdefault("adapt", split["adapt"])
    if "asterisk" in sets:
        sets["label"] = sets["asterisk"]
    jfk = None if args.no_jfk else jfk_dir(root)
    if jfk is not None:
        sets["jfk"] = str(jfk)
    from whisper_tui.data.audio import audio_info

    facts["heldout_range_s"] = _range(sets["heldout"], args.clips, audio_info)


def _range(folder: str, n: int, audio_info) -> list[float]:
    durations = [audio_info(c.path).duration_s for c in _dataset(folder, n)]
    return [round(min(durations), 2), round(max(durations), 2), len(durations)]


if __name__ == "__main__":
    sys.exit(main())
