"""Running a model: batched transcription, evaluation (WER/CER) and hallucination checks."""
