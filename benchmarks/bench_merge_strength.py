"""bench_merge_strength: what each merge strength (WiSE-FT) of the default fine-tune gives, run after run.

    python -m benchmarks.bench_merge_strength                  # 3 runs of 300 s, ~25 min
    python -m benchmarks.bench_merge_strength --smoke --model DIR --budget 20 --runs 1
    python -m benchmarks.bench_merge_strength --candidate "" --candidate data.replay_share=0.25  # side by side
    python -m benchmarks.bench_merge_strength --strengths 1,0.75,e1/d0.5,0  # eX/dY: encoder X, decoder Y

The measurement that chose `finetuning.merge_strength` (merge_strength.py). Each run trains the
default profile (cpu-quick) at full strength as a user would: one folder (the sample set's training
side only, so the engine splits its own validation set from it, by sentence) and a 5-minute budget;
runs differ in `training.seed`. `--candidate "KEY=VALUE KEY=VALUE"` (repeatable; "" = cpu-quick
itself) trains other recipes beside it (a forgetting control other than the strength: replay, a lower
learning rate), interleaved seed by seed so load changes spread over them. Then the final model is scored at
every strength of --strengths (0 = tiny.en itself) on four sets:

- **test**: the sample set's held-out side (sentences training never has, half in new voices);
- **real**: 100 Asterisk prompts (real_speech.py) that the shipped keep set does not contain
  (make_keep_speech.py chose the keep set around them): forgetting measured on unseen real speech;
- **keep**: the shipped keep set's recorded speech (40 other Asterisk prompts + jfk.flac), what the
  engine sees when it chooses;
- **val**: the engine's own validation split (what the engine sees when it chooses).

The table gives the median and range over runs per strength, and what the engine's rule
(`merge_strength.choose` on val + keep) picks in each run with that run's test and real figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from .common import (engine_run, format_table, machine_info, peak_rss_mb, run_variant, sample_data_dir, side_data_dir,
                     write_json)
from .real_speech import real_speech_dir

SEED = 42
DEFAULT_STRENGTHS = "1,0.75,0.5,0.25,0"


def train_side_dir() -> Path:
    """The sample set's training rows as a folder of their own (no split column): a user's one folder."""
    return side_data_dir("train")


def eval_sets(smoke: bool) -> dict:
    """name -> (clips, groups) of every set a strength is scored on."""
    from whisper_tui.data.dataset import load_dataset_split
    from whisper_tui.data.keep_set import real_speech_clips

    _train, test, report = load_dataset_split(sample_data_dir())
    _t, val, _r = load_dataset_split(train_side_dir(), 0.2, SEED)  # the engine's own split (data.test_split 0.2)
    sets = {"test": (test, report.split.test_groups()), "val": (val, None), "keep": (real_speech_clips(), None)}
    if not smoke:
        _a, real, _b = load_dataset_split(real_speech_dir(), 1.0)
        keep_names = {c.path.stem for c in sets["keep"][0]}
        overlap = sorted(keep_names & {c.path.stem for c in real})
        if overlap:
            raise RuntimeError(f"the keep set and the real-speech test share prompts: {overlap}")
        sets["real"] = (real, None)
    return sets


def score(model, sets: dict) -> dict:
    from whisper_tui.inference.evaluate import evaluate_model
    from whisper_tui.inference.transcribe import Transcriber

    transcriber = Transcriber(model, batch_size=16)
    out = {}
    for name, (clips, groups) in sets.items():
        report = evaluate_model(transcriber, clips, groups=groups or None)
        out[name] = report.wer
        for label, key in (("known voices", "test_known"), ("new voices", "test_new")):
            if groups and label in report.subsets:
                out[key] = report.subsets[label]["wer"]
        if name == "keep":
            jfk = next((c for c in report.clips if c.file_name == "jfk.flac"), None)
            out["jfk_words_wrong"] = None if jfk is None else round(jfk.wer * 22)
    return out


def variant_run(args) -> dict:
    """One training run at full strength, then every strength scored (in this process: RSS is the run's)."""
    from whisper_tui.cli.profile_flags import set_overrides
    from whisper_tui.config.profile import apply_overrides, load_profile
    from whisper_tui.models.loading import load_model
    from whisper_tui.system.quiet import quiet_libraries
    from whisper_tui.training.merge_strength import LoraDelta

    quiet_libraries()
    load_start = os.getloadavg()[0]
    profile = apply_overrides(load_profile("cpu-quick"), {
        "model.name": args.model, "data.train_dir": str(train_side_dir()), "data.test_split": 0.2,
        "data.split_seed": SEED, "training.seed": args.seed, "training.budget_s": args.budget,
        **({"finetuning.merge_strength": 1.0, "finetuning.choose_merge_strength": False}
           if args.schema_has_merge else {}), **set_overrides(args.set)})
    sets = eval_sets(args.smoke)
    with engine_run(profile, "wtb-ms-") as (run_dir, log, train_s, records):
        rss = peak_rss_mb()
        model, processor = load_model(str(run_dir / "final"), device="cpu")
        delta = LoraDelta(model)
        rows = {}
        for strength in args.strength_list:
            if strength == 0:
                continue
            encoder, decoder = split_strength(strength)
            delta.set(encoder, decoder=decoder)
            rows[str(strength)] = score((model, processor), sets)
    evals = [r for r in records if r.get("type") == "eval" and not r.get("base")]
    return {"seed": args.seed, "train_s": train_s, "peak_rss_mb": rss, "strengths": rows,
            "epochs": evals[-1]["epoch"] if evals else 0, "engine_evals": evals,
            "load_at_start": load_start, "load_at_end": os.getloadavg()[0],
            "engine_log": [m for m in log if any(w in m for w in ("budget", "validation", "keep set", "replay"))]}


def variant_base(args) -> dict:
    from whisper_tui.system.quiet import quiet_libraries

    quiet_libraries()
    return score(args.model, eval_sets(args.smoke))


def parse_strength(text: str):
    """"0.75" -> 0.75; "e1/d0.5" -> "e1/d0.5" (the encoder's adapters at 1, the decoder's at 0.5)."""
    text = text.strip()
    if "/" not in text:
        return float(text)
    split_strength(text)  # checks the form
    return text


def split_strength(strength) -> tuple[float, float]:
    """(encoder strength, decoder strength) of a parsed strength."""
    if isinstance(strength, float):
        return strength, strength
    parts = dict((p[0], float(p[1:])) for p in strength.split("/"))
    if set(parts) != {"e", "d"}:
        raise ValueError(f"a per-part strength is eX/dY (encoder X, decoder Y), not {strength!r}")
    return parts["e"], parts["d"]


def _median_range(values: list[float]) -> str:
    if not values:
        return ""
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_merge_strength", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny.en")
    p.add_argument("--budget", type=float, default=300.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--strengths", default=DEFAULT_STRENGTHS)
    p.add_argument("--smoke", action="store_true", help="no real-speech set (the Asterisk prompts need apt)")
    p.add_argument("--candidate", action="append", default=None, metavar='"KEY=VALUE ..."',
                   help='a recipe to train: cpu-quick plus these settings (repeatable; "" = cpu-quick itself), '
                        'e.g. "data.replay_share=0.25"; default: cpu-quick alone')
    p.add_argument("--set", action="append", default=[], help=argparse.SUPPRESS)  # one candidate's settings
    p.add_argument("--out", default=None)
    p.add_argument("--variant", choices=["run", "base"], help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=SEED, help=argparse.SUPPRESS)
    p.add_argument("--json-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.strength_list = [parse_strength(s) for s in args.strengths.split(",") if s.strip()]
    from whisper_tui.config.profile import load_profile

    args.schema_has_merge = hasattr(load_profile("cpu-quick").finetuning, "choose_merge_strength")
    if args.variant:
        result = variant_run(args) if args.variant == "run" else variant_base(args)
        Path(args.json_out).write_text(json.dumps(result, default=str))
        return 0
    info = machine_info()
    common = ["--model", args.model, "--budget", str(args.budget), "--strengths", args.strengths] \
        + (["--smoke"] if args.smoke else [])
    candidates = [" ".join(c.split()) for c in (args.candidate or [""])]
    print(f"bench_merge_strength: {args.runs} run(s) of {args.budget:.0f} s of "
          + ", ".join(_label(c) for c in candidates), file=sys.stderr)
    base = run_variant("benchmarks.bench_merge_strength", ["--variant", "base", *common])
    runs = []
    for i in range(args.runs):
        for candidate in candidates:
            print(f"  run {i + 1}/{args.runs} (seed {SEED + i}): {_label(candidate)}", file=sys.stderr)
            run = run_variant("benchmarks.bench_merge_strength", ["--variant", "run", "--seed", str(SEED + i), *common,
                                                                  *(f"--set={item}" for item in candidate.split())])
            runs.append({**run, "candidate": candidate})
            print(f"    {json.dumps(run['strengths'])}", file=sys.stderr)
    for candidate in candidates:
        print(f"\n## {_label(candidate)}\n")
        print(report(base, [r for r in runs if r["candidate"] == candidate], args.strength_list))
    data = {"benchmark": "bench_merge_strength", "machine": info, "budget_s": args.budget, "candidates": candidates,
            "base": base, "runs": runs, "load_avg_at_end": list(os.getloadavg())}
    path = write_json("bench_merge_strength", data, smoke=args.smoke, path=args.out)
    print(f"results: {path}", file=sys.stderr)
    return 0


def _label(candidate: str) -> str:
    return f"cpu-quick + {candidate}" if candidate else "cpu-quick"


def report(base: dict, runs: list[dict], strengths: list) -> str:
    from whisper_tui.training.merge_strength import StrengthScore, choose

    sets = [k for k in ("test", "test_known", "test_new", "real", "keep", "val") if k in base]
    rows = []
    for strength in strengths:
        label = f"{strength:g}" if isinstance(strength, float) else strength
        row = {"strength": label + (" (tiny.en)" if strength == 0 else "")}
        for key in sets:
            values = [base[key]] if strength == 0 else [r["strengths"][str(strength)][key] for r in runs]
            row[key] = _median_range(values)
        rows.append(row)
    table = format_table(rows, [("strength", "strength", "")] + [(k, k, "") for k in sets])
    lines = [table, "", "what the engine's rule picks (val + keep, tolerance 1 point):"]
    for r in runs:
        measured = [StrengthScore(float(s), v["val"], v["keep"]) for s, v in r["strengths"].items() if "/" not in s]
        choice = choose(measured, base["keep"], 1.0)
        picked = r["strengths"][str(choice.strength)]
        lines.append(f"  seed {r['seed']}: {choice.strength:g} -> test {picked['test']:.3f}"
                     + (f", real {picked['real']:.3f} (tiny.en {base['real']:.3f})" if "real" in picked else "")
                     + f"; {r['epochs']} epochs in {r['train_s']:.0f} s, peak RSS {r['peak_rss_mb'] / 1024:.2f} GiB, "
                     f"load {r['load_at_start']:.1f}->{r['load_at_end']:.1f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
