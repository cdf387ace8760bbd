"""Issue 24: `train --resume` on a run folder that has nothing to resume says what happened and what to do.

Before, a run killed while loading (only its .lock written) got "no profile.toml, so this is not a
whisper-tui run folder", and one killed before its first checkpoint "has no complete checkpoint".
"""

from __future__ import annotations

import json


def killed_before_writing(folder):
    """What a run killed while loading its data or model leaves: the lock file of a process that is gone."""
    import socket

    folder.mkdir(parents=True)
    (folder / ".lock").write_text(json.dumps({"pid": 999999999, "host": socket.gethostname(),
                                              "started": "2025-01-01T00:00:00+00:00", "proc_start": None}) + "\n")
    return folder


def test_resume_of_a_run_killed_before_it_wrote_anything_says_to_start_it_again(tmp_path, capsys):
    from whisper_tui.cli.main import main
    from whisper_tui.training.run_folder import RunFolder

    run = killed_before_writing(tmp_path / "run")
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "stopped before its first checkpoint, so there is nothing to resume" in err, err
    assert f"start it again without --resume, with the same --output {run}" in err
    assert "not a whisper-tui run folder" not in err
    # and that advice works: a new run takes the folder over
    folder = RunFolder(run)
    assert "did not end cleanly" in folder.acquire(resuming=False)
    folder.release()


def test_resume_of_a_run_stopped_before_its_first_checkpoint_names_its_profile(tmp_path, capsys):
    from whisper_tui.cli.main import main
    from whisper_tui.config.profile import load_profile, save_profile

    run = killed_before_writing(tmp_path / "run")
    save_profile(load_profile("cpu-quick"), run / "profile.toml")
    (run / "run.json").write_text(json.dumps({"status": "running", "pid": 999999999}))
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "stopped before its first checkpoint" in err and f"--profile {run / 'profile.toml'}" in err, err
    assert "a new --output folder" in err


def test_resume_of_a_folder_that_never_held_a_run_keeps_saying_so(tmp_path, capsys):
    from whisper_tui.cli.main import main

    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    assert main(["train", "--resume", str(tmp_path / "photos")]) == 2
    assert "no profile.toml, so this is not a whisper-tui run folder" in capsys.readouterr().err
