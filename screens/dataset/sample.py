"""The sample data in the Dataset screen: open it, or generate it first (eSpeak NG, offline) in a thread worker
with the progress row."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.widgets import ProgressBar, Static

from whisper_tui.errors import WhisperTuiError

from screens.messages import EngineFailed, SampleDataProgress, SampleDataReady


class SampleDataMixin:
    """Needs the screen's `sample_clips`, `open_folder` and the progress row (`#ds-progress-row`, `#ds-progress`,
    `#ds-progress-label`)."""

    _generating = False

    def _sample_dir(self) -> Path:
        from whisper_tui.config.locations import default_sample_data_dir

        return default_sample_data_dir()

    def action_open_sample(self) -> None:
        from whisper_tui.data.sample_data import is_current_sample_dataset

        folder = self._sample_dir()
        if is_current_sample_dataset(folder):
            self.open_folder(folder)
            return
        from screens.modals.confirm import ConfirmModal

        def answered(yes: bool | None) -> None:
            if yes:
                self.action_generate_sample()

        self.app.push_screen(ConfirmModal(
            "Generate the sample dataset?",
            f"It is synthesised offline with eSpeak NG ({self._sample_clip_count()} short clips of drug and software "
            f"names, about a minute on 2 cores) into {folder}.", yes_label="Generate"), answered)

    def _sample_clip_count(self) -> int:
        """The engine's default is read when needed: importing sample_data at first paint loaded numpy (~0.2 s)."""
        if self.sample_clips is not None:
            return self.sample_clips
        from whisper_tui.data.sample_data import DEFAULT_CLIPS

        return DEFAULT_CLIPS

    def action_generate_sample(self) -> None:
        if self._generating:
            self.notify("The sample dataset is already being generated.")
            return
        self._generating = True
        folder = self._sample_dir()
        row = self.query_one("#ds-progress-row")
        row.display = True
        bar = self.query_one("#ds-progress", ProgressBar)
        bar.update(total=self._sample_clip_count(), progress=0)
        self.query_one("#ds-progress-label", Static).update(f"Generating sample data in {folder}")
        self._generate(folder)

    def on_sample_data_progress(self, message: SampleDataProgress) -> None:
        self.query_one("#ds-progress", ProgressBar).update(total=message.total, progress=message.done)

    @work(thread=True, exclusive=True, group="sample", exit_on_error=False, description="generate the sample data")
    def _generate(self, folder: Path) -> None:
        from whisper_tui.data.sample_data import ensure_sample_dataset

        try:
            out = ensure_sample_dataset(folder, n_clips=self._sample_clip_count(),
                                        on_progress=lambda done, total: self.post_message(SampleDataProgress(done, total)))
        except WhisperTuiError as exc:
            self.post_message(EngineFailed("generate the sample data", exc))
            self.app.call_from_thread(self._stop_progress)
            return
        self.post_message(SampleDataReady(Path(out)))

    def _stop_progress(self) -> None:
        self._generating = False
        self.query_one("#ds-progress-row").display = False

    def on_sample_data_ready(self, message: SampleDataReady) -> None:
        self._stop_progress()
        self.notify(f"Sample dataset ready: {message.folder}")
        self.open_folder(message.folder)
