"""`whisper-tui cache [list|prune|clear]`: print what storage/cache_admin.py finds under the cache folder,
and what prune or clear removed."""

from __future__ import annotations

import time

from whisper_tui.cli.console import say
from whisper_tui.config.locations import cache_dir
from whisper_tui.errors import WhisperTuiError
from whisper_tui.storage.cache_admin import KINDS, CacheEntry, format_age, format_size, list_caches, parse_age, prune


def table(entries: list[CacheEntry], now: float | None = None) -> list[str]:
    """Text rows: kind, name, size, last used, clips, what it belongs to; then the total."""
    now = time.time() if now is None else now
    rows = [("KIND", "NAME", "SIZE", "LAST USED", "CLIPS", "BELONGS TO")]
    for e in entries:
        note = e.belongs_to + (" [in use]" if e.in_use and e.kind != "building" else "")
        rows.append((e.kind, e.name, format_size(e.size), format_age(now - e.last_used) if e.last_used else "-",
                     "-" if e.clips is None else str(e.clips), note))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 5 else cell for i, cell in enumerate(r)).rstrip() for r in rows]
    total = sum(e.size for e in entries)
    lines.append(f"total {format_size(total)} in {len(entries)} item{'s' if len(entries) != 1 else ''}")
    return lines


def cmd_cache(args) -> int:
    """`whisper-tui cache [list|prune|clear]`: list never removes anything; prune removes caches of `--kind`
    not used for `--older-than`; clear removes every cache of `--kind`. Caches in use are always kept, and
    leftovers of killed builds always go. `--dry-run` prints what would go."""
    try:
        parse_age(args.older_than)
    except ValueError as exc:
        raise WhisperTuiError(str(exc), "give an age like 30d, 12h or 90m") from exc
    root = cache_dir()
    kinds = KINDS if args.kind == "all" else (args.kind,)
    if args.action == "list":
        entries = list_caches(root)
        say(f"caches in {root}")
        if not entries:
            say("nothing cached")
            return 0
        for line in table(entries):
            say(line)
        if any(e.kind == "leftover" for e in entries):
            say("leftovers of killed builds: `whisper-tui cache prune` removes them")
        return 0
    older = parse_age(args.older_than) if args.action == "prune" else None
    chosen = prune(kinds, older, dry_run=args.dry_run, root=root)
    verb = "would remove" if args.dry_run else "removed"
    for e in chosen:
        say(f"{verb} {e.kind} {e.name} ({format_size(e.size)})")
    what = "nothing to remove" if not chosen else \
        f"{verb} {len(chosen)} item{'s' if len(chosen) != 1 else ''}, {format_size(sum(e.size for e in chosen))}"
    kept = [e for e in list_caches(root) if e.in_use and e.kind in kinds] if not args.dry_run else []
    if kept:
        what += f"; kept {len(kept)} in use by a running process"
    say(what)
    return 0
