"""The headless command line as a script user meets it: exit codes, one-line errors, run folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import build_tiny_whisper
from helpers_audio import write_tone_dataset, write_wav
from whisper_tui.cli import main
from whisper_tui.errors import ProfileError


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    return build_tiny_whisper(root / "model"), write_tone_dataset(root / "data", n=6)


def cli(*args: str, env_extra: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "whisper_tui.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, stdin=subprocess.DEVNULL)


def test_no_arguments_without_a_terminal_explains_and_fails():
    proc = cli()
    assert proc.returncode == 2
    assert "no command given and no terminal" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_validate_reports_problems_and_sets_the_exit_code(tmp_path, capsys):
    good = tmp_path / "good"
    write_wav(good / "a.wav", seconds=1.0)
    (good / "metadata.csv").write_text("file_name,transcription\na.wav,hello there\n")
    assert main(["validate", str(good)]) == 0
    bad = tmp_path / "bad"
    write_wav(bad / "a.wav", seconds=1.0)
    (bad / "metadata.csv").write_text("file_name,transcription\na.wav,hello\nmissing.wav,gone\n")
    assert main(["validate", str(bad)]) == 2
    out = capsys.readouterr().out
    assert "missing.wav" in out and "missing" in out


def test_bad_profile_override_names_the_key(assets, tmp_path, capsys):
    model, data = assets
    code = main(["train", "--model", str(model), "--data", str(data), "--output", str(tmp_path / "run"),
                 "--set", "finetuning.lora.r=0"])
    err = capsys.readouterr().err
    assert code == 2 and "finetuning.lora.r" in err
    assert not (tmp_path / "run").exists()  # nothing was started


def test_missing_inputs_are_one_line_errors(tmp_path, capsys):
    assert main(["transcribe", str(tmp_path / "nope.wav")]) == 2
    assert main(["evaluate", "--data", str(tmp_path / "nodata")]) == 2
    assert main(["train", "--profile", "no-such-profile"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 3 and "Traceback" not in err


def test_train_evaluate_transcribe_round_trip(assets, tmp_path, capsys):
    model, data = assets
    out = tmp_path / "run"
    code = main(["train", "--model", str(model), "--data", str(data), "--output", str(out), "--epochs", "1",
                 "--batch-size", "2", "--set", "training.generation_max_length=8", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert (out / "final" / "adapter_config.json").exists() and (out / "best").is_dir()
    assert json.loads((out / "run.json").read_text())["status"] == "finished"

    report = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(out / "final"), "--data", str(data), "--test-split", "1.0",
                 "--report", str(report), "--batch-size", "4"]) == 0
    saved = json.loads(report.read_text())
    assert saved["n_clips"] == 6 and 0 <= saved["wer"]

    capsys.readouterr()
    assert main(["transcribe", str(data), "--model", str(out), "--compare", str(model), "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert len(lines) == 6 and all(str(model) in row for row in lines)

    # the same output folder again is refused, and the finished run is untouched
    assert main(["train", "--model", str(model), "--data", str(data), "--output", str(out), "--epochs", "1"]) == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert (out / "final" / "adapter_config.json").exists()


def test_profiles_and_locate(capsys, tmp_path):
    assert main(["profiles"]) == 0
    listing = capsys.readouterr().out
    for name in ("cpu-quick", "cpu-gentle", "lora-8gb", "qlora-4gb", "full"):
        assert name in listing
    assert main(["profiles", "show", "cpu-quick"]) == 0
    assert "[finetuning.lora]" in capsys.readouterr().out
    seed = tmp_path / "config.yaml"
    seed.write_text("model:\n  name: openai/whisper-tiny\nfinetuning:\n  strategy: lora\ntraining:\n"
                    "  num_train_epochs: 2\n")
    assert main(["profiles", "import", str(seed), "--as", "from-seed"]) == 0
    assert main(["profiles", "show", "from-seed"]) == 0
    assert "num_train_epochs = 2" in capsys.readouterr().out
    assert main(["locate"]) == 0
    assert str(tmp_path) in capsys.readouterr().out  # the test's isolated dirs are what it reports


def test_ctrl_c_cancels_with_a_checkpoint_and_resume_finishes(assets, tmp_path):
    """A real process, a real SIGINT: exit 130, a complete checkpoint, then --resume finishes the run."""
    import signal
    import time

    model, data = assets
    out = tmp_path / "run"
    args = [sys.executable, "-m", "whisper_tui.cli", "train", "--model", str(model), "--data", str(data),
            "--output", str(out), "--epochs", "40", "--batch-size", "1", "--no-base-eval",
            "--set", "training.eval_strategy='no'"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    deadline = time.time() + 240
    metrics = out / "metrics.jsonl"
    while time.time() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 3):
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err
    assert "resume with: whisper-tui train --resume" in err
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "cancelled" and status["last_checkpoint"]
    ckpts = list((out / "checkpoints").glob("checkpoint-*/whisper_tui_complete"))
    assert ckpts, "cancel must leave a complete checkpoint"
    refused = cli("train", "--resume", str(out), "--lr", "0.1")
    assert refused.returncode == 2 and "--lr cannot change it" in refused.stderr
    resumed = cli("train", "--resume", str(out), "--epochs", "2", timeout=400)  # 2 epochs = 12 steps in all
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_export_then_transcribe_with_the_ct2_backend(assets, tmp_path, capsys):
    model, data = assets
    out = tmp_path / "ct2"
    assert main(["export", str(model), str(out), "--quantization", "float32"]) == 0
    assert (out / "model.bin").exists()
    assert main(["export", str(model), str(out)]) == 2  # never overwritten without --force
    capsys.readouterr()
    assert main(["transcribe", str(data), "--model", str(out), "--backend", "ct2", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert len(rows) == 6


def test_train_makes_the_run_folder_under_the_profiles_output_dir(tmp_path, monkeypatch, capsys):
    """`--set output.dir=runs-here` (relative: to the current folder) without --output: a dated run folder in it."""
    from whisper_tui.training import job as job_module

    made = []

    class NoTraining(job_module.TrainingJob):
        def start(self):
            made.append(self.run_dir)

        def wait(self, timeout=None):
            return True

    monkeypatch.setattr(job_module, "TrainingJob", NoTraining)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--profile", "cpu-quick", "--set", "output.dir=runs-here"]) == 0
    assert main(["train", "--profile", "cpu-quick", "--set", "output.dir=runs-here",
                 "--output", str(tmp_path / "explicit")]) == 0  # --output still wins
    (tmp_path / "a-file").write_text("x")
    assert main(["train", "--profile", "cpu-quick", "--set", f"output.dir={tmp_path / 'a-file'}"]) == 2
    assert made[0].parent == tmp_path / "runs-here" and made[0].name.endswith("-cpu-quick")
    assert made[1:] == [tmp_path / "explicit"]
    err = capsys.readouterr().err
    assert "output.dir" in err and "is a file, not a folder" in err and "Traceback" not in err
    assert main(["locate"]) == 0
    assert f"runs (output.dir)  {tmp_path / 'runs-here'}" in capsys.readouterr().out


def test_train_flags_come_from_the_schema_and_set_their_keys(tmp_path, capsys):
    """Each Rule.flag is a `train` option whose help names its key; given, it sets that key (a --set still wins)."""
    from whisper_tui.cli.commands import profile_from_args
    from whisper_tui.cli.main import build_parser
    from whisper_tui.config.profile_schema import flag_settings

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for spec in flag_settings():
        assert f"--{spec.rule.flag}" in help_text and f"({spec.key})" in help_text
    assert "--no-grad-ckpt" in help_text and "--budget TIME" in help_text and "{full,lora,qlora}" in help_text
    args = build_parser().parse_args([
        "train", "--epochs", "2", "--lr", "3e-4", "--no-grad-ckpt", "--budget", "5m", "--data", str(tmp_path),
        "--strategy", "full", "--split-by", "speaker", "--max-steps", "7", "--set", "training.max_steps=9"])
    profile = profile_from_args(args)
    assert (profile.training.num_train_epochs, profile.training.learning_rate, profile.training.budget_s) == (2, 3e-4, 300)
    assert not profile.finetuning.gradient_checkpointing and profile.finetuning.strategy == "full"
    assert profile.data.train_dir == str(tmp_path.resolve()) and profile.data.split_by == "speaker"
    assert profile.training.max_steps == 9
    with pytest.raises(ProfileError, match="--budget: "):
        profile_from_args(build_parser().parse_args(["train", "--budget", "soon"]))


def test_resume_takes_only_the_length_flags(tmp_path):
    """--resume keeps the run's profile: --epochs/--max-steps change it, any other profile flag is refused
    (--split-by and --budget were once let through and ignored)."""
    from whisper_tui.cli.commands import _resume_profile
    from whisper_tui.cli.main import build_parser
    from whisper_tui.config.profile import load_profile

    run = tmp_path / "run"
    run.mkdir()
    (run / "profile.toml").write_text(load_profile("cpu-quick").to_toml(), encoding="utf-8")
    resumed = _resume_profile(build_parser().parse_args(["train", "--resume", str(run), "--epochs", "5"]))
    assert resumed.training.num_train_epochs == 5
    for flag, value in (("--split-by", "speaker"), ("--budget", "5m"), ("--lr", "1e-4")):
        with pytest.raises(ProfileError, match=f"{flag} cannot change it") as info:
            _resume_profile(build_parser().parse_args(["train", "--resume", str(run), flag, value]))
        assert "only --epochs and --max-steps may be given" in info.value.hint
