"""Whisper models: resolving a name to weights, the embedded model's conversion, windows, export."""
