"""`whisper-tui cache` (issue 11): lists every cache with its kind, size, last use and owner, and a total;
never removes anything without `prune`/`clear`; prune goes by age and kind, `--dry-run` only prints;
caches a live process holds and files that are not caches stay; leftovers of killed builds always go."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from conftest import dead_pid
from whisper_tui.storage import cache_admin
from whisper_tui.cli import main

DAY = 86400


def age(path: Path, days: float) -> Path:
    stamp = time.time() - days * DAY
    os.utime(path, (stamp, stamp))
    return path


def write(path: Path, n: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\1" * n)
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch, live_pid):
    """A cache folder with one of everything; returns (root, {label: path})."""
    root = tmp_path / "cache"
    monkeypatch.setenv("WHISPER_TUI_CACHE_DIR", str(root))
    enc = root / "encoder-cache"
    dead = dead_pid()
    p = {}
    p["old-encoder"] = age(write(enc / f"{'a' * 24}.npy", 4000), 40)
    (enc / f"{'a' * 24}.json").write_text(json.dumps({"clips": 7, "kind": "encoder", "model": "tiny.en",
                                                      "data": "/data/set"}))
    p["new-views"] = age(write(enc / f"{'b' * 24}.npy", 3000), 1)
    (enc / f"{'b' * 24}.json").write_text(json.dumps({"clips": 14, "kind": "views"}))
    p["held"] = age(write(enc / f"{'c' * 24}.npy", 2000), 90)  # old, but a running process has it open
    (enc / f".{'c' * 24}.{live_pid}.0.lock").touch()
    p["leftover"] = write(enc / f".{'d' * 24}.{dead}.npy.tmp", 1000)
    p["converted"] = age(write(root / "models" / "tiny.en-0123abcd" / "model.safetensors", 5000).parent, 60)
    (p["converted"] / "converted_from.json").write_text(json.dumps({"source": "/models/ct2-tiny"}))
    age(p["converted"], 60)
    p["converted-leftover"] = write(root / "models" / f".tiny.en-0123abcd.{dead}.x1y2.tmp" / "model.bin", 100).parent
    p["ct2"] = write(root / "ct2" / "feedbeef00" / "model.bin", 6000).parent
    (p["ct2"] / "whisper_tui.json").write_text(json.dumps({"exported_from": "/runs/r1/final"}))
    age(p["ct2"], 45)
    p["cross-kv"] = write(root / "cross-kv" / f"run-{dead}-123" / "kv.npy", 700).parent
    p["keep-set"] = age(write(root / "keep-set-v1" / "metadata.csv", 50).parent, 100)
    return root, p


def kinds(entries) -> dict[str, str]:
    return {e.name: e.kind for e in entries}


def test_listing_names_every_cache_with_its_kind_size_and_owner_and_removes_nothing(cache, capsys):
    root, p = cache
    entries = {e.name: e for e in cache_admin.list_caches()}
    assert {name: e.kind for name, e in entries.items()} == {
        "a" * 24: "encoder", "b" * 24: "views", "c" * 24: "encoder", p["leftover"].name: "leftover",
        "tiny.en-0123abcd": "converted", p["converted-leftover"].name: "leftover", "feedbeef00": "ct2",
        p["cross-kv"].name: "cross-kv", "keep-set-v1": "other"}
    old = entries["a" * 24]
    assert (old.clips, old.belongs_to, old.in_use) == (7, "/data/set, tiny.en", False)
    assert old.size == 4000 + len((root / "encoder-cache" / f"{'a' * 24}.json").read_bytes())
    assert entries["c" * 24].in_use and not entries["c" * 24].removable
    assert entries["tiny.en-0123abcd"].belongs_to == "/models/ct2-tiny"
    assert entries["feedbeef00"].belongs_to == "/runs/r1/final"

    assert main(["cache"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"caches in {root}"
    assert out[1].split() == ["KIND", "NAME", "SIZE", "LAST", "USED", "CLIPS", "BELONGS", "TO"]
    row = next(line for line in out if "a" * 24 in line)
    assert row.split()[:1] == ["encoder"] and "40d ago" in row and " 7 " in row and "/data/set, tiny.en" in row
    assert "[in use]" in next(line for line in out if "c" * 24 in line)
    total = sum(e.size for e in entries.values())
    assert out[-2] == f"total {cache_admin.format_size(total)} in 9 items"
    assert "cache prune" in out[-1]  # leftovers are pointed out
    assert all(path.exists() for path in p.values()), "listing must never remove anything"


def test_prune_dry_run_prints_what_would_go_and_removes_nothing(cache, capsys):
    _root, p = cache
    assert main(["cache", "prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    for name in ("a" * 24, "tiny.en-0123abcd", "feedbeef00", p["leftover"].name, p["cross-kv"].name):
        assert "would remove" in out and name in out
    for name in ("b" * 24, "c" * 24, "keep-set-v1"):
        assert name not in out
    assert all(path.exists() for path in p.values())


def test_prune_removes_what_was_not_used_for_the_age_given_and_every_leftover(cache, capsys):
    root, p = cache
    assert main(["cache", "prune", "--older-than", "30d"]) == 0
    gone = {k for k, path in p.items() if not path.exists()}
    assert gone == {"old-encoder", "leftover", "converted", "converted-leftover", "ct2", "cross-kv"}
    assert not (root / "encoder-cache" / f"{'a' * 24}.json").exists()  # a cache goes with its .json
    assert "kept 1 in use by a running process" in capsys.readouterr().out
    assert main(["cache", "prune", "--older-than", "12h"]) == 0  # now the one-day-old views too
    assert not p["new-views"].exists() and p["held"].exists() and p["keep-set"].exists()


def test_prune_by_kind_and_clear(cache, capsys):
    _root, p = cache
    assert main(["cache", "prune", "--kind", "ct2", "--older-than", "1d"]) == 0
    gone = {k for k, path in p.items() if not path.exists()}
    assert gone == {"ct2", "leftover", "converted-leftover", "cross-kv"}  # leftovers always go
    assert main(["cache", "clear", "--kind", "views"]) == 0
    assert not p["new-views"].exists() and p["old-encoder"].exists() and p["converted"].exists()
    assert main(["cache", "clear"]) == 0
    left = {k for k, path in p.items() if path.exists()}
    assert left == {"held", "keep-set"}, "clear keeps caches in use and what is not a cache"
    assert "kept 1 in use" in capsys.readouterr().out


def test_a_lock_of_a_dead_process_does_not_protect_its_cache(cache):
    root, p = cache
    enc = root / "encoder-cache"
    stale = enc / f".{'a' * 24}.{dead_pid()}.5.lock"
    stale.touch()
    assert not {e.name: e for e in cache_admin.list_caches()}["a" * 24].in_use
    cache_admin.prune(older_than_s=30 * DAY)
    assert not p["old-encoder"].exists() and not stale.exists()


def test_an_empty_cache_and_a_bad_age(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WHISPER_TUI_CACHE_DIR", str(tmp_path / "none"))
    assert main(["cache"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "nothing cached"
    assert main(["cache", "prune"]) == 0
    assert capsys.readouterr().out.strip() == "nothing to remove"
    assert main(["cache", "prune", "--older-than", "soon"]) == 2
    assert "30d, 12h or 90m" in capsys.readouterr().err


def test_ages_parse():
    assert [cache_admin.parse_age(t) for t in ("30d", "12h", "90m", "45s", "2w", "3", "1.5d")] == [
        30 * DAY, 12 * 3600, 90 * 60, 45, 14 * DAY, 3 * DAY, 1.5 * DAY]
    with pytest.raises(ValueError):
        cache_admin.parse_age("-1d")
