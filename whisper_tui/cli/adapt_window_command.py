"""`whisper-tui adapt-window AUDIO_DIR --model M --output O`: the headless face of
`training.adapt_window` (progress bars, Ctrl+C, the table at the end).

Ctrl+C stops at the next step boundary (the file being labelled, a training checkpoint, a window
being measured): what is done stays in O and the same command continues (exit 130); a second
Ctrl+C stops at once.
"""

from __future__ import annotations

import json
import math

from whisper_tui.cli.console import ProgressBar, TrainingPrinter, say, stop_on_ctrl_c
from whisper_tui.errors import ProfileError
from whisper_tui.exit_codes import EXIT_CANCELLED, EXIT_OK


def add_parser(sub) -> None:
    from whisper_tui.training.adapt_window.settings import DEFAULT_WINDOWS, STRATEGIES

    a = sub.add_parser("adapt-window", help="make a model fast on short clips without any transcript: it learns "
                                            "shorter windows from its own 30 s transcripts of your recordings")
    a.add_argument("audio_dir", help="folder of unlabelled recordings (any length; sub-folders too); "
                                     "a few minutes of speech or more")
    a.add_argument("--model", default="tiny.en", help="the model to adapt: tiny.en (bundled), a run folder, a model "
                                                      "folder (it is its own teacher)")
    a.add_argument("--output", required=True, help="folder for the adapted model (new, empty, or an earlier "
                                                   "adapt-window output to continue); usable as --model afterwards")
    a.add_argument("--strategy", choices=list(STRATEGIES), default="lora",
                   help="lora (default: adapters, merged into a full model at the end) or full (every weight)")
    a.add_argument("--windows", default=",".join(map(str, DEFAULT_WINDOWS)), metavar="S,S,...",
                   help="windows in seconds the model will run at; the longest must be the model's own (30), "
                        "which keeps long clips as they were and the faster-whisper export "
                        f"(default {','.join(map(str, DEFAULT_WINDOWS))})")
    a.add_argument("--held-out", type=float, default=0.2, metavar="SHARE",
                   help="share of the recordings (by file) never adapted on, to measure the result (default 0.2)")
    a.add_argument("--seed", type=int, default=42, help="seed of the held-out choice (same seed, same files)")
    a.add_argument("--budget", default=None, metavar="TIME",
                   help="training time budget, e.g. 5m (default: the cpu-quick profile's)")
    a.add_argument("--backend", choices=["ct2", "torch"], default=None,
                   help="the teacher's: ct2 = CTranslate2 (default when installed), torch = transformers")
    a.add_argument("--min-confidence", type=float, default=None, metavar="P",
                   help="leave out teacher rows whose mean token probability is under P (default: the labeller's "
                        "own unsure line, 0.5)")
    a.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any key of the training profile, e.g. --set training.learning_rate=5e-4")
    a.add_argument("--no-base-eval", action="store_true", help="skip the training run's own evaluation before it "
                                                               "starts (the before/after table is measured anyway)")
    a.add_argument("--json", action="store_true", help="print the report (adapt_window.json) instead of the table")
    a.add_argument("--quiet", action="store_true", help="fewer training lines")


def _windows(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.replace(" ", ",").split(",") if p)
    except ValueError as exc:
        raise ProfileError(f"--windows {text}: whole seconds separated by commas expected",
                           "e.g. --windows 10,20,30", where="model.windows") from exc


def _settings(args):
    from whisper_tui.cli.profile_flags import duration_seconds, set_overrides
    from whisper_tui.training.adapt_window import AdaptSettings

    budget = None if args.budget is None else duration_seconds(args.budget, "--budget", "training.budget_s")
    overrides = set_overrides(args.set)
    return AdaptSettings(windows=_windows(args.windows), strategy=args.strategy, held_out=args.held_out,
                         seed=args.seed, budget_s=budget, backend=args.backend,
                         min_confidence=args.min_confidence,
                         overrides=overrides, evaluate_base=not args.no_base_eval)


def cmd_adapt_window(args) -> int:
    from whisper_tui.system.quiet import quiet_libraries
    from whisper_tui.training.adapt_window import adapt_window

    quiet_libraries()
    settings = _settings(args)
    bars: dict[str, ProgressBar] = {}

    def on_label(side, p) -> None:
        bar = bars.get(side)
        if bar is None:
            bar = bars[side] = ProgressBar(f"teacher ({side.replace('_', '-')})", max(1, math.ceil(p.total_s)))
        bar.update(int(p.done_s), f"s of audio · file {min(p.files_done + 1, p.files_total)}/{p.files_total}")

    def on_measure(which, done, total) -> None:
        bar = bars.get(which)
        if bar is None:
            bar = bars[which] = ProgressBar(f"measure {which}", total, remaining=False)
        bar.update(done, "windows")

    try:
        with stop_on_ctrl_c("stopping at the next step: what is done is kept in the output folder, the same "
                            "command continues") as stop:
            report = adapt_window(args.audio_dir, args.model, args.output, settings, log=lambda m: say(m, err=True),
                                  on_label_progress=on_label, on_measure=on_measure,
                                  listeners=[TrainingPrinter(quiet=args.quiet)], should_stop=stop.is_set)
    finally:
        for bar in bars.values():
            bar.close()
    if args.json:
        say(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        say(report.summary())
    return EXIT_CANCELLED if report.stopped else EXIT_OK
