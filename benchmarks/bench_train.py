"""bench_train: the seed's recipe against whisper-tui's engine, same model, data, epochs and settings.

    python -m benchmarks.bench_train --reference-threads 0 --repeats 2   # tiny.en, 60 sample clips, 6 epochs
    python -m benchmarks.bench_train --smoke --model DIR --data DIR   # seconds, for CI

(a) reference: plain HF Seq2SeqTrainer, LoRA r16 on the decoder's q/v, frozen encoder, gradient
    checkpointing, lr 1e-3, batch 4 (benchmarks/reference_recipe.py);
(b) engine: `TrainingJob` with the cpu-quick profile set to the same values.
Both skip evaluation during training; a separate process scores the base model, and each
variant scores its own final model with the same evaluator (whisper_tui.inference.evaluate), so WERs
compare. Epoch 1 is timed from "model loaded" to the end of epoch 1 (it includes feature
extraction for (a) and the encoder cache for (b)); "later" covers epochs 2..N. The job (issue 23) is the
whole of each side's work from its first import: (a) loading, features and training; (b) everything
`TrainingJob.run()` does (loading, caches, training, its final evaluation, saving final/). The engine's
stage timings are in `engine_timeline` (seconds since the job started, log line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from .common import (EpochClock, format_table, machine_info, peak_rss_mb, ratio, run_variant, sample_data_dir,
                     write_json)

SAME = {"epochs": 6, "lr": 1e-3, "batch": 4, "warmup": 0.1, "scheduler": "linear", "lora_r": 16, "lora_alpha": 32,
        "lora_dropout": 0.05, "seed": 42, "test_split": 0.2}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_train", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny.en", help="tiny.en (bundled) or a local Whisper folder")
    p.add_argument("--data", default=None, help="dataset folder (default: the generated sample data)")
    p.add_argument("--epochs", type=int, default=SAME["epochs"])
    p.add_argument("--clips", type=int, default=60, metavar="N",
                   help="train on the first N training clips only (the test side stays whole; 0 = all; default 60)")
    p.add_argument("--batch", type=int, default=SAME["batch"])
    p.add_argument("--repeats", type=int, default=1, help="run the pair this many times (order alternates)")
    p.add_argument("--smoke", action="store_true", help="tiny run for CI: 2 epochs, batch 2, results under smoke/")
    p.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/bench_train.json)")
    p.add_argument("--reference-threads", type=int, default=1, metavar="N",
                   help="also run the reference with torch limited to N threads, to show how much of the gap "
                        "is the thread setting (0 = skip; default 1)")
    p.add_argument("--seed", type=int, default=SAME["seed"],
                   help="training seed of both sides (initialisation, shuffling, dropout); the split stays at seed "
                        f"{SAME['seed']} (default {SAME['seed']})")
    p.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--variant", choices=["base", "reference", "engine"], help=argparse.SUPPRESS)
    p.add_argument("--json-out", default=None, help=argparse.SUPPRESS)
    return p


def _split(data: str):
    from whisper_tui.data.dataset import load_dataset_split

    train, test, _report = load_dataset_split(data, SAME["test_split"], SAME["seed"])
    return train, test


def _subset_dir(data: str, n: int) -> tuple[str, tempfile.TemporaryDirectory | None]:
    """A folder of `data`'s first `n` training clips and all its test clips, split by a `split` column so
    both sides (and the engine's own split) see the same clips; `data` itself when it has no more than `n`."""
    import shutil

    from whisper_tui.data.metadata import metadata_csv_bytes

    train, test = _split(data)
    if n <= 0 or len(train) <= n:
        return data, None
    tmp = tempfile.TemporaryDirectory(prefix="wtb-clips-")
    rows = []
    for side, clips in (("train", train[:n]), ("test", test)):
        for clip in clips:
            shutil.copy2(clip.path, Path(tmp.name) / clip.file_name)
            rows.append((clip.file_name, clip.transcription, side))
    (Path(tmp.name) / "metadata.csv").write_bytes(metadata_csv_bytes(rows, ("split",)))
    return tmp.name, tmp


def _model_dir(name: str) -> Path:
    from whisper_tui.models.loading import resolve_model

    return resolve_model(name).path


def _evaluate(model, test) -> dict:
    from whisper_tui.inference.evaluate import evaluate_model

    report = evaluate_model(model, test, batch_size=16)
    return {"wer": report.wer, "cer": report.cer}


# -- variants (each in its own process) ------------------------------------------------------------
def variant_base(args) -> dict:
    from whisper_tui.system.quiet import quiet_libraries

    quiet_libraries()
    _train, test = _split(args.data)
    return _evaluate(args.model, test)


def variant_reference(args) -> dict:
    started = time.perf_counter()  # the job: imports, loading, features and training (the seed saves, no more)
    import torch
    from transformers import TrainerCallback

    from whisper_tui.system.quiet import quiet_libraries

    from .reference_recipe import SpeechDataset, build_model, make_trainer, merged_for_inference

    quiet_libraries()
    if args.threads:
        torch.set_num_threads(args.threads)
    train, test = _split(args.data)
    torch.manual_seed(args.seed)
    model, processor = build_model(_model_dir(args.model), r=SAME["lora_r"], alpha=SAME["lora_alpha"],
                                   dropout=SAME["lora_dropout"])
    clock = EpochClock()
    clock.mark("ready")
    train_ds = SpeechDataset(train, processor)

    class Marks(TrainerCallback):
        def on_epoch_end(self, a, state, control, **kw):
            clock.mark(f"epoch{int(round(state.epoch))}")

    with tempfile.TemporaryDirectory(prefix="wtb-ref-") as out:
        trainer = make_trainer(model, processor, train_ds, out, epochs=args.epochs, lr=SAME["lr"], batch=args.batch,
                               warmup=SAME["warmup"], scheduler=SAME["scheduler"], seed=args.seed,
                               callbacks=[Marks()])
        trainer.train()
    job_s = time.perf_counter() - started
    result = clock.summary(len(train), args.epochs)
    result["job_s"] = job_s
    result["peak_rss_mb"] = peak_rss_mb()
    result["threads"] = torch.get_num_threads()
    result.update({f"tuned_{k}": v for k, v in _evaluate((merged_for_inference(model), processor), test).items()})
    result["n_train"], result["n_test"] = len(train), len(test)
    return result


def variant_engine(args) -> dict:
    started = time.perf_counter()  # the job: imports, then TrainingJob.run() (loading, caches, training, saving)
    import torch

    from whisper_tui.config.profile import apply_overrides, load_profile
    from whisper_tui.system.quiet import quiet_libraries
    from whisper_tui.training import events as ev
    from whisper_tui.training.job import TrainingJob

    quiet_libraries()
    train, test = _split(args.data)
    profile = apply_overrides(load_profile("cpu-quick"), {
        "model.name": args.model, "data.train_dir": str(Path(args.data).resolve()),
        "data.test_split": SAME["test_split"], "data.split_seed": SAME["seed"],
        "finetuning.strategy": "lora", "finetuning.freeze_encoder": True, "finetuning.gradient_checkpointing": True,
        "finetuning.encoder_cache": True, "finetuning.lora.r": SAME["lora_r"],
        "finetuning.lora.lora_alpha": SAME["lora_alpha"], "finetuning.lora.lora_dropout": SAME["lora_dropout"],
        "finetuning.lora.target_modules": ["q_proj", "v_proj"],
        "training.num_train_epochs": args.epochs, "training.learning_rate": SAME["lr"],
        "training.per_device_train_batch_size": args.batch, "training.warmup_steps": SAME["warmup"],
        "training.lr_scheduler_type": SAME["scheduler"], "training.weight_decay": 0.0, "training.seed": args.seed,
        "training.eval_strategy": "no", "training.precision": "fp32", "training.logging_steps": 10,
        # cpu-quick's extras that the seed recipe does not have: a 5-minute budget (it stopped this run after
        # one step), the keep set (49 more clips cached and evaluated) and saving at merge strength 0.75
        "training.budget_s": 0, "data.keep_set": False, "finetuning.merge_strength": 1.0})
    clock = EpochClock()
    log: list[str] = []
    timed: list[tuple[float, str]] = []  # (seconds since the job started, log line): where the time goes

    def listen(event):
        if isinstance(event, ev.LogEvent):
            log.append(event.message)
            timed.append((round(time.perf_counter() - started, 2), event.message))
            if event.message.startswith("trainable parameters"):
                clock.mark("ready")
        elif isinstance(event, ev.StepEvent):
            for k in range(1, args.epochs + 1):
                if event.epoch >= k - 1e-6:
                    clock.mark(f"epoch{k}")

    with tempfile.TemporaryDirectory(prefix="wtb-engine-") as out:
        job = TrainingJob(profile, Path(out) / "run", evaluate_base=False, listeners=[listen])
        finished = job.run()
        job_s = time.perf_counter() - started
        if not isinstance(finished, ev.RunFinished):
            raise RuntimeError(f"engine run did not finish: {finished}")
        result = clock.summary(len(train), args.epochs)
        result["job_s"] = job_s
        result["engine_timeline"] = timed
        result["peak_rss_mb"] = peak_rss_mb()
        chosen = [m for m in log if m.startswith("CPU threads: ")]  # the thread tuner's last choice
        result["threads"] = int(chosen[-1].split()[2]) if chosen else torch.get_num_threads()
        result.update({f"tuned_{k}": v for k, v in _evaluate(str(Path(out) / "run" / "final"), test).items()})
    result["n_train"], result["n_test"] = len(train), len(test)
    result["engine_log"] = [m for m in log if any(w in m for w in ("cache", "threads", "checkpointing"))]
    return result


def _fresh_cache_env() -> tuple[dict, tempfile.TemporaryDirectory]:
    """A cold encoder cache for the engine (a warm one from an earlier run would skip epoch 1's encoder cost);
    converted models are linked in so the bundled model is not converted again."""
    from whisper_tui.config.locations import cache_dir

    tmp = tempfile.TemporaryDirectory(prefix="wtb-cache-")
    models = cache_dir() / "models"
    if models.is_dir():
        os.symlink(models, Path(tmp.name) / "models")
    return {"WHISPER_TUI_CACHE_DIR": tmp.name}, tmp


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.smoke:
        args.epochs = min(args.epochs, 2)
        args.batch = min(args.batch, 2)
    if args.variant:
        args.data = args.data or str(sample_data_dir())
        result = {"base": variant_base, "reference": variant_reference, "engine": variant_engine}[args.variant](args)
        Path(args.json_out).write_text(json.dumps(result, default=str))
        return 0

    source = args.data or str(sample_data_dir())
    data, subset = _subset_dir(source, 0 if args.smoke else args.clips)
    common = ["--model", args.model, "--data", data, "--epochs", str(args.epochs), "--batch", str(args.batch),
              "--seed", str(args.seed)]
    info = machine_info()
    started = time.time()
    print(f"bench_train: {args.model} on {data}, {args.epochs} epochs, batch {args.batch}", file=sys.stderr)
    base = run_variant("benchmarks.bench_train", ["--variant", "base", *common])
    runs: list[dict] = []
    thread_row = f"reference, {args.reference_threads} thread(s)"
    for rep in range(args.repeats):
        order = ["reference", "engine"] + ([thread_row] if args.reference_threads and not args.smoke else [])
        if rep % 2:
            order.reverse()
        for name in order:
            print(f"  running {name} (repeat {rep + 1})", file=sys.stderr)
            env, tmp = _fresh_cache_env() if name == "engine" else ({}, None)
            extra = ["--variant", "reference", "--threads", str(args.reference_threads)] if name == thread_row \
                else ["--variant", name]
            try:
                result = run_variant("benchmarks.bench_train", [*extra, *common], env=env)
            finally:
                if tmp is not None:
                    tmp.cleanup()
            result.update({"variant": name, "repeat": rep + 1, "base_wer": base["wer"]})
            runs.append(result)

    summary = _summarise(runs, thread_row)
    columns = [("variant", "variant", ""), ("repeat", "rep", "d"), ("threads", "thr", "d"),
               ("epoch1_samples_per_s", "ep1 samples/s", ".2f"), ("later_samples_per_s", "later samples/s", ".2f"),
               ("later_samples_per_cpu_s", "later samples/cpu-s", ".2f"), ("train_s", "train s", ".1f"),
               ("job_s", "job s", ".1f"), ("process_wall_s", "process wall s", ".1f"), ("peak_rss_mb", "peak RSS MB", ".0f"),
               ("base_wer", "WER before", ".3f"), ("tuned_wer", "WER after", ".3f")]
    print(format_table(runs, columns))
    print()
    for key, label in [("later_speedup", "later epochs samples/s, engine / reference"),
                       ("later_speedup_vs_reference_thread_limited",
                        f"later epochs samples/s, engine / reference with {args.reference_threads} thread(s)"),
                       ("epoch1_speedup", "epoch 1 samples/s, engine / reference"),
                       ("train_time_ratio", "training wall time, reference / engine"),
                       ("job_time_ratio", "whole job wall time, reference / engine")]:
        if summary.get(key) is not None:
            print(f"{label}: {summary[key]:.2f}x")
    print(f"WER after: reference {summary['reference_wer']:.3f}, engine {summary['engine_wer']:.3f} "
          f"(base {base['wer']:.3f})")
    data_out = {"benchmark": "bench_train", "machine": info, "settings": {**SAME, "epochs": args.epochs,
                "train_seed": args.seed, "batch": args.batch, "model": args.model, "data": source}, "base": base, "runs": runs,
                "summary": summary, "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
                "duration_s": time.time() - started, "load_avg_at_end": list(os.getloadavg())}
    if subset is not None:
        data_out["settings"]["clips"] = args.clips
        subset.cleanup()
    path = write_json("bench_train", data_out, smoke=args.smoke, path=args.out)
    print(f"results: {path}", file=sys.stderr)
    return 0


def _median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _summarise(runs: list[dict], thread_row: str = "") -> dict:
    """Ratios are taken within each repeat (the pair ran back to back), then the median over repeats."""
    by_rep: dict[int, dict[str, dict]] = {}
    for r in runs:
        by_rep.setdefault(r["repeat"], {})[r["variant"]] = r
    pairs = [p for p in by_rep.values() if "reference" in p and "engine" in p]
    same_threads = [p for p in by_rep.values() if thread_row in p and "engine" in p]
    return {
        "later_speedup_vs_reference_thread_limited": _median([
            ratio(p["engine"].get("later_samples_per_s"), p[thread_row].get("later_samples_per_s"))
            for p in same_threads]),
        "later_speedup": _median([ratio(p["engine"].get("later_samples_per_s"),
                                        p["reference"].get("later_samples_per_s")) for p in pairs]),
        "later_cpu_speedup": _median([ratio(p["engine"].get("later_samples_per_cpu_s"),
                                            p["reference"].get("later_samples_per_cpu_s")) for p in pairs]),
        "epoch1_speedup": _median([ratio(p["engine"].get("epoch1_samples_per_s"),
                                         p["reference"].get("epoch1_samples_per_s")) for p in pairs]),
        "train_time_ratio": _median([ratio(p["reference"].get("train_s"), p["engine"].get("train_s")) for p in pairs]),
        "job_time_ratio": _median([ratio(p["reference"].get("job_s"), p["engine"].get("job_s")) for p in pairs]),
        "reference_wer": _median([p["reference"].get("tuned_wer") for p in pairs]),
        "engine_wer": _median([p["engine"].get("tuned_wer") for p in pairs]),
    }


if __name__ == "__main__":
    sys.exit(main())
