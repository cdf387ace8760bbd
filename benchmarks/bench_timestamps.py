"""Cue-start error of timed transcripts (issue 25): 8 held-out clips joined with pauses into one recording.

The true sentence starts are known (each clip's offset, plus where its sound begins); each is matched with
the nearest SRT cue start of `transcribe --format srt`'s segments (inference/timed.py). Target: >= 7 of 8
within 0.6 s, for tiny.en and for a fine-tune (--model RUN/final).

    .venv/bin/python -m benchmarks.bench_timestamps [--model tiny.en] [--pause 1.5]
    .venv/bin/python -m benchmarks.bench_timestamps --train [--shares 0,0.5] [--budget 300] [--set KEY=VALUE]

`--train` fine-tunes the default profile (cpu-quick, as `whisper-tui train` would) on the sample set's training
side (one folder: the engine splits its own validation set from it) once per `training.timestamp_share` of
`--shares`, each run in its own process, then gives each final model's cue starts on the recording above and its
text WER on the held-out side (the sample set's test clips: sentences training never has, half in new voices),
beside the base model's.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from benchmarks.common import (engine_run, heldout_data_dir, heldout_scores, machine_info, peak_rss_mb, side_data_dir,
                               write_json)

SEED = 42
TOLERANCE_S = 0.6


def recording_files(n: int = 8) -> list:
    from whisper_tui.inference.transcribe import list_audio_files

    return sorted(list_audio_files(heldout_data_dir()))[:n]


def recording_wer(text: str, n: int = 8) -> float:
    """WER of a transcript of the whole recording against its sentences' transcripts, in order."""
    from whisper_tui.data.metadata import read_metadata
    from whisper_tui.inference.metrics import error_rates

    clips, _problems = read_metadata(heldout_data_dir())
    by_path = {c.path.resolve(): c.transcription for c in clips}
    reference = " ".join(by_path[f.resolve()] for f in recording_files(n))
    return error_rates([reference], [text])[0]


def build_recording(n: int = 8, pause_s: float = 1.5) -> tuple[np.ndarray, list[float]]:
    from whisper_tui.data.audio import SAMPLE_RATE, load_audio
    from whisper_tui.inference.energy import frame_db, pause_level, loud_span

    files = recording_files(n)
    pause = np.zeros(int(pause_s * SAMPLE_RATE), np.float32)
    parts, starts, offset = [pause], [], pause_s
    for f in files:
        wave = load_audio(f)
        db = frame_db(wave)
        span = loud_span(db, 0, len(wave) / SAMPLE_RATE, pause_level(db))
        starts.append(round(offset + (span[0] if span else 0.0), 2))
        parts += [wave, pause]
        offset += len(wave) / SAMPLE_RATE + pause_s
    return np.concatenate(parts), starts


def _scored(starts: list[float], truth: list[float]) -> tuple[list, int]:
    errors = [min(abs(c - s) for c in starts) if starts else None for s in truth]
    return [None if e is None else round(float(e), 2) for e in errors], sum(e is not None and e <= TOLERANCE_S
                                                                            for e in errors)


def cue_figures(model: str, pause_s: float = 1.5) -> dict:
    """Cue starts of `model` (a name or a saved model's folder) on the recording, against the true starts: what
    `transcribe --format srt` writes (each start at its segment's first sound, timed.snap_starts) and the
    model's own timestamps (unsnapped)."""
    from whisper_tui.inference.timed import snap_starts, transcribe_segments
    from whisper_tui.inference.transcribe import CT2Whisper

    wave, truth = build_recording(pause_s=pause_s)
    load = os.getloadavg()
    t = time.perf_counter()
    raw = transcribe_segments(CT2Whisper(model), wave, snap=False)
    segments = snap_starts(raw, wave)
    elapsed = time.perf_counter() - t
    cues, raw_cues = [s.start for s in segments], [s.start for s in raw]
    errors, hits = _scored(cues, truth)
    raw_errors, raw_hits = _scored(raw_cues, truth)
    return {"model": model, "recording_s": round(len(wave) / 16000, 1), "true_starts": truth,
            "cue_starts": cues, "errors_s": errors, "within_0.6s": hits, "target_met": hits >= 7,
            "unsnapped_cue_starts": raw_cues, "unsnapped_errors_s": raw_errors, "unsnapped_within_0.6s": raw_hits,
            "segments_text": " ".join(s.text.strip() for s in segments),
            "recording_wer": recording_wer(" ".join(s.text.strip() for s in segments)),
            "elapsed_s": round(elapsed, 1), "load_before": load, "load_after": os.getloadavg()}


def text_wer(model) -> dict:
    """Plain (no timestamps) WER of `model` on the sample set's held-out test clips, as evaluate scores it."""
    from whisper_tui.inference.transcribe import Transcriber

    return heldout_scores(Transcriber(model, batch_size=16))[0]


def variant_train(args) -> dict:
    """One default fine-tune at `args.share`, then its final model's cue starts and WER (in this process)."""
    from whisper_tui.cli.profile_flags import set_overrides
    from whisper_tui.config.profile import apply_overrides, load_profile
    from whisper_tui.system.quiet import quiet_libraries

    quiet_libraries()
    load_start = os.getloadavg()[0]
    profile = apply_overrides(load_profile("cpu-quick"), {
        "model.name": args.model, "data.train_dir": str(side_data_dir("train")), "data.test_split": 0.2,
        "data.split_seed": SEED, "training.seed": SEED, "training.budget_s": args.budget,
        "training.timestamp_share": args.share, **set_overrides(args.set)})
    with engine_run(profile, "wtb-ts-") as (run_dir, log, train_s, records):
        final = str(run_dir / "final")
        cues = cue_figures(final, args.pause)
        wer = text_wer(final)
    evals = [r for r in records if r.get("type") == "eval" and not r.get("base")]
    return {"timestamp_share": args.share, "settings": args.set, "train_s": round(train_s, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),  # this process: the training run, then its scoring
            "epochs": evals[-1]["epoch"] if evals else 0, "validation_wer": evals[-1].get("wer") if evals else None,
            "cues": {**cues, "model": f"fine-tune, timestamp_share {args.share:g}"}, **wer,
            "load_at_start": load_start, "load_at_end": os.getloadavg()[0],
            "engine_log": [m for m in log if any(w in m for w in ("labels:", "budget", "skipped", "forgetting"))]}


def variant_base(args) -> dict:
    from whisper_tui.system.quiet import quiet_libraries

    quiet_libraries()
    return {"cues": cue_figures(args.model, args.pause), **text_wer(args.model)}


def train_main(args) -> int:
    """--train: the base model and one fine-tune per share, side by side."""
    import sys

    from benchmarks.common import run_variant

    shares = [float(x) for x in args.shares.split(",") if x.strip()]
    common = ["--model", args.model, "--pause", str(args.pause), "--budget", str(args.budget),
              *(f"--set={item}" for item in args.set)]
    info = machine_info()
    print(f"bench_timestamps --train: {args.model}, then cpu-quick fine-tunes of {args.budget:.0f} s at "
          f"training.timestamp_share {', '.join(f'{s:g}' for s in shares)}", file=sys.stderr)
    base = run_variant("benchmarks.bench_timestamps", ["--variant", "base", *common])
    runs = []
    for share in shares:
        print(f"  training at timestamp_share {share:g}", file=sys.stderr)
        runs.append(run_variant("benchmarks.bench_timestamps", ["--variant", "train", "--share", str(share), *common]))
    rows = [(args.model, base), *((f"fine-tune, timestamp_share {r['timestamp_share']:g}", r) for r in runs)]
    print("| model | cue starts within 0.6 s | the model's own timestamps | recording WER | test WER | "
          "errors (s) |")
    print("|---|---|---|---|---|---|")
    for name, r in rows:
        c = r["cues"]
        print(f"| {name} | {c['within_0.6s']} / 8 | {c['unsnapped_within_0.6s']} / 8 | {c['recording_wer']:.3f} | {r['test_wer']:.3f} | "
              f"{', '.join('-' if e is None else f'{e:.2f}' for e in c['errors_s'])} |")
    for r in runs:
        print(f"share {r['timestamp_share']:g}: {r['epochs']} epoch(s) in {r['train_s']:.0f} s, peak RSS "
              f"{r['peak_rss_mb'] / 1024:.2f} GiB, validation WER "
              f"{r['validation_wer']}, load {r['load_at_start']:.2f} -> {r['load_at_end']:.2f}")
    data = {"benchmark": "bench_timestamps --train", "machine": info, "budget_s": args.budget, "shares": shares,
            "base": base, "runs": runs, "load_avg_at_end": list(os.getloadavg())}
    path = write_json("bench_timestamps_train", data, path=args.out)
    print(f"results: {path}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--pause", type=float, default=1.5)
    ap.add_argument("--train", action="store_true",
                    help="fine-tune cpu-quick at each of --shares and measure each final model beside --model")
    ap.add_argument("--shares", default="0,0.5", help="training.timestamp_share of each fine-tune (--train)")
    ap.add_argument("--budget", type=float, default=300.0, help="training.budget_s of each fine-tune (--train)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="another profile setting for every fine-tune (--train), e.g. training.prompt_share=0.25")
    ap.add_argument("--out", default=None)
    ap.add_argument("--variant", choices=["train", "base"], help=argparse.SUPPRESS)
    ap.add_argument("--share", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--json-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.variant:
        import json
        from pathlib import Path

        result = variant_train(args) if args.variant == "train" else variant_base(args)
        Path(args.json_out).write_text(json.dumps(result, default=str))
        return 0
    if args.train:
        return train_main(args)
    result = {**cue_figures(args.model, args.pause), "machine": machine_info()}
    print(f"{args.model}: {result['within_0.6s']}/8 cue starts within {TOLERANCE_S} s; errors {result['errors_s']}; "
          f"the model's own timestamps: {result['unsnapped_within_0.6s']}/8 {result['unsnapped_errors_s']}; "
          f"{result['recording_s']} s in {result['elapsed_s']:.1f} s; load {result['load_before'][0]:.2f}")
    write_json(f"bench_timestamps_{args.model.replace('/', '_')}", result, path=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
