"""bench_keypress: key press to repaint on the Dashboard while a run trains (target: median <= 100 ms).

    python -m benchmarks.bench_keypress              # 8 rounds of 6 keys, 80x24
    python -m benchmarks.bench_keypress --smoke      # 2 rounds, for CI

The whole app (`WhisperTuiApp`) runs in Textual's headless driver with a real training run in its
background thread: a tiny random Whisper (`whisper_tui.models.random_whisper`) fine-tuned on synthetic clips
by the engine's `TrainingJob`, started the way Train setup starts one (`app.start_training`), with
enough epochs to train for the whole measurement. The keys are ones that change what is drawn:
`l` (focus the log panel), `home` / `end` (scroll the log; Textual animates the scroll, and its first
frame counts), `tab` (focus moves on), `1` (the Dataset screen) and `3` (back to the Dashboard, which
redraws every panel on resume).

How a latency is measured. t0: the app receives the key event (`App.on_event`, before any binding
or widget sees it). t1: the end of the first screen update that shows the key's effect. Textual
repaints through `Screen._compositor_refresh`, which hands the compositor's update to
`App._display`; the headless driver skips writing it, so this benchmark's `_display` renders the
update to terminal bytes (`CompositorUpdate.render_segments`), as a real terminal would get, and then
checks the key's effect on the state being drawn (focus on the log, the log's scroll offset, the
screen on top). Updates caused by something else (the training thread's messages, the 3 Hz
dashboard redraw) do not count until the key's effect is in them, so t1 - t0 is what a user
waits between pressing the key and seeing its result, including the time the UI thread shares
with training (the GIL). A key not shown within `--timeout` seconds counts as a miss.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from whisper_tui.models.random_whisper import build_random_whisper

from .common import machine_info, write_json

TARGET_MEDIAN_S = 0.100
KEYS = ("l", "home", "end", "tab", "1", "3")


def make_tone_dataset(folder: Path, n_clips: int = 24) -> Path:
    """Synthetic clips (tones + noise) with transcripts: enough for the trainer to run, not to learn."""
    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    words = ["one two", "three four", "five six", "seven eight", "nine ten", "eleven twelve"]
    rows = ["file_name,transcription"]
    for index in range(n_clips):
        t = np.arange(int(16000 * 0.8)) / 16000
        wave = 0.3 * np.sin(2 * np.pi * (220 + 40 * index) * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(folder / f"clip{index}.wav", wave.astype("float32"), 16000)
        rows.append(f"clip{index}.wav,{words[index % len(words)]}")
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    return folder


def training_profile(model: Path, data: Path):
    from whisper_tui.config.profile import apply_overrides, load_profile

    return apply_overrides(load_profile("cpu-quick"), {
        "model.name": str(model), "data.train_dir": str(data), "data.test_split": 0.25,
        "data.keep_set": False, "finetuning.strategy": "full", "finetuning.freeze_encoder": False,
        "finetuning.encoder_cache": False, "training.num_train_epochs": 500, "training.max_steps": 100000,
        "training.per_device_train_batch_size": 2, "training.per_device_eval_batch_size": 2,
        "training.learning_rate": 1e-4, "training.generation_max_length": 8, "training.eval_strategy": "steps",
        "training.eval_steps": 20, "training.logging_steps": 1, "training.augment_views": 0})


def bench_app_class():
    """WhisperTuiApp that notes when a key arrives and when a screen update showing its effect is drawn."""
    from textual import events
    from textual._compositor import CompositorUpdate

    from screens.app import WhisperTuiApp

    class KeypressApp(WhisperTuiApp):
        def __init__(self) -> None:
            super().__init__()
            self.key_at: float | None = None
            self.shown_at: float | None = None
            self.shown = None  # () -> bool: is the key's effect in the state being drawn?

        async def on_event(self, event: events.Event) -> None:
            if isinstance(event, events.Key) and not event.is_forwarded and self.shown is not None:
                self.key_at = time.perf_counter()
            await super().on_event(event)

        def _display(self, screen, renderable) -> None:
            super()._display(screen, renderable)
            if isinstance(renderable, CompositorUpdate) and self.is_headless:
                renderable.render_segments(self.console)  # the bytes a terminal would be sent
            if self.key_at is not None and self.shown_at is None and self.shown is not None and self.shown():
                self.shown_at = time.perf_counter()

    return KeypressApp


def effect_of(app, key: str):
    """A predicate that is true once the screen being drawn shows what `key` does."""
    dash = app.mode_screen("dashboard")
    log = dash.query_one("#dash-log")
    focused_before = app.focused
    if key == "l":
        return lambda: app.screen is dash and dash.focused is log
    scrolled_from = log.scroll_y  # the scroll is animated: its first frame is the key's first visible effect
    if key == "home":
        return lambda: log.scroll_y < scrolled_from
    if key == "end":
        return lambda: log.scroll_y > scrolled_from
    if key == "tab":
        return lambda: app.screen is dash and dash.focused is not focused_before
    if key == "1":
        return lambda: app.current_mode == "dataset" and app.screen is app.mode_screen("dataset")
    if key == "3":
        return lambda: app.current_mode == "dashboard" and app.screen is dash
    raise ValueError(key)


async def measure(rounds: int, size: tuple[int, int], timeout: float, work: Path) -> dict:
    model = build_random_whisper(work / "model")
    data = make_tone_dataset(work / "data")
    profile = training_profile(model, data)
    app = bench_app_class()()
    samples: dict[str, list[float]] = {key: [] for key in KEYS}
    misses: dict[str, int] = {key: 0 for key in KEYS}
    steps_at_start = steps_at_end = None
    async with app.run_test(size=size) as pilot:
        await app.start_training(profile, output_dir=work / "run")
        dash = app.mode_screen("dashboard")
        deadline = time.monotonic() + 300
        while (dash.state.last_step is None or dash.state.last_step.step < 5) and time.monotonic() < deadline:
            await pilot.pause(0.2)  # model loaded, base evaluation done, steps coming in
        if dash.state.last_step is None:
            raise RuntimeError(f"the run never started training: {dash.state.phase} {dash.state.failed}")
        steps_at_start = dash.state.last_step.step
        log = dash.query_one("#dash-log")
        for _ in range(40):  # the log must be taller than its panel for home/end to scroll it
            if log.max_scroll_y > 0:
                break
            await pilot.pause(0.25)
        for _ in range(rounds):
            for key in KEYS:
                app.key_at = app.shown_at = None
                app.shown = effect_of(app, key)
                await pilot.press(key)
                waited = time.monotonic() + timeout
                while app.shown_at is None and time.monotonic() < waited:
                    await asyncio.sleep(0.002)
                if app.shown_at is None or app.key_at is None:
                    misses[key] += 1
                else:
                    samples[key].append(app.shown_at - app.key_at)
                app.shown = None
                await pilot.pause(0.15)  # a person does not type faster than this between these keys
        steps_at_end = dash.state.last_step.step if dash.state.last_step else None
        still_training = dash.training_active
        dash.cancel_run()
        job = dash.job
        if job is not None:
            await asyncio.to_thread(job.wait, 120)
    return {"samples": samples, "misses": misses, "steps_during": (steps_at_end or 0) - (steps_at_start or 0),
            "trained_throughout": still_training}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_keypress", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=8, help="each round presses every key once")
    p.add_argument("--size", default="80x24", help="terminal size, COLUMNSxROWS")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds before a key counts as never shown")
    p.add_argument("--smoke", action="store_true", help="2 rounds, results under smoke/")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    rounds = 2 if args.smoke else args.rounds
    columns, rows = (int(n) for n in args.size.lower().split("x"))
    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-keypress-") as tmp:
        work = Path(tmp)
        for name in ("CONFIG", "DATA", "CACHE"):  # the user's profiles, runs and caches stay untouched
            (work / name.lower()).mkdir()
            os.environ[f"WHISPER_TUI_{name}_DIR"] = str(work / name.lower())
        result = asyncio.run(measure(rounds, (columns, rows), args.timeout, work))
    all_values = [v for values in result["samples"].values() for v in values]
    if not all_values:
        print("no key press was ever shown", file=sys.stderr)
        return 1
    median, p90 = statistics.median(all_values), percentile(all_values, 0.9)
    print(f"{'key':<6} {'n':>3} {'median ms':>10} {'p90 ms':>8} {'max ms':>8} {'missed':>6}")
    per_key = {}
    for key in KEYS:
        values = result["samples"][key]
        if values:
            per_key[key] = {"n": len(values), "median_s": statistics.median(values),
                            "p90_s": percentile(values, 0.9), "max_s": max(values), "missed": result["misses"][key]}
            print(f"{key:<6} {len(values):>3} {1000 * per_key[key]['median_s']:>10.1f} "
                  f"{1000 * per_key[key]['p90_s']:>8.1f} {1000 * max(values):>8.1f} {result['misses'][key]:>6}")
        else:
            per_key[key] = {"n": 0, "missed": result["misses"][key]}
            print(f"{key:<6} {0:>3} {'-':>10} {'-':>8} {'-':>8} {result['misses'][key]:>6}")
    verdict = "PASS" if median <= TARGET_MEDIAN_S and not sum(result["misses"].values()) else "FAIL"
    print(f"all    {len(all_values):>3} {1000 * median:>10.1f} {1000 * p90:>8.1f}   target median <= "
          f"{1000 * TARGET_MEDIAN_S:.0f} ms: {verdict}; {result['steps_during']} training steps during the "
          f"measurement{'' if result['trained_throughout'] else ' (the run ended before the last key)'}")
    data = {"benchmark": "bench_keypress", "machine": info, "size": args.size, "rounds": rounds,
            "median_s": median, "p90_s": p90, "target_median_s": TARGET_MEDIAN_S, "verdict": verdict,
            "per_key": per_key, "samples": result["samples"], "steps_during": result["steps_during"],
            "trained_throughout": result["trained_throughout"], "load_avg_at_end": list(os.getloadavg())}
    path = write_json("bench_keypress", data, smoke=args.smoke, path=args.out)
    print(f"results: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
