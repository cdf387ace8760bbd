"""Past training runs: what `TrainingJob` left in each run folder, read back for the Runs screen and CLI.

A run folder can be in any state a crash leaves behind: `run.json` half written, missing, or
saying "running" for a process that died. Listing must never fail because of one bad folder, so
each problem becomes a status ("broken", "interrupted") with a reason the user can read, and the
rest of the list still shows. The layout is described in docs/ENGINE_API.md.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .locations import default_runs_dir
from .processes import pid_alive

RUN_JSON = "run.json"
METRICS_FILE = "metrics.jsonl"
LOCK_FILE = ".lock"
# Files/folders whose presence makes a folder a run folder even when run.json is missing.
_RUN_MARKERS = (RUN_JSON, METRICS_FILE, "profile.toml", "train.log", "checkpoints")
_NAME_PATTERN = re.compile(r"^(?P<date>\d{8}-\d{6})-(?P<profile>.+)$")
KNOWN_STATUSES = ("running", "finished", "failed", "cancelled")


@dataclass(frozen=True)
class RunSummary:
    """One run folder as the user sees it in the history list."""

    run_dir: Path
    name: str
    started: datetime | None
    status: str  # running | finished | failed | cancelled | interrupted | broken
    profile: str
    strategy: str
    model: str
    best_wer: float | None
    base_wer: float | None
    duration_s: float | None
    final_wer: float | None = None
    finished: datetime | None = None
    reason: str = ""  # why it failed / is broken / was interrupted
    # the keep set (general speech, keep_set.py): WER of the base model, at the best step, of the final model
    base_keep_wer: float | None = None
    best_keep_wer: float | None = None
    final_keep_wer: float | None = None

    @property
    def keep_change(self) -> tuple[float | None, float | None]:
        """(base, after) keep-set WER for "general speech: base → after": after = at the best step, else final."""
        after = self.best_keep_wer if self.best_keep_wer is not None else self.final_keep_wer
        return self.base_keep_wer, after

    @property
    def final_dir(self) -> Path | None:
        path = self.run_dir / "final"
        return path if path.is_dir() else None

    @property
    def data_dir(self) -> Path | None:
        """The folder the run trained on, from its profile.toml (empty there = the bundled sample data)."""
        import tomllib

        try:
            data = tomllib.loads((self.run_dir / "profile.toml").read_text(encoding="utf-8")).get("data", {})
        except (OSError, ValueError):
            return None
        train_dir = str(data.get("train_dir") or "")
        if not train_dir:
            from .locations import default_sample_data_dir

            return default_sample_data_dir()
        return Path(train_dir).expanduser()

    @property
    def best_dir(self) -> Path | None:
        path = self.run_dir / "best"
        return path if path.is_dir() else None

    @property
    def model_dirs(self) -> list[tuple[str, Path]]:
        """("final"|"best", path) for each saved model, the ones a user can transcribe with."""
        return [(label, path) for label, path in (("final", self.final_dir), ("best", self.best_dir)) if path]

    @property
    def latest_checkpoint(self) -> Path | None:
        """The newest completely written `checkpoints/checkpoint-N`, the one to resume an unfinished run from."""
        from .training.run_folder import CHECKPOINT_MARK

        folder = self.run_dir / "checkpoints"
        if not folder.is_dir():
            return None
        numbered = []
        for child in folder.iterdir():
            match = re.fullmatch(r"checkpoint-(\d+)", child.name)
            if match and (child / CHECKPOINT_MARK).is_file():
                numbered.append((int(match.group(1)), child))
        return max(numbered)[1] if numbered else None


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _float_or_none(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN means "not measured"


def _name_parts(name: str) -> tuple[datetime | None, str]:
    """Start time and profile from a `YYYYmmdd-HHMMSS-<profile>` folder name, for runs without run.json."""
    match = _NAME_PATTERN.match(name)
    if not match:
        return None, ""
    try:
        started = datetime.strptime(match.group("date"), "%Y%m%d-%H%M%S")
    except ValueError:
        return None, ""
    return started, match.group("profile")


def _stale_running_reason(run_dir: Path, data: dict) -> str:
    """Why a run.json saying "running" is not really running ("" when it may well be)."""
    lock = run_dir / LOCK_FILE
    if not lock.exists():
        return "the training process stopped without finishing (no .lock file)"
    host = data.get("host")
    if isinstance(host, str) and host and host != socket.gethostname():
        return ""  # another machine's process: we can't tell
    try:
        pid = int(lock.read_text(encoding="utf-8").strip() or data.get("pid") or 0)
    except (OSError, ValueError, TypeError):
        return ""
    if pid and not pid_alive(pid):
        return f"the training process (pid {pid}) is gone; resume from the latest checkpoint"
    return ""


def _broken(run_dir: Path, reason: str) -> RunSummary:
    started, profile = _name_parts(run_dir.name)
    return RunSummary(run_dir=run_dir, name=run_dir.name, started=started, status="broken", profile=profile,
                      strategy="", model="", best_wer=None, base_wer=None, duration_s=None, reason=reason)


def read_run(run_dir: str | os.PathLike) -> RunSummary:
    """Summary of one run folder; problems become status "broken" with a reason instead of raising."""
    run_dir = Path(run_dir)
    path = run_dir / RUN_JSON
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _broken(run_dir, f"{path} is missing — the run was stopped before it started properly")
    except (OSError, UnicodeDecodeError) as exc:
        return _broken(run_dir, f"{path} cannot be read: {exc}")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return _broken(run_dir, f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}): "
                                f"half written? — delete the folder or fix the file")
    if not isinstance(data, dict):
        return _broken(run_dir, f"{path} holds a {type(data).__name__}, not an object")

    name_started, name_profile = _name_parts(run_dir.name)
    status = str(data.get("status") or "")
    reason = str(data.get("reason") or "")
    if status not in KNOWN_STATUSES:
        status, reason = "broken", f"{path}: unknown status {data.get('status')!r}"
    elif status == "running":
        stale = _stale_running_reason(run_dir, data)
        if stale:
            status, reason = "interrupted", stale
    return RunSummary(
        run_dir=run_dir,
        name=run_dir.name,
        started=_parse_time(data.get("started")) or name_started,
        status=status,
        profile=str(data.get("profile") or name_profile),
        strategy=str(data.get("strategy") or ""),
        model=str(data.get("model") or ""),
        best_wer=_float_or_none(data.get("best_wer")),
        base_wer=_float_or_none(data.get("base_wer")),
        duration_s=_float_or_none(data.get("duration_s")),
        final_wer=_float_or_none(data.get("final_wer")),
        finished=_parse_time(data.get("finished")),
        reason=reason,
        base_keep_wer=_float_or_none(data.get("base_keep_wer")),
        best_keep_wer=_float_or_none(data.get("best_keep_wer")),
        final_keep_wer=_float_or_none(data.get("final_keep_wer")),
    )


def _is_run_folder(path: Path) -> bool:
    if path.name.startswith(".") or not path.is_dir():
        return False
    return any((path / marker).exists() for marker in _RUN_MARKERS)


def _as_roots(root, extra_roots: Iterable) -> list[Path]:
    first = [default_runs_dir()] if root is None else [Path(root)]
    roots: list[Path] = []
    for candidate in [*first, *(Path(r) for r in extra_roots)]:
        resolved = candidate.expanduser()
        if resolved not in roots:
            roots.append(resolved)
    return roots


def list_runs(root: str | os.PathLike | None = None,
              extra_roots: Iterable[str | os.PathLike] = ()) -> list[RunSummary]:
    """Runs under `root` (default: the app's runs folder) and `extra_roots`, newest first.

    A root that doesn't exist simply has no runs. A root that is itself a run folder (someone
    passed `--output-dir` straight to a run) is listed as that one run.
    """
    found: dict[Path, RunSummary] = {}
    for folder in _as_roots(root, extra_roots):
        if not folder.is_dir():
            continue
        if (folder / RUN_JSON).exists():
            candidates = [folder]
        else:
            try:
                candidates = [child for child in folder.iterdir() if _is_run_folder(child)]
            except OSError:
                continue
        for run_dir in candidates:
            key = run_dir.resolve()
            if key not in found:
                found[key] = read_run(run_dir)
    return sorted(found.values(), key=_newest_first_key, reverse=True)


def _newest_first_key(run: RunSummary) -> tuple[float, str]:
    # timestamp() copes with both naive (local) and aware ISO times, which don't compare directly
    try:
        stamp = run.started.timestamp() if run.started else float("-inf")
    except (OverflowError, OSError, ValueError):
        stamp = float("-inf")
    return stamp, run.name


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """Every record of `metrics.jsonl` in order; a torn or garbled line (crash mid-write) is skipped."""
    path = Path(run_dir) / METRICS_FILE
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def metric_series(records: Iterable[dict], kind: str, key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of one metric (e.g. kind="eval", key="wer") for plotting; missing values skipped."""
    steps: list[float] = []
    values: list[float] = []
    for record in records:
        if record.get("type") != kind:
            continue
        step, value = _float_or_none(record.get("step")), _float_or_none(record.get(key))
        if step is not None and value is not None:
            steps.append(step)
            values.append(value)
    return steps, values
