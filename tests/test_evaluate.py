"""evaluate_model: per-clip errors, corpus scores, unreadable clips, report table and JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import JFK_TEXT
from whisper_tui.data.metadata import Clip
from whisper_tui.errors import DatasetError
from whisper_tui.inference.evaluate import EvalReport, evaluate_model
from whisper_tui.inference.metrics import clip_errors, error_rates
from whisper_tui.inference.transcribe import Transcriber, Transcription


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
    assert set(data["hallucinations"]) == {"loop", "empty", "long", "too_many_words"} and "n_flagged" in data
    assert "hallucination signs:" in table


class ScriptedTranscriber(Transcriber):
    """Says what it is told per file name (None: the file is unreadable), so the scores are known."""

    def __init__(self, said: dict[str, str | None]):  # no model
        self.said = said
        self.model_name = "scripted"

    def transcribe_files(self, paths, on_result=None):
        out = []
        for path in paths:
            text = self.said[path.name]
            result = Transcription(path, text or "", 2.0, 0.1, None if text is not None else "unreadable")
            out.append(result)
            if on_result:
                on_result(result)
        return out


def _named_clips(tmp_path, refs: dict[str, str]):
    return [Clip(file_name=name, path=tmp_path / name, transcription=text, row=i + 2)
            for i, (name, text) in enumerate(refs.items())]


def test_hallucination_signs_per_clip_and_in_total(tmp_path):
    refs = {"a.wav": "Close the door.", "b.wav": "Good morning to you.", "c.wav": "Thank you.",
            "d.wav": "Open the window please.", "e.wav": "Broken."}
    said = {"a.wav": "Close the door.", "b.wav": "", "c.wav": "Thank you. Thank you. Thank you. Thank you.",
            "d.wav": "Open the window please.", "e.wav": None}
    report = evaluate_model(ScriptedTranscriber(said), _named_clips(tmp_path, refs))
    by_name = {c.file_name: c for c in report.clips}
    assert by_name["a.wav"].signs == () and by_name["b.wav"].signs == ("empty",)
    assert by_name["c.wav"].signs == ("loop", "long") and by_name["e.wav"].signs == ()
    assert report.hallucinations == {"loop": 1, "empty": 1, "long": 1, "too_many_words": 0}
    assert [c.file_name for c in report.flagged] == ["b.wav", "c.wav"]
    table = report.format_table()
    assert "hallucination signs: 1 loop, 1 empty, 1 too long (2 of 4 clip(s))" in table
    row = next(line for line in table.splitlines() if line.startswith("c.wav"))
    assert row.endswith("loop,long")
    data = report.to_dict()
    assert data["n_flagged"] == 2 and data["clips"][2]["signs"] == ("loop", "long")


def test_clean_report_says_none(tmp_path):
    report = evaluate_model(ScriptedTranscriber({"a.wav": "Close the door."}),
                            _named_clips(tmp_path, {"a.wav": "Close the door."}))
    assert report.flagged == [] and report.hallucination_line() == "hallucination signs: none"


def test_subsets_score_each_group_on_its_own(tmp_path):
    refs = {"a.wav": "Close the door.", "b.wav": "Good morning.", "c.wav": "Open the window.",
            "d.wav": "See you later.", "e.wav": "Broken.", "f.wav": "Not in any group."}
    said = {"a.wav": "Close the door.", "b.wav": "Good morning.", "c.wav": "Open a window.",
            "d.wav": "", "e.wav": None, "f.wav": "Not in any group."}
    groups = {"a.wav": "known voices", "b.wav": "known voices", "c.wav": "new voices", "d.wav": "new voices",
              "e.wav": "broken voices", "missing.wav": "known voices"}
    report = evaluate_model(ScriptedTranscriber(said), _named_clips(tmp_path, refs), groups=groups)
    assert list(report.subsets) == ["known voices", "new voices", "broken voices"]
    known, new = report.subsets["known voices"], report.subsets["new voices"]
    assert known == {"wer": 0.0, "cer": 0.0, "n_clips": 2, "n_flagged": 0}
    wer, cer = error_rates(["Open the window.", "See you later."], ["Open a window.", ""])
    assert new == {"wer": wer, "cer": cer, "n_clips": 2, "n_flagged": 1}
    assert report.subsets["broken voices"] == {"wer": None, "cer": None, "n_clips": 0, "n_flagged": 0}
    assert report.n_clips == 5  # f.wav, in no group, still counts in the totals
    table = report.format_table()
    assert f"  new voices: WER {wer:.3f}  CER {cer:.3f}  on 2 clip(s), 1 with hallucination signs" in table
    assert "  known voices: WER 0.000  CER 0.000  on 2 clip(s)" in table
    assert "  broken voices: no readable clip" in table
    saved = json.loads(report.save(tmp_path / "r.json", extra={"keep": {"wer": 0.5}}).read_text())
    assert saved["subsets"]["new voices"]["n_clips"] == 2 and saved["keep"] == {"wer": 0.5}
    assert evaluate_model(ScriptedTranscriber(said), _named_clips(tmp_path, refs)).subsets == {}


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
