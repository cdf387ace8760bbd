"""bench_transcribe: audio-seconds per second for folder transcription, whisper-tui vs faster-whisper vs HF.

    python -m benchmarks.bench_transcribe                  # 40 sample clips (3-6 s each), 2 rounds
    python -m benchmarks.bench_transcribe --smoke --clips 4 --rounds 1

Same model for every row: the bundled tiny.en (a CTranslate2 folder; transformers rows use its
converted copy). Greedy decoding (beam 1) everywhere. Rows:
- whisper-tui ct2: `Transcriber(backend="ct2")`, CTranslate2 int8, batches of 8 across files;
- whisper-tui torch: `Transcriber()` (transformers, fp32), batches of 8;
- faster-whisper int8 / fp32: `WhisperModel.transcribe` file by file with its fastest settings
  for short clips (beam 1, no timestamps, no temperature fallback, no VAD);
- HF generate 1 by 1: plain `model.generate` per clip, the seed tool's inference.
Each timed pass covers reading the audio, features, decoding and text; model loading and one
warm-up clip are not timed. Variants run in fresh processes, interleaved over rounds; the best
round counts (least disturbed by other load), and every round is kept in the JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from .common import format_table, machine_info, peak_rss_mb, ratio, run_variant, sample_data_dir, write_json

VARIANTS = ["whisper-tui ct2 int8", "whisper-tui torch", "faster-whisper int8", "faster-whisper fp32",
            "HF generate 1 by 1"]


def _clips(data: str, n: int):
    from whisper_tui.dataset import read_metadata

    clips, _problems = read_metadata(data)
    return clips[:n]


def _transcribe_all(variant: str, model: str, paths: list[Path]):
    """(function that transcribes `paths` -> texts, description)."""
    if variant.startswith("whisper-tui"):
        from whisper_tui.transcribe import Transcriber

        backend = "ct2" if "ct2" in variant else "torch"
        t = Transcriber(model, device="cpu", batch_size=8, backend=backend)
        return lambda ps: [r.text for r in t.transcribe_files(ps)]
    if variant.startswith("faster-whisper"):
        from faster_whisper import WhisperModel

        from whisper_tui.transcribe import ct2_folder_for

        fw = WhisperModel(str(ct2_folder_for(model)), device="cpu",
                          compute_type="int8" if "int8" in variant else "float32")

        def run(ps):
            out = []
            for p in ps:
                segments, _info = fw.transcribe(str(p), beam_size=1, language="en", without_timestamps=True,
                                                temperature=0.0, condition_on_previous_text=False, vad_filter=False)
                out.append(" ".join(s.text.strip() for s in segments))
            return out
        return run
    import torch

    from whisper_tui.audio import load_audio
    from whisper_tui.models import load_model

    hf, processor = load_model(model, device="cpu")
    hf.eval()

    def one_by_one(ps):
        out = []
        for p in ps:
            feats = processor.feature_extractor(load_audio(p), sampling_rate=16000, return_tensors="pt").input_features
            with torch.inference_mode():
                ids = hf.generate(input_features=feats, num_beams=1)
            out.append(processor.tokenizer.batch_decode(ids, skip_special_tokens=True)[0].strip())
        return out
    return one_by_one


def run_one(args) -> dict:
    from whisper_tui.audio import audio_info
    from whisper_tui.metrics import error_rates
    from whisper_tui.quiet import quiet_libraries

    quiet_libraries()
    clips = _clips(args.data, args.clips)
    paths = [Path(c.path) for c in clips]
    transcribe = _transcribe_all(args.variant, args.model, paths)
    transcribe(paths[:1])  # warm-up: first-call allocations, lazy imports
    started = time.perf_counter()
    texts = transcribe(paths)
    elapsed = time.perf_counter() - started
    audio_s = sum(audio_info(p).duration_s for p in paths)
    wer, _cer = error_rates([c.transcription for c in clips], texts)
    return {"audio_s": audio_s, "elapsed_s": elapsed, "audio_s_per_s": audio_s / elapsed, "wer": wer,
            "peak_rss_mb": peak_rss_mb(), "clips": len(paths), "example": texts[0] if texts else ""}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_transcribe", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny.en")
    p.add_argument("--data", default=None, help="folder with metadata.csv (default: the generated sample data)")
    p.add_argument("--clips", type=int, default=40)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of: " + ", ".join(VARIANTS))
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--out", default=None)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--json-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.data = args.data or str(sample_data_dir())
    if args.variant:
        Path(args.json_out).write_text(json.dumps(run_one(args)))
        return 0
    if args.smoke:
        args.rounds = 1
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s): {unknown}")
    info = machine_info()
    rounds: list[dict] = []
    for r in range(args.rounds):
        order = variants if r % 2 == 0 else list(reversed(variants))
        for v in order:
            print(f"  round {r + 1}: {v}", file=sys.stderr)
            res = run_variant("benchmarks.bench_transcribe", ["--variant", v, "--model", args.model, "--data",
                                                              args.data, "--clips", str(args.clips)])
            res.update({"variant": v, "round": r + 1})
            rounds.append(res)
    best = {}
    for v in variants:
        mine = [x for x in rounds if x["variant"] == v]
        top = max(mine, key=lambda x: x["audio_s_per_s"])
        best[v] = {**top, "median_audio_s_per_s": statistics.median(x["audio_s_per_s"] for x in mine)}
    fw8 = best.get("faster-whisper int8", {}).get("audio_s_per_s")
    rows = []
    for v in variants:
        b = best[v]
        rows.append({"variant": v, "audio_s_per_s": b["audio_s_per_s"], "median": b["median_audio_s_per_s"],
                     "vs_fw_int8": ratio(b["audio_s_per_s"], fw8), "wer": b["wer"], "rss": b["peak_rss_mb"]})
    print(format_table(rows, [("variant", "variant", ""), ("audio_s_per_s", "audio-s/s (best)", ".2f"),
                              ("median", "audio-s/s (median)", ".2f"), ("vs_fw_int8", "x faster-whisper int8", ".2f"),
                              ("wer", "WER", ".3f"), ("rss", "peak RSS MB", ".0f")]))
    audio = rounds[0]["audio_s"] if rounds else 0
    print(f"{len(_clips(args.data, args.clips))} clips, {audio:.1f} s of audio, {args.rounds} round(s)")
    data = {"benchmark": "bench_transcribe", "machine": info, "model": args.model, "data": args.data,
            "clips": args.clips, "rows": rows, "rounds": rounds}
    path = write_json("bench_transcribe", data, smoke=args.smoke, path=args.out)
    print(f"results: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
