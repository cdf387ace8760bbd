"""`whisper-tui doctor`: a fast table of checks that exits 2 only when one FAILs.

Failures are made for real where that is cheap (a broken profile file, a config folder that is a file,
eSpeak's library and binary both gone) and by patching the one lookup a check reads where it is not
(installed versions, free disk space). conftest gives every test its own config and data folders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from whisper_tui.cli import doctor_command as doctor
from whisper_tui.cli.main import main
from whisper_tui.exit_codes import EXIT_OK, EXIT_USER

REPO = Path(__file__).resolve().parents[1]
MIB = 1024**2


def _run(capsys, *extra) -> tuple[int, str]:
    code = main(["doctor", *extra])
    return code, capsys.readouterr().out


def _rows(capsys) -> tuple[int, dict[str, dict]]:
    code, out = _run(capsys, "--json")
    report = json.loads(out)
    assert report["exit_code"] == code and report["ok"] is (code == EXIT_OK)
    return code, {c["name"]: c for c in report["checks"]}


def test_doctor_runs_every_check_and_fails_only_on_a_fail(capsys):
    code, rows = _rows(capsys)
    for name in ("python", "torch", "gpu", "bitsandbytes", "espeak", "model", "ctranslate2", "cache", "runs",
                 "config", "profiles", "memory"):
        assert name in rows, name
    assert all(c["status"] in ("OK", "INFO", "WARN", "FAIL") for c in rows.values())
    assert all(c["fix"] for c in rows.values() if c["status"] in ("WARN", "FAIL")), "a problem without a fix"
    assert code == (EXIT_USER if any(c["status"] == "FAIL" for c in rows.values()) else EXIT_OK)
    # this venv is the project's own: its packages and the built-in profiles are fine
    for name in ("python", "torch", "profiles", "config"):
        assert rows[name]["status"] == "OK", rows[name]
    assert rows["model"]["status"] in ("OK", "INFO")  # INFO: not converted yet, the first train converts it
    assert "5 built-in and 0 user profiles parse" in rows["profiles"]["detail"]


def test_the_table_says_what_to_do_under_a_problem(capsys, monkeypatch):
    monkeypatch.setattr(doctor, "disk_free", lambda folder: 1024 * MIB)  # 1 GiB: low, not too low
    code, out = _run(capsys)
    lines = out.splitlines()
    cache = next(i for i, line in enumerate(lines) if line.split()[1:2] == ["cache"])
    assert lines[cache].startswith("WARN") and "under 2.00 GiB" in lines[cache]
    assert "-> free some space, e.g. `whisper-tui cache prune`" in lines[cache + 1]
    assert code == EXIT_OK  # a warning is no failure
    assert "warning" in lines[-1]


def test_a_broken_user_profile_fails_naming_the_file(capsys, tmp_path):
    folder = tmp_path / "config" / "profiles"  # conftest's WHISPER_TUI_CONFIG_DIR
    folder.mkdir(parents=True)
    bad = folder / "mine.toml"
    bad.write_text('[training]\nlearning_rate = fast\n', encoding="utf-8")
    (folder / "ok.toml").write_text('[training]\nnum_train_epochs = 2\n', encoding="utf-8")
    code, rows = _rows(capsys)
    assert code == EXIT_USER
    assert "profiles" not in rows  # the broken file's row stands in for the summary
    row = rows["profile mine"]
    assert row["status"] == "FAIL" and str(bad) in row["detail"] and "TOML syntax error" in row["detail"]
    assert "double quotes" in row["fix"]
    assert "profile ok" not in rows
    code, out = _run(capsys)
    assert code == EXIT_USER and "FAIL  profile mine" in out and str(bad) in out
    assert out.splitlines()[-1] == "1 failed, 0 warnings"


def test_a_user_profile_with_a_built_in_name_is_a_warning(capsys, tmp_path):
    folder = tmp_path / "config" / "profiles"
    folder.mkdir(parents=True)
    (folder / "cpu-quick.toml").write_text('[training]\nnum_train_epochs = 2\n', encoding="utf-8")
    code, rows = _rows(capsys)
    assert rows["profile cpu-quick"]["status"] == "WARN" and "is ignored" in rows["profile cpu-quick"]["detail"]
    assert rows["profiles"]["status"] == "OK"


def test_torch_and_torchaudio_of_different_minors_fail(capsys, monkeypatch):
    real = doctor.version_of
    monkeypatch.setattr(doctor, "version_of", lambda dist: "2.10.1" if dist == "torchaudio" else real(dist))
    code, rows = _rows(capsys)
    assert code == EXIT_USER
    assert rows["torch"]["status"] == "FAIL"
    assert "torchaudio 2.10.1: torchaudio is built for torch 2.10.*, not 2.11" in rows["torch"]["detail"]
    assert "torchaudio==2.11.*" in rows["torch"]["fix"]


def test_torch_missing_fails(monkeypatch):
    monkeypatch.setattr(doctor, "version_of", lambda dist: None)
    row = doctor.check_torch()
    assert row.status == "FAIL" and row.detail == "torch and torchaudio not installed"


def test_no_espeak_is_a_warning_with_what_to_install(capsys, monkeypatch):
    from whisper_tui.data import tts

    def no_library(*args):
        raise OSError("libespeak-ng.so: cannot open shared object file")

    monkeypatch.setattr(tts, "_speak_with_library", no_library)
    monkeypatch.setattr(tts, "_library_error", None)
    monkeypatch.setattr(tts.shutil, "which", lambda name: None)  # and no espeak-ng binary on PATH
    code, rows = _rows(capsys)
    row = rows["espeak"]
    assert row["status"] == "WARN" and "cannot open shared object file" in row["detail"]
    assert "no espeak-ng binary on PATH" in row["detail"]
    assert "espeak-ng" in row["fix"]
    assert code == (EXIT_USER if any(c["status"] == "FAIL" for c in rows.values()) else EXIT_OK)


def test_too_little_disk_fails(capsys, monkeypatch):
    monkeypatch.setattr(doctor, "disk_free", lambda folder: 100 * MIB)
    code, rows = _rows(capsys)
    assert code == EXIT_USER
    for name in ("cache", "runs"):
        assert rows[name]["status"] == "FAIL" and "100 MiB free" in rows[name]["detail"]
        assert "runs stop for lack of space" in rows[name]["detail"]


def test_a_config_folder_that_cannot_be_written_fails(capsys, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("WHISPER_TUI_CONFIG_DIR", str(blocker))
    code, rows = _rows(capsys)
    assert code == EXIT_USER
    assert rows["config"]["status"] == "FAIL" and "is a file, not a folder" in rows["config"]["detail"]
    assert "WHISPER_TUI_CONFIG_DIR" in rows["config"]["fix"]


def test_a_check_that_crashes_is_reported_not_raised(capsys, monkeypatch):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(doctor, "check_ct2", broken)
    code, rows = _rows(capsys)
    assert rows["ctranslate2"]["status"] == "WARN" and "RuntimeError: boom" in rows["ctranslate2"]["detail"]


def test_doctor_as_a_command_imports_no_textual():
    """The real entry point in a fresh process: quick, no Textual, and no torch unless NVML saw a GPU."""
    code = ("import json, sys\n"
            "from whisper_tui.cli.main import main\n"
            "rc = main(['doctor', '--json'])\n"
            "heavy = sorted(m for m in ('textual', 'rich', 'torch', 'transformers') if m in sys.modules)\n"
            "sys.stderr.write('HEAVY ' + json.dumps(heavy) + '\\n')\n"
            "sys.exit(rc)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env=env)
    report = json.loads(result.stdout)
    assert result.returncode == report["exit_code"], result.stderr
    heavy = json.loads(next(line for line in result.stderr.splitlines() if line.startswith("HEAVY "))[6:])
    assert "textual" not in heavy and "rich" not in heavy
    assert "transformers" not in heavy
    gpu = next(c for c in report["checks"] if c["name"] == "gpu")
    if gpu["status"] == "INFO":  # no GPU: nothing needed torch
        assert "torch" not in heavy


def test_python_m_whisper_tui_cli_doctor(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "WHISPER_TUI_CONFIG_DIR": str(tmp_path / "config")}
    result = subprocess.run([sys.executable, "-m", "whisper_tui.cli", "doctor"], cwd=REPO, capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode in (EXIT_OK, EXIT_USER), result.stderr
    assert ("FAIL" in result.stdout) is (result.returncode == EXIT_USER)
    assert result.stdout.splitlines()[0].split()[:2] == ["OK", "python"]
    assert "profiles" in result.stdout and "memory" in result.stdout


def test_doctor_is_listed_in_the_help():
    from whisper_tui.cli.main import build_parser

    help_text = build_parser().format_help()
    assert "doctor" in help_text
    assert build_parser().parse_args(["doctor", "--json"]).json is True


def _fake_gpu(monkeypatch, *, cuda: bool, cuda_version: str | None):
    """NVML sees one GPU; `torch` answers as a CUDA or CPU-only build (no GPU on the machines this runs on)."""
    import types

    from whisper_tui.system import sysmon

    gpu = sysmon.GpuStats(0, "NVIDIA H100", 1 * MIB, 80 * 1024 * MIB, 0.0)
    monkeypatch.setattr(sysmon, "gpu_stats", lambda: ((gpu,), "", ()))
    torch = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: cuda),
                                  version=types.SimpleNamespace(cuda=cuda_version))
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_a_gpu_torch_can_use_is_ok(monkeypatch):
    _fake_gpu(monkeypatch, cuda=True, cuda_version="12.8")
    row = doctor.check_gpu()
    assert (row.status, row.detail) == ("OK", "NVIDIA H100 (80.0 GiB), CUDA 12.8")


def test_a_gpu_with_a_cpu_only_torch_is_a_warning(monkeypatch):
    _fake_gpu(monkeypatch, cuda=False, cuda_version=None)
    row = doctor.check_gpu()
    assert row.status == "WARN" and "this torch has no CUDA: training runs on the CPU" in row.detail
    assert "CUDA build of torch" in row.fix
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert "CUDA_VISIBLE_DEVICES='' hides it" in doctor.check_gpu().detail
