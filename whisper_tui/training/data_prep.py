"""Data preparation for a run: the clips it trains and tests on, and the keep set, cut to what the model holds.

Stage one of `TrainingJob`: read the dataset (the sample data when no folder is set), split it, add
replay speech to the training side (data.replay_share), load the keep set (general speech, keep_set.py),
choose the window for `model.window_s = -1`, and, once the model is loaded, drop the clips it could only
learn from cut (too long for the encoder window, a transcript longer than the decoder holds). Every
decision is logged; nothing here needs a Trainer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from whisper_tui.models.parts import base_of

Log = Callable[..., None]  # log(message, level="info")


def decoder_prefix(profile, model, processor) -> list[int]:
    """The token ids every label starts with (start of transcript, language, task)."""
    from whisper_tui.training.speech_dataset import decoder_prefix_ids

    base = base_of(model)
    return decoder_prefix_ids(base.config, base.generation_config, processor.tokenizer,
                              profile.model.language, profile.model.task)


def label_positions(model) -> int:
    """The label limit: the decoder's positions (448), not the generation length used at evaluation."""
    return int(base_of(model).config.max_target_positions)


class DataPrep:
    """The run's clips and their durations (seconds, by path: from the dataset reports, used to filter)."""

    def __init__(self, profile, log: Log):
        self.profile = profile
        self.log = log
        self.durations: dict = {}  # clip path -> seconds

    def load(self):
        """(training clips, test clips) of data.train_dir / data.test_dir, split as the profile says."""
        from whisper_tui.data.dataset import load_dataset_split
        from whisper_tui.config.locations import default_sample_data_dir

        data = self.profile.data
        train_dir = Path(data.train_dir).expanduser() if data.train_dir else None
        if train_dir is None:
            from whisper_tui.data.sample_data import ensure_sample_dataset

            train_dir = ensure_sample_dataset(default_sample_data_dir(), log=lambda m: self.log(f"no data folder set: {m}"))
        test_dir = Path(data.test_dir).expanduser() if data.test_dir else None
        train, test, report = load_dataset_split(train_dir, data.test_split, data.split_seed, test_dir,
                                                 split_by=data.split_by, only_reviewed=data.only_reviewed)
        counts = {k: v for k, v in report.counts.items() if v}
        if counts:
            self.log("dataset problems: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                     + f" (run `whisper-tui validate {train_dir}` for the rows)", "warning")
        for checked in (report, report.test_report):
            left = checked.left_out() if checked is not None else {}
            if left:
                self.log(f"left out {sum(left.values())} of {len(checked.clips)} rows of {checked.folder}: "
                         + ", ".join(f"{k} {v}" for k, v in left.items())
                         + f" (run `whisper-tui validate {checked.folder}` for the rows)", "warning")
        if not train:
            from whisper_tui.errors import DatasetError

            raise DatasetError(f"{train_dir}: no usable training clips",
                               f"run `whisper-tui validate {train_dir}` to see what is wrong")
        split = report.split
        self.log(f"data: {len(train)} training clips, {split.describe_test()} from {train_dir} ({split.how})")
        for note in split.notes:
            self.log(note, "warning")
        self.durations = {c.path: info.duration_s for r in (report, report.test_report) if r is not None
                          for c in r.clips if (info := r.clip_infos.get(c.file_name)) is not None}
        return train, test

    def keep_set(self) -> list:
        """keep_set.keep_clips() for this profile; [] when data.keep_set is off. Without eSpeak the keep set is
        its recorded speech alone (the eSpeak sentences are only its second line)."""
        data = self.profile.data
        if not getattr(data, "keep_set", False):
            return []
        from whisper_tui.errors import AudioError
        from whisper_tui.data.keep_set import keep_clips

        keep_dir = getattr(data, "keep_dir", "") or None
        warn = lambda message: self.log(message, "warning")  # noqa: E731
        try:
            return keep_clips(keep_dir, log=warn)
        except AudioError as exc:
            self.log(f"keep set: the everyday eSpeak sentences cannot be synthesised ({exc.message}); "
                     "measuring general speech on the recorded clips alone", "warning")
            return keep_clips(keep_dir, synthetic=False, log=warn)

    def replay(self, train: list) -> list:
        """data.replay_share's everyday eSpeak clips to add to `train` (data/replay_speech.py); [] when off or
        when eSpeak cannot speak (the run goes on without replay and says so)."""
        from whisper_tui.data.audio import audio_info
        from whisper_tui.data.replay_speech import replay_clips, replay_count
        from whisper_tui.errors import AudioError

        data = self.profile.data
        count = replay_count(data.replay_share, len(train))
        if not count:
            return []
        try:
            clips = replay_clips(count, data.split_seed)
            for clip in clips:
                self.durations.setdefault(clip.path, audio_info(clip.path).duration_s)
        except AudioError as exc:
            self.log(f"replay: the everyday sentences cannot be spoken ({exc.message}); training without replay "
                     "(data.replay_share)", "warning")
            return []
        self.log(f"replay: {len(clips)} everyday sentences spoken by eSpeak mixed into the {len(train)} training "
                 f"clips (data.replay_share {data.replay_share:g}), so domain words do not leak into ordinary speech")
        return clips

    def auto_window(self, profile, clips):
        """model.window_s = -1: the shortest suggested window that holds every clip (window.py), else the model's own.

        Decided from the data, so a profile can ask for short windows without dropping a user's long clips.
        The run folder's profile.toml keeps -1 (what was asked); the saved model records the window used.
        """
        if profile.model.window_s != -1:
            return profile
        from whisper_tui.config.profile import apply_overrides
        from whisper_tui.models.window import suggested_window_s

        longest = max((self.durations.get(c.path, 0.0) for c in clips), default=0.0)
        window = suggested_window_s(longest) or 0
        chosen = f"{window} s" if window else "the model's own window"
        self.log(f"model.window_s auto: {chosen} (the longest training or test clip lasts {longest:.1f} s)")
        return apply_overrides(profile, {"model.window_s": window})

    def clips_that_fit(self, train, test, processor, model):
        """Drop clips outside data.min/max_duration_s, longer than the encoder window, or whose transcript is
        longer than the decoder holds: each would be cut, and a cut clip or label teaches the wrong thing."""
        from whisper_tui.errors import DatasetError
        from whisper_tui.models.window import processor_window_s
        from whisper_tui.training.speech_dataset import label_length

        data = self.profile.data
        window = processor_window_s(processor)
        longest = min(data.max_duration_s, window)
        prefix = decoder_prefix(self.profile, model, processor)
        positions = label_positions(model)
        # a timestamp label (label_mix.py) is one token longer: <|0.00|> and <|end|> for <|notimestamps|>
        timed_extra = 1 if self.profile.training.timestamp_share > 0 else 0

        def keep(clips, split):
            extra = timed_extra if split == "training" else 0
            kept = [c for c in clips
                    if data.min_duration_s <= self.durations.get(c.path, data.min_duration_s) <= longest]
            if len(kept) < len(clips):
                why = (f"the {window:g} s encoder window (model.window_s)" if window < data.max_duration_s
                       else "data.max_duration_s")
                self.log(f"{split}: skipped {len(clips) - len(kept)} of {len(clips)} clips shorter than "
                         f"data.min_duration_s ({data.min_duration_s:g} s) or longer than {why}", "warning")
            long_labels = [c for c in kept
                           if label_length(c.transcription, processor.tokenizer, prefix) + extra > positions]
            if long_labels:
                names = ", ".join(c.file_name for c in long_labels[:5]) + (" …" if len(long_labels) > 5 else "")
                self.log(f"{split}: skipped {len(long_labels)} clip(s) whose transcript is longer than the decoder's "
                         f"{positions - len(prefix) - 1 - extra} tokens (never cut: it would teach stopping "
                         f"mid-sentence): {names}", "warning")
                kept = [c for c in kept if c not in long_labels]
            return kept

        train, test = keep(train, "training"), keep(test, "test")
        if not train:
            raise DatasetError(f"no training clip lasts between {data.min_duration_s:g} and {longest:g} s",
                               "raise model.window_s / data.max_duration_s or lower data.min_duration_s",
                               where="data.max_duration_s" if longest == data.max_duration_s else "model.window_s")
        return train, test

    def keep_clips_that_fit(self, clips: list, processor, keep_tolerance: float) -> list:
        """Keep-set clips the encoder window holds (a 10 s window cannot hold jfk.flac's 11 s)."""
        if not clips:
            return []
        from whisper_tui.data.audio import audio_info
        from whisper_tui.errors import AudioError
        from whisper_tui.models.window import processor_window_s

        window = processor_window_s(processor)
        fit, too_long = [], []
        for clip in clips:
            try:
                seconds = audio_info(clip.path).duration_s
            except AudioError:
                continue  # keep_dir clips were validated; bundled ones are readable
            (fit if seconds <= window else too_long).append(clip)
            self.durations.setdefault(clip.path, seconds)
        if too_long:
            self.log(f"keep set: skipped {len(too_long)} clip(s) longer than the {window:g} s encoder window "
                     f"(model.window_s): {', '.join(c.file_name for c in too_long[:5])}"
                     + (" …" if len(too_long) > 5 else ""))
        if fit:
            self.log(f"keep set: {len(fit)} clips of general speech, evaluated before training and at every "
                     f"evaluation (best checkpoint within {keep_tolerance:g} WER points of the base model)")
        return fit
