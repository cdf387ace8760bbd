"""`whisper-tui export MODEL OUT`: export to CTranslate2 (models/export.py), then say where it went and how
to run it, and what faster-whisper can and cannot do with its windows."""

from __future__ import annotations

from pathlib import Path

from whisper_tui.cli.console import say


def cmd_export(args) -> int:
    """`whisper-tui export MODEL OUT [--quantization int8] [--force]`: prints where the export went."""
    from whisper_tui.models.export import export_ct2
    from whisper_tui.system.quiet import quiet_libraries

    quiet_libraries()
    out = export_ct2(args.model, args.out, quantization=args.quantization, force=args.force,
                     on_status=lambda msg: say(msg, err=True))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    say(f"exported {args.model} -> {out} (CTranslate2, {args.quantization}, {size / 1e6:.0f} MB)")
    for line in usage_lines(out):
        say(line)
    return 0


def usage_lines(out: Path) -> list[str]:
    """How to run the export at `out`, and what faster-whisper can and cannot do with it (its windows)."""
    from whisper_tui.inference.backends import windows_label
    from whisper_tui.models.window import WHISPER_WINDOW_S, saved_windows

    windows = saved_windows(out)
    window = windows[-1]
    if window < WHISPER_WINDOW_S:
        # faster-whisper 1.x pads every segment to a 30 s window; CTranslate2 refuses that for this model
        return [f"use it with: whisper-tui transcribe FOLDER --model {out} --backend ct2  (a {window} s window model: "
                f"faster-whisper pads to {WHISPER_WINDOW_S} s and cannot run it; ctranslate2.models.Whisper can, "
                f"with {window} s features)"]
    lines = [f"use it with: whisper-tui transcribe FOLDER --model {out}   or   faster_whisper.WhisperModel('{out}')"]
    if len(windows) > 1:
        shorter = "/".join(str(w) for w in windows[:-1])
        lines.append(f"an any-window model ({windows_label(windows)}): faster-whisper runs it at {WHISPER_WINDOW_S} s "
                     f"only, since it pads every clip to {WHISPER_WINDOW_S} s, so it gives up the {shorter} s windows "
                     f"and their speed on short clips; `whisper-tui transcribe --backend ct2` runs each batch at the "
                     f"shortest window that holds it")
    return lines

