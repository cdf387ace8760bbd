"""soak_cancel: cancel and resume a tiny training run at random points N times; it must end as an uninterrupted run.

    python -m benchmarks.soak_cancel                          # 50 interruptions (issue 13 item 6)
    python -m benchmarks.soak_cancel --interruptions 200 --seed 7
    python -m benchmarks.soak_cancel --smoke                  # 2 interruptions, results under smoke/

Independent of the test suite: it builds its own tiny random Whisper (d_model 64) and a tone dataset,
and points every whisper-tui folder (cache, config, data) at a private work folder, so it neither
needs pytest nor touches the user's cache.

For each variant (`--variants`: "cached", LoRA on a decoder that trains from the encoder and
cross-attention caches; "specaugment", no cache, the top encoder layer trains on masked input) it
first trains the uninterrupted reference run twice (the two must be identical, or no comparison
means anything). Then it trains the same run again and again, each time cancelling it
(`TrainingJob.cancel()`) at a point drawn by a seeded RNG (1 to `--max-per-run` per run), and
resuming it from its run folder until it finishes:

- cache-build   when the encoder cache starts to be built (the cache is wiped first, so it really builds)
- base-eval     during the evaluation before training, at test batch j
- step          right after optimizer step k
- eval          during an epoch's evaluation, at test batch j
- eval-end      when an evaluation's result arrives (before best/ is saved)
- best-save     when best/ is about to be saved
- checkpoint-save  when the Trainer starts saving an epoch's checkpoint
- timer         from another thread, after a random delay (lands anywhere: loading, building caches, ...)

After each cancel it checks: the job ended with RunCancelled; run.json says "cancelled" and names
the last complete checkpoint; no `.lock`, `*.tmp`, `.old`, half-written checkpoint, encoder-cache
temp file or cross-attention cache folder is left. It also records how much work ran after the
request (training steps, evaluation batches, a cache build completed), i.e. whether that phase
honours a cancel where it is or only at the next step. A run cancelled before its first checkpoint
cannot be resumed (checked) and is restarted in a new folder.

When a run finishes, its per-step training losses (the latest metrics.jsonl record per step), its
evaluations, final/ and best/ weights and the WERs in run.json are compared with the reference run's.
New runs start until `--interruptions` cancels have happened. Exit status 1 on any failed check.

Determinism: torch uses `--threads` threads (default 1; WHISPER_TUI_THREADS, so the engine's thread
tuner, whose choice depends on the load, cannot change the float summation order between runs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from whisper_tui.models.random_whisper import build_random_whisper

from .common import format_table, machine_info, peak_rss_mb, restored_env, write_json

KINDS = ["cache-build", "base-eval", "step", "eval", "eval-end", "best-save", "checkpoint-save", "timer"]
CLASS_TEXTS = ["alpha bravo", "charlie delta", "echo foxtrot"]
CLASS_HZ = [220.0, 550.0, 1100.0]

# Variants: settings over the tiny base profile below. "cached": LoRA on the decoder with the whole
# encoder frozen and cached, cross-attention keys/values cached (the engine's fastest path), LoRA
# dropout on (the RNG matters). "specaugment": no cache, the top encoder layer trains, SpecAugment
# masks drawn per (seed, epoch, clip).
VARIANTS = {
    "cached": {},
    "specaugment": {"finetuning.encoder_cache": False, "training.spec_augment": True,
                    "finetuning.freeze_encoder": False, "finetuning.frozen_encoder_layers": 1},
}


# -- data, model, profile ---------------------------------------------------------------------

def write_tone_dataset(folder: Path, n: int, seconds: float = 1.0, seed: int = 0) -> Path:
    """n clips of tones + noise in three pitch classes, each class saying its own two words (no TTS needed).

    With few distinct words the random model's test WER moves from epoch to epoch, so best/ is saved more
    than once (with every clip saying other words it stays at 1.0 and best/ is saved only at the first
    evaluation). The figures mean nothing else: the soak checks mechanics, not learning."""
    import csv

    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    rows = []
    for i in range(n):
        cls = i % len(CLASS_TEXTS)
        freq = CLASS_HZ[cls] * (1 + 0.03 * (i // len(CLASS_TEXTS)))
        wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(folder / f"clip{i:02d}.wav", wave.astype(np.float32), 16000)
        rows.append((f"clip{i:02d}.wav", CLASS_TEXTS[cls]))
    with open(folder / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["file_name", "transcription"])
        writer.writerows(rows)
    return folder


def soak_profile(model: Path, data: Path, epochs: int, variant: str, extra: dict | None = None):
    """cpu-quick on the tiny model: eval and a checkpoint every epoch, eval batches of 1 (several per eval),
    a learning rate high enough for the WER to move within 40 steps, LoRA dropout as cpu-quick has it."""
    from whisper_tui.config.profile import apply_overrides, load_profile

    base = {"model.name": str(model), "data.train_dir": str(data), "data.test_split": 0.25, "model.window_s": 0,
            "training.budget_s": 0, "data.keep_set": False, "finetuning.freeze_encoder": True,
            "finetuning.frozen_encoder_layers": 0, "data.split_by": "clip",
            "finetuning.lora.target_modules": ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"],
            "training.num_train_epochs": epochs, "training.per_device_train_batch_size": 2,
            "training.per_device_eval_batch_size": 1, "training.generation_max_length": 12,
            "training.logging_steps": 1, "training.learning_rate": 0.05, "training.eval_strategy": "epoch",
            "training.save_total_limit": 2}
    return apply_overrides(load_profile("cpu-quick"), {**base, **VARIANTS[variant], **(extra or {})})


# -- reading a run folder ---------------------------------------------------------------------

def read_metrics(run_dir: Path) -> tuple[dict, dict, list]:
    """(step -> loss, step -> (wer, eval_loss), every non-base eval step in order) from metrics.jsonl;
    the latest record wins for a step seen twice (a resumed run repeats nothing, but a cancel may)."""
    losses, evals, eval_steps = {}, {}, []
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return losses, evals, eval_steps
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("type") == "step":
            losses[rec["step"]] = rec["loss"]
        elif rec.get("type") == "eval" and not rec.get("base"):
            evals[rec["step"]] = (rec.get("wer"), rec.get("eval_loss"))
            eval_steps.append(rec["step"])
    return losses, evals, eval_steps


def read_weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    tensors = {}
    for f in sorted(folder.glob("*.safetensors")):
        for name, t in load_file(str(f)).items():
            tensors[f"{f.name}:{name}"] = t.float()
    return tensors


def max_weight_diff(a: dict, b: dict) -> float | None:
    """Largest |a - b| over every tensor; None when the tensor names or shapes differ."""
    if set(a) != set(b) or any(a[k].shape != b[k].shape for k in a):
        return None
    return max(((a[k] - b[k]).abs().max().item() for k in a), default=0.0)


def leftovers(run_dir: Path, cache: Path) -> list[str]:
    """What an ended job must not leave: the lock, temp files/folders, .old folders, half checkpoints,
    encoder-cache temp files, cross-attention cache folders (they are removed when the run ends)."""
    from whisper_tui.training.run_folder import CHECKPOINT_MARK

    found = []
    if run_dir.exists():
        for p in run_dir.rglob("*"):
            name = p.name
            if name == ".lock" or name.endswith((".tmp", ".old")) or ".tmp" in name or name.startswith("tmp-"):
                found.append(str(p.relative_to(run_dir)))
        ckpts = run_dir / "checkpoints"
        if ckpts.is_dir():
            found += [f"checkpoints/{p.name} (no {CHECKPOINT_MARK})" for p in ckpts.glob("checkpoint-*")
                      if not (p / CHECKPOINT_MARK).exists()]
    enc = cache / "encoder-cache"
    if enc.is_dir():
        found += [f"cache/encoder-cache/{p.name}" for p in enc.iterdir() if ".tmp" in p.name]
        # a cache's in-use lock (.KEY.PID.N.lock): no job runs when this is called, so none may be ours
        found += [f"cache/encoder-cache/{p.name} (in-use lock of this process, no job running)"
                  for p in enc.glob(".*.lock") if f".{os.getpid()}." in p.name]
    kv = cache / "cross-kv"
    if kv.is_dir():
        found += [f"cache/cross-kv/{p.name}" for p in kv.iterdir()]
    return found


# -- one attempt: a job with a planned cancel -------------------------------------------------

class Plan:
    """Where to cancel: kind plus its target (step, eval step, batch, delay)."""

    def __init__(self, kind: str | None, step: int | None = None, batch: int | None = None,
                 delay: float | None = None):
        self.kind, self.step, self.batch, self.delay = kind, step, batch, delay

    def describe(self) -> str:
        if self.kind is None:
            return "none (run to the end)"
        parts = [self.kind]
        if self.step is not None:
            parts.append(f"step {self.step}")
        if self.batch is not None:
            parts.append(f"batch {self.batch}")
        if self.delay is not None:
            parts.append(f"after {self.delay:.2f}s")
        return " ".join(parts)


class Attempt:
    """Runs one TrainingJob, cancels it where the plan says, and records what happened around the cancel."""

    def __init__(self, job, plan: Plan):
        from transformers import TrainerCallback

        from whisper_tui.training import events as ev

        self.ev = ev
        self.job = job
        self.plan = plan
        self.phase = "setup"
        self.cancelled_at: float | None = None
        self.cancel_phase: str | None = None
        self.cancel_step: int | None = None
        self.cancel_phase_name: str | None = None
        self.steps_after = 0            # optimizer steps that ended after the cancel request
        self.eval_batches_after = 0     # evaluation batches run after the request
        self.cache_built_after = False  # the encoder cache build completed after the request
        self.hooked = False
        attempt = self

        class SoakCallback(TrainerCallback):
            """Added to the job's Trainer at RunStarted: evaluation batches and step phases."""

            def __init__(self):
                self.batch = 0
                self.evaluation = None  # (base?, step) of the evaluation the batches belong to

            def on_train_begin(self, args, state, control, **kwargs):
                attempt.phase = "train-begin"

            def on_step_begin(self, args, state, control, **kwargs):
                attempt.phase = "step"

            def on_step_end(self, args, state, control, **kwargs):
                attempt.phase = "after-step"

            def on_prediction_step(self, args, state, control, **kwargs):
                # runs after the job's own callback, which stops an evaluation when a cancel is set
                base = attempt.job.evaluating_base
                if self.evaluation != (base, state.global_step):
                    self.evaluation, self.batch = (base, state.global_step), 0
                self.batch += 1
                p = attempt.plan
                if p.batch == self.batch and ((p.kind == "base-eval" and base) or
                                              (p.kind == "eval" and not base and state.global_step == p.step)):
                    attempt.cancel(f"{attempt.phase} batch {self.batch}")

            def on_evaluate(self, args, state, control, **kwargs):
                self.evaluation = None
                attempt.phase = "after-eval"

        self.callback = SoakCallback()

    def cancel(self, where: str) -> None:
        if self.cancelled_at is None:
            self.cancelled_at = time.perf_counter()
            self.cancel_phase = where
            self.cancel_phase_name = self.phase  # the phase the request landed in (what a timer hit)
            self.cancel_step = self.job.control.step
            self.job.cancel()

    def _hook_trainer(self) -> None:
        trainer = self.job.trainer
        if trainer is None or self.hooked:
            return
        self.hooked = True
        trainer.add_callback(self.callback)
        original = trainer._save_checkpoint
        predict = trainer.prediction_step
        attempt = self

        def prediction_step(*a, **kw):
            # every evaluation batch passes here; one that starts after the cancel request counts as work after it
            attempt.phase = "base-eval" if attempt.job.evaluating_base else "eval"
            if attempt.cancelled_at is not None:
                attempt.eval_batches_after += 1
            return predict(*a, **kw)

        def save_checkpoint(model, trial, *a, **kw):
            step = trainer.state.global_step
            previous, attempt.phase = attempt.phase, "checkpoint-save"
            if attempt.plan.kind == "checkpoint-save" and attempt.plan.step == step:
                attempt.cancel(f"checkpoint-save step {step}")
            try:
                return original(model, trial, *a, **kw)
            finally:
                attempt.phase = previous

        trainer.prediction_step = prediction_step
        trainer._save_checkpoint = save_checkpoint

    def listener(self, event) -> None:
        ev = self.ev
        p = self.plan
        if isinstance(event, ev.LogEvent):
            msg = event.message
            if msg.startswith("caching the output of"):
                self.phase = "cache-build"
                if p.kind == "cache-build":
                    self.cancel("cache-build start")
            elif msg.startswith("encoder cache built") or msg.startswith("encoder cache reused"):
                if self.cancelled_at is not None and msg.startswith("encoder cache built"):
                    self.cache_built_after = True
                self.phase = "setup"
        elif isinstance(event, ev.RunStarted):
            self.phase = "trainer-start"  # base evaluation or trainer.train (loading the checkpoint) next
            self._hook_trainer()
        elif isinstance(event, ev.StepEvent):
            if self.cancelled_at is not None:
                self.steps_after += 1
            elif p.kind == "step" and event.step == p.step:
                self.cancel(f"after step {event.step}")
        elif isinstance(event, ev.EvalEvent):
            if self.cancelled_at is None:
                if p.kind == "eval-end" and event.step == p.step:
                    self.cancel(f"eval-end step {event.step}")
                elif p.kind == "best-save" and event.is_best and event.step == p.step:
                    self.phase = "best-save"
                    self.cancel(f"best-save step {event.step}")
                elif event.is_best:
                    self.phase = "best-save"
        elif isinstance(event, ev.CheckpointSaved) and event.reason == "best":
            self.phase = "after-eval"

    def run(self, timeout: float) -> object:
        self.job.add_listener(self.listener)
        timer = None
        if self.plan.kind == "timer":
            timer = threading.Timer(self.plan.delay, lambda: self.cancel(f"timer in {self.phase}"))
            timer.daemon = True
        self.job.start()
        if timer is not None:
            timer.start()
        if not self.job.wait(timeout):
            raise TimeoutError(f"the job did not end within {timeout:.0f}s (plan: {self.plan.describe()}, "
                               f"phase {self.phase}, cancel requested: {self.cancelled_at is not None})")
        if timer is not None:
            timer.cancel()
        return self.job.result

    @property
    def latency(self) -> float | None:
        ended = getattr(self, "_ended", None)
        return None if self.cancelled_at is None or ended is None else ended - self.cancelled_at


# -- the soak ---------------------------------------------------------------------------------

class Reference:
    def __init__(self, variant: str, profile, run_dir: Path, seconds: float, steps_per_epoch: int):
        self.variant = variant
        self.profile = profile
        self.run_dir = run_dir
        self.seconds = seconds
        self.losses, self.evals, _ = read_metrics(run_dir)
        self.total_steps = max(self.losses) if self.losses else 0
        self.eval_steps = sorted(self.evals)
        self.best_steps: list[int] = []
        self.final = read_weights(run_dir / "final")
        self.best = read_weights(run_dir / "best") if (run_dir / "best").is_dir() else {}
        self.status = json.loads((run_dir / "run.json").read_text())
        self.steps_per_epoch = steps_per_epoch


def run_reference(variant: str, profile, work: Path, timeout: float, name: str = "reference") -> Reference:
    from whisper_tui.training import events as ev
    from whisper_tui.training.job import TrainingJob

    run_dir = work / "runs" / f"{name}-{variant}"
    best_steps = []
    started = time.perf_counter()
    job = TrainingJob(profile, run_dir, listeners=[
        lambda e: best_steps.append(e.step) if isinstance(e, ev.CheckpointSaved) and e.reason == "best" else None])
    job.start()
    if not job.wait(timeout):
        raise TimeoutError(f"the reference run ({variant}) did not end within {timeout:.0f}s")
    seconds = time.perf_counter() - started
    if not isinstance(job.result, ev.RunFinished):
        raise RuntimeError(f"the reference run ({variant}) did not finish: {job.result}")
    n_train = job.result.metrics["train_clips"]
    tr = profile.training
    ref = Reference(variant, profile, run_dir, seconds, -(-n_train // tr.per_device_train_batch_size))
    ref.best_steps = best_steps
    return ref


def choose_plan(rng: random.Random, ref: Reference, resumed_step: int, fresh: bool, variant_cached: bool,
                n_eval_batches: int, kinds: list[str]) -> Plan:
    later_evals = [s for s in ref.eval_steps if s > resumed_step]
    later_best = [s for s in ref.best_steps if s > resumed_step]
    options = ["timer"] + (["step"] if resumed_step < ref.total_steps else [])
    if variant_cached:
        options.append("cache-build")
    if fresh and n_eval_batches:
        options.append("base-eval")
    if later_evals:
        options += ["eval", "eval-end", "checkpoint-save"]
    if later_best:
        options.append("best-save")
    options = [k for k in options if k in kinds]
    if not options:
        return Plan(None)
    kind = rng.choice(options)
    if kind == "step":
        return Plan(kind, step=rng.randint(resumed_step + 1, ref.total_steps))
    if kind == "timer":
        # attempts take the reference's time minus what is already done, plus the set-up again
        left = ref.seconds * (1 - resumed_step / max(1, ref.total_steps)) + 0.15 * ref.seconds
        return Plan(kind, delay=rng.uniform(0.0, left))
    if kind == "cache-build":
        return Plan(kind)
    if kind == "base-eval":
        return Plan(kind, batch=rng.randint(1, n_eval_batches))
    if kind == "eval":
        return Plan(kind, step=rng.choice(later_evals), batch=rng.randint(1, n_eval_batches))
    if kind in ("eval-end", "checkpoint-save"):
        return Plan(kind, step=rng.choice(later_evals))
    return Plan(kind, step=rng.choice(later_best))


def compare(ref: Reference, run_dir: Path, tolerance: float = 0.0) -> dict:
    losses, evals, eval_steps = read_metrics(run_dir)
    out: dict = {"problems": [], "notes": []}
    if set(losses) != set(ref.losses):
        out["problems"].append(f"logged steps differ: missing {sorted(set(ref.losses) - set(losses))}, "
                               f"extra {sorted(set(losses) - set(ref.losses))}")
    common = sorted(set(losses) & set(ref.losses))
    out["max_dloss"] = max((abs(losses[s] - ref.losses[s]) for s in common), default=None)
    out["first_loss_diff_step"] = next((s for s in common if abs(losses[s] - ref.losses[s]) > tolerance), None)
    if out["first_loss_diff_step"] is not None:
        out["problems"].append(f"training losses differ from step {out['first_loss_diff_step']} on "
                               f"(max |dloss| {out['max_dloss']:.3g})")
    extra_evals = sorted(set(evals) - set(ref.evals))
    missing_evals = sorted(set(ref.evals) - set(evals))
    if missing_evals:
        out["problems"].append(f"evaluations missing at steps {missing_evals}")
    if extra_evals:
        out["notes"].append(f"extra evaluations at steps {extra_evals} (not in the uninterrupted run)")
    out["extra_evals"] = len(extra_evals)
    out["repeated_evals"] = len(eval_steps) - len(set(eval_steps))
    dwer = [abs(evals[s][0] - ref.evals[s][0]) for s in set(evals) & set(ref.evals)
            if evals[s][0] is not None and ref.evals[s][0] is not None]
    deval = [abs(evals[s][1] - ref.evals[s][1]) for s in set(evals) & set(ref.evals)
             if evals[s][1] is not None and ref.evals[s][1] is not None]
    out["max_dwer"] = max(dwer, default=None)
    out["max_deval_loss"] = max(deval, default=None)
    final = read_weights(run_dir / "final")
    out["max_dweight_final"] = max_weight_diff(final, ref.final)
    if out["max_dweight_final"] is None:
        out["problems"].append("final/ holds other tensors than the reference's")
    elif out["max_dweight_final"] > tolerance:
        out["problems"].append(f"final/ weights differ (max |dw| {out['max_dweight_final']:.3g})")
    best = read_weights(run_dir / "best") if (run_dir / "best").is_dir() else {}
    out["max_dweight_best"] = max_weight_diff(best, ref.best)
    if out["max_dweight_best"] is None:
        out["problems"].append("best/ holds other tensors than the reference's (or is missing)")
    elif out["max_dweight_best"] > tolerance:
        out["problems"].append(f"best/ weights differ (max |dw| {out['max_dweight_best']:.3g})")
    status = json.loads((run_dir / "run.json").read_text())
    for key in ("base_wer", "best_wer", "final_wer"):
        if status.get(key) != ref.status.get(key):
            out["problems"].append(f"run.json {key} {status.get(key)} != reference {ref.status.get(key)}")
    try:
        step_of = lambda d: json.loads((d / "whisper_tui.json").read_text()).get("step")  # noqa: E731
        if step_of(run_dir / "best") != step_of(ref.run_dir / "best"):
            out["problems"].append(f"best/ is from step {step_of(run_dir / 'best')}, the reference's from "
                                   f"{step_of(ref.run_dir / 'best')}")
    except (OSError, ValueError):
        out["problems"].append("best/whisper_tui.json unreadable")
    return out


def leftover_kind(item: str) -> str:
    if "in-use lock" in item:
        return "encoder-cache in-use lock"
    if item.startswith("cache/encoder-cache"):
        return "encoder-cache temp file"
    if item.startswith("cache/cross-kv"):
        return "cross-attention cache folder"
    if "(no " in item:
        return "incomplete checkpoint"
    if item.endswith(".lock"):
        return "run folder .lock"
    return "run folder temp/.old"


def check_cancelled(attempt: Attempt, result, run_dir: Path, cache: Path) -> tuple[list[str], list[str], list[str]]:
    """(problems, notes, leftovers) of a job that was asked to cancel."""
    from whisper_tui.training import events as ev
    from whisper_tui.training.run_folder import RunFolder

    problems, notes = [], []
    if not isinstance(result, ev.RunCancelled):
        problems.append(f"ended with {type(result).__name__}, not RunCancelled: {result}")
    status = RunFolder(run_dir).read_status()
    if status.get("status") != "cancelled":
        problems.append(f"run.json status is {status.get('status')!r}, not 'cancelled'")
    done = RunFolder(run_dir).complete_checkpoints()
    named = status.get("last_checkpoint")
    if done:
        if named is None:
            problems.append(f"run.json names no checkpoint; {done[-1].name} is there")
        elif Path(named) != done[-1]:
            problems.append(f"run.json names {Path(named).name}, the last complete checkpoint is {done[-1].name}")
    if isinstance(result, ev.RunCancelled):
        got = result.checkpoint_dir
        if done and (got is None or Path(got) != done[-1]):
            notes.append(f"RunCancelled.checkpoint_dir is {got and Path(got).name}, the checkpoint to resume "
                         f"from is {done[-1].name}")
    left = leftovers(run_dir, cache)
    if left:
        problems.append("left behind: " + ", ".join(left))
    return problems, notes, left


def soak(args) -> dict:
    import torch

    from whisper_tui.errors import RunFolderError
    from whisper_tui.training import events as ev
    from whisper_tui.training.job import TrainingJob

    work = Path(args.workdir or tempfile.mkdtemp(prefix="whisper-tui-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "cache"
    os.environ.update({"WHISPER_TUI_CACHE_DIR": str(cache), "WHISPER_TUI_CONFIG_DIR": str(work / "config"),
                       "WHISPER_TUI_DATA_DIR": str(work / "data"), "WHISPER_TUI_THREADS": str(args.threads)})
    torch.set_num_threads(args.threads)
    print(f"work folder: {work}", file=sys.stderr)
    model = Path(args.model) if args.model else build_random_whisper(work / "model")
    data = Path(args.data) if args.data else write_tone_dataset(work / "tone-data", n=args.clips)
    rng = random.Random(args.seed)
    started = time.perf_counter()

    refs = {}
    reference_problems: list[str] = []
    for variant in args.variants:
        profile = soak_profile(model, data, args.epochs, variant, args.overrides)
        refs[variant] = run_reference(variant, profile, work, args.timeout)
        r = refs[variant]
        # The same run again: the baseline must itself be reproducible, or no comparison means anything.
        # Its wall time (imports warm, as in the soak's attempts) sets the range of the timer's delays.
        same = {"problems": []}
        if not args.smoke:
            again = run_reference(variant, profile, work, args.timeout, name="reference-again")
            r.seconds = again.seconds
            same = compare(r, again.run_dir, args.tolerance)
        if same["problems"]:
            reference_problems.extend(f"{variant}: two uninterrupted runs differ: {p}" for p in same["problems"])
        print(f"reference {variant}: {r.total_steps} steps, evaluations at {r.eval_steps}, best/ saved at "
              f"{r.best_steps}, {r.seconds:.1f}s" + ("" if args.smoke else "; a second uninterrupted run "
                                                   + ("differs" if same["problems"] else "is identical")),
              file=sys.stderr)
    from whisper_tui.data.dataset import load_dataset_split

    prof = refs[args.variants[0]].profile
    _train, test, _report = load_dataset_split(data, prof.data.test_split, prof.data.split_seed, None,
                                               split_by=prof.data.split_by)
    n_eval_batches = -(-len(test) // prof.training.per_device_eval_batch_size) if test else 0

    interruptions: list[dict] = []
    runs: list[dict] = []
    failures: list[str] = list(reference_problems)
    total = 0
    run_no = 0
    idle = 0
    while total < args.interruptions and not (failures and args.stop_on_failure):
        variant = args.variants[run_no % len(args.variants)]
        ref = refs[variant]
        cached = bool(ref.profile.finetuning.encoder_cache)
        run_no += 1
        budget = min(rng.randint(1, args.max_per_run), args.interruptions - total)
        folder_no = 1
        run_dir = work / "runs" / f"soak-{run_no:03d}-{variant}"
        record = {"run": run_no, "variant": variant, "interruptions": 0, "restarts": 0, "resumes": 0,
                  "attempts": []}
        resume = False
        resumed_step = 0
        while True:
            plan = Plan(None) if record["interruptions"] >= budget else choose_plan(
                rng, ref, resumed_step, not resume, cached, n_eval_batches, args.kinds)
            if plan.kind == "cache-build":
                shutil.rmtree(cache / "encoder-cache", ignore_errors=True)  # so this attempt really builds it
            job = (TrainingJob(ref.profile, resume_from=run_dir) if resume else TrainingJob(ref.profile, run_dir))
            attempt = Attempt(job, plan)
            t0 = time.perf_counter()
            try:
                result = attempt.run(args.timeout)
            except TimeoutError as exc:
                failures.append(f"run {run_no}: {exc}")
                record["attempts"].append({"plan": plan.describe(), "error": str(exc)})
                return _summary(args, work, refs, interruptions, runs + [record], failures, started, hung=True)
            attempt._ended = time.perf_counter()
            info = {"plan": plan.describe(), "resumed_from_step": resumed_step if resume else None,
                    "seconds": round(attempt._ended - t0, 2), "result": type(result).__name__}
            record["attempts"].append(info)
            late = attempt.cancelled_at is not None and isinstance(result, ev.RunFinished)
            if late:  # a timer that fired while final/ was being written: too late to cancel, the run finished
                info["late_cancel"] = attempt.cancel_phase
            if attempt.cancelled_at is None or late:
                if plan.kind is not None and not late:
                    info["unreached"] = True  # the planned point never came: the run went on to its end
                if not isinstance(result, ev.RunFinished):
                    failures.append(f"run {run_no}: an uninterrupted attempt ended with {result}")
                    break
                left = leftovers(run_dir, cache)
                cmp = compare(ref, run_dir, args.tolerance)
                if left:
                    cmp["problems"].append("left behind after finishing: " + ", ".join(left))
                cmp["leftovers"] = left
                record.update(cmp)
                for problem in cmp["problems"]:
                    failures.append(f"run {run_no} ({variant}): {problem}")
                break
            total += 1
            record["interruptions"] += 1
            problems, notes, left = check_cancelled(attempt, result, run_dir, cache)
            entry = {"run": run_no, "variant": variant, "kind": plan.kind, "plan": plan.describe(),
                     "where": attempt.cancel_phase, "phase": attempt.cancel_phase_name,
                     "step_at_cancel": attempt.cancel_step,
                     "result": type(result).__name__,
                     "checkpoint": getattr(result, "checkpoint_dir", None) and Path(result.checkpoint_dir).name,
                     "steps_after": attempt.steps_after, "eval_batches_after": attempt.eval_batches_after,
                     "cache_built_after": attempt.cache_built_after, "latency_s": round(attempt.latency, 3),
                     "problems": problems, "notes": notes, "leftovers": left}
            interruptions.append(entry)
            info.update(where=attempt.cancel_phase, problems=problems, notes=notes)
            for problem in problems:
                failures.append(f"run {run_no} ({variant}), interruption '{plan.describe()}': {problem}")
            if problems and args.stop_on_failure:
                break
            from whisper_tui.training.run_folder import RunFolder

            done = RunFolder(run_dir).complete_checkpoints()
            if done:
                resume = True
                resumed_step = int(done[-1].name.rsplit("-", 1)[-1])
                record["resumes"] += 1
            else:  # cancelled before the first checkpoint: nothing to resume, start again elsewhere
                try:
                    TrainingJob(ref.profile, resume_from=run_dir)
                    failures.append(f"run {run_no}: resuming a folder without a checkpoint was not refused")
                except RunFolderError:
                    pass
                folder_no += 1
                run_dir = work / "runs" / f"soak-{run_no:03d}-{variant}-{folder_no}"
                record["restarts"] += 1
                resume = False
                resumed_step = 0
        runs.append(record)
        idle = idle + 1 if record["interruptions"] == 0 else 0
        if idle >= 3:
            failures.append(f"three runs in a row drew no interruption point from --kinds {args.kinds}")
            break
        print(f"run {run_no} ({variant}): {record['interruptions']} interruption(s) "
              f"[{'; '.join(a['plan'] + (' -> ' + a['where'] if a.get('where') else '') for a in record['attempts'])}]"
              f" max|dloss| {_fmt(record.get('max_dloss'))} (first at step {record.get('first_loss_diff_step')})"
              f" max|dw| {_fmt(record.get('max_dweight_final'))}"
              f"{'  PROBLEMS: ' + '; '.join(record.get('problems', [])) if record.get('problems') else ''}"
              f"  (total {total}/{args.interruptions})", file=sys.stderr)
    return _summary(args, work, refs, interruptions, runs, failures, started)


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.2e}"


def _summary(args, work, refs, interruptions, runs, failures, started, hung: bool = False) -> dict:
    by_kind: dict = defaultdict(list)
    for entry in interruptions:
        by_kind[entry["kind"]].append(entry)
    finished = [r for r in runs if "max_dloss" in r]

    def worst(key):
        values = [r[key] for r in finished if r.get(key) is not None]
        return max(values) if values else None

    notes = Counter(n for e in interruptions for n in e["notes"])
    run_notes = Counter(n for r in finished for n in r.get("notes", []))
    unreached = Counter(a["plan"].split()[0] for r in runs for a in r["attempts"] if a.get("unreached"))
    return {
        "interruptions": len(interruptions),
        "target": args.interruptions,
        "runs": len(runs),
        "finished_runs": len(finished),
        "resumes": sum(r["resumes"] for r in runs),
        "restarts": sum(r["restarts"] for r in runs),
        "by_kind": {k: {"count": len(v),
                        "where": dict(Counter(e["phase"] for e in v)),
                        "max_steps_after": max(e["steps_after"] for e in v),
                        "max_eval_batches_after": max(e["eval_batches_after"] for e in v),
                        "cache_built_after": sum(e["cache_built_after"] for e in v),
                        "max_latency_s": max(e["latency_s"] for e in v),
                        "problems": sum(bool(e["problems"]) for e in v)}
                    for k, v in sorted(by_kind.items(), key=lambda kv: KINDS.index(kv[0]))},
        "max_dloss": worst("max_dloss"),
        "max_dweight_final": worst("max_dweight_final"),
        "max_dweight_best": worst("max_dweight_best"),
        "max_dwer": worst("max_dwer"),
        "max_deval_loss": worst("max_deval_loss"),
        "extra_evals": sum(r.get("extra_evals", 0) for r in finished),
        "leftovers_found": sum(bool(e["leftovers"]) for e in interruptions)
        + sum(bool(r.get("leftovers")) for r in finished),
        "leftovers_by_kind": dict(Counter(leftover_kind(item) for x in interruptions + finished
                                          for item in x.get("leftovers", []))),
        "unreached_points": dict(unreached),
        "notes": dict(notes + run_notes),
        "failures": failures,
        "hung": hung,
        "passed": not failures and not hung and len(interruptions) >= args.interruptions,
        "wall_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "references": {v: {"steps": r.total_steps, "eval_steps": r.eval_steps, "best_steps": r.best_steps,
                           "seconds": round(r.seconds, 1), "base_wer": r.status.get("base_wer"),
                           "best_wer": r.status.get("best_wer")} for v, r in refs.items()},
        "settings": {"seed": args.seed, "epochs": args.epochs, "clips": args.clips, "threads": args.threads,
                     "variants": args.variants, "max_per_run": args.max_per_run,
                     "overrides": args.overrides, "kinds": args.kinds, "tolerance": args.tolerance},
        "work": str(work),
        "interruption_log": interruptions,
        "run_log": runs,
    }


def print_report(summary: dict) -> None:
    rows = []
    for kind, k in summary["by_kind"].items():
        rows.append({"kind": kind, "count": k["count"],
                     "where": ", ".join(f"{w} {n}" for w, n in sorted(k["where"].items())),
                     "steps_after": k["max_steps_after"], "batches_after": k["max_eval_batches_after"],
                     "cache_after": k["cache_built_after"], "latency": k["max_latency_s"],
                     "problems": k["problems"]})
    print(format_table(rows, [("kind", "interrupted at", ""), ("count", "n", "d"),
                              ("where", "phase when cancelled", ""),
                              ("steps_after", "max steps after", "d"),
                              ("batches_after", "max eval batches after", "d"),
                              ("cache_after", "cache builds finished after", "d"),
                              ("latency", "max s to stop", ".2f"), ("problems", "failed checks", "d")]))
    print()
    s = summary
    total = [{"what": "interruptions", "value": f"{s['interruptions']} (target {s['target']})"},
             {"what": "runs (finished)", "value": f"{s['runs']} ({s['finished_runs']})"},
             {"what": "resumes / restarts without a checkpoint", "value": f"{s['resumes']} / {s['restarts']}"},
             {"what": "max |dloss| per step vs uninterrupted", "value": _fmt(s["max_dloss"])},
             {"what": "max |dweight| final/", "value": _fmt(s["max_dweight_final"])},
             {"what": "max |dweight| best/", "value": _fmt(s["max_dweight_best"])},
             {"what": "max |dWER| / |deval_loss| per eval",
              "value": f"{_fmt(s['max_dwer'])} / {_fmt(s['max_deval_loss'])}"},
             {"what": "extra evaluations (not in the reference)", "value": str(s["extra_evals"])},
             {"what": "checks that found leftovers", "value": f"{s['leftovers_found']} "
              + (json.dumps(s["leftovers_by_kind"]) if s["leftovers_by_kind"] else "")},
             {"what": "planned points never reached", "value": json.dumps(s["unreached_points"]) or "-"},
             {"what": "wall time", "value": f"{s['wall_s']:.0f}s (peak RSS {s['peak_rss_mb']:.0f} MB)"},
             {"what": "result", "value": "PASS" if s["passed"] else "FAIL"}]
    print(format_table(total, [("what", "soak", ""), ("value", "", "")]))
    for note, n in s["notes"].items():
        print(f"note ({n}x): {note}")
    for failure in s["failures"]:
        print(f"FAIL: {failure}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.soak_cancel", description=__doc__.splitlines()[0])
    p.add_argument("--interruptions", type=int, default=50, help="cancels to make in all (default 50)")
    p.add_argument("--seed", type=int, default=13, help="seed of the interruption points")
    p.add_argument("--variants", default="cached,specaugment",
                   help=f"comma-separated, runs alternate between them: {', '.join(VARIANTS)}")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--clips", type=int, default=12, help="tone clips (a quarter are test clips)")
    p.add_argument("--max-per-run", type=int, default=5, help="at most this many interruptions per run")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--timeout", type=float, default=600, help="seconds one attempt may take before it counts as hung")
    p.add_argument("--kinds", default=",".join(KINDS), help="interruption points to draw from (comma-separated)")
    p.add_argument("--tolerance", type=float, default=0.0,
                   help="largest |difference| allowed in losses and weights (default 0: bit-identical)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a profile setting over the soak's own, e.g. finetuning.lora.lora_dropout=0 (repeatable)")
    p.add_argument("--stop-on-failure", action="store_true")
    p.add_argument("--model", default=None, help="a local tiny Whisper folder (default: build one)")
    p.add_argument("--data", default=None, help="a dataset folder (default: tone clips)")
    p.add_argument("--workdir", default=None, help="keep the runs here (default: a temp folder, removed on success)")
    p.add_argument("--smoke", action="store_true",
                   help="2 interruptions, 3 epochs, one variant, one reference run, results under smoke/")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if [k for k in args.kinds if k not in KINDS]:
        p.error(f"unknown kind(s) {[k for k in args.kinds if k not in KINDS]}; choose from {KINDS}")
    args.overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            args.overrides[key.strip()] = json.loads(value)
        except ValueError:
            args.overrides[key.strip()] = value
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    if args.smoke:
        args.interruptions = min(args.interruptions, 2)
        args.epochs = min(args.epochs, 3)
        args.clips = min(args.clips, 8)
        args.variants = args.variants[:1]
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (conftest.py says why)
    info = machine_info()
    with restored_env(("WHISPER_TUI_CACHE_DIR", "WHISPER_TUI_CONFIG_DIR", "WHISPER_TUI_DATA_DIR",
                       "WHISPER_TUI_THREADS")):
        summary = soak(args)
    summary["machine"] = info
    try:
        summary["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    print_report(summary)
    target = write_json("soak_cancel", summary, smoke=args.smoke, path=args.out)
    print(f"\nwrote {target}")
    if summary["passed"] and not args.workdir:
        shutil.rmtree(summary["work"], ignore_errors=True)
    elif not summary["passed"]:
        print(f"runs kept in {summary['work']}", file=sys.stderr)
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
