"""System monitor: real psutil numbers, a fake NVML for the GPU paths (this machine has no NVIDIA driver)."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from whisper_tui.system import sysmon


class _NvmlError(Exception):
    pass


def _fake_pynvml(devices: list[dict], init_error: Exception | None = None) -> types.ModuleType:
    mod = types.ModuleType("pynvml")
    mod.NVMLError = _NvmlError
    mod.NVML_TEMPERATURE_GPU = 0

    def nvmlInit():
        if init_error is not None:
            raise init_error

    def get(handle, key):
        value = devices[handle][key]
        if isinstance(value, Exception):
            raise value
        return value

    mod.nvmlInit = nvmlInit
    mod.nvmlDeviceGetCount = lambda: len(devices)
    mod.nvmlDeviceGetHandleByIndex = lambda i: i
    mod.nvmlDeviceGetName = lambda h: get(h, "name")
    mod.nvmlDeviceGetMemoryInfo = lambda h: get(h, "memory")
    mod.nvmlDeviceGetUtilizationRates = lambda h: get(h, "util")
    mod.nvmlDeviceGetTemperature = lambda h, kind: get(h, "temp")
    return mod


@pytest.fixture
def fresh_nvml(monkeypatch):
    """A new NVML holder so each test sees its own (fake or absent) driver."""
    holder = sysmon._Nvml()
    monkeypatch.setattr(sysmon, "_NVML", holder)
    return holder


def test_snapshot_reads_cpu_and_ram():
    stats = sysmon.snapshot()
    assert stats.cpu_count >= 1
    assert 0 < stats.ram_used_bytes <= stats.ram_total_bytes
    assert 0 < stats.ram_percent <= 100
    assert stats.process_rss_bytes > 1_000_000  # a Python process with numpy loaded
    assert 0.0 <= stats.cpu_percent <= 100.0 * stats.cpu_count


def test_without_driver_reports_note_instead_of_failing(monkeypatch, fresh_nvml):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml([], init_error=_NvmlError("NVML Shared Library Not Found")))
    stats = sysmon.snapshot()
    assert stats.gpus == ()
    assert stats.gpu_note == sysmon.NO_GPU_NOTE
    assert "No NVIDIA GPU detected" in stats.format_text()


def test_missing_nvml_package_reports_note(monkeypatch, fresh_nvml):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    stats = sysmon.snapshot()
    assert stats.gpus == ()
    assert stats.gpu_note.startswith(sysmon.NO_GPU_NOTE)


def test_gpu_memory_and_utilisation(monkeypatch, fresh_nvml):
    gib = 1024**3
    devices = [
        {"name": b"NVIDIA H100", "memory": SimpleNamespace(used=3 * gib, total=80 * gib),
         "util": SimpleNamespace(gpu=57), "temp": 61},
        {"name": "NVIDIA A10", "memory": SimpleNamespace(used=gib, total=24 * gib),
         "util": _NvmlError("Not Supported"), "temp": _NvmlError("Not Supported")},
    ]
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(devices))
    stats = sysmon.snapshot()
    assert stats.gpu_note == ""
    h100, a10 = stats.gpus
    assert (h100.name, h100.utilization_percent, h100.temperature_c) == ("NVIDIA H100", 57.0, 61.0)
    assert h100.memory_percent == pytest.approx(100 * 3 / 80)
    assert a10.utilization_percent is None and a10.temperature_c is None
    text = stats.format_text()
    assert "GPU0 NVIDIA H100: util 57%, memory 3.00 GiB / 80.0 GiB" in text
    assert "GPU1 NVIDIA A10: util n/a" in text


def test_one_broken_gpu_does_not_hide_the_others(monkeypatch, fresh_nvml):
    devices = [
        {"name": "bad", "memory": _NvmlError("GPU is lost"), "util": None, "temp": None},
        {"name": "good", "memory": SimpleNamespace(used=1, total=2), "util": SimpleNamespace(gpu=5), "temp": 30},
    ]
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(devices))
    stats = sysmon.snapshot()
    assert [g.name for g in stats.gpus] == ["good"]
    assert stats.errors == ("GPU0: GPU is lost",)


def test_init_failure_is_remembered(monkeypatch, fresh_nvml):
    calls = []
    fake = _fake_pynvml([], init_error=_NvmlError("driver not loaded"))
    original = fake.nvmlInit
    fake.nvmlInit = lambda: (calls.append(1), original())
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sysmon.snapshot()
    sysmon.snapshot()
    assert calls == [1]


@pytest.mark.parametrize(("n", "text"), [(512, "512 B"), (1536, "1.50 KiB"), (812 * 1024**2, "812 MiB"),
                                         (int(1.5 * 1024**3), "1.50 GiB"), (80 * 1024**3, "80.0 GiB")])
def test_format_bytes(n, text):
    assert sysmon.format_bytes(n) == text
