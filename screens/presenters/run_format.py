"""Short, fixed-width text for numbers the training screens show (durations, WER, learning rates).

One place so the dashboard, the runs history and the transcribe console write "12.3%" and
"4m05s" the same way, and a missing value always reads "—" rather than "None" or "nan".
"""

from __future__ import annotations

import math
from datetime import datetime

MISSING = "—"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_duration(seconds: float | None) -> str:
    """45s, 4m05s, 2h03m, 3d04h."""
    if _missing(seconds) or seconds < 0:
        return MISSING
    total = int(round(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def fmt_rate(rate: float | None, digits: int = 1) -> str:
    """An error rate (0.123) as a percentage (12.3%)."""
    if _missing(rate):
        return MISSING
    return f"{100 * rate:.{digits}f}%"


def fmt_lr(lr: float | None) -> str:
    if _missing(lr):
        return MISSING
    return f"{lr:.2e}"


def fmt_number(value: float | None, digits: int = 3) -> str:
    if _missing(value):
        return MISSING
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}"


def fmt_when(moment: datetime | None) -> str:
    if moment is None:
        return MISSING
    return moment.strftime("%Y-%m-%d %H:%M")


def fmt_delta(before: float | None, after: float | None) -> str:
    """Change of an error rate in percentage points, signed: "-4.2 pts"."""
    if _missing(before) or _missing(after):
        return MISSING
    return f"{100 * (after - before):+.1f} pts"
