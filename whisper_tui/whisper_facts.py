"""Whisper's fixed numbers, in one place (tests/test_one_home.py fails on a second copy).

A leaf like errors.py and exit_codes.py: it imports nothing, so every stage may import it.
The 30 s window and its positions/frames live in models/window.py.
"""

from __future__ import annotations

SAMPLE_RATE = 16000  # Hz: every Whisper model hears 16 kHz mono
MEL_BINS = 80  # log-mel bins of tiny (large-v3 has 128; wider masks are cut to the model's bins)
MAX_TARGET_TOKENS = 448  # decoder positions (max_target_positions) in every Whisper size
TIMESTAMP_STEP_S = 0.02  # one timestamp token per 20 ms (<|0.00|>, <|0.02|> ...; two encoder positions)
