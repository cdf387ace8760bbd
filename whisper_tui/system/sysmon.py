"""CPU, RAM and NVIDIA GPU usage for the dashboard gauges, the Train setup estimate and `whisper-tui doctor`.

CPU and RAM come from psutil; GPU memory and utilisation from NVML (nvidia-ml-py), which
reads the driver directly so it works whether or not torch was built with CUDA. Machines
without an NVIDIA driver are normal here (laptops, CPU servers): `snapshot()` then reports
no GPUs and a plain note instead of raising, so callers can always display something.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

NO_GPU_NOTE = "No NVIDIA GPU detected"


@dataclass(frozen=True)
class GpuStats:
    index: int
    name: str
    memory_used_bytes: int
    memory_total_bytes: int
    utilization_percent: float | None  # None when the driver doesn't report it (some vGPUs/MIG)
    temperature_c: float | None = None

    @property
    def memory_percent(self) -> float:
        return 100.0 * self.memory_used_bytes / self.memory_total_bytes if self.memory_total_bytes else 0.0


@dataclass(frozen=True)
class SystemStats:
    cpu_percent: float
    cpu_count: int
    ram_used_bytes: int
    ram_total_bytes: int
    process_rss_bytes: int
    gpus: tuple[GpuStats, ...] = ()
    gpu_note: str = ""  # why `gpus` is empty, e.g. NO_GPU_NOTE; "" when GPUs were read
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ram_percent(self) -> float:
        return 100.0 * self.ram_used_bytes / self.ram_total_bytes if self.ram_total_bytes else 0.0

    def format_text(self) -> str:
        """One line per device, for the CLI and logs."""
        lines = [
            f"CPU {self.cpu_percent:5.1f}% of {self.cpu_count} cores",
            f"RAM {format_bytes(self.ram_used_bytes)} / {format_bytes(self.ram_total_bytes)}"
            f" ({self.ram_percent:.0f}%), this process {format_bytes(self.process_rss_bytes)}",
        ]
        for gpu in self.gpus:
            util = "n/a" if gpu.utilization_percent is None else f"{gpu.utilization_percent:.0f}%"
            lines.append(
                f"GPU{gpu.index} {gpu.name}: util {util}, memory {format_bytes(gpu.memory_used_bytes)}"
                f" / {format_bytes(gpu.memory_total_bytes)}"
            )
        if self.gpu_note:
            lines.append(self.gpu_note)
        return "\n".join(lines)


def format_bytes(n: float) -> str:
    """Binary units, 3 significant figures: 1.50 GiB, 812 MiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            if unit == "B":
                return f"{int(value)} B"
            digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
            return f"{value:.{digits}f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class _Nvml:
    """NVML is initialised once per process; a failed init is remembered so polling stays cheap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tried = False
        self._note = ""
        self._module = None

    def module(self):
        with self._lock:
            if not self._tried:
                self._tried = True
                try:
                    import pynvml

                    pynvml.nvmlInit()
                    if pynvml.nvmlDeviceGetCount() == 0:
                        self._note = NO_GPU_NOTE
                    else:
                        self._module = pynvml
                except ImportError:
                    self._note = f"{NO_GPU_NOTE} (nvidia-ml-py is not installed)"
                except Exception:  # NVMLError_LibraryNotFound / DriverNotLoaded / NoPermission ...
                    self._note = NO_GPU_NOTE
            return self._module, self._note


_NVML = _Nvml()


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def gpu_stats() -> tuple[tuple[GpuStats, ...], str, tuple[str, ...]]:
    """(gpus, note, errors): a GPU that fails to answer is reported in `errors`, the rest still show."""
    nvml, note = _NVML.module()
    if nvml is None:
        return (), note, ()
    gpus: list[GpuStats] = []
    errors: list[str] = []
    for index in range(nvml.nvmlDeviceGetCount()):
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                util: float | None = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except nvml.NVMLError:
                util = None
            try:
                temp: float | None = float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
            except nvml.NVMLError:
                temp = None
            gpus.append(GpuStats(index, _text(nvml.nvmlDeviceGetName(handle)), int(memory.used),
                                 int(memory.total), util, temp))
        except nvml.NVMLError as exc:
            errors.append(f"GPU{index}: {exc}")
    return tuple(gpus), ("" if gpus else NO_GPU_NOTE), tuple(errors)


def snapshot() -> SystemStats:
    """Current usage. CPU % is measured since the previous call (the first call of a process reads 0)."""
    import psutil

    memory = psutil.virtual_memory()
    try:
        rss = psutil.Process().memory_info().rss
    except psutil.Error:
        rss = 0
    gpus, note, errors = gpu_stats()
    return SystemStats(
        cpu_percent=float(psutil.cpu_percent(interval=None)),
        cpu_count=psutil.cpu_count() or 1,
        ram_used_bytes=int(memory.total - memory.available),
        ram_total_bytes=int(memory.total),
        process_rss_bytes=int(rss),
        gpus=gpus,
        gpu_note=note,
        errors=errors,
    )
