"""The line under the Transcribe results: speed (real-time factor) and WER for each model.

The real-time factor depends as much on the backend as on the model (CTranslate2 int8 is about 4x
faster than torch on CPU), so each line names the backend the model ran on next to it.
"""

from __future__ import annotations

from rich.text import Text

from whisper_tui.inference.metrics import error_rates
from whisper_tui.inference.transcribe import throughput

from screens.presenters.run_format import fmt_rate
from screens.widgets.transcribe_results import ClipRow


def model_summary(rows: list[ClipRow], role: str, label: str, engine: str = "") -> Text:
    """"tiny.en: RTF 0.17 (CTranslate2 int8) · WER 12.5% · 3 files, 12.3 s of audio in 2.1 s"
    (the numbers first: lines get cut)."""
    results = [row.results[role] for row in rows if role in row.results]
    if not results:
        return Text("")
    speed = throughput(results)
    failed = sum(1 for r in results if not r.ok)
    text = Text.assemble((label, "bold"), ": ", (f"RTF {speed.rtf:.2f}", "bold"))
    if engine:
        text.append(f" ({engine})")
    scored = [(row.reference, row.results[role].text) for row in rows
              if row.reference is not None and role in row.results and row.results[role].ok]
    if scored:
        wer, _cer = error_rates([r for r, _ in scored], [h for _, h in scored])
        text.append(" · WER ")
        text.append(fmt_rate(wer), style="bold")
    text.append(f" · {len(results)} file{'s' * (len(results) != 1)}, {speed.audio_s:.1f} s of audio in "
                f"{speed.elapsed_s:.1f} s")
    if scored:
        text.append(f", {len(scored)} with a reference", style="dim")
    if failed:
        text.append(f" · {failed} unreadable", style="red")
    return text


def summary_text(rows: list[ClipRow], labels: dict[str, str], engines: dict[str, str] | None = None) -> Text:
    """One line per model, in the order of `labels` (role -> name); `engines` (role -> backend) when known."""
    engines = engines or {}
    lines = [model_summary(rows, role, label, engines.get(role, "")) for role, label in labels.items()]
    return Text("\n").join(line for line in lines if line.plain)
