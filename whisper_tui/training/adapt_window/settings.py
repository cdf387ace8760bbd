"""What an adaptation may be asked for (kept import-light: the command line's parser reads it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from whisper_tui.models.window import WHISPER_WINDOW_S

DEFAULT_WINDOWS = (10, 20, WHISPER_WINDOW_S)
STRATEGIES = ("lora", "full")
REPORT_FILE = "adapt_window.json"


@dataclass(frozen=True)
class AdaptSettings:
    windows: tuple[int, ...] = DEFAULT_WINDOWS  # the longest must be the model's own
    strategy: str = "lora"
    held_out: float = 0.2  # share of the recordings (by file) never adapted on
    seed: int = 42
    budget_s: float | None = None  # training time budget; None = the profile's
    backend: str | None = None  # the teacher's: ct2 | torch | None (ct2 when installed)
    min_confidence: float | None = None  # None = the labeller's own unsure line (teacher.MIN_CONFIDENCE)
    overrides: dict = field(default_factory=dict)  # any profile key, applied last (--set)
    evaluate_base: bool = True  # the training run's own evaluation before it starts
    batch_size: int = 8  # measuring agreement
