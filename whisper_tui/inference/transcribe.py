"""Batched speech-to-text with any Whisper the resolver understands.

Whisper sees 30 s at a time (a short-window fine-tune less: window.py). Longer audio is cut into
pieces of at most one window at the quietest moment near each window's end (speech pauses), so no
word is split or transcribed twice and no text is lost; the pieces of all files are batched together
and their texts joined in order.

An any-window model (trained at several windows, `model.windows`) still cuts pieces at its longest
window, but runs each batch at the shortest of its windows that holds the batch's longest piece
(`window.window_for`): pieces are sorted longest first, so a folder of 3-6 s clips runs at 10 s
instead of 30 and only the batches holding long pieces pay for a long window. The token budget
follows the audio, not the window, so it is the same at every window. A model with one window runs
exactly as before. Each piece is decoded on its own (nothing is conditioned on the
previous piece's text, the equivalent of `condition_on_prev_tokens=False`), so one bad piece cannot
drag the next into the same error.

Fine-tuned models sometimes fall into a loop ("thank you thank you thank you ..."). A logits guard
(loop_guard.py) forbids the token that would start another exact repeat of a phrase already repeated back to back,
and the token budget grows with the audio length, so a loop ends early instead of running to 448
tokens. Ordinary repetition ("ask not what your country can do for you, ask what you can do") is
untouched: only back-to-back repeats count. `prompt` (OpenAI's initial_prompt) goes before every
piece as previous text (<|startofprev|> ...): names and spellings the model should prefer.

Two backends run the same pipeline (chunking, length-sorted batches, token budget): "torch"
(transformers generate, any model, any device) and "ct2" (CTranslate2, the engine inside
faster-whisper; int8 on CPU by default). A CTranslate2 export folder is used as is; any other model
is exported once into the cache (`export.export_ct2`). On short clips on a 2-core CPU the ct2
backend batched across files is the fastest path (benchmarks/bench_transcribe.py). The loop guard
is a transformers logits processor; under ct2 the token budget ends a loop and the guard's `cut`
trims it after the fact.

The ct2 path imports neither torch nor transformers when the model already is a CTranslate2 folder
(the bundled tiny.en is one): audio is resampled in numpy (`data.sinc_resample`), features come from
`log_mel`, tokens from `ct2_tokenizer`, the device from `backends`. Those imports took seconds of a
one-file transcription that CTranslate2 itself finishes in about one.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from whisper_tui.data import sinc_resample
from whisper_tui.data.audio import AUDIO_EXTENSIONS, SAMPLE_RATE, load_audio
from whisper_tui.errors import AudioError, WhisperTuiError
from whisper_tui.inference.backends import (BACKENDS, CT2, BackendInfo, backend_info, check_backend, ct2_device,
                                            windows_label)
from whisper_tui.inference.loop_guard import LoopGuard
from whisper_tui.models.window import (WHISPER_WINDOW_S, processor_window_s, saved_windows, supported_windows,
                                       window_for)
from whisper_tui.whisper_facts import MAX_TARGET_TOKENS, MEL_BINS

MAX_CHUNK_S = float(WHISPER_WINDOW_S)
CUT_SEARCH_S = 5.0  # look this far back from each 30 s mark for the quietest place to cut
_MIN_SAMPLES = SAMPLE_RATE // 100  # under 10 ms there is nothing to hear
_TOKENS_PER_SECOND = 10  # generous: fast speech is about 4-5 tokens/s
_TOKEN_ALLOWANCE = 20
__all__ = ["BACKENDS", "BackendInfo", "CT2Whisper", "LoopGuard", "Transcriber", "Transcription", "ct2_folder_for",
           "list_audio_files", "plan_chunks", "throughput", "windows_label"]


@dataclass(frozen=True)
class Transcription:
    """One file's result; `error` is set (and `text` empty) when the file could not be read. `segments`
    (subtitles.Segment: start, end, text) come with `transcribe_file_timed` only."""

    path: Path
    text: str
    duration_s: float
    elapsed_s: float
    error: str | None = None
    segments: tuple = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def rtf(self) -> float:
        """Real-time factor: seconds of compute per second of audio (lower is faster)."""
        return self.elapsed_s / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def audio_seconds_per_second(self) -> float:
        return self.duration_s / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True)
class Throughput:
    audio_s: float
    elapsed_s: float

    @property
    def rtf(self) -> float:
        return self.elapsed_s / self.audio_s if self.audio_s > 0 else 0.0

    @property
    def audio_seconds_per_second(self) -> float:
        return self.audio_s / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def format(self) -> str:
        return (f"{self.audio_s:.1f} s of audio in {self.elapsed_s:.1f} s "
                f"(RTF {self.rtf:.3f}, {self.audio_seconds_per_second:.1f} audio-s/s)")


def throughput(results: Iterable[Transcription]) -> Throughput:
    done = [r for r in results if r.ok]
    return Throughput(sum(r.duration_s for r in done), sum(r.elapsed_s for r in done))


def list_audio_files(path: str | os.PathLike) -> list[Path]:
    """A file -> [file]; a folder -> its audio files (not recursive), sorted by name."""
    path = Path(path).expanduser()
    if not path.exists():
        raise AudioError(f"{path} does not exist", "give an audio file or a folder of audio files", where=str(path))
    if path.is_file():
        if path.suffix.lower() not in AUDIO_EXTENSIONS:
            raise AudioError(f"{path} is not a supported audio file",
                             f"supported: {', '.join(sorted(AUDIO_EXTENSIONS))}", where=str(path))
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise AudioError(f"no audio files in {path}", f"supported: {', '.join(sorted(AUDIO_EXTENSIONS))}",
                         where=str(path))
    return files


def plan_chunks(wave: np.ndarray, sr: int = SAMPLE_RATE, max_s: float = MAX_CHUNK_S,
                search_s: float = CUT_SEARCH_S) -> list[tuple[int, int]]:
    """(start, end) sample ranges of at most `max_s` that cover the wave exactly once.

    Each cut goes at the quietest 20 ms frame in the last `search_s` before the limit.
    """
    n_samples = len(wave)
    limit = int(max_s * sr)
    if n_samples <= limit:
        return [(0, n_samples)]
    frame = max(1, sr // 50)
    search = max(frame, int(search_s * sr))
    chunks, start = [], 0
    while n_samples - start > limit:
        hi = start + limit
        lo = max(start + frame, hi - search)
        cut = hi
        region = np.asarray(wave[lo:hi], dtype=np.float32)
        n_frames = len(region) // frame
        if n_frames:
            energy = (region[: n_frames * frame].reshape(n_frames, frame) ** 2).mean(axis=1)
            # the last quiet frame wins ties, so pieces stay as long as possible
            best = n_frames - 1 - int(np.argmin(energy[::-1]))
            cut = lo + best * frame + frame // 2
        chunks.append((start, cut))
        start = cut
    chunks.append((start, n_samples))
    return chunks


class Transcriber:
    """Load a model once, then transcribe many waves or files in batches.

    `model` is anything `whisper_tui.models.loading.load_model` accepts, or an already loaded
    `(model, processor)` pair (left on its device). `backend_info` says what it runs on.
    """

    def __init__(self, model, device: str = "auto", batch_size: int = 8, num_beams: int = 1,
                 max_new_tokens: int | None = None, language: str | None = None, dtype=None,
                 backend: str = "torch", compute_type: str | None = None, prompt: str | None = None) -> None:
        if batch_size < 1 or num_beams < 1:
            raise WhisperTuiError(f"batch_size and num_beams must be at least 1 (got {batch_size}, {num_beams})",
                                  "use 1 or more", where="batch_size" if batch_size < 1 else "num_beams")
        check_backend(backend)
        self.backend = backend
        self.batch_size = batch_size
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        self.prompt = prompt.strip() if prompt and prompt.strip() else None
        if backend == CT2:
            self._init_ct2(model, ct2_device(device), compute_type, language)
            return
        from whisper_tui.models.loading import ModelRef, device_for, load_model

        if isinstance(model, tuple):
            self.model, self._processor = model
            self.model_name = getattr(getattr(self.model, "config", None), "name_or_path", "") or "in-memory model"
        else:
            ref = model if isinstance(model, ModelRef) else None
            self.model, self._processor = load_model(model, device=device_for(device), dtype=dtype)
            self.model_name = ref.describe() if ref else str(model or "tiny.en")
        gen = self.model.generation_config
        self.multilingual = bool(getattr(gen, "is_multilingual", False))
        self.language = language or getattr(gen, "language", None) or "en"
        self._conv = next(p for n, p in self.model.named_parameters() if "conv1" in n)
        if len(self.windows) > 1:  # an any-window model: each batch may run at a shorter window than the longest
            from whisper_tui.models.any_window import enable_any_window

            enable_any_window(self.model)
        config = self.model.config
        self._max_target = int(getattr(config, "max_target_positions", MAX_TARGET_TOKENS))
        from whisper_tui.system.threads import ThreadTuner, tuning_enabled

        # per-batch thread tuning on CPU (see system/threads.py); torch's setting is restored after each batch
        self._tuner = ThreadTuner(probe_steps=1, hold_steps=8) if tuning_enabled(self.device.type) else None

    def _init_ct2(self, model, device: str, compute_type: str | None, language: str | None) -> None:
        if isinstance(model, tuple):
            raise WhisperTuiError("the ct2 backend needs a model name or folder, not a loaded model",
                                  "pass the model's folder (or use backend torch)", where="backend")
        self._ct2 = CT2Whisper(model, device=device, compute_type=compute_type)
        self.model = None
        self.model_name = f"{model or 'tiny.en'} (CTranslate2 {self._ct2.compute_type})"
        self.multilingual = self._ct2.multilingual
        self.language = language or "en"
        self._max_target = MAX_TARGET_TOKENS

    @property
    def processor(self):
        """The transformers processor (under ct2 built on first use: the ct2 path itself never needs it)."""
        return self._ct2.processor if self.backend == CT2 else self._processor

    @property
    def tokens(self):
        """ct2_tokenizer.WhisperTokens for this model's vocabulary (prompts, timestamps, text), either backend."""
        if self.backend == CT2:
            return self._ct2.tokens
        if getattr(self, "_tokens", None) is None:
            from whisper_tui.inference.ct2_tokenizer import WhisperTokens

            self._tokens = WhisperTokens(self.processor.tokenizer.backend_tokenizer, self.multilingual)
        return self._tokens

    @property
    def window_s(self) -> float:
        """Seconds per piece: the model's longest window (30, or shorter for a short-window fine-tune)."""
        if self.backend == CT2:
            return self._ct2.window_s
        return processor_window_s(self.processor)

    @property
    def windows(self) -> tuple[int, ...]:
        """The windows the model runs at, shortest first: several for an any-window model, else `window_s` alone."""
        if self.backend == CT2:
            return self._ct2.windows
        return supported_windows(self.processor)

    @property
    def windows_note(self) -> str | None:
        """For front-ends: how an any-window model runs ("windows 10/30 s: ..."); None for a model with one window."""
        if len(self.windows) < 2:
            return None
        return f"{windows_label(self.windows)}: each batch runs at the shortest window that holds its clips"

    @property
    def device(self):
        if self.backend == CT2:
            return self._ct2.device
        return self._conv.device

    @property
    def backend_info(self) -> BackendInfo:
        """What this transcriber runs on, for front-ends to show ("CTranslate2 int8" on cpu, "torch" on cuda)."""
        if self.backend == CT2:
            return backend_info(CT2, self._ct2.compute_type, self._ct2.device, self.windows)
        dtype = str(self._conv.dtype).removeprefix("torch.")
        return backend_info(self.backend, dtype, self._conv.device.type, self.windows)

    # --- waves ---

    def transcribe_waves(self, waves: Sequence[np.ndarray],
                         on_progress: Callable[[int, int], None] | None = None) -> list[str]:
        """Texts for 16 kHz mono float32 waves, in the order given."""
        pieces: list[tuple[int, np.ndarray]] = []
        for index, wave in enumerate(waves):
            wave = np.asarray(wave, dtype=np.float32).reshape(-1)
            for start, end in plan_chunks(wave, max_s=self.window_s, search_s=min(CUT_SEARCH_S, self.window_s / 3)):
                if end - start >= _MIN_SAMPLES:
                    pieces.append((index, wave[start:end]))
        order = sorted(range(len(pieces)), key=lambda i: -len(pieces[i][1]))
        texts: list[str] = [""] * len(pieces)
        for begin in range(0, len(order), self.batch_size):
            batch = order[begin:begin + self.batch_size]
            for i, text in zip(batch, self._generate([pieces[i][1] for i in batch]), strict=True):
                texts[i] = text
            if on_progress is not None:
                on_progress(min(begin + self.batch_size, len(order)), len(order))
        joined: list[list[str]] = [[] for _ in waves]
        for (index, _), text in zip(pieces, texts, strict=True):
            if text:
                joined[index].append(text)
        return [" ".join(parts) for parts in joined]

    def _generate(self, waves: list[np.ndarray]) -> list[str]:
        longest_s = max(len(w) for w in waves) / SAMPLE_RATE
        budget = self.max_new_tokens or math.ceil(longest_s * _TOKENS_PER_SECOND) + _TOKEN_ALLOWANCE
        # A total length rather than max_new_tokens: the generation config already sets max_length,
        # and giving both makes transformers warn. The prompt is <|startoftranscript|> (+ language
        # + task on multilingual models) + <|notimestamps|>.
        prompt = 4 if self.multilingual else 2
        max_length = max(prompt + 1, min(budget + prompt, self._max_target))
        window = window_for(longest_s, self.windows)  # the longest window for a model with one
        if self.backend == CT2:
            return self._ct2.generate(waves, max_length, self.num_beams, self.language, window=window,
                                      previous_text=self.prompt)
        import torch
        from transformers.generation import LogitsProcessorList

        fe = self.processor.feature_extractor
        features = fe(waves, sampling_rate=SAMPLE_RATE, return_tensors="pt", max_length=window * fe.sampling_rate)
        input_features = features.input_features.to(self.device, self._conv.dtype)
        # a piece is one window: one decoding pass (any_window.one_segment), even when the model writes timestamps
        kwargs: dict = {"max_length": max_length, "num_beams": self.num_beams, "force_unique_generate_call": True,
                        "logits_processor": LogitsProcessorList([LoopGuard(self.model.generation_config.eos_token_id)])}
        if self.multilingual:
            kwargs.update(language=self.language, task="transcribe")
        if self.prompt:  # the same <|startofprev|> ids as the ct2 path (ct2_tokenizer.WhisperTokens.prompt)
            prompt_ids = self.tokens.prompt(self.language, previous_text=self.prompt)
            kwargs["prompt_ids"] = torch.tensor(prompt_ids[:prompt_ids.index(self.tokens.sot)], device=self.device)
        was_training = self.model.training  # a live model lent by the trainer goes back as it came
        self.model.eval()
        threads = torch.get_num_threads()
        if self._tuner:
            self._tuner.before()
        try:
            with torch.inference_mode():
                # at the batch's window: enable_any_window makes generate run the features' own length
                tokens = self.model.generate(input_features=input_features, **kwargs)
        finally:
            if self._tuner:
                self._tuner.after()
                torch.set_num_threads(threads)
            self.model.train(was_training)
        sequences = tokens.sequences if hasattr(tokens, "sequences") else tokens
        if self.prompt:  # one generate pass hands the prompt back too: keep what follows <|startoftranscript|>
            sequences = [row[int((row == self.tokens.sot).nonzero()[0, 0]) + 1:] if (row == self.tokens.sot).any()
                         else row for row in sequences]
        return [t.strip() for t in self.processor.tokenizer.batch_decode(sequences, skip_special_tokens=True)]

    # --- files ---

    def transcribe_files(self, paths: Iterable[str | os.PathLike],
                         on_result: Callable[[Transcription], None] | None = None) -> list[Transcription]:
        """One Transcription per path, in order; unreadable files get `error` instead of stopping the batch.

        Files go through the model `batch_size` at a time; a batch's compute time is shared among
        its files in proportion to their length (the only fair per-file figure when they run together).
        """
        paths = [Path(p) for p in paths]
        # the ct2 path resamples in numpy (same kernel as torchaudio's, see data/sinc_resample.py): no torch import
        read = sinc_resample.load_audio if self.backend == CT2 else load_audio
        results: list[Transcription | None] = [None] * len(paths)
        for begin in range(0, len(paths), self.batch_size):
            group = range(begin, min(begin + self.batch_size, len(paths)))
            loaded: list[tuple[int, np.ndarray, float]] = []
            for i in group:
                started = time.perf_counter()
                try:
                    wave = read(paths[i])
                except WhisperTuiError as exc:
                    results[i] = Transcription(paths[i], "", 0.0, time.perf_counter() - started, str(exc))
                    continue
                loaded.append((i, wave, time.perf_counter() - started))
            if loaded:
                started = time.perf_counter()
                texts = self.transcribe_waves([w for _, w, _ in loaded])
                elapsed = time.perf_counter() - started
                total = sum(len(w) for _, w, _ in loaded) or 1
                for (i, wave, load_s), text in zip(loaded, texts, strict=True):
                    share = elapsed * len(wave) / total
                    results[i] = Transcription(paths[i], text, len(wave) / SAMPLE_RATE, load_s + share)
            if on_result is not None:
                for i in group:
                    on_result(results[i])
        return [r for r in results if r is not None]

    def transcribe_file_timed(self, path: str | os.PathLike) -> Transcription:
        """One file by sequential timestamp decoding (timed.py), after `prompt`: the text and its `segments`."""
        from whisper_tui.inference.timed import transcribe_segments

        path, started = Path(path), time.perf_counter()
        try:
            wave = (sinc_resample.load_audio if self.backend == CT2 else load_audio)(path)
        except WhisperTuiError as exc:
            return Transcription(path, "", 0.0, time.perf_counter() - started, str(exc))
        segments = tuple(transcribe_segments(self, wave, self.language, self.prompt))
        return Transcription(path, " ".join(s.text for s in segments), len(wave) / SAMPLE_RATE,
                             time.perf_counter() - started, segments=segments)


class CT2Whisper:
    """A CTranslate2 Whisper with its tokenizer and features; exports non-CT2 models into the cache once.

    `tokens` (ct2_tokenizer.WhisperTokens) and `features` (log_mel.LogMel at the longest window;
    `features_at(window)` for the others of an any-window export) need neither torch nor
    transformers. CTranslate2 itself takes features of any window up to the model's. `processor` is a transformers WhisperProcessor for callers that still want one,
    built on first use only.
    """

    def __init__(self, model, device: str = "cpu", compute_type: str | None = None) -> None:
        import ctranslate2

        from whisper_tui.inference.ct2_tokenizer import WhisperTokens
        from whisper_tui.inference.log_mel import LogMel
        from whisper_tui.system.threads import ThreadTuner, thread_candidates, tuning_enabled

        folder = ct2_folder_for(model)
        self.folder = folder
        self.device = device
        self.compute_type = compute_type or ("int8" if device == "cpu" else "int8_float16")
        cuda = device.startswith("cuda")
        # CTranslate2 fixes its threads per model instance, so thread tuning keeps one instance per
        # candidate (tiny in int8: ~40 MB each) and runs each batch on the tuner's current pick. The
        # others load when the tuner first switches to them, before its clock starts (each load is
        # ~0.5 s, and a one-batch run needs only the first).
        self._load = lambda n: ctranslate2.models.Whisper(str(folder), device="cuda" if cuda else "cpu",
                                                          compute_type=self.compute_type, intra_threads=n)
        self.models: dict[int, object] = {}
        threads = thread_candidates(_ct2_threads()) if tuning_enabled(device) else [_ct2_threads()]
        self.tuner = ThreadTuner(threads, probe_steps=1, hold_steps=8, apply=self.model_for)
        self.model = self.model_for(threads[0])
        self.multilingual = bool(self.model.is_multilingual)
        self.n_mels = int(self.model.n_mels or MEL_BINS)
        self.windows = saved_windows(folder)  # shortest first; an export records them (window.py)
        self._log_mels: dict[int, LogMel] = {}
        self.features = self.features_at(self.windows[-1])
        self.tokens = WhisperTokens.from_folder(folder, self.multilingual)
        self._processor = None
        self.eot = self.tokens.eot
        self.timestamp_begin = self.tokens.timestamp_begin  # <|0.00|>: every id from here on is a time

    def model_for(self, threads: int):
        """The instance running on `threads` intra-op threads, loaded on first use."""
        if threads not in self.models:
            try:
                self.models[threads] = self._load(threads)
            except (RuntimeError, ValueError) as exc:
                from whisper_tui.errors import ModelError

                raise ModelError(f"CTranslate2 cannot load {self.folder}: {exc}",
                                 "re-export the model (whisper-tui export MODEL OUT)", where=str(self.folder)) from exc
        return self.models[threads]

    @property
    def window_s(self) -> float:
        """The longest window (the one pieces are cut at)."""
        return float(self.features.chunk_length)

    def features_at(self, window: int):
        """The log-mel for `window` seconds (one per window, made on first use); longer than the model's: ModelError."""
        from whisper_tui.inference.log_mel import LogMel

        window = int(window)
        if not 0 < window <= self.windows[-1]:
            from whisper_tui.errors import ModelError

            raise ModelError(f"{self.folder} runs windows of at most {self.windows[-1]} s, not {window} s",
                             f"cut the audio into pieces of at most {self.windows[-1]} s (plan_chunks)",
                             where=str(self.folder))
        if window not in self._log_mels:
            self._log_mels[window] = LogMel(self.n_mels, chunk_length=window)
        return self._log_mels[window]

    @property
    def processor(self):
        """transformers' WhisperProcessor for this folder (imports transformers; the ct2 path does not use it)."""
        if self._processor is None:
            from whisper_tui.models.convert import build_processor
            from whisper_tui.models.window import POSITIONS_PER_SECOND

            self._processor = build_processor(self.folder, n_mels=self.n_mels,
                                              max_source_positions=self.windows[-1] * POSITIONS_PER_SECOND)
            if len(self.windows) > 1:
                from whisper_tui.models.window import set_supported_windows

                set_supported_windows(self._processor, self.windows)
        return self._processor

    def prompt(self, language: str, timestamps: bool = False, previous_text: str | None = None) -> list[int]:
        """The decoder's start: [<|startofprev|> previous text] <|startoftranscript|> (language, task) and
        <|notimestamps|> unless `timestamps` (without it CTranslate2 applies Whisper's timestamp rules)."""
        return self.tokens.prompt(language or "en", timestamps=timestamps, previous_text=previous_text)

    @staticmethod
    def storage(features: np.ndarray):
        """A batch of log-mels (batch, mels, frames) as the StorageView CTranslate2 encodes."""
        import ctranslate2

        return ctranslate2.StorageView.from_array(np.ascontiguousarray(features, dtype=np.float32))

    def decode(self, features, prompts: list[list[int]], max_new_tokens: int, *, num_beams: int = 1,
               tuned: bool = False, **options) -> tuple[list[list[int]], list]:
        """The one CTranslate2 decode: `features` (log-mels, or a StorageView already encoded) from `prompts`.

        Owns the token cap and the loop guard: transformers' generate gives `max_new_tokens` new tokens,
        CTranslate2 gives max_length // 2 (OpenAI's sample_len = n_text_ctx // 2 convention), so it asks for
        twice as many, within the decoder's 448 positions; each sequence is cut where `LoopGuard` would have
        stopped it. `tuned`: run on the thread tuner's current instance (transcription), else on `model`.
        `options` go to CTranslate2's generate (return_no_speech_prob, return_logits_vocab, ...).
        Returns the cut ids (with <|endoftext|> when the model ended) and CTranslate2's results.
        """
        storage = self.storage(features) if isinstance(features, np.ndarray) else features
        kwargs = dict(beam_size=num_beams, max_length=min(MAX_TARGET_TOKENS, 2 * max_new_tokens),
                      suppress_blank=True, suppress_tokens=[-1], **options)
        if tuned:
            self.tuner.before()
            try:
                results = self.model_for(self.tuner.current).generate(storage, prompts, **kwargs)
            finally:
                self.tuner.after()
        else:
            results = self.model.generate(storage, prompts, **kwargs)
        guard = LoopGuard(self.eot)
        return [guard.cut(r.sequences_ids[0]) for r in results], list(results)

    def generate(self, waves: list[np.ndarray], max_length: int, num_beams: int, language: str,
                 window: int | None = None, previous_text: str | None = None) -> list[str]:
        """Texts for `waves` run at `window` seconds (default: the shortest of the model's that holds the longest),
        each decoded after `previous_text` (a prompt) when given."""
        if window is None:
            window = window_for(max(len(w) for w in waves) / SAMPLE_RATE, self.windows)
        features = self.features_at(window)(waves)
        prompt = self.prompt(language, previous_text=previous_text)
        ids, _ = self.decode(features, [prompt] * len(waves), max_length, num_beams=num_beams, tuned=True)
        # text tokens sit below <|endoftext|>; timestamps and other specials are dropped by decode
        return [self.tokens.decode(seq).strip() for seq in ids]


def _ct2_threads() -> int:
    """torch's default CPU thread count (physical cores, or OMP_NUM_THREADS) without importing torch."""
    import sys

    if "torch" in sys.modules:  # a training process may have set its own count
        return max(1, sys.modules["torch"].get_num_threads())
    pinned = os.environ.get("OMP_NUM_THREADS", "").strip()
    if pinned.isdigit() and int(pinned) > 0:
        return int(pinned)
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or usable
    except ImportError:
        physical = usable
    return max(1, min(usable, physical))


def ct2_folder_for(model) -> Path:
    """`model` itself when it is a CTranslate2 export, else its export cached under the user cache."""
    from whisper_tui.models.export import export_ct2, is_ct2_export
    from whisper_tui.config.locations import CT2_FOLDER, cache_dir
    from whisper_tui.models.loading import EMBEDDED_ALIASES, resolve_model

    if model is not None and is_ct2_export(Path(str(model)).expanduser()):
        return Path(str(model)).expanduser()
    if model is None or str(model).strip().lower() in EMBEDDED_ALIASES:
        from whisper_tui.models.convert import embedded_source_dir

        return embedded_source_dir()  # the bundled model already is a CTranslate2 folder
    ref = resolve_model(str(model))
    target = cache_dir() / CT2_FOLDER / _fingerprint(ref)
    if not (target / "model.bin").is_file():
        export_ct2(str(model), target, quantization="float32", force=True)
    return target


def _fingerprint(ref) -> str:
    """Changes when any file of the model (or of an adapter's base) changes."""
    import hashlib

    h = hashlib.blake2b(digest_size=10)
    while ref is not None:
        h.update(str(ref.path).encode())
        if ref.path is not None and ref.path.is_dir():
            for f in sorted(ref.path.iterdir()):
                if f.is_file():
                    st = f.stat()
                    h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        ref = ref.base
    return h.hexdigest()
