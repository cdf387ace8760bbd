"""Cue-start error of timed transcripts (issue 25): 8 held-out clips joined with pauses into one recording.

The true sentence starts are known (each clip's offset, plus where its sound begins); each is matched with
the nearest SRT cue start of `transcribe --format srt`'s segments (inference/timed.py). Target: >= 7 of 8
within 0.6 s, for tiny.en and for a fine-tune (--model RUN/final).

    .venv/bin/python -m benchmarks.bench_timestamps [--model tiny.en] [--pause 1.5]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from benchmarks.common import heldout_data_dir, machine_info, write_json

TOLERANCE_S = 0.6


def build_recording(n: int = 8, pause_s: float = 1.5) -> tuple[np.ndarray, list[float]]:
    from whisper_tui.data.audio import SAMPLE_RATE, load_audio
    from whisper_tui.data.energy import frame_db, pause_level, loud_span
    from whisper_tui.inference.transcribe import list_audio_files

    files = sorted(list_audio_files(heldout_data_dir()))[:n]
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


def snap_to_sound(segments, wave, within_s: float = 1.5) -> list[float]:
    """Each cue start moved to the first loud moment within `within_s` after it (an experiment: tiny.en writes
    whole-second timestamps here, <|0.00|> before a 1.7 s lead-in)."""
    from whisper_tui.data.energy import frame_db, loud_span, pause_level

    db = frame_db(wave)
    level = pause_level(db)
    out = []
    for s in segments:
        span = loud_span(db, s.start, min(s.end, s.start + within_s), level)
        out.append(round(span[0], 2) if span else s.start)
    return out


def main(argv=None) -> int:
    from whisper_tui.inference.timed import transcribe_segments
    from whisper_tui.inference.transcribe import CT2Whisper

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--pause", type=float, default=1.5)
    args = ap.parse_args(argv)
    wave, truth = build_recording(pause_s=args.pause)
    load = os.getloadavg()
    t = time.perf_counter()
    segments = transcribe_segments(CT2Whisper(args.model), wave)
    elapsed = time.perf_counter() - t
    cues = [s.start for s in segments]
    errors = [min(abs(c - s) for c in cues) if cues else None for s in truth]
    hits = sum(e is not None and e <= TOLERANCE_S for e in errors)
    snapped = snap_to_sound(segments, wave)
    snap_errors = [min(abs(c - s) for c in snapped) if snapped else None for s in truth]
    snap_hits = sum(e is not None and e <= TOLERANCE_S for e in snap_errors)
    result = {"model": args.model, "recording_s": round(len(wave) / 16000, 1), "true_starts": truth,
              "cue_starts": cues, "errors_s": [round(float(e), 2) for e in errors], "within_0.6s": hits,
              "target_met": hits >= 7,
              "snapped_cue_starts": snapped, "snapped_errors_s": [round(float(e), 2) for e in snap_errors],
              "snapped_within_0.6s": snap_hits, "elapsed_s": round(elapsed, 1), "load_before": load,
              "load_after": os.getloadavg(), "machine": machine_info()}
    print(f"{args.model}: {hits}/8 cue starts within {TOLERANCE_S} s; errors {result['errors_s']}; "
          f"snapped to the first sound: {snap_hits}/8 {result['snapped_errors_s']}; {result['recording_s']} s in {elapsed:.1f} s; load {load[0]:.2f}")
    write_json(f"bench_timestamps_{args.model.replace('/', '_')}", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
