"""The two engines a Transcriber runs on, what each needs, and what a run actually got.

"ct2" is CTranslate2 (the engine inside faster-whisper; int8 on CPU, about 4x faster than torch here)
and "torch" is transformers' generate. Front-ends (the CLI, the Transcribe console) ask this module
whether CTranslate2 can run and read `BackendInfo` off a Transcriber instead of parsing its
model name. Nothing here imports torch: choosing the CTranslate2 device asks CTranslate2 itself.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from whisper_tui.errors import ModelError

CT2 = "ct2"
TORCH = "torch"
BACKENDS = (TORCH, CT2)
BACKEND_LABELS = {CT2: "CTranslate2", TORCH: "torch"}


@dataclass(frozen=True)
class BackendInfo:
    """What a loaded model runs on: `name` ("ct2"/"torch"), `compute_type` ("int8", "float32", ...),
    `device` ("cpu"/"cuda"), `label`, the words a user sees ("CTranslate2 int8", "torch"; an any-window
    model adds its windows: "CTranslate2 int8, windows 10/30 s"), and `windows`, the model's windows."""

    name: str
    compute_type: str
    device: str
    label: str
    windows: tuple[int, ...] = ()


def backend_label(name: str, compute_type: str) -> str:
    """The backend alone as a user reads it, without the model's windows: "CTranslate2 int8", "torch"."""
    return f"{BACKEND_LABELS[CT2]} {compute_type}" if name == CT2 else BACKEND_LABELS.get(name, name)


def backend_info(name: str, compute_type: str, device: str, windows=()) -> BackendInfo:
    label = backend_label(name, compute_type)
    windows = tuple(sorted(int(w) for w in windows))
    if len(windows) > 1:  # a model with one window reads as before
        label += f", {windows_label(windows)}"
    return BackendInfo(name=name, compute_type=compute_type, device=device, label=label, windows=windows)


def windows_label(windows) -> str:
    """How a model's windows read to a user: "window 30 s", or "windows 10/20/30 s" for an any-window model."""
    ordered = sorted(int(w) for w in windows)
    return f"windows {'/'.join(str(w) for w in ordered)} s" if len(ordered) > 1 else f"window {ordered[0]} s"


def ct2_installed() -> bool:
    """Whether the ctranslate2 package is there at all; cheap (no import), for choosing a default."""
    return importlib.util.find_spec("ctranslate2") is not None


def ct2_available() -> str | None:
    """Why CTranslate2 cannot run here, or None when it can. Imports it (~0.1 s)."""
    try:
        import ctranslate2  # noqa: F401
    except Exception as exc:  # a broken install raises more than ImportError (missing shared libraries)
        return f"{type(exc).__name__}: {exc}"
    return None


def ct2_device(preference: str = "auto") -> str:
    """"cuda" when asked for (or on auto) and CTranslate2 sees a GPU, else "cpu"; torch is not consulted."""
    preference = (preference or "auto").lower()
    if preference == "cpu":
        return "cpu"
    if preference != "auto" and not preference.startswith("cuda"):
        raise ModelError(f"unknown device '{preference}'", "use auto, cpu or cuda", where="device")
    import ctranslate2

    try:
        gpus = ctranslate2.get_cuda_device_count()
    except Exception:  # a CPU-only build or a broken driver: no GPU for CTranslate2
        gpus = 0
    if preference.startswith("cuda"):
        if not gpus:
            raise ModelError("CUDA was requested but CTranslate2 finds no usable NVIDIA GPU",
                             "choose device cpu (or auto), or check the NVIDIA driver", where="device")
        return preference
    return "cuda" if gpus else "cpu"


def check_backend(name: str) -> None:
    if name not in BACKENDS:
        from whisper_tui.errors import WhisperTuiError

        raise WhisperTuiError(f"unknown transcription backend '{name}'", f"use one of: {', '.join(BACKENDS)}",
                              where="backend")
