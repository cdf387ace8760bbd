"""How closely a model at each window agrees with the teacher's 30 s transcripts of held-out audio.

The teacher's texts are the reference (there are no others: the audio is unlabelled), so these are
agreement figures, not accuracy: WER 0.05 at 10 s means the model at 10 s writes what the model at
30 s wrote, but for one word in twenty. Measured for the model before adaptation (cut to the window
as it is: OpenAI's weights never saw a short window) and after, at every window, so the table shows
what adaptation bought.

A window only runs clips it holds (`window.WINDOW_MARGIN_S` to spare: the rule inference uses), so
each window's row counts its own clips; the longest window runs them all. The `auto` row is what
transcription does: every clip at the shortest window that holds it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

AUTO = "auto"


@dataclass(frozen=True)
class HeldOutClip:
    path: str
    reference: str  # the teacher's 30 s text
    duration_s: float


@dataclass
class WindowTexts:
    """One model's texts per window: `texts[window][i]` for clip i (only clips the window holds)."""

    model: str
    texts: dict[int, dict[int, str]] = field(default_factory=dict)
    elapsed_s: dict[int, float] = field(default_factory=dict)


def clips_for_window(clips: list[HeldOutClip], window: int) -> list[int]:
    """Indices of the clips `window` holds (the longest window holds every clip: longer audio is cut)."""
    from whisper_tui.models.window import WINDOW_MARGIN_S

    return [i for i, c in enumerate(clips) if c.duration_s + WINDOW_MARGIN_S <= window]


def plan(clips: list[HeldOutClip], windows: tuple[int, ...]) -> dict[int, list[int]]:
    """window -> the clips it runs; the longest runs every clip."""
    longest = max(windows)
    return {w: (list(range(len(clips))) if w == longest else clips_for_window(clips, w)) for w in sorted(windows)}


def scores(clips: list[HeldOutClip], texts: WindowTexts, windows: tuple[int, ...]) -> dict[str, dict]:
    """{"10": {"wer", "cer", "n_clips", "audio_s", "elapsed_s"}, ..., "auto": {...}} against the teacher.

    wer/cer are None for a window that holds no clip. `auto` takes each clip's text at the shortest
    window that holds it (`window.window_for`).
    """
    from whisper_tui.inference.metrics import error_rates
    from whisper_tui.models.window import window_for

    out: dict[str, dict] = {}

    def row(indices: list[int], hyps: list[str], elapsed: float | None) -> dict:
        refs = [clips[i].reference for i in indices]
        wer, cer = error_rates(refs, hyps) if indices else (None, None)
        return {"wer": None if wer is None else round(wer, 4), "cer": None if cer is None else round(cer, 4),
                "n_clips": len(indices), "audio_s": round(sum(clips[i].duration_s for i in indices), 2),
                "elapsed_s": None if elapsed is None else round(elapsed, 2)}

    for window in sorted(windows):
        done = texts.texts.get(window, {})
        indices = sorted(done)
        out[str(window)] = row(indices, [done[i] for i in indices], texts.elapsed_s.get(window))
    auto_idx, auto_hyps = [], []
    for i, clip in enumerate(clips):
        chosen = window_for(clip.duration_s, windows)
        if i in texts.texts.get(chosen, {}):
            auto_idx.append(i)
            auto_hyps.append(texts.texts[chosen][i])
    out[AUTO] = row(auto_idx, auto_hyps, None)
    return out


def transcribe_at_windows(model_name: str, clips: list[HeldOutClip], windows: tuple[int, ...], *,
                          batch_size: int = 8, should_stop: Callable[[], bool] | None = None,
                          on_window: Callable[[int, int], None] | None = None) -> WindowTexts:
    """The model's texts at each window, longest first (the model is loaded once and cut down step by step).

    Each window is forced: the processor records that one window only, so a transcriber that picks a
    window per batch has no other to pick. Torch runs it (any model, any window); stops between windows
    when `should_stop()` says so. `on_window(done, total)` after each window.
    """
    from whisper_tui.data.audio import load_audio
    from whisper_tui.inference.transcribe import Transcriber
    from whisper_tui.models.loading import load_model
    from whisper_tui.models.window import apply_window, model_window_s, set_supported_windows

    model, processor = load_model(model_name, device="cpu")
    result = WindowTexts(model_name)
    work = plan(clips, windows)
    waves = {}
    for k, window in enumerate(sorted(work, reverse=True)):
        if should_stop is not None and should_stop():
            break
        if window < model_window_s(model):
            apply_window(model, processor, window)
        set_supported_windows(processor, [window])
        indices = work[window]
        for i in indices:
            if i not in waves:
                waves[i] = load_audio(clips[i].path)
        transcriber = Transcriber((model, processor), device="cpu", batch_size=batch_size)
        started = time.perf_counter()
        texts = transcriber.transcribe_waves([waves[i] for i in indices]) if indices else []
        result.elapsed_s[window] = time.perf_counter() - started
        result.texts[window] = dict(zip(indices, texts, strict=True))
        if on_window is not None:
            on_window(k + 1, len(work))
    return result


def format_table(before: dict[str, dict], after: dict[str, dict] | None) -> str:
    """The before/after table printed at the end of adapt-window."""

    def fmt(value) -> str:
        return "   -  " if value is None else f"{value:6.3f}"

    lines = [f"{'window':>8} {'clips':>6} {'WER before':>11} {'WER after':>10} {'CER before':>11} {'CER after':>10}"]
    for key, b in before.items():
        a = (after or {}).get(key, {})
        label = "auto" if key == AUTO else f"{key} s"
        lines.append(f"{label:>8} {b['n_clips']:>6} {fmt(b['wer']):>11} {fmt(a.get('wer')):>10} "
                     f"{fmt(b['cer']):>11} {fmt(a.get('cer')):>10}")
    lines.append("(agreement with the model's own 30 s transcripts of held-out recordings; auto = each clip at "
                 "the shortest window that holds it, as transcription runs)")
    return "\n".join(lines)
