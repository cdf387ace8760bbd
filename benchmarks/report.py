"""Markdown tables from benchmarks/results/*.json, for pasting into RESULTS.md after a new run.

    python -m benchmarks.report
"""

from __future__ import annotations

import json
import sys

from .common import RESULTS_DIR


def _md(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def _f(value, spec=".2f") -> str:
    return "-" if value is None else format(value, spec)


def train_table(d: dict) -> str:
    rows = [["variant", "threads", "epoch 1 samples/s", "later epochs samples/s", "later samples per CPU-s",
             "training wall s", "peak RSS MB", "WER before", "WER after"]]
    for r in d["runs"]:
        rows.append([r["variant"], str(r.get("threads", "-")), _f(r.get("epoch1_samples_per_s")),
                     _f(r.get("later_samples_per_s")), _f(r.get("later_samples_per_cpu_s")), _f(r.get("train_s"), ".0f"),
                     _f(r.get("peak_rss_mb"), ".0f"), _f(r.get("base_wer"), ".3f"), _f(r.get("tuned_wer"), ".3f")])
    return _md(rows)


def quality_table(d: dict) -> str:
    rows = [["run", "epochs", "seconds used", "test WER", "known voices", "new voices", "real speech", "jfk.flac"]]
    for r in d["rows"]:
        jfk = "-" if r.get("jfk_wer") is None else ("word for word" if r["jfk_wer"] == 0 else _f(r["jfk_wer"], ".2f"))
        rows.append([r["run"], _f(r.get("epochs"), ".1f"), _f(r.get("train_s"), ".0f"), _f(r.get("wer"), ".3f"),
                     _f(r.get("wer_known"), ".3f"), _f(r.get("wer_new"), ".3f"), _f(r.get("real_wer"), ".3f"), jfk])
    return _md(rows)


def transcribe_table(d: dict) -> str:
    rows = [["variant", "audio-s/s (best round)", "audio-s/s (median)", "x faster-whisper int8", "WER", "peak RSS MB"]]
    for r in d["rows"]:
        if r.get("error"):
            rows.append([r["variant"], "cannot run: " + r["error"][:90], "-", "-", "-", "-"])
            continue
        rows.append([r["variant"], _f(r.get("audio_s_per_s")), _f(r.get("median")), _f(r.get("vs_fw_int8")),
                     _f(r.get("wer"), ".3f"), _f(r.get("rss"), ".0f")])
    table = _md(rows)
    summary = d.get("summary") or {}
    if summary:
        table += "\n\n" + "\n".join(f"- {label}: {_f(value)}x" for label, value in summary.items())
    return table


def startup_table(d: dict) -> str:
    rows = [["measurement", "median s", "min s", "heavy modules loaded"]]
    for r in d["rows"]:
        rows.append([r["measurement"], _f(r["median_s"], ".3f"), _f(r["min_s"], ".3f"), r["heavy"]])
    return _md(rows)


def main(argv: list[str] | None = None) -> int:
    for name, fn in [("bench_train", train_table), ("bench_quality", quality_table),
                     ("bench_transcribe", transcribe_table), ("bench_startup", startup_table)]:
        path = RESULTS_DIR / f"{name}.json"
        if not path.exists():
            print(f"## {name}: no results yet ({path})\n")
            continue
        data = json.loads(path.read_text())
        m = data.get("machine", {})
        print(f"## {name}\n")
        print(f"{m.get('cpu', '?')}, {m.get('cpus', '?')} CPUs, {m.get('ram_gb', '?')} GB RAM, torch {m.get('torch', '?')}, "
              f"load average at start {m.get('load_avg_at_start', '?')}\n")
        print(fn(data))
        if name == "bench_train":
            s = data["summary"]
            print(f"\nlater epochs, engine / reference: {_f(s.get('later_speedup'))}x; "
                  f"engine / reference limited to 1 thread: {_f(s.get('later_speedup_vs_reference_thread_limited'))}x; "
                  f"epoch 1: {_f(s.get('epoch1_speedup'))}x; training wall time ratio: {_f(s.get('train_time_ratio'))}x")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
