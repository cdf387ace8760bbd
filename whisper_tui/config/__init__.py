"""Settings on disk: training profiles, their schema, and where whisper-tui keeps things."""
