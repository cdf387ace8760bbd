"""The run folder's lock (issue 13): one training run per folder, decided by the lock itself.

Races between real processes (acquire against acquire, and two `whisper-tui train` on one
--output), another host's lock, a pid the system gave to another program, an empty or garbled
lock file, the "folder already holds a run" check after a stale lock, and release.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from whisper_tui.errors import RunFolderError
from whisper_tui.system.processes import process_start_ticks
from whisper_tui.training.run_folder import RunFolder, read_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock and /proc")

ROUNDS = 200


def _racer(folder: str, rounds: int, barrier, results) -> None:
    """One of two processes: each round, both acquire at once; the winner holds the lock until both
    have tried, then releases it while the loser tries again."""
    for i in range(rounds):
        run = RunFolder(Path(folder))
        barrier.wait()
        try:
            run.acquire(resuming=False)
            won, message = True, ""
        except RunFolderError as exc:
            won, message = False, exc.message
        barrier.wait()  # both have tried; the winner still holds the folder
        retry = RunFolder(Path(folder))
        if won:
            run.release()
            retried = None
        else:
            try:  # racing the winner's release: either refused, or the folder is really ours now
                retry.acquire(resuming=False)
                retried = read_lock(retry.lock_file)
                retried = "ours" if retried is not None and retried.pid == os.getpid() else f"lock says {retried}"
            except RunFolderError:
                retried = "refused"
        barrier.wait()
        if retried == "ours" or (retried and retried.startswith("lock says")):
            retry.release()
        results.put((i, os.getpid(), won, message, retried))
        barrier.wait()  # the folder is free again before the next round


def test_two_processes_racing_for_one_folder_exactly_one_wins_each_round(tmp_path):
    ctx = multiprocessing.get_context("spawn")  # no fork of a test process that may hold torch threads
    barrier, results = ctx.Barrier(2, timeout=60), ctx.Queue()
    folder = tmp_path / "run"
    procs = [ctx.Process(target=_racer, args=(str(folder), ROUNDS, barrier, results)) for _ in range(2)]
    for proc in procs:
        proc.start()
    rows = [results.get(timeout=90) for _ in range(2 * ROUNDS)]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    rounds = [[row for row in rows if row[0] == i] for i in range(ROUNDS)]
    wins = [sum(row[2] for row in this_round) for this_round in rounds]
    assert wins == [1] * ROUNDS, rounds
    for this_round in rounds:
        loser = next(row for row in this_round if not row[2])
        assert "in use by another training run" in loser[3] and str(folder / ".lock") in loser[3]
        assert loser[4] in ("ours", "refused"), this_round  # never a win on a lock file that is going away
    assert not (folder / ".lock").exists()


def test_two_train_commands_on_one_output_folder_one_runs_one_is_refused(tiny_whisper_dir, tmp_path):
    """Two `whisper-tui train` processes started together on one --output: exactly one takes the folder and
    runs (cancelled with Ctrl+C as soon as it says so, to keep the test short); the other exits 2 naming the
    folder: "in use" when it came while the winner held the lock, "already holds a run" when just after."""
    from helpers_audio import write_tone_dataset

    data = write_tone_dataset(tmp_path / "data", n=4)
    out = tmp_path / "run"
    args = [sys.executable, "-m", "whisper_tui.cli", "train", "--model", str(tiny_whisper_dir), "--data", str(data),
            "--output", str(out), "--epochs", "1", "--batch-size", "2", "--no-base-eval", "--quiet",
            "--set", "training.eval_strategy='no'", "--set", "data.keep_set=false"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for _ in range(2)]
    status_file = out / "run.json"
    try:
        deadline, cancelled = time.time() + 120, None
        while any(p.poll() is None for p in procs) and time.time() < deadline:
            if cancelled is None:
                try:
                    status = json.loads(status_file.read_text())
                except (OSError, ValueError):
                    status = {}
                cancelled = next((p for p in procs if status.get("status") == "running" and p.pid == status.get("pid")
                                  and p.poll() is None), None)
                if cancelled is not None:
                    cancelled.send_signal(signal.SIGINT)
            time.sleep(0.02)
        results = {p.pid: (p.returncode, *p.communicate(timeout=30)) for p in procs}
        status = json.loads(status_file.read_text())
        winner = status["pid"]
        assert winner in results and status["status"] in ("cancelled", "finished"), (status, results)
        assert results[winner][0] in (0, 130), results[winner][2]  # it ran: cancelled by us, or finished
        (loser,) = (pid for pid in results if pid != winner)
        code, _out, err = results[loser]
        assert code == 2, err
        assert str(out) in err and "Traceback" not in err
        assert "in use by another training run" in err or "already holds a training run" in err, err
        assert not (out / ".lock").exists()  # released on the way out
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _write_lock(folder: Path, record: dict | str, age_s: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".lock"
    lock.write_text(record if isinstance(record, str) else json.dumps(record))
    if age_s:
        then = time.time() - age_s
        os.utime(lock, (then, then))
    return lock


@pytest.fixture
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_another_hosts_lock_is_live_and_the_message_says_how_to_clear_it(tmp_path):
    folder = tmp_path / "run"
    lock = _write_lock(folder, {"pid": 4242, "host": "gpu-box-7", "started": "2026-11-25T08:00:00+00:00",
                                "proc_start": 123})
    with pytest.raises(RunFolderError) as caught:
        RunFolder(folder).acquire(resuming=True)
    text = f"{caught.value.message} {caught.value.hint}"
    for part in ("gpu-box-7", "4242", str(lock), "delete"):
        assert part in text
    assert json.loads(lock.read_text())["host"] == "gpu-box-7"  # left as it was

    # a lock from before issue 13 (a bare pid) whose run.json says another host is running it: live too
    lock.write_text("4242")
    (folder / "run.json").write_text(json.dumps({"status": "running", "pid": 4242, "host": "gpu-box-7"}))
    with pytest.raises(RunFolderError, match="gpu-box-7"):
        RunFolder(folder).acquire(resuming=True)


def test_a_reused_pid_does_not_keep_the_folder_and_the_lock_file_is_named(tmp_path, sleeper):
    here = socket.gethostname()
    # our format: the pid is alive but started at another time, so it is not the run that wrote the lock
    folder = tmp_path / "a"
    lock = _write_lock(folder, {"pid": sleeper.pid, "host": here, "started": "2026-11-25T08:00:00+00:00",
                                "proc_start": (process_start_ticks(sleeper.pid) or 10**9) - 1000})
    warning = RunFolder(folder).acquire(resuming=False)
    assert warning and str(lock) in warning and f"pid {sleeper.pid}" in warning and "another program" in warning

    # a bare pid (earlier versions): the process using it now started after the lock file was written
    folder = tmp_path / "b"
    lock = _write_lock(folder, str(sleeper.pid), age_s=3600)
    warning = RunFolder(folder).acquire(resuming=False)
    assert warning and str(lock) in warning and "another program" in warning

    # a bare pid whose process is older than the lock: it may be that run, so the folder is refused,
    # naming the lock file to delete if that pid is not a training run
    folder = tmp_path / "c"
    time.sleep(0.05)
    lock = _write_lock(folder, str(sleeper.pid))
    with pytest.raises(RunFolderError) as caught:
        RunFolder(folder).acquire(resuming=False)
    assert "in use by another training run" in caught.value.message and str(lock) in caught.value.message
    assert f"delete {lock}" in caught.value.hint
    assert lock.read_text() == str(sleeper.pid)


HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, sys.argv[2].encode())
print("held", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("contents", ["", "garbage", '{"pid": 0'])
def test_an_empty_or_garbled_lock_that_is_held_is_live_not_pid_0(tmp_path, contents):
    folder = tmp_path / "run"
    folder.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder / ".lock"), contents],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunFolderError, match="in use by another training run"):
            RunFolder(folder).acquire(resuming=False)
    finally:
        holder.kill()
        holder.wait()
    # once its holder is gone the same file is taken over
    folder_run = RunFolder(folder)
    folder_run.acquire(resuming=False)
    assert read_lock(folder_run.lock_file).pid == os.getpid()
    folder_run.release()


def test_a_killed_holder_frees_the_folder_and_the_lock_records_who_held_it(tmp_path):
    folder = tmp_path / "run"
    script = ("import sys, time; from pathlib import Path; from whisper_tui.training.run_folder import RunFolder;"
              "RunFolder(Path(sys.argv[1])).acquire(resuming=False); print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", script, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        record = json.loads((folder / ".lock").read_text())
        assert record["pid"] == holder.pid and record["host"] == socket.gethostname() and record["started"]
        assert record["proc_start"] == process_start_ticks(holder.pid)
        with pytest.raises(RunFolderError, match=f"pid {holder.pid}"):
            RunFolder(folder).acquire(resuming=True)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    run = RunFolder(folder)
    warning = run.acquire(resuming=True)
    assert warning and f"pid {holder.pid}" in warning and "did not end cleanly" in warning
    run.release()


def test_a_stale_lock_does_not_skip_the_folder_already_holds_a_run_check(tmp_path):
    folder = tmp_path / "run"
    lock = _write_lock(folder, "999999999")  # a dead pid, from an earlier version
    (folder / "run.json").write_text(json.dumps({"status": "running", "pid": 999999999,
                                                 "host": socket.gethostname()}))
    with pytest.raises(RunFolderError, match="already holds a training run"):
        RunFolder(folder).acquire(resuming=False)
    assert lock.read_text() == "999999999"  # the evidence of the dead run is left for the Runs list
    run = RunFolder(folder)
    assert "did not end cleanly" in run.acquire(resuming=True)
    run.release()
    # a fresh lock file is not left behind by a refusal either
    with pytest.raises(RunFolderError, match="already holds a training run"):
        RunFolder(folder).acquire(resuming=False)
    assert not lock.exists()


def test_release_removes_only_our_own_lock_and_never_raises(tmp_path):
    folder = tmp_path / "run"
    RunFolder(folder).release()  # never acquired: nothing to do
    run = RunFolder(folder)
    run.acquire(resuming=False)
    run.lock_file.unlink()  # someone deleted it and another run took the folder
    other = RunFolder(folder)
    other.acquire(resuming=False)
    run.release()
    assert read_lock(other.lock_file).pid == os.getpid() and other.lock_file.exists()
    other.release()
    assert not other.lock_file.exists()
    other.release()  # twice: still fine

    gone = RunFolder(tmp_path / "gone")
    gone.acquire(resuming=False)
    import shutil

    shutil.rmtree(gone.path)
    gone.release()


def test_a_lock_file_released_between_open_and_lock_is_not_won(tmp_path, monkeypatch):
    """The holder removes the file after we opened it but before we lock it: locking that removed file
    would win nothing (a third run could create a new one), so acquire opens the file again."""
    from whisper_tui.training import run_folder

    folder = tmp_path / "run"
    holder = RunFolder(folder)
    holder.acquire(resuming=False)
    real_lock = run_folder._lock_nonblocking
    calls = []

    def release_first(fd):
        calls.append(fd)
        if len(calls) == 1:
            holder.release()  # between our open and our lock
        real_lock(fd)

    monkeypatch.setattr(run_folder, "_lock_nonblocking", release_first)
    second = RunFolder(folder)
    assert second.acquire(resuming=False) is None
    monkeypatch.setattr(run_folder, "_lock_nonblocking", real_lock)
    assert len(calls) == 2 and read_lock(second.lock_file).pid == os.getpid()
    with pytest.raises(RunFolderError, match="in use by another training run"):
        RunFolder(folder).acquire(resuming=False)
    second.release()


def test_the_runs_list_can_tell_a_dead_holder_from_a_live_one_in_both_lock_formats(tmp_path, sleeper):
    from whisper_tui.training.run_folder import stale_lock_reason

    here = socket.gethostname()
    status = {"status": "running", "pid": 999999999, "host": here}
    folder = tmp_path / "run"
    folder.mkdir()
    assert "no .lock file" in stale_lock_reason(folder, status)
    live = RunFolder(folder)
    live.acquire(resuming=True)
    assert stale_lock_reason(folder, {**status, "pid": os.getpid()}) == ""
    live.release()
    for record in ({"pid": 999999999, "host": here, "proc_start": 1}, "999999999",
                   {"pid": sleeper.pid, "host": here, "proc_start": (process_start_ticks(sleeper.pid) or 9) - 5}):
        _write_lock(folder, record)
        assert "is gone" in stale_lock_reason(folder, status), record
    for record in ({"pid": sleeper.pid, "host": here, "proc_start": process_start_ticks(sleeper.pid)},
                   {"pid": 999999999, "host": "gpu-box-7"}, ""):
        _write_lock(folder, record)
        assert stale_lock_reason(folder, {**status, "pid": sleeper.pid}) == "", record
