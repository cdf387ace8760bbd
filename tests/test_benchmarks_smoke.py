"""Every benchmark runs end to end with --smoke on a tiny random Whisper, so none of them can rot.

Variants run in this process (WHISPER_TUI_BENCH_INPROCESS=1) to keep the whole file well under a
minute; the real runs use a fresh process per variant. Numbers here mean nothing; the tests check
that each benchmark measures what it says and writes its JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers_audio import write_tone_dataset

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tone_data(tmp_path_factory):
    return write_tone_dataset(tmp_path_factory.mktemp("bench") / "data", n=6)


@pytest.fixture(autouse=True)
def in_process(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))  # benchmarks/ is run from the repo root, it is not installed
    from benchmarks.common import INPROCESS_ENV

    monkeypatch.setenv(INPROCESS_ENV, "1")


def test_bench_train_smoke(tiny_whisper_dir, tone_data, tmp_path, capsys):
    from benchmarks import bench_train

    out = tmp_path / "train.json"
    assert bench_train.main(["--smoke", "--model", str(tiny_whisper_dir), "--data", str(tone_data),
                             "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    runs = {r["variant"]: r for r in data["runs"]}
    assert set(runs) == {"reference", "engine"}
    for run in runs.values():
        assert run["later_samples_per_s"] > 0 and run["epoch1_samples_per_s"] > 0 and run["peak_rss_mb"] > 0
        assert 0 <= run["tuned_wer"] and run["base_wer"] == data["base"]["wer"]
    assert data["summary"]["later_speedup"] > 0
    assert any("encoder cache built" in m for m in runs["engine"]["engine_log"])  # the engine ran cold
    assert "later samples/s" in capsys.readouterr().out


def test_bench_quality_smoke(tiny_whisper_dir, tone_data, tmp_path):
    from benchmarks import bench_quality

    out = tmp_path / "quality.json"
    assert bench_quality.main(["--smoke", "--model", str(tiny_whisper_dir), "--data", str(tone_data),
                               "--budget", "6", "--max-epochs", "3", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    runs = [r["run"] for r in data["rows"]]
    assert runs == [f"{tiny_whisper_dir} (no training)", "reference: seed recipe", "whisper-tui: cpu-quick"]
    for row in data["rows"][1:]:
        assert 0 < row["epochs"] <= 3 and row["wer"] >= 0 and row["train_s"] > 0
        assert isinstance(row["stopped_at_budget"], bool)
    engine = data["rows"][2]
    assert "time budget" in engine["stopped"] or engine["epochs"] == 3  # the engine's own budget ends the run
    assert data["base"]["wer"] >= 0 and data["base"]["epochs"] == 0
    assert data["runs_per_row"] == 1 and all(len(row["runs"]) == 1 for row in data["rows"][1:])


def test_bench_quality_rows_are_the_median_and_range_of_their_runs():
    from benchmarks.bench_quality import _cells, summarise

    base = {"run": "base", "wer": 0.8, "real_wer": 0.040}
    runs = [{"wer": 0.30, "real_wer": 0.050, "jfk_wer": 0.0, "epochs": 9, "stopped_at_budget": True},
            {"wer": 0.20, "real_wer": 0.045, "jfk_wer": 0.1, "epochs": 10, "stopped_at_budget": True},
            {"wer": 0.25, "real_wer": 0.060, "jfk_wer": 0.0, "epochs": 11, "stopped_at_budget": True}]
    row = summarise("whisper-tui: x", "what", runs, base)
    assert row["wer"] == 0.25 and row["wer_range"] == [0.20, 0.30] and row["n_runs"] == 3
    assert row["real_vs_base"] == pytest.approx(1.0) and row["real_vs_base_range"] == pytest.approx([0.5, 2.0])
    assert row["jfk"] == "2/3 word for word" and row["stopped_at_budget"] is True
    cells = _cells(row)
    assert cells["wer"] == "0.250 (0.200..0.300)" and cells["real_vs_base"] == "+1.0 (+0.5..+2.0)"
    assert _cells(base)["wer"] == "0.800"  # one figure: no range


def test_bench_transcribe_smoke(tiny_whisper_dir, tone_data, tmp_path):
    pytest.importorskip("faster_whisper")
    from benchmarks import bench_transcribe

    out = tmp_path / "transcribe.json"
    short = bench_transcribe.tuned_short(10)
    # one of each code path, plus a short-window fine-tune made by the benchmark itself
    variants = ["whisper-tui ct2 int8", "faster-whisper int8", "HF generate 1 by 1",
                f"whisper-tui ct2 int8 on {short}", f"faster-whisper int8 on {short}",
                f"whisper-tui ct2 int8 on {bench_transcribe.cut_untuned(10)}"]
    assert bench_transcribe.main(["--smoke", "--model", str(tiny_whisper_dir), "--data", str(tone_data),
                                  "--tune-data", str(tone_data), "--tune-steps", "2", "--clips", "2",
                                  "--variants", ",".join(variants), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    rows = {r["variant"]: r for r in data["rows"]}
    assert set(rows) == set(variants) and set(variants) <= set(bench_transcribe.VARIANTS)
    assert all(r["audio_s_per_s"] > 0 for v, r in rows.items() if not v.startswith("faster-whisper int8 on"))
    assert rows["faster-whisper int8"]["vs_fw_int8"] == pytest.approx(1.0)
    # faster-whisper pads to 30 s, which CTranslate2 refuses for a 10 s model: recorded, not crashed
    assert "1000" in rows[f"faster-whisper int8 on {short}"]["error"]
    assert data["window_s"] == 10


def test_bench_window_smoke(tiny_whisper_dir, tone_data, tmp_path):
    """Part A end to end (the built-in profile's fine-tune, its export, faster-whisper vs windows per batch vs
    30 s only) and the 30 s rows of B and C; adapt-window has its own tests (a random teacher labels nothing)."""
    pytest.importorskip("faster_whisper")
    from benchmarks import bench_window

    out = tmp_path / "window.json"
    variants = ["A fw int8 (30 s export)", "A ours ct2 (windows per batch)", "A ours ct2 (30 s only)",
                "B ours ct2 (tiny.en 30 s)", "C label ct2 (tiny.en 30 s)"]
    assert bench_window.main(["--smoke", "--model", str(tiny_whisper_dir), "--train-data", str(tone_data),
                              "--heldout", str(tone_data), "--asterisk", str(tone_data), "--no-jfk", "--clips", "2",
                              "--variants", ",".join(variants), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert set(data["summary"]) == set(variants) and not data["skipped"]
    assert data["facts"]["a_windows"][-1] == 30 and len(data["facts"]["a_windows"]) > 1  # cpu-quick: any-window
    for variant in variants[:3]:
        for name in ("heldout", "asterisk"):
            row = data["summary"][variant][name]
            assert row["median_audio_s_per_s"] > 0 and row["wer"] >= 0 and row["rounds"] == 1
    assert data["summary"]["C label ct2 (tiny.en 30 s)"]["label"]["audio_s"] > 0
    a_checks = [t for t in data["targets"] if t["target"].startswith("A:")]
    assert [t["set"] for t in a_checks] == ["heldout", "asterisk"] and all(t["speed_ratio"] > 0 for t in a_checks)
    assert data["machine"]["load_avg_at_start"] and data["facts"]["load_at_end"]


def test_bench_startup_smoke(tmp_path):
    from benchmarks import bench_startup

    out = tmp_path / "startup.json"
    assert bench_startup.main(["--smoke", "--out", str(out)]) == 0
    rows = {r["measurement"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["app first paint"]["median_s"] > rows["python (empty interpreter)"]["median_s"] > 0
    assert rows["app first paint"]["heavy"] == "none"  # torch & co. stay out of the first paint


def test_clear_speech_set_is_a_valid_dataset(tmp_path):
    from benchmarks.clear_speech import SENTENCES, VOICES, make_clear_speech
    from whisper_tui.data.dataset import validate_dataset

    report = validate_dataset(make_clear_speech(tmp_path / "clear"))
    assert len(report.usable_clips) >= len(SENTENCES) * len(VOICES) and not report.errors
    assert {c.transcription for c in report.usable_clips} >= set(SENTENCES)


def test_soak_cancel_smoke(tiny_whisper_dir, tmp_path, capsys):
    """Two cancels (encoder-cache build, a step, an evaluation's result) and resumes give bit-identical losses
    and weights, and leave no lock or temp file in the run folder. LoRA dropout is off and the kinds are
    limited: with dropout, a cancel between an epoch's steps does not resume exactly yet, and a cancel during
    an evaluation loses it (RESULTS.md, soak_cancel). An ended job still holds its encoder cache's in-use
    lock until it is garbage-collected, which is tolerated here only; the full soak
    (`python -m benchmarks.soak_cancel`) draws from every kind and fails on all of these."""
    from benchmarks import soak_cancel

    out = tmp_path / "soak.json"
    code = soak_cancel.main(["--smoke", "--model", str(tiny_whisper_dir), "--kinds", "cache-build,step,eval-end",
                             "--set", "finetuning.lora.lora_dropout=0", "--epochs", "2", "--out", str(out),
                             "--workdir", str(tmp_path / "work")])
    data = json.loads(out.read_text())
    known = [f for f in data["failures"] if "in-use lock of this process" in f]  # job.py: cache lock not released
    assert data["failures"] == known and code == (0 if not known else 1)
    assert data["interruptions"] == 2 and data["finished_runs"] >= 1
    assert data["max_dloss"] == 0 and data["max_dweight_final"] == 0 and data["max_dweight_best"] == 0
    assert set(data["leftovers_by_kind"]) <= {"encoder-cache in-use lock"}
    assert ("PASS" if code == 0 else "FAIL") in capsys.readouterr().out


def test_bench_prompt_counts_each_domain_word_once_per_hearing():
    from benchmarks.bench_prompt import domain_hits, vocabulary_prompt

    hits, total = domain_hits(["Take metoprolol with Redis, then metoprolol again.", "No domain words here."],
                              ["take metoprolol with red is then meta prolol again", "metoprolol here"])
    assert (hits, total) == (1, 3)  # the second clip's extra metoprolol is not in its reference
    assert vocabulary_prompt().startswith("Atorvastatin, metoprolol,") and "Kubernetes" in vocabulary_prompt()
