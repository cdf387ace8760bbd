"""Word-start error of `transcribe --word-timestamps` on continuous speech, against eSpeak's own word times.

The recording is the 8 held-out sentences of bench_timestamps (the sample set's first 8 test-side clips, spoken
again with the same voice, rate and pitch, so eSpeak reports where each word starts: `tts.synthesize_words`),
joined with 1.5 s pauses. Each word the model writes is matched to a spoken word by its letters (difflib; a
misheard word is left out), and its start compared with the truth. Rows: the alignment path alone and the path
fitted to the audio (word_times.fit_words, what the CLI writes), on ct2 and torch.

    .venv/bin/python -m benchmarks.bench_word_times [--model tiny.en] [--out PATH]
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import statistics
import time

import numpy as np

from benchmarks.common import format_table, machine_info, write_json

PAUSE_S = 1.5


def build_recording(n: int = 8) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """(wave, [(spoken word, true start s)]) of the first `n` held-out sentences."""
    from whisper_tui.data.sample_data import plan_sample_dataset
    from whisper_tui.data.tts import synthesize_words
    from whisper_tui.whisper_facts import SAMPLE_RATE

    items = sorted((i for i in plan_sample_dataset() if i["split"] == "test"), key=lambda i: i["file_name"])[:n]
    pause = np.zeros(int(PAUSE_S * SAMPLE_RATE), np.float32)
    parts, truth, offset = [pause], [], PAUSE_S
    for item in items:
        wave, words = synthesize_words(item["spoken"], item["voice"], item["rate_wpm"], item["pitch"])
        truth += [(w, round(offset + t, 3)) for w, t in words]
        parts += [wave, pause]
        offset += len(wave) / SAMPLE_RATE + PAUSE_S
    wave = np.concatenate(parts)
    noise = np.random.default_rng(0).standard_normal(len(wave)).astype(np.float32)
    return (wave + 0.002 * noise).astype(np.float32), truth


def _letters(word: str) -> str:
    return re.sub(r"[^a-z0-9]", "", word.lower())


def start_errors(words, truth) -> list[float]:
    """start - true start (s) of every written word matched to a spoken one."""
    blocks = difflib.SequenceMatcher(a=[_letters(w.text) for w in words], b=[_letters(w) for w, _ in truth],
                                     autojunk=False).get_matching_blocks()
    return [words[b.a + k].start - truth[b.b + k][1] for b in blocks for k in range(b.size)]


def figures(errors: list[float], spoken: int) -> dict:
    signed = np.array(errors) if errors else np.array([np.nan])
    e = np.abs(signed)
    return {"matched": len(errors), "spoken": spoken, "median_s": round(float(np.median(e)), 3),
            "bias_s": round(float(np.median(signed)), 3),
            "p90_s": round(float(np.percentile(e, 90)), 3),
            **{f"within_{t}": round(float(np.mean(e <= t)), 3) for t in (0.1, 0.2, 0.5)}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_word_times", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny.en")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    from whisper_tui.inference.timed import transcribe_segments
    from whisper_tui.inference.transcribe import Transcriber
    from whisper_tui.system.quiet import quiet_libraries

    quiet_libraries()
    wave, truth = build_recording()
    load = os.getloadavg()[0]
    rows = []
    for backend in ("ct2", "torch"):
        transcriber = Transcriber(args.model, backend=backend)
        for fit in (False, True):
            started = time.perf_counter()
            segments = transcribe_segments(transcriber, wave, words=True, fit_words=fit)
            seconds = time.perf_counter() - started
            words = [w for s in segments for w in s.words]
            rows.append({"backend": backend, "times": "path fitted to the audio" if fit else "alignment path alone",
                         **figures(start_errors(words, truth), len(truth)), "seconds": round(seconds, 2)})
    print(f"bench_word_times: {args.model}, {len(wave) / 16000:.1f} s recording, {len(truth)} spoken words, "
          f"load {load:.1f} -> {os.getloadavg()[0]:.1f}")
    print(format_table(rows, [("backend", "backend", ""), ("times", "word times", ""), ("matched", "matched", ""),
                              ("median_s", "median |error| s", ".3f"), ("bias_s", "median error s", "+.3f"),
                              ("p90_s", "p90 |error| s", ".3f"),
                              ("within_0.1", "<= 0.1 s", ".0%"), ("within_0.2", "<= 0.2 s", ".0%"),
                              ("within_0.5", "<= 0.5 s", ".0%"), ("seconds", "s (transcribe + align)", ".1f")]))
    print(f"median error over both backends, fitted: "
          f"{statistics.median([r['median_s'] for r in rows if 'fitted' in r['times']]):.3f} s")
    path = write_json("bench_word_times", {"benchmark": "bench_word_times", "machine": machine_info(),
                                           "model": args.model, "rows": rows, "truth": truth}, path=args.out)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
