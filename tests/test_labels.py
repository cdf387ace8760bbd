"""Labels are never cut: long transcripts train whole, unfit ones are flagged and left out (issue 11).

Before, labels were cut at training.generation_max_length (96 tokens in cpu-quick): a 30 s clip
of fast speech taught the model to stop mid-sentence, and the test references were cut the same
way, so the WER hid it.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import build_tiny_whisper
from helpers_audio import TONE_WORDS, write_metadata, write_tone_dataset
from helpers_jobs import SHORT_RUN, tiny_job_profile
from whisper_tui.data.dataset import validate_dataset
from whisper_tui.training import events as ev
from whisper_tui.training.job import TrainingJob

pytestmark = pytest.mark.usefixtures("own_cache")

WORDS = ("the quick brown fox jumps over the lazy dog while seven pharmacists measure amoxicillin "
         "and clopidogrel doses for the evening ward round in the north wing").split()


def sentence(n_words: int, offset: int = 0) -> str:
    return " ".join(WORDS[(i + offset) % len(WORDS)] for i in range(n_words)) + "."


def write_clip(folder, name: str, seconds: float, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    wave = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.02 * rng.standard_normal(t.size)
    sf.write(folder / name, wave.astype(np.float32), 16000)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return build_tiny_whisper(tmp_path_factory.mktemp("labels") / "model")


def test_a_30_second_clip_with_120_words_trains_with_its_full_label(model, tmp_path, monkeypatch):
    from whisper_tui.training.collator import WhisperCollator

    train = write_tone_dataset(tmp_path / "train", n=5)
    write_clip(train, "long.wav", 29.0)
    rows = [(f"clip{i:02d}.wav", f"{TONE_WORDS[i % 8]} {TONE_WORDS[(i + 3) % 8]}") for i in range(5)]
    long_text = sentence(120)
    write_metadata(train, rows + [("long.wav", long_text)])
    test = write_tone_dataset(tmp_path / "test", n=2, seed=1)
    write_clip(test, "long_test.wav", 28.0, seed=1)
    write_metadata(test, [("clip00.wav", "echo golf"), ("clip01.wav", "bravo foxtrot"),
                          ("long_test.wav", sentence(110, offset=3))])

    batches = []
    original = WhisperCollator.__call__

    def recording(self, examples):
        batch = original(self, examples)
        batches.append(batch["labels"].clone())
        return batch

    monkeypatch.setattr(WhisperCollator, "__call__", recording)
    profile = tiny_job_profile(model, train, **{**SHORT_RUN, "training.num_train_epochs": 1,
                                                "data.test_dir": str(test)})
    assert profile.training.generation_max_length < 120  # the old cut
    seen = []
    result = TrainingJob(profile, tmp_path / "run", listeners=[seen.append]).run()
    assert isinstance(result, ev.RunFinished), result

    from transformers import AutoTokenizer

    processor_tok = AutoTokenizer.from_pretrained(model)
    body = processor_tok(" " + long_text, add_special_tokens=False).input_ids
    assert len(body) > 120
    real_lengths = [int((row != -100).sum()) for batch in batches for row in batch]
    # labels as collated: the decoder start token is not in them; prefix rest + body + <|endoftext|>
    longest = max(real_lengths)
    assert longest >= len(body) + 1, f"the label was cut to {longest} tokens (transcript: {len(body)})"
    row = next(r for b in batches for r in b if int((r != -100).sum()) == longest)
    kept = row[row != -100].tolist()
    assert kept[-1] == processor_tok.convert_tokens_to_ids("<|endoftext|>")
    assert kept[-len(body) - 1:-1] == body
    logs = [e.message for e in seen if isinstance(e, ev.LogEvent)]
    assert any(m.startswith("evaluation generates up to") for m in logs), logs


def test_validate_flags_transcripts_the_decoder_cannot_hold_and_implausible_word_rates(tmp_path):
    folder = write_tone_dataset(tmp_path / "data", n=3)
    write_clip(folder, "rare.wav", 29.0)
    write_clip(folder, "rushed.wav", 1.0)
    write_clip(folder, "sparse.wav", 20.0)
    rare_words = " ".join(["pneumonoultramicroscopicsilicovolcanoconiosis"] * 40)  # ~12 tokens a word
    rows = [("clip00.wav", "alpha delta"), ("clip01.wav", "bravo echo"), ("clip02.wav", "charlie foxtrot"),
            ("rare.wav", rare_words), ("rushed.wav", sentence(20)), ("sparse.wav", "hello")]
    write_metadata(folder, rows)
    report = validate_dataset(folder)
    kinds = {p.file_name: p.kind for p in report.problems if p.kind in ("transcript_too_long", "implausible_rate")}
    assert kinds == {"rare.wav": "transcript_too_long", "rushed.wav": "implausible_rate",
                     "sparse.wav": "implausible_rate"}
    too_long = next(p for p in report.problems if p.kind == "transcript_too_long")
    assert "tokens" in too_long.message and "443" in too_long.message
    assert {c.file_name for c in report.usable_clips} == {"clip00.wav", "clip01.wav", "clip02.wav"}
    assert report.left_out() == {"transcript_too_long": 1, "implausible_rate": 2}


def test_the_run_log_says_how_many_rows_were_left_out_and_why(model, tmp_path):
    folder = write_tone_dataset(tmp_path / "data", n=8)
    write_clip(folder, "rushed.wav", 1.0)
    rows = [(f"clip{i:02d}.wav", f"{TONE_WORDS[i % 8]} {TONE_WORDS[(i + 3) % 8]}") for i in range(8)]
    write_metadata(folder, rows + [("rushed.wav", sentence(30))])
    profile = tiny_job_profile(model, folder, **{**SHORT_RUN, "training.num_train_epochs": 1})
    seen = []
    job = TrainingJob(profile, tmp_path / "run", listeners=[seen.append], evaluate_base=False)
    job.add_listener(lambda e: job.cancel() if isinstance(e, ev.LogEvent) and e.message.startswith("data:") else None)
    job.run()
    left = [e.message for e in seen if isinstance(e, ev.LogEvent) and e.message.startswith("left out")]
    assert left and "left out 1 of 9 rows" in left[0] and "implausible_rate 1" in left[0], left


def test_label_ids_refuses_to_cut():
    from whisper_tui.models.convert import build_processor, embedded_source_dir
    from whisper_tui.training.speech_dataset import LabelTooLong, label_ids

    tok = build_processor(embedded_source_dir(), n_mels=80, vocab_size=51864).tokenizer
    ids = label_ids("hello world", tok, [1, 2], 448)
    assert ids[:2] == [1, 2] and ids[-1] == tok.eos_token_id
    with pytest.raises(LabelTooLong, match="tokens"):
        label_ids(sentence(200), tok, [1, 2], 64)
