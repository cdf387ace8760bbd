"""bench_label: how fast `whisper-tui label` labels, and how right its labels are, with both backends.

    python -m benchmarks.bench_label                 # eSpeak sets + Asterisk prompts when installed
    python -m benchmarks.bench_label --smoke          # a few clips, ct2 only

The folder to label is built from speech whose true transcript is known, from three sources:
"everyday" (eSpeak, `sample_data.EVERYDAY_SENTENCES` in the sample set's eight voices), "domain"
(the sample set's held-out side, `common.heldout_data_dir`: drug and tool names tiny.en does not
know, sentence frames and half the voices no fine-tune here trained on) and, when installed,
"asterisk" (Debian's Asterisk prompts: real recorded speech, `real_speech.py`). Per source: `--per-long` clips joined with 1-2 s pauses into one long recording
(cut by the labeller at the model's timestamps), and `--short` clips as short files (kept whole).

For each backend (ct2 int8, torch fp32; the bundled tiny.en): `label_folder` into a fresh folder,
its speed (audio-s per s, model loading not counted) and the label WER: per recording, the rows'
texts in source order against the true transcript, corpus WER per source. References with the ct2
decoder: "one by one, true cuts" (the long recording cut at the true clip boundaries, +-0.25 s,
each piece transcribed alone: what the labeller must not be worse than), "one by one, clean clips"
(the clips as they were before they were joined and a little room noise was added) and "plain
transcribe" (`Transcriber(backend="ct2")` on each whole file: 30 s pieces cut at the quietest
moment, no timestamps; its speed too).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .common import format_table, heldout_data_dir, machine_info, write_json

BACKENDS = ("ct2", "torch")


def _clips(source: str, n: int) -> list[tuple[object, str]]:
    """n (16 kHz wave, true transcript) pairs of one source."""
    from whisper_tui.data.audio import load_audio
    from whisper_tui.data.dataset import read_metadata

    from . import real_speech

    if source == "everyday":
        from whisper_tui.data.sample_data import EVERYDAY_SENTENCES, VOICES
        from whisper_tui.data.tts import synthesize

        return [(synthesize(EVERYDAY_SENTENCES[k % len(EVERYDAY_SENTENCES)], voice=VOICES[k % len(VOICES)],
                            rate_wpm=150), EVERYDAY_SENTENCES[k % len(EVERYDAY_SENTENCES)]) for k in range(n)]
    folder = heldout_data_dir() if source == "domain" else real_speech.real_speech_dir(100)
    clips, _problems = read_metadata(folder)
    step = max(1, len(clips) // n)
    return [(load_audio(c.path), c.transcription) for c in clips[::step][:n]]


def build_folder(root: Path, sources: list[str], per_long: int, short: int) -> dict[str, dict]:
    """Write the recordings; returns {source: {relative file: true transcript}, source + ":clips": [(wave, text)]}."""
    import numpy as np
    import soundfile as sf

    from whisper_tui.data.audio import SAMPLE_RATE

    truth: dict[str, dict] = {}
    rng = np.random.default_rng(7)
    for source in sources:
        clips = _clips(source, per_long + short)
        (root / source).mkdir(parents=True, exist_ok=True)
        texts = {}
        parts = [np.zeros(SAMPLE_RATE // 2, np.float32)]
        spans = []  # each clip's place in long.wav (samples), with 0.25 s either side
        for wave, _text in clips[:per_long]:
            start = sum(len(p) for p in parts)
            spans.append((max(0, start - SAMPLE_RATE // 4), start + len(wave) + SAMPLE_RATE // 4))
            parts += [wave, np.zeros(int(rng.uniform(1.0, 2.0) * SAMPLE_RATE), np.float32)]
        wave = np.concatenate(parts)
        wave = (wave + 0.002 * rng.standard_normal(len(wave))).astype(np.float32)
        sf.write(root / source / "long.wav", wave, SAMPLE_RATE, subtype="PCM_16")
        texts[f"{source}/long.wav"] = " ".join(text for _w, text in clips[:per_long])
        for k, (wave, text) in enumerate(clips[per_long:]):
            name = f"{source}/short-{k:02d}.wav"
            sf.write(root / name, wave, SAMPLE_RATE, subtype="PCM_16")
            texts[name] = text
        truth[source] = texts
        truth[source + ":clips"] = clips[:per_long]
        truth[source + ":spans"] = spans
    return truth


def label_wer(out: Path, texts: dict[str, str]) -> float:
    from whisper_tui.inference.metrics import error_rates
    from whisper_tui.labelling import parse_source
    from whisper_tui.labelling.table import LabelTable

    by_file: dict[str, list[tuple[float, str]]] = {name: [] for name in texts}
    for row in LabelTable.read(out).data_rows():
        rel, start, _end = parse_source(row.get("source"))
        if rel in by_file:
            by_file[rel].append((start, row.get("transcription")))
    hyps = [" ".join(t for _s, t in sorted(by_file[name])) for name in texts]
    return error_rates(list(texts.values()), hyps)[0]


def references(root: Path, truth: dict, sources: list[str]) -> dict[str, dict[str, float]]:
    from whisper_tui.data.audio import load_audio
    from whisper_tui.inference.metrics import error_rates
    from whisper_tui.inference.transcribe import Transcriber
    from whisper_tui.labelling.decoding import make_decoder

    decoder = make_decoder("tiny.en", "ct2")
    transcriber = Transcriber("tiny.en", backend="ct2")
    out = {}
    for source in sources:
        texts = truth[source]
        long_wave = load_audio(root / source / "long.wav")
        alone = [decoder.text(decoder.decode(long_wave[a:b], timestamps=False).tokens)
                 for a, b in truth[source + ":spans"]]
        clean = [decoder.text(decoder.decode(wave, timestamps=False).tokens) for wave, _t in truth[source + ":clips"]]
        long_ref = [texts[f"{source}/long.wav"]]
        shorts = [n for n in texts if n != f"{source}/long.wav"]
        short_hyps = [decoder.text(decoder.decode(load_audio(root / n), timestamps=False).tokens) for n in shorts]
        refs_all = [*long_ref, *(texts[n] for n in shorts)]
        one_by_one = error_rates(refs_all, [" ".join(alone), *short_hyps])[0]
        one_by_one_clean = error_rates(refs_all, [" ".join(clean), *short_hyps])[0]
        plain = transcriber.transcribe_files([root / n for n in texts])
        plain_wer = error_rates(list(texts.values()), [t.text for t in plain])[0]
        out[source] = {"one_by_one": one_by_one, "one_by_one_clean": one_by_one_clean, "plain_transcribe": plain_wer,
                       "plain_audio_s": sum(t.duration_s for t in plain),
                       "plain_elapsed_s": sum(t.elapsed_s for t in plain)}
    return out


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-long", type=int, default=12, help="clips joined into each source's long recording")
    ap.add_argument("--short", type=int, default=6, help="clips per source kept as short files")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--no-asterisk", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args(argv)
    if args.smoke:
        args.per_long, args.short, args.backends, args.no_asterisk = 3, 1, "ct2", True
    from whisper_tui.labelling import label_folder

    from . import real_speech

    sources = ["everyday", "domain"] + ([] if args.no_asterisk or not real_speech.available() else ["asterisk"])
    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-label-") as tmp:
        root = Path(tmp) / "recordings"
        truth = build_folder(root, sources, args.per_long, args.short)
        rows = []
        for backend in args.backends.split(","):
            out = Path(tmp) / f"out-{backend}"
            started = time.perf_counter()
            report = label_folder(root, out, model="tiny.en", backend=backend)
            wall = time.perf_counter() - started
            row = {"variant": f"label {backend}", "audio_s": report.audio_s, "wall_s": wall, "load_s": report.load_s,
                   "rate": report.audio_seconds_per_second, "rows": report.written,
                   "left_out": sum(report.left_out.values())}
            for source in sources:
                row[f"wer_{source}"] = label_wer(out, truth[source])
            rows.append(row)
            print(f"{backend}: {report.summary()}", file=sys.stderr)
            shutil.rmtree(out, ignore_errors=True)
        refs = references(root, truth, sources)
        names = {"one_by_one": "ct2 one by one, true cuts (reference)",
                 "one_by_one_clean": "ct2 one by one, clean clips (reference)",
                 "plain_transcribe": "ct2 plain transcribe (reference)"}
        for name, label in names.items():
            rows.append({"variant": label, **{f"wer_{s}": refs[s][name] for s in sources}})
        plain_audio = sum(refs[s]["plain_audio_s"] for s in sources)
        plain_elapsed = sum(refs[s]["plain_elapsed_s"] for s in sources)
        rows[-1].update(audio_s=plain_audio, rate=plain_audio / plain_elapsed if plain_elapsed else None)
    columns = [("variant", "variant", ""), ("audio_s", "audio s", ".1f"), ("load_s", "load s", ".1f"),
               ("wall_s", "wall s", ".1f"), ("rate", "audio-s/s", ".2f"), ("rows", "rows", "d"),
               ("left_out", "left out", "d")] + [(f"wer_{s}", f"WER {s}", ".3f") for s in sources]
    print(format_table(rows, columns))
    try:
        load_end = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load_end = None
    data = {"machine": info, "load_avg_at_end": load_end, "sources": sources, "per_long": args.per_long,
            "short": args.short, "rows": rows, "references": refs}
    print(f"written: {write_json('bench_label', data, smoke=args.smoke, path=args.json_out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
