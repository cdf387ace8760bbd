"""The Dataset screen's side panel: the folder summed up the way training will see it (usable clips, the
train/test split of the profile in Train setup), a histogram of clip lengths and the problem counts."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.widgets import Sparkline, Static

from whisper_tui.errors import WhisperTuiError

from screens.presenters.dataset_rows import ROW_STYLES, folder_problems, format_clock, histogram_bin_seconds


def _axis(left: str, middle: str, right: str) -> Table:
    """One line under the histogram: labels at both ends, a caption between (fits any width)."""
    grid = Table.grid(expand=True)
    grid.add_column(justify="left", no_wrap=True)
    grid.add_column(justify="center", ratio=1, no_wrap=True, overflow="ellipsis")
    grid.add_column(justify="right", no_wrap=True)
    grid.add_row(left, middle, right, style="dim")
    return grid


class SummaryMixin:
    """Needs the screen's `report`, `sheet` (review.py), `#ds-summary`, `#ds-histogram`, `#ds-histogram-axis`
    and `#ds-problem-counts`."""

    def _train_profile(self):
        """The profile in Train setup (the summary shows the split training will make), else the default one."""
        train = self.app.mode_screen("train")  # None until Train setup is first visited
        if train is not None and train.profile is not None:  # None while no valid profile has been read
            return train.profile
        from whisper_tui.config.profile import DEFAULT_PROFILE, load_profile

        try:
            return load_profile(DEFAULT_PROFILE)
        except WhisperTuiError:  # a broken user file of that name: the schema's own defaults
            from whisper_tui.config.profile_schema import Profile

            return Profile()

    def _split_text(self, usable) -> Text:
        """'train 84 · test 36 (split column)', the test set's voices, and any leak, for the summary."""
        from whisper_tui.data.review import (REVIEWED, STATUS_COLUMN, only_reviewed_summary, resolve_only_reviewed,
                                             with_sheet_status)
        from whisper_tui.data.splitting import check_separate_test_set, split_dataset

        usable = with_sheet_status(usable, self.sheet)  # reviews made since the folder was read
        data = self._train_profile().data
        test_split, seed, split_by, test_dir = data.test_split, data.split_seed, data.split_by, data.test_dir
        text = Text()
        setting = data.only_reviewed
        note = only_reviewed_summary(usable, setting)
        if note:  # training uses only the reviewed rows (data.only_reviewed): so does this split
            text.append(f"\n{note}", style="bold" if any(c.column(STATUS_COLUMN) == REVIEWED for c in usable)
                        else "bold yellow")
            if resolve_only_reviewed(setting, usable):
                usable = [c for c in usable if c.column(STATUS_COLUMN).strip().lower() == REVIEWED]
                if not usable:
                    return text
        try:
            if test_dir and Path(test_dir).expanduser().resolve() != self.report.folder.resolve():
                from whisper_tui.data.metadata import read_metadata  # transcripts only: no audio is opened

                split = check_separate_test_set(usable, read_metadata(Path(test_dir).expanduser())[0])
            else:
                split = split_dataset(usable, test_split, seed, split_by)
        except WhisperTuiError as exc:
            text.append(f"\nsplit: {exc.message}", style="bold red")
            return text
        how = ("split column" if split.keys == ("split",) else "test folder" if not split.keys
               else f"{test_split:g} {split.how.split(':')[0]}")
        text.append(f"\ntrain {len(split.train)} · test {len(split.test)} ({how})")
        groups = split.test_groups()
        if groups:
            new = sum(1 for g in groups.values() if g == "new voices")
            text.append(f"\ntest: {len(groups) - new} known · {new} new voices", style="dim")
        if split.left_out:
            text.append(f"\n{len(split.left_out)} left out of both sides", style="yellow")
        if split.shared_sentences:
            text.append(f"\n{split.shared_sentences} test sentences also in train", style="bold yellow")
        return text

    def _refresh_summary(self) -> None:
        from whisper_tui.data.dataset import duration_histogram
        from whisper_tui.data.metadata import PROBLEM_KINDS
        from whisper_tui.models.window import suggested_window_s

        report = self.report
        usable = report.usable_clips
        durations = report.durations()
        summary = Text()
        summary.append(f"{report.folder.name or report.folder}\n", style="bold")
        summary.append(f"{len(report.clips)} clips · {len(usable)} usable\n")
        summary.append(f"{format_clock(report.total_seconds)} audio")
        if round(report.usable_seconds) != round(report.total_seconds):
            summary.append(f" · {format_clock(report.usable_seconds)} usable")
        summary.append(self._split_text(usable))
        summary.append("\n")
        if durations:
            summary.append(f"{min(durations):.1f}–{max(durations):.1f} s, median "
                           f"{sorted(durations)[len(durations) // 2]:.1f} s")
            window = suggested_window_s(max(durations))
            if window:
                # model.window_s: "window seconds" in Train setup (README: Short encoder windows)
                summary.append(f"\nall fit a {window} s window", style="dim")
        self.query_one("#ds-summary", Static).update(summary)

        spark = self.query_one("#ds-histogram", Sparkline)
        axis = self.query_one("#ds-histogram-axis", Static)
        if durations:
            bin_s = histogram_bin_seconds(max(durations))
            bins = duration_histogram(durations, bin_s)
            spark.data = [count for _start, _end, count in bins]
            spark.display = True
            axis.update(_axis("0 s", "clip lengths", f"{bins[-1][1]:g} s"))
        else:
            spark.display = False
            axis.update("")

        counts = Text()
        if not report.problems:
            counts.append("No problems found ✓", style="green")
        else:
            counts.append(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)\n", style="bold")
            for kind, n in report.counts.items():
                counts.append(f"{n:>4} {kind}\n", style=ROW_STYLES[PROBLEM_KINDS[kind][0]])
            for problem in folder_problems(report):
                counts.append(f"• {problem}\n", style=ROW_STYLES[problem.severity])
        self.query_one("#ds-problem-counts", Static).update(counts)
