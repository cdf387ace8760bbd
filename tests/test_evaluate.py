"""evaluate_model: per-clip errors, corpus scores, unreadable clips, report table and JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import JFK_TEXT
from whisper_tui.dataset import Clip
from whisper_tui.errors import DatasetError
from whisper_tui.evaluate import EvalReport, evaluate_model
from whisper_tui.metrics import clip_errors, error_rates
from whisper_tui.transcribe import Transcriber


def _clips(folder, texts, broken=()):
    clips = []
    for i, text in enumerate(texts):
        path = folder / f"clip_{i}.wav"
        if i in broken:
            path.write_bytes(b"definitely not audio")
        else:
            sf.write(path, np.random.default_rng(i).uniform(-0.05, 0.05, 16000 + 4000 * i).astype(np.float32), 16000)
        clips.append(Clip(file_name=path.name, path=path, transcription=text, row=i + 2))
    return clips


@pytest.fixture(scope="module")
def tiny_transcriber(tiny_whisper_dir):
    return Transcriber(str(tiny_whisper_dir), device="cpu", batch_size=2, max_new_tokens=8)


def test_report_scores_every_readable_clip_and_lists_the_broken_one(tiny_transcriber, tmp_path):
    texts = ["The weather is nice today.", "Please close the door.", "Broken clip here.", "Thank you very much."]
    clips = _clips(tmp_path, texts, broken={2})
    progress = []
    report = evaluate_model(tiny_transcriber, clips, on_progress=lambda d, t: progress.append((d, t)))

    assert progress[-1] == (4, 4) and len(progress) == 4
    assert report.n_clips == 3 and len(report.clips) == 4
    assert [c.file_name for c in report.failed] == ["clip_2.wav"] and str(clips[2].path) in report.failed[0].error
    scored = [c for c in report.clips if not c.error]
    assert report.wer == pytest.approx(error_rates([c.reference for c in scored], [c.hypothesis for c in scored])[0])
    for c in scored:
        e = clip_errors(c.reference, c.hypothesis)
        assert (c.wer, c.substitutions, c.deletions, c.insertions) == (e.wer, e.substitutions, e.deletions,
                                                                       e.insertions)
    assert report.audio_seconds == pytest.approx(1.0 + 1.25 + 1.75)
    assert report.elapsed_s > 0 and report.model == tiny_transcriber.model_name


def test_table_and_saved_json(tiny_transcriber, tmp_path):
    clips = _clips(tmp_path, ["Alpha bravo charlie.", "Delta echo."], broken={1})
    report = evaluate_model(tiny_transcriber, clips)
    table = report.format_table()
    assert "Alpha bravo charlie." in table and "ERROR:" in table
    assert f"WER {report.wer:.3f}" in table and "1 clip(s) unreadable" in table
    assert "more clip(s) not shown" in report.format_table(max_rows=1)

    target = report.save(tmp_path / "reports" / "eval.json")
    data = json.loads(target.read_text())
    assert data["wer"] == report.wer and data["n_clips"] == 1 and data["n_failed"] == 1
    assert data["clips"][0]["reference"] == "Alpha bravo charlie."
    assert set(EvalReport.__dataclass_fields__) <= set(data)


def test_no_readable_clip_is_a_dataset_error(tiny_transcriber, tmp_path):
    clips = _clips(tmp_path, ["one", "two"], broken={0, 1})
    with pytest.raises(DatasetError, match="none of the 2 clip"):
        evaluate_model(tiny_transcriber, clips)


@pytest.mark.slow
def test_bundled_model_scores_jfk_perfectly(jfk_path):
    clip = Clip(file_name=jfk_path.name, path=jfk_path, transcription=JFK_TEXT, row=2)
    report = evaluate_model("tiny.en", [clip])
    assert (report.wer, report.cer, report.n_clips) == (0.0, 0.0, 1)
    assert report.audio_seconds == pytest.approx(11.0, abs=0.01)
    print(f"\ntiny.en on jfk.flac: {report.elapsed_s:.2f} s for {report.audio_seconds:.1f} s of audio "
          f"(RTF {report.rtf:.3f})")
