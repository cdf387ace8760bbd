"""Moved to system/threads.py (inference tunes threads too); kept for training/callbacks.py until it imports
from there."""

from whisper_tui.system.threads import ThreadTuner, thread_candidates, tuning_enabled

__all__ = ["ThreadTuner", "thread_candidates", "tuning_enabled"]
