"""Training: a background job that fine-tunes Whisper with the HF Trainer and reports typed events."""
