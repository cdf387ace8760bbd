"""bench_transcribe: audio-seconds per second for folder transcription, whisper-tui vs faster-whisper vs HF.

    python -m benchmarks.bench_transcribe                  # the sample set's 36 held-out clips (3-6 s), 2 rounds
    python -m benchmarks.bench_transcribe --smoke --clips 4 --rounds 1

Clips: the sample set's test side (`common.heldout_data_dir`): sentence frames the fine-tunes never
trained on, half of them in voices they never heard, so fine-tuned rows are measured on audio they never saw. Greedy
decoding (beam 1) everywhere. Rows on OpenAI's tiny.en (the bundled CTranslate2 folder; transformers
rows use its converted copy):
- whisper-tui ct2 int8: `Transcriber(backend="ct2")`, CTranslate2 int8, batches of 8 across files;
- whisper-tui torch: `Transcriber()` (transformers, fp32), batches of 8;
- faster-whisper int8 / fp32: `WhisperModel.transcribe` file by file with its fastest settings
  for short clips (beam 1, no timestamps, no temperature fallback, no VAD);
- HF generate 1 by 1: plain `model.generate` per clip, the seed tool's inference.
Rows on fine-tunes made by this run (whisper-tui's cpu-quick profile on the sample training set,
identical but for the encoder window, model.window_s):
- "30 s fine-tune": the standard window, run by whisper-tui ct2 and by faster-whisper int8
  (same exported model: the engines compared on equal terms);
- "10 s fine-tune" (`--window`): a short-window fine-tune, whisper-tui ct2 and torch, and
  faster-whisper int8, which pads every segment to 30 s and so cannot run it (the row records why);
- "tiny.en cut to 10 s (no fine-tune)": the same window on OpenAI's weights as they are (what the
  window costs without training).
Each timed pass covers reading the audio, features, decoding and text; model loading and one
warm-up clip are not timed. Variants run in fresh processes, interleaved over rounds; the best
round counts (least disturbed by other load), and every round is kept in the JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .common import (format_table, heldout_data_dir, machine_info, peak_rss_mb, ratio, run_cli, run_variant,
                     sample_data_dir, write_json)

BASE_VARIANTS = ["whisper-tui ct2 int8", "whisper-tui torch", "faster-whisper int8", "faster-whisper fp32",
                 "HF generate 1 by 1"]
TUNED_FULL = "30 s fine-tune"


def tuned_short(window: int) -> str:
    return f"{window} s fine-tune"


def variant_names(window: int) -> list[str]:
    short = tuned_short(window)
    return [*BASE_VARIANTS, f"whisper-tui ct2 int8 on {TUNED_FULL}", f"faster-whisper int8 on {TUNED_FULL}",
            f"whisper-tui ct2 int8 on {short}", f"whisper-tui torch on {short}", f"faster-whisper int8 on {short}",
            f"whisper-tui ct2 int8 on {cut_untuned(window)}"]


def cut_untuned(window: int) -> str:
    return f"tiny.en cut to {window} s (no fine-tune)"


VARIANTS = variant_names(10)


def _clips(data: str, n: int):
    from whisper_tui.data.dataset import read_metadata

    clips, _problems = read_metadata(data)
    return clips[:n]


def _transcribe_all(variant: str, model: str, paths: list[Path]):
    """(function that transcribes `paths` -> texts, description)."""
    if variant.startswith("whisper-tui"):
        from whisper_tui.inference.transcribe import Transcriber

        backend = "ct2" if "ct2" in variant else "torch"
        t = Transcriber(model, device="cpu", batch_size=8, backend=backend)
        return lambda ps: [r.text for r in t.transcribe_files(ps)]
    if variant.startswith("faster-whisper"):
        from faster_whisper import WhisperModel

        from whisper_tui.inference.transcribe import ct2_folder_for

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

    from whisper_tui.data.audio import load_audio
    from whisper_tui.models.loading import load_model

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
    from whisper_tui.data.audio import audio_info
    from whisper_tui.inference.metrics import error_rates
    from whisper_tui.system.quiet import quiet_libraries

    quiet_libraries()
    clips = _clips(args.data, args.clips)
    paths = [Path(c.path) for c in clips]
    try:
        transcribe = _transcribe_all(args.variant, args.model, paths)
        transcribe(paths[:1])  # warm-up: first-call allocations, lazy imports
    except ValueError as exc:
        if not args.variant.startswith("faster-whisper"):
            raise
        # faster-whisper pads every segment to 3000 frames; CTranslate2 refuses that for a model
        # with a shorter position table ("expected an input with shape (1, 80, 1000)")
        return {"error": f"{type(exc).__name__}: {exc}", "peak_rss_mb": peak_rss_mb(), "clips": len(paths)}
    started = time.perf_counter()
    texts = transcribe(paths)
    elapsed = time.perf_counter() - started
    audio_s = sum(audio_info(p).duration_s for p in paths)
    wer, _cer = error_rates([c.transcription for c in clips], texts)
    return {"audio_s": audio_s, "elapsed_s": elapsed, "audio_s_per_s": audio_s / elapsed, "wer": wer,
            "peak_rss_mb": peak_rss_mb(), "clips": len(paths), "example": texts[0] if texts else ""}


def _train(args, window: int, out: Path) -> Path:
    """Fine-tune with the cpu-quick profile at `window` seconds; returns the final model folder.

    Not best/: the run picks best/ by WER on the sample set's test side, which is what this benchmark
    transcribes, so best/ would be chosen on the very clips it is measured on.
    """
    argv = ["train", "--profile", "cpu-quick", "--model", args.model, "--data", args.tune_data, "--output", str(out),
            "--set", f"model.window_s={window}", "--no-base-eval", "--quiet"]
    if args.tune_steps:
        argv += ["--max-steps", str(args.tune_steps)]
    print(f"  fine-tuning {args.model} at a {window} s window on {args.tune_data}", file=sys.stderr)
    code, took = run_cli(argv)
    if code != 0:
        raise RuntimeError(f"fine-tuning at a {window} s window failed (exit code {code})")
    print(f"  ... {took:.0f} s", file=sys.stderr)
    return out / "final"


def _cut(model: str, window: int, out: Path) -> Path:
    """`model` with its encoder window cut to `window` seconds and nothing retrained (what the window costs)."""
    from whisper_tui.models.export import save_whisper_folder
    from whisper_tui.models.loading import load_model
    from whisper_tui.models.window import apply_window

    m, processor = load_model(model, device="cpu")
    apply_window(m, processor, window)
    save_whisper_folder(m, processor, out)
    return out


def _models_for(args, variants: list[str], work: Path) -> dict[str, str]:
    short = tuned_short(args.window)
    models = {v: args.model for v in variants}
    cut = [v for v in variants if v.endswith(cut_untuned(args.window))]
    if cut:
        models.update({v: str(_cut(args.model, args.window, work / f"cut-{args.window}s")) for v in cut})
    for label, window in [(TUNED_FULL, 30), (short, args.window)]:
        mine = [v for v in variants if v.endswith(label)]
        if mine:
            tuned = str(_train(args, window, work / f"tuned-{window}s"))
            models.update({v: tuned for v in mine})
    return models


def _summary(best: dict, window: int) -> list[tuple[str, float | None]]:
    short = tuned_short(window)

    def speed(v):
        return best.get(v, {}).get("audio_s_per_s")

    return [
        ("whisper-tui ct2 / faster-whisper int8, both on tiny.en",
         ratio(speed("whisper-tui ct2 int8"), speed("faster-whisper int8"))),
        (f"whisper-tui ct2 on the {window} s fine-tune / faster-whisper int8 on tiny.en",
         ratio(speed(f"whisper-tui ct2 int8 on {short}"), speed("faster-whisper int8"))),
        (f"whisper-tui ct2 on the {window} s fine-tune / faster-whisper int8 on the 30 s fine-tune",
         ratio(speed(f"whisper-tui ct2 int8 on {short}"), speed(f"faster-whisper int8 on {TUNED_FULL}"))),
        ("whisper-tui ct2 / faster-whisper int8, both on the 30 s fine-tune",
         ratio(speed(f"whisper-tui ct2 int8 on {TUNED_FULL}"), speed(f"faster-whisper int8 on {TUNED_FULL}"))),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_transcribe", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny.en")
    p.add_argument("--data", default=None, help="folder with metadata.csv to transcribe (default: the sample set's "
                                                "36 held-out test clips; 'clear': everyday "
                                                "sentences, benchmarks/clear_speech.py)")
    p.add_argument("--tune-data", default=None, help="training data of the fine-tuned rows (default: the sample set)")
    p.add_argument("--window", type=int, default=10, help="encoder window of the short-window fine-tune (seconds)")
    p.add_argument("--tune-steps", type=int, default=0, help="cap the fine-tunes at this many steps (0 = profile)")
    p.add_argument("--clips", type=int, default=40)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--variants", default=None, help="comma-separated subset of: " + ", ".join(VARIANTS))
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--out", default=None)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--json-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.variant:
        Path(args.json_out).write_text(json.dumps(run_one(args)))
        return 0
    if args.data == "clear":
        from .clear_speech import clear_speech_dir

        args.data = str(clear_speech_dir())
    args.data = args.data or str(heldout_data_dir())
    args.tune_data = args.tune_data or str(sample_data_dir())
    if args.smoke:
        args.rounds = 1
    known = variant_names(args.window)
    variants = [v.strip() for v in (args.variants or ",".join(known)).split(",") if v.strip()]
    unknown = [v for v in variants if v not in known]
    if unknown:
        p.error(f"unknown variant(s): {unknown}")
    info = machine_info()
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="wtb-tuned-") as work:
        models = _models_for(args, variants, Path(work))
        for r in range(args.rounds):
            order = variants if r % 2 == 0 else list(reversed(variants))
            for v in order:
                print(f"  round {r + 1}: {v}", file=sys.stderr)
                res = run_variant("benchmarks.bench_transcribe", ["--variant", v, "--model", models[v], "--data",
                                                                  args.data, "--clips", str(args.clips)])
                res.update({"variant": v, "round": r + 1})
                rounds.append(res)
    best = {}
    for v in variants:
        mine = [x for x in rounds if x["variant"] == v and "audio_s_per_s" in x]
        if mine:
            top = max(mine, key=lambda x: x["audio_s_per_s"])
            best[v] = {**top, "median_audio_s_per_s": statistics.median(x["audio_s_per_s"] for x in mine)}
    fw8 = best.get("faster-whisper int8", {}).get("audio_s_per_s")
    rows = []
    for v in variants:
        b = best.get(v)
        if b is None:
            error = next((x.get("error") for x in rounds if x["variant"] == v), "no result")
            rows.append({"variant": v, "error": error})
            continue
        rows.append({"variant": v, "audio_s_per_s": b["audio_s_per_s"], "median": b["median_audio_s_per_s"],
                     "vs_fw_int8": ratio(b["audio_s_per_s"], fw8), "wer": b["wer"], "rss": b["peak_rss_mb"]})
    print(format_table(rows, [("variant", "variant", ""), ("audio_s_per_s", "audio-s/s (best)", ".2f"),
                              ("median", "audio-s/s (median)", ".2f"), ("vs_fw_int8", "x faster-whisper int8", ".2f"),
                              ("wer", "WER", ".3f"), ("rss", "peak RSS MB", ".0f")]))
    for row in rows:
        if row.get("error"):
            print(f"{row['variant']}: cannot run: {row['error'][:160]}")
    summary = _summary(best, args.window)
    for label, value in summary:
        if value is not None:
            print(f"{label}: {value:.2f}x")
    audio = next((x["audio_s"] for x in rounds if "audio_s" in x), 0)
    print(f"{len(_clips(args.data, args.clips))} clips, {audio:.1f} s of audio, {args.rounds} round(s)")
    data = {"benchmark": "bench_transcribe", "machine": info, "model": args.model, "data": args.data,
            "tune_data": args.tune_data, "window_s": args.window, "clips": args.clips, "rows": rows,
            "summary": {label: value for label, value in summary}, "rounds": rounds}
    path = write_json("bench_transcribe", data, smoke=args.smoke, path=args.out)
    print(f"results: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
