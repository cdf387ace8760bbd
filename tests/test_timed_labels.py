"""Timestamp labels: `<|0.00|> text <|d|>` with d rounded to 0.02 s; previous text read, never taught."""

from __future__ import annotations

from whisper_tui.training.timed_labels import PROMPT_MASK, prompt_ids, timed_label_ids, timestamp_token

SOT, NO_TS, EOT, TB, PREV = 50257, 50362, 50256, 50363, 50360  # tiny.en's ids


def test_single_clip_is_zero_text_duration():
    ids = timed_label_ids([11, 12], [SOT, NO_TS], eot=EOT, no_timestamps=NO_TS, timestamp_begin=TB, duration_s=3.437)
    assert ids == [SOT, TB, 11, 12, TB + 172, EOT]  # 3.437 s -> <|3.44|>
    assert NO_TS not in ids


def test_duration_is_clamped_to_the_window():
    assert timestamp_token(31.0, TB) == TB + 1500 and timestamp_token(-1, TB) == TB
    assert timestamp_token(9.99, TB, window_s=10) == TB + 500


def test_previous_text_is_masked_and_kept_short():
    ids = timed_label_ids([11], [SOT, NO_TS], eot=EOT, no_timestamps=NO_TS, timestamp_begin=TB, duration_s=1.0,
                          previous=[7, 8, 9], sot_prev=PREV)
    assert ids[:4] == [PROMPT_MASK] * 4 and ids[4:] == [SOT, TB, 11, TB + 50, EOT]
    assert prompt_ids([7, 8, 9], PREV) == [PREV, 7, 8, 9]
    long = timed_label_ids([11], [SOT, NO_TS], eot=EOT, no_timestamps=NO_TS, timestamp_begin=TB, duration_s=1.0,
                           previous=list(range(500)), sot_prev=PREV)
    assert long.count(PROMPT_MASK) == 224 and prompt_ids(list(range(500)), PREV)[1] == 500 - 223


def test_ids_match_the_tokenizer(tmp_path):
    """The ids above are tiny.en's: <|0.00|> follows <|notimestamps|>, <|startofprev|> as named."""
    from whisper_tui.inference.ct2_tokenizer import WhisperTokens
    from whisper_tui.models.convert import embedded_source_dir

    tokens = WhisperTokens.from_folder(embedded_source_dir(), False)
    assert (tokens.sot, tokens.no_timestamps, tokens.eot, tokens.timestamp_begin, tokens.sot_prev) == (SOT, NO_TS, EOT, TB, PREV)
