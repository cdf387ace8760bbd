"""Prompts (previous text, OpenAI's initial_prompt): where the default comes from, and `evaluate --prompt`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers_audio import write_metadata
from whisper_tui.inference.prompts import resolve_prompt, run_profile_prompt

JFK = Path(__file__).resolve().parents[1] / "whisper_tui" / "data" / "jfk.flac"
PLAIN = "and so my fellow Americans ask not what your country can do for you ask"  # lowercase start, no commas


def _profile(path: Path, prompt: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[model]\nprompt = "{prompt}"\n', encoding="utf-8")
    return path


def test_explicit_prompt_wins_and_an_empty_one_turns_the_default_off(tmp_path):
    profile = _profile(tmp_path / "vocab.toml", "Kubernetes, kubectl.")
    assert resolve_prompt("  etcd  ", profile=str(profile)) == "etcd"
    assert resolve_prompt("", profile=str(profile)) is None
    assert resolve_prompt(None, profile=str(profile)) == "Kubernetes, kubectl."
    assert resolve_prompt(None, "tiny.en") is None


def test_a_run_folder_brings_the_prompt_of_its_profile(tmp_path):
    run = tmp_path / "run"
    _profile(run / "profile.toml", "Dr. Okonkwo")
    (run / "final").mkdir()
    (run / "checkpoints").mkdir()
    assert run_profile_prompt(run) == run_profile_prompt(run / "final") == "Dr. Okonkwo"
    assert run_profile_prompt(run / "checkpoints") is None  # not a model folder of the run
    assert resolve_prompt(None, str(run / "final")) == "Dr. Okonkwo"
    assert resolve_prompt(None, str(run / "final"), profile=str(_profile(tmp_path / "p.toml", "other"))) == "other"
    (run / "profile.toml").write_text("[model\nprompt = ", encoding="utf-8")  # broken: no default, no crash
    assert run_profile_prompt(run) is None


def test_a_named_profile_is_checked(tmp_path):
    from whisper_tui.errors import ProfileError

    with pytest.raises(ProfileError):
        resolve_prompt(None, profile="no-such-profile")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nprompt = 3\n", encoding="utf-8")
    with pytest.raises(ProfileError):
        resolve_prompt(None, profile=str(bad))


@pytest.mark.timeout(120)
def test_evaluate_decodes_after_the_prompt_and_records_it(tmp_path, capsys):
    """A lowercase prompt without punctuation makes tiny.en write the same style (OpenAI's initial_prompt)."""
    from whisper_tui.cli.main import main

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(JFK, data / "jfk.flac")
    write_metadata(data, [("jfk.flac", "And so my fellow Americans, ask not what your country can do for you, "
                                       "ask what you can do for your country.")])
    profile = _profile(tmp_path / "style.toml", "hello there my good friend how are you today")
    common = ["evaluate", "--model", "tiny.en", "--backend", "ct2", "--data", str(data), "--test-split", "1.0",
              "--no-keep", "--rows", "0"]

    def hypothesis(*extra) -> tuple[str, str | None]:
        report = tmp_path / "report.json"
        assert main([*common, "--report", str(report), *extra]) == 0
        saved = json.loads(report.read_text())
        return saved["clips"][0]["hypothesis"], saved["prompt"]

    plain, none = hypothesis()
    assert none is None and plain.startswith("And so my fellow Americans")
    prompted, recorded = hypothesis("--profile", str(profile))
    assert recorded == "hello there my good friend how are you today" and prompted.startswith(PLAIN)
    assert hypothesis("--profile", str(profile), "--prompt", "") == (plain, None)
    assert "prompt: hello there" in capsys.readouterr().err
