"""`transcribe --format txt|srt|vtt|json|tsv [--output-dir DIR] [--prompt TEXT] [--word-timestamps]`: timed
segments out (with --word-timestamps, each segment's words timed too: inference/word_times.py).

One input goes to stdout; with --output-dir every input becomes DIR/NAME.EXT, written atomically.
Segments come from Whisper's sequential timestamp decoding (inference/timed.py) on either backend:
ct2 (CTranslate2, the default when installed; the model's export is made once and cached) or torch
(transformers' own timestamp generation). Both give the same segments within a few hundredths.
"""

from __future__ import annotations

import sys
from pathlib import Path

from whisper_tui.cli.console import ProgressBar, say
from whisper_tui.errors import WhisperTuiError
from whisper_tui.exit_codes import EXIT_OK, EXIT_USER


def run_timed(args) -> int:
    from whisper_tui.data.audio import load_audio
    from whisper_tui.inference.backends import CT2, TORCH, ct2_installed
    from whisper_tui.inference.prompts import resolve_prompt
    from whisper_tui.inference.subtitles import render, write_transcript
    from whisper_tui.inference.timed import transcribe_segments
    from whisper_tui.inference.transcribe import Transcriber, list_audio_files

    words = bool(getattr(args, "word_timestamps", False))
    fmt = args.format or ("json" if words else "txt")
    if words and fmt != "json":
        say(f"note: word times are written in --format json only; {fmt} keeps whole-segment cues", err=True)
    files = list_audio_files(Path(args.path).expanduser())
    out_dir = Path(args.output_dir).expanduser() if args.output_dir else None
    if len(files) > 1 and out_dir is None:
        say(f"error: {len(files)} files: give --output-dir DIR for one {fmt} file per input", err=True)
        return EXIT_USER
    if getattr(args, "compare", None):
        say("note: --compare prints texts side by side; timed output (--format) runs --model only", err=True)
    backend = getattr(args, "backend", None) or (CT2 if ct2_installed() else TORCH)
    prompt = resolve_prompt(getattr(args, "prompt", None), args.model, getattr(args, "profile", None))
    transcriber = Transcriber(args.model, backend=backend, prompt=prompt)
    failures = 0
    bar = ProgressBar("transcribe", len(files)) if out_dir else None
    for i, path in enumerate(files, 1):
        try:
            segments = transcribe_segments(transcriber, load_audio(path), language=transcriber.language,
                                           prompt_text=prompt, words=words)
        except WhisperTuiError as exc:
            say(f"{path.name}: ERROR: {exc}", err=True)
            failures += 1
            continue
        if out_dir is None:
            sys.stdout.write(render(segments, fmt))
        else:
            write_transcript(segments, path, out_dir, fmt)
            bar.update(i)
    if bar is not None:
        bar.close()
        say(f"wrote {len(files) - failures} {fmt} file(s) to {out_dir}", err=True)
    return EXIT_USER if failures else EXIT_OK
