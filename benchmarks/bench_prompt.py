"""Prompts and domain words (issue 25, item 4): WER and domain words heard right, with and without a prompt,
for the base model and for default fine-tunes trained at each `training.prompt_share`.

    .venv/bin/python -m benchmarks.bench_prompt [--shares 0,0.5] [--runs 3] [--budget 300]

The prompt is what a user would type into `--prompt` (or model.prompt): the domain vocabulary, written as it
should come out ("Atorvastatin, metoprolol, ..., Kubernetes, pytest, ..."). Scoring is on the sample set's
held-out test side (sentence frames training never has, half in voices training never hears), as `evaluate`
scores it (torch backend, beam 1); "domain words right" counts each domain word of a reference found in its
hypothesis (case and punctuation ignored), over all domain words of the test side. Each fine-tune is the default
profile (cpu-quick) on the sample set's training side, its runs differing in `training.seed`; shares are
interleaved seed by seed so load changes spread over them. Each run is its own process (its peak RSS is its own).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys

from benchmarks.common import (engine_run, heldout_scores, machine_info, peak_rss_mb, run_variant, side_data_dir,
                               write_json)

SEED = 42


def vocabulary_prompt() -> str:
    from whisper_tui.data.sample_data import DOMAIN_WORDS

    return ", ".join(w[0].upper() + w[1:] if i == 0 else w for i, w in enumerate(DOMAIN_WORDS)) + "."


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def domain_hits(references: list[str], hypotheses: list[str]) -> tuple[int, int]:
    """(domain words found in their clip's hypothesis, domain words in the references)."""
    from whisper_tui.data.sample_data import DOMAIN_WORDS

    domain = {w.lower() for w in DOMAIN_WORDS}
    hits = total = 0
    for ref, hyp in zip(references, hypotheses):
        wanted = [w for w in _words(ref) if w in domain]
        heard = _words(hyp)
        for w in set(wanted):
            n = wanted.count(w)
            total += n
            hits += min(n, heard.count(w))
    return hits, total


def scored(model, prompt: str | None) -> dict:
    """WER (all, known voices, new voices) and domain words right of `model` on the held-out test side."""
    from whisper_tui.inference.transcribe import Transcriber

    wers, result = heldout_scores(Transcriber(model, batch_size=16, prompt=prompt))
    scored_clips = [c for c in result.clips if not c.error]
    hits, total = domain_hits([c.reference for c in scored_clips], [c.hypothesis for c in scored_clips])
    return {"wer": wers["test_wer"], "domain_right": hits, "domain_total": total,
            "domain_share": round(hits / total, 3),
            **{key: wers[f"test_{key}"] for key in ("wer_known", "wer_new") if f"test_{key}" in wers}}


def both(model) -> dict:
    return {"no_prompt": scored(model, None), "prompt": scored(model, vocabulary_prompt())}


def variant_train(args) -> dict:
    from whisper_tui.cli.profile_flags import set_overrides
    from whisper_tui.config.profile import apply_overrides, load_profile

    load_start = os.getloadavg()[0]
    profile = apply_overrides(load_profile("cpu-quick"), {
        "model.name": args.model, "data.train_dir": str(side_data_dir("train")), "data.test_split": 0.2,
        "data.split_seed": SEED, "training.seed": args.seed, "training.budget_s": args.budget,
        "training.prompt_share": args.share, **set_overrides(args.set)})
    with engine_run(profile, "wtb-prompt-") as (run_dir, log, train_s, records):
        figures = both(str(run_dir / "final"))
    evals = [r for r in records if r.get("type") == "eval" and not r.get("base")]
    return {"prompt_share": args.share, "seed": args.seed, "train_s": round(train_s, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "epochs": evals[-1]["epoch"] if evals else 0, **figures,
            "load_at_start": load_start, "load_at_end": os.getloadavg()[0],
            "engine_log": [m for m in log if any(w in m for w in ("labels:", "budget", "forgetting", "prompt"))]}


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})" if len(values) > 1 \
        else f"{values[0]:.3f}"


def table(base: dict, runs: list[dict]) -> str:
    lines = ["| model | prompt | test WER | new voices | domain words right |", "|---|---|---|---|---|"]
    groups = [(f"{base['model']}", [base])]
    for share in dict.fromkeys(r["prompt_share"] for r in runs):
        group = [r for r in runs if r["prompt_share"] == share]
        groups.append((f"fine-tune, prompt_share {share:g} ({len(group)} runs)", group))
    for name, group in groups:
        for key, label in (("no_prompt", "none"), ("prompt", "vocabulary")):
            cells = [g[key] for g in group]
            lines.append(f"| {name} | {label} | {_median([c['wer'] for c in cells])} | "
                         f"{_median([c.get('wer_new', float('nan')) for c in cells])} | "
                         f"{_median([c['domain_share'] for c in cells])} of {cells[0]['domain_total']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_prompt", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--shares", default="0,0.5", help="training.prompt_share of each fine-tune")
    ap.add_argument("--runs", type=int, default=3, help="fine-tunes per share (seeds 42, 43, ...)")
    ap.add_argument("--budget", type=float, default=300.0, help="training.budget_s of each fine-tune")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="another setting for every run")
    ap.add_argument("--out", default=None)
    ap.add_argument("--variant", choices=["train", "base"], help=argparse.SUPPRESS)
    ap.add_argument("--share", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=SEED, help=argparse.SUPPRESS)
    ap.add_argument("--json-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.variant:
        import json
        from pathlib import Path

        from whisper_tui.system.quiet import quiet_libraries

        quiet_libraries()
        result = variant_train(args) if args.variant == "train" else {"model": args.model, **both(args.model)}
        Path(args.json_out).write_text(json.dumps(result, default=str))
        return 0
    shares = [float(x) for x in args.shares.split(",") if x.strip()]
    common = ["--model", args.model, "--budget", str(args.budget), *(f"--set={item}" for item in args.set)]
    info = machine_info()
    print(f"bench_prompt: prompt {vocabulary_prompt()!r}; {args.model}, then {args.runs} cpu-quick fine-tune(s) of "
          f"{args.budget:.0f} s at prompt_share {', '.join(f'{s:g}' for s in shares)}", file=sys.stderr)
    base = run_variant("benchmarks.bench_prompt", ["--variant", "base", *common])
    runs = []
    for i in range(args.runs):
        for share in shares:
            print(f"  run {i + 1}/{args.runs}: prompt_share {share:g}, seed {SEED + i}", file=sys.stderr)
            runs.append(run_variant("benchmarks.bench_prompt", ["--variant", "train", "--share", str(share),
                                                                "--seed", str(SEED + i), *common]))
    print(table(base, runs))
    for r in runs:
        print(f"share {r['prompt_share']:g} seed {r['seed']}: {r['epochs']} epoch(s) in {r['train_s']:.0f} s, "
              f"peak RSS {r['peak_rss_mb'] / 1024:.2f} GiB, load {r['load_at_start']:.2f} -> {r['load_at_end']:.2f}")
    data = {"benchmark": "bench_prompt", "machine": info, "budget_s": args.budget, "shares": shares,
            "prompt": vocabulary_prompt(), "base": base, "runs": runs, "load_avg_at_end": list(os.getloadavg())}
    print(f"results: {write_json('bench_prompt', data, path=args.out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
