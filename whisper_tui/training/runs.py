"""Past training runs: what `TrainingJob` left in each run folder, read back for the Runs screen and CLI.

A run folder can be in any state a crash leaves behind: `run.json` half written, missing, or
saying "running" for a process that died. Listing must never fail because of one bad folder, so
each problem becomes a status ("broken", "interrupted") with a reason the user can read, and the
rest of the list still shows. The layout is described in docs/ENGINE_API.md.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from whisper_tui.config.locations import data_dir as app_data_dir
from whisper_tui.config.locations import default_runs_dir

log = logging.getLogger(__name__)

RUN_JSON = "run.json"
METRICS_FILE = "metrics.jsonl"
RUN_FOLDERS_FILE = "run-folders.txt"  # in locations.data_dir(): the output.dir folders runs were started in
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
        if not isinstance(data, dict):  # `data = 3` in a hand-edited profile.toml
            return None
        train_dir = data.get("train_dir") or ""
        if not isinstance(train_dir, str):
            return None
        if not train_dir:
            from whisper_tui.config.locations import default_sample_data_dir

            return default_sample_data_dir()
        try:
            return Path(train_dir).expanduser()
        except RuntimeError:  # "~someone" with no such user
            return Path(train_dir)

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
        from whisper_tui.training.run_folder import CHECKPOINT_MARK

        folder = self.run_dir / "checkpoints"
        if not folder.is_dir():
            return None
        numbered = []
        try:
            for child in folder.iterdir():
                match = re.fullmatch(r"checkpoint-(\d+)", child.name)
                if match and (child / CHECKPOINT_MARK).is_file():
                    numbered.append((int(match.group(1)), child))
        except OSError:  # unreadable checkpoints folder: nothing to resume from that we can see
            return None
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
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None  # NaN means "not measured"; inf is no figure either


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
    """Why a run.json saying "running" is not really running ("" when it may well be): the lock's own rule
    (training/run_folder.py), which reads both lock formats (JSON holder, or a bare pid from older versions)."""
    from whisper_tui.training.run_folder import stale_lock_reason

    return stale_lock_reason(run_dir, data)


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
    except (ValueError, RecursionError):  # nested thousands deep: garbage, not a half-written file
        return _broken(run_dir, f"{path} is not valid JSON — delete the folder or fix the file")
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
    try:
        if path.name.startswith(".") or not path.is_dir():
            return False
        return any((path / marker).exists() for marker in _RUN_MARKERS)
    except OSError:  # a folder we may not look into
        return False


def runs_root_for(profile) -> Path | None:
    """The folder a new run of `profile` is made in, for `TrainingJob(..., runs_root=)`: None (the app's runs
    folder) when `output.dir` is empty, else `output.dir` as an absolute path.

    A relative output.dir is taken from the current folder (where whisper-tui was started), like
    data.train_dir. The folder is remembered (`remembered_runs_roots`), so `list_runs()` and the Runs screen
    find its runs from anywhere afterwards. ProfileError when it names a file.
    """
    from whisper_tui.errors import ProfileError

    raw = str(getattr(getattr(profile, "output", None), "dir", "") or "").strip()
    if not raw:
        return None
    hint = "set output.dir to a folder (new run folders are made in it), or empty for the app's runs folder"
    try:
        root = Path(os.path.abspath(Path(raw).expanduser()))
    except RuntimeError as exc:  # "~someone" with no such user
        raise ProfileError(f"output.dir = {raw}: {exc}", hint, where="output.dir") from None
    try:
        is_file = root.exists() and not root.is_dir()
    except OSError:  # can't look: let the run folder's creation say what is wrong
        is_file = False
    if is_file:
        raise ProfileError(f"output.dir = {raw}: {root} is a file, not a folder", hint, where="output.dir")
    remember_runs_root(root)
    return root


def _roots_file() -> Path:
    return app_data_dir() / RUN_FOLDERS_FILE


def remembered_runs_roots() -> list[Path]:
    """Folders other than the app's runs folder that runs were started in (profiles' output.dir), oldest first."""
    try:
        lines = _roots_file().read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    roots: list[Path] = []
    for line in lines:
        line = line.strip()
        if line and Path(line).is_absolute() and Path(line) not in roots:
            roots.append(Path(line))
    return roots


def remember_runs_root(root: str | os.PathLike) -> None:
    """Add `root` to the folders `list_runs()` looks in (a no-op for the app's own runs folder or a known one)."""
    root = Path(os.path.abspath(Path(root).expanduser()))
    if root == Path(os.path.abspath(default_runs_dir())) or "\n" in str(root) or root in remembered_runs_roots():
        return
    try:
        _roots_file().parent.mkdir(parents=True, exist_ok=True)
        with _roots_file().open("a", encoding="utf-8") as handle:  # one short line: appends don't interleave
            handle.write(f"{root}\n")
    except OSError as exc:  # read-only data folder: the runs are still made, only not listed by default
        log.warning("cannot remember runs folder %s in %s: %s", root, _roots_file(), exc)


def runs_roots(root: str | os.PathLike | None = None, extra_roots: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """The folders `list_runs(root, extra_roots)` looks in: `root`, or by default the app's runs folder and every
    remembered output.dir; then `extra_roots`."""
    first = [default_runs_dir(), *remembered_runs_roots()] if root is None else [Path(root)]
    roots: list[Path] = []
    for candidate in [*first, *(Path(r) for r in extra_roots)]:
        resolved = candidate.expanduser()
        if resolved not in roots:
            roots.append(resolved)
    return roots


def list_runs(root: str | os.PathLike | None = None,
              extra_roots: Iterable[str | os.PathLike] = ()) -> list[RunSummary]:
    """Runs under `root` (default: the app's runs folder and every output.dir runs were started in) and
    `extra_roots`, newest first.

    A root that doesn't exist simply has no runs. A root that is itself a run folder (someone
    passed `--output-dir` straight to a run) is listed as that one run.
    """
    found: dict[Path, RunSummary] = {}
    for folder in runs_roots(root, extra_roots):
        try:
            if not folder.is_dir():
                continue
            if (folder / RUN_JSON).exists():
                candidates = [folder]
            else:
                candidates = [child for child in folder.iterdir() if _is_run_folder(child)]
        except OSError:
            continue
        for run_dir in candidates:
            try:
                key = run_dir.resolve()
            except (OSError, RuntimeError):  # a symlink loop
                key = run_dir.absolute()
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


# Fields TrainingJob writes as numbers (callbacks.py, job.py). A record where one of them holds something else
# (text, a list, true/false) was edited by hand; it is skipped whole rather than half believed.
NUMERIC_FIELDS = ("step", "epoch", "loss", "learning_rate", "samples_per_second", "time", "wer", "cer",
                  "eval_loss", "keep_wer", "keep_cer")
_DETAILED_BAD_LINES = 5  # lines described one by one in MetricsReport.warning
_NUMBERED_BAD_LINES = 8  # line numbers listed in MetricsReport.summary


@dataclass(frozen=True)
class BadLine:
    """One line of metrics.jsonl that was skipped."""

    number: int  # from 1, as editors count
    kind: str  # "not valid JSON" | "not a record" | "a wrong-typed value"
    problem: str  # the detail: "not valid JSON (cut short, or edited by hand)", "'loss' is text, not a number"


@dataclass(frozen=True)
class MetricsReport:
    """What `read_metrics_report` found in a run's metrics.jsonl: the good records and the skipped lines.

    Every record in `records` is a dict whose "type" (when present) is a str and whose NUMERIC_FIELDS
    (when present) are int/float or None ("step": never None, never NaN/inf). NaN/inf may still occur
    in the other numeric fields (a diverged loss) and mean "not measured" to the readers.
    """

    path: Path
    records: list[dict]
    bad_lines: tuple[BadLine, ...] = ()
    error: str = ""  # the file is there but could not be read at all (then `records` is empty)

    @property
    def bad_line_numbers(self) -> list[int]:
        return [bad.number for bad in self.bad_lines]

    @property
    def warning(self) -> str:
        """For a log: the file's full path and each skipped line with its problem; "" when nothing was wrong."""
        if self.error:
            return self.error
        if not self.bad_lines:
            return ""
        count = len(self.bad_lines)
        shown = "; ".join(f"line {bad.number}: {bad.problem}" for bad in self.bad_lines[:_DETAILED_BAD_LINES])
        rest = self.bad_line_numbers[_DETAILED_BAD_LINES:]
        if rest:
            shown += f"; and {len(rest)} more ({_numbers(rest, 20)})"
        return f"{self.path}: skipped {count} bad line{'s' * (count != 1)} ({shown})"

    @property
    def summary(self) -> str:
        """For a screen, about one line: "metrics.jsonl: skipped 3 bad lines (5, 8, 36: not valid JSON, a
        wrong-typed value)"; "" when nothing was wrong. `warning` has the details."""
        if self.error:
            return f"{self.path.name} cannot be read: no curves"
        if not self.bad_lines:
            return ""
        count = len(self.bad_lines)
        kinds = ", ".join(dict.fromkeys(bad.kind for bad in self.bad_lines))
        return (f"{self.path.name}: skipped {count} bad line{'s' * (count != 1)} "
                f"({_numbers(self.bad_line_numbers, _NUMBERED_BAD_LINES)}: {kinds})")


def _numbers(numbers: list[int], most: int) -> str:
    return ", ".join(map(str, numbers[:most])) + (", …" if len(numbers) > most else "")


def _kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__


def _bad_record(number: int, record: object) -> BadLine | None:
    """Why a parsed metrics.jsonl line can't be used as a record (None when it can)."""
    if not isinstance(record, dict):
        return BadLine(number, "not a record", f"{_kind_of(record)}, not a JSON object")
    kind = record.get("type")
    if kind is not None and not isinstance(kind, str):
        return BadLine(number, "a wrong-typed value", f"'type' is {_kind_of(kind)}, not text")
    for key in NUMERIC_FIELDS:
        if key not in record:
            continue
        value = record[key]
        if value is None and key != "step":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return BadLine(number, "a wrong-typed value", f"'{key}' is {_kind_of(value)}, not a number")
        if key == "step" and isinstance(value, float) and not math.isfinite(value):
            return BadLine(number, "a wrong-typed value", f"'step' is {value}, not a step number")
    return None


def read_metrics_report(run_dir: str | os.PathLike) -> MetricsReport:
    """Every usable record of `run_dir`/metrics.jsonl in order, and which lines were skipped and why.

    Never raises for the file's content: a torn last line (crash mid-write), a line edited by hand into
    garbage, a line that is not a JSON object or a record with a wrong-typed field is skipped and listed
    in `bad_lines`. A missing file is an empty report (a run that logged nothing yet); an unreadable one
    sets `error`.
    """
    path = Path(run_dir) / METRICS_FILE
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return MetricsReport(path, [])
    except OSError as exc:
        return MetricsReport(path, [], error=f"{path} cannot be read ({exc.strerror or exc})")
    records: list[dict] = []
    bad: list[BadLine] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            bad.append(BadLine(number, "not valid JSON", "not valid JSON (cut short, or edited by hand)"))
            continue
        problem = _bad_record(number, record)
        if problem is not None:
            bad.append(problem)
        else:
            records.append(record)
    return MetricsReport(path, records, tuple(bad))


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """Every usable record of `metrics.jsonl` in order; bad lines are skipped (`read_metrics_report` lists them)."""
    return read_metrics_report(run_dir).records


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
