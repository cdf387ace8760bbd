"""The Trainer callbacks (training/callbacks.py) reach the run only through its public face, `TrainingRun`.

They once read the job's private fields (`_emit`, `_cancel`, `_pause`, `_set_state`, `_save_model`, ...), so
any rename inside the job could silently break pause, cancel or best/. These checks read the source (AST):
no underscored attribute on anything but the callback itself, only `TrainingRun` members on the run, only
public `RunControl` members on its control; and `TrainingJob` provides every `TrainingRun` member.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import whisper_tui.training.callbacks as callbacks
from whisper_tui.training.callbacks import TrainingRun
from whisper_tui.training.run_control import RunControl

SOURCE = Path(callbacks.__file__).read_text(encoding="utf-8")


def _chain(node: ast.AST) -> list[str]:
    """`self.run.control.emit` -> ["self", "run", "control", "emit"] (empty when it does not start at a name)."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    return [node.id, *reversed(names)] if isinstance(node, ast.Name) else []


def _attribute_chains() -> list[list[str]]:
    return [chain for node in ast.walk(ast.parse(SOURCE)) if isinstance(node, ast.Attribute)
            if (chain := _chain(node))]


def _protocol_members() -> set[str]:
    members = set(TrainingRun.__annotations__)
    members |= {name for name, _ in inspect.getmembers(TrainingRun) if not name.startswith("_")}
    return members


def test_callbacks_read_no_private_attribute_of_another_object():
    offenders = []
    for node in ast.walk(ast.parse(SOURCE)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id == "self"):  # its own fields are fine
                offenders.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert offenders == []


def test_the_callbacks_use_only_the_run_interface_and_public_run_control():
    members = _protocol_members()
    control_members = {name for name in dir(RunControl) if not name.startswith("_")} | {
        "folder", "listeners", "state", "step", "result"}  # set in RunControl.__init__
    on_run, on_control = set(), set()
    for chain in _attribute_chains():
        # the run is `self.run` in JobCallback and `run` where a hook names it locally
        rest = chain[2:] if chain[:2] == ["self", "run"] else chain[1:] if chain[0] == "run" else None
        if not rest:
            continue
        on_run.add(rest[0])
        if rest[0] == "control" and len(rest) > 1:
            on_control.add(rest[1])
    assert on_run and on_run <= members, on_run - members
    assert on_control and on_control <= control_members, on_control - control_members
    # the AST walk saw the calls that matter, so the checks above are not vacuous
    assert {"emit", "wait_while_paused", "cancel_requested", "log"} <= on_control
    assert {"save_model", "evaluate_keep", "scores", "folder"} <= on_run


def test_training_job_provides_every_member_of_the_interface(tmp_path):
    from whisper_tui.config.profile import load_profile
    from whisper_tui.training.job import TrainingJob

    job = TrainingJob(load_profile("cpu-quick"), tmp_path / "run")
    missing = [name for name in _protocol_members() if not hasattr(job, name)]
    assert missing == []
    assert isinstance(job.control, RunControl) and job.has_keep_set is False and job.evaluate_keep() is None
