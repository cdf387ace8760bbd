"""CTranslate2 decoding and frame energy each have one home (issue 26): a second copy fails here."""

from __future__ import annotations

from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "whisper_tui"


def _files_with(text: str) -> list[str]:
    return sorted(str(p.relative_to(ENGINE)) for p in ENGINE.rglob("*.py") if text in p.read_text(encoding="utf-8"))


def test_ct2_storage_cap_and_guard_live_in_ct2whisper_only():
    for text in ("StorageView.from_array", "suppress_tokens=[-1]", "guard.cut(r.sequences_ids"):
        assert _files_with(text) == ["inference/transcribe.py"], text


def test_no_caller_reaches_into_ct2whisper_privates():
    for text in ("cw._prompt(", "cw._eot", "_cw._eot", "_cw._no_ts"):
        assert _files_with(text) == [], text


def test_frame_energy_has_one_home():
    assert _files_with("def quietest(") == ["inference/energy.py"]
    assert _files_with("def _quietest(") == []
    assert _files_with("np.ones(_SMOOTH_FRAMES)") == ["inference/energy.py"]


def test_ct2_decode_caps_tokens_and_cuts_loops():
    """decode asks CTranslate2 for min(448, 2 n) and cuts a looping sequence as LoopGuard would."""
    import numpy as np

    from whisper_tui.inference.transcribe import CT2Whisper, LoopGuard

    asked = {}

    class Result:
        sequences_ids = [[5] * 30 + [9]]

    class Model:
        def generate(self, storage, prompts, **kwargs):
            asked.update(kwargs, prompts=prompts)
            return [Result()]

    cw = object.__new__(CT2Whisper)
    cw.eot, cw.model = 9, Model()
    ids, _ = cw.decode(np.zeros((1, 80, 3000), np.float32), [[1, 2]], 300)
    assert asked["max_length"] == 448 and asked["suppress_tokens"] == [-1]
    ids2, _ = cw.decode(np.zeros((1, 80, 3000), np.float32), [[1, 2]], 100)
    assert asked["max_length"] == 200
    assert ids[0] == LoopGuard(9).cut(Result.sequences_ids[0]) and len(ids[0]) < 30
