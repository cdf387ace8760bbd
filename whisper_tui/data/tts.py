"""Offline speech synthesis with eSpeak NG, for the sample dataset and for tests.

The library comes from the `espeakng-loader` wheel (no system package needed) and is driven
through ctypes in synchronous mode: `espeak_Synth` returns once a callback has collected all
16-bit samples. If that fails (no wheel for this platform), a system `espeak-ng` binary is used.

Determinism: eSpeak keeps synthesis state in C statics that its API cannot reset (the pitch
"flutter" phase, automatic gain control), so the same sentence comes out slightly different
depending on what was spoken before. We therefore load a private copy of the library afresh
for every utterance (dlopen, initialise, speak, terminate, dlclose: about 5 ms) and seed its
random generator, which makes the output a function of (text, voice, rate, pitch) alone.
All of it happens under one lock because eSpeak's API is process-global.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading

import numpy as np

from whisper_tui.data.audio import SAMPLE_RATE, resample
from whisper_tui.errors import AudioError

DEFAULT_VOICE = "en-us"
RATE_RANGE = (80, 450)  # words per minute, eSpeak's limits
PITCH_RANGE = (0, 99)
LEAD_IN_S = 0.2

# espeak_AUDIO_OUTPUT, espeak_PARAMETER, flags and options from speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_INITIALIZE_DONT_EXIT = 0x8000
_PARAM = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "punctuation": 5, "capitals": 6, "wordgap": 7}
_SEED = 12345



class UnknownVoice(AudioError):
    """eSpeak has no voice by that name (the engine itself works)."""


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_lock = threading.Lock()
_private_lib: str | None = None
_library_error: str | None = None


def _private_library_path() -> str:
    """A copy of libespeak-ng only we open, so dlclose really unloads it (and its statics)."""
    global _private_lib
    if _private_lib is None:
        import espeakng_loader

        src = espeakng_loader.get_library_path()
        tmp = tempfile.mkdtemp(prefix="whisper-tui-espeak-")
        atexit.register(shutil.rmtree, tmp, True)
        dst = os.path.join(tmp, os.path.basename(src))
        shutil.copy2(src, dst)
        _private_lib = dst
    return _private_lib


def _unload(lib: ctypes.CDLL) -> None:
    import _ctypes

    close = getattr(_ctypes, "dlclose", None) or getattr(_ctypes, "FreeLibrary", None)
    if close is not None:
        close(lib._handle)


class _Event(ctypes.Structure):
    """espeak_EVENT of speak_lib.h."""

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1


def _speak_with_library(text: str, voice: str, rate_wpm: int, pitch: int,
                        words: list | None = None) -> tuple[np.ndarray, int]:
    """With `words`, each spoken word's (text position from 1, length in characters, start in ms) is appended."""
    import espeakng_loader

    lib = ctypes.CDLL(_private_library_path())
    chunks: list[np.ndarray] = []

    @_CALLBACK
    def collect(wav, n, events):
        if n > 0 and wav:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        if words is not None and events:
            event = ctypes.cast(events, ctypes.POINTER(_Event))
            k = 0
            while event[k].type != _EVENT_LIST_TERMINATED:
                if event[k].type == _EVENT_WORD:
                    words.append((event[k].text_position, event[k].length, event[k].audio_position))
                k += 1
        return 0  # 0 = keep going

    try:
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        data = espeakng_loader.get_data_path().encode()
        sr = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT)
        if sr <= 0:
            raise OSError(f"espeak_Initialize failed ({sr}) with data at {data.decode()}")
        try:
            lib.espeak_SetSynthCallback(collect)
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise UnknownVoice(f"Unknown eSpeak voice: {voice!r}", "use e.g. en-us, en, en-gb-x-rp or en-029",
                                   where=voice)
            for name, value in (("rate", rate_wpm), ("pitch", pitch), ("volume", 100), ("range", 50),
                                ("punctuation", 0), ("capitals", 0), ("wordgap", 0)):
                lib.espeak_SetParameter(_PARAM[name], int(value), 0)
            if hasattr(lib, "espeak_ng_SetRandSeed"):
                lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
                lib.espeak_ng_SetRandSeed(_SEED)
            _seed_libc_rand()
            buf = text.encode("utf-8") + b"\0"
            rc = lib.espeak_Synth(buf, len(buf), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None)
            if rc != 0:
                raise OSError(f"espeak_Synth failed with code {rc}")
            lib.espeak_Synchronize()
        finally:
            lib.espeak_Terminate()
    finally:
        _unload(lib)
    wave = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return wave, int(sr)


def _seed_libc_rand() -> None:
    """Breathy voices draw noise from libc rand(); seed it like eSpeak's own generator."""
    if sys.platform.startswith("linux") or sys.platform == "darwin":
        try:
            ctypes.CDLL(None).srand(_SEED)
        except (OSError, AttributeError):
            pass


def _speak_with_binary(text: str, voice: str, rate_wpm: int, pitch: int) -> tuple[np.ndarray, int]:
    import soundfile as sf

    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise FileNotFoundError("no espeak-ng binary on PATH")
    with tempfile.TemporaryDirectory(prefix="whisper-tui-tts-") as tmp:
        out = os.path.join(tmp, "out.wav")
        proc = subprocess.run([exe, "-v", voice, "-s", str(rate_wpm), "-p", str(pitch), "-w", out, "--stdin"],
                              input=text.encode("utf-8"), capture_output=True, timeout=60)
        if proc.returncode != 0 or not os.path.exists(out):
            msg = proc.stderr.decode("utf-8", "replace").strip()
            if "voice" in msg.lower():
                raise UnknownVoice(f"Unknown eSpeak voice: {voice!r}", msg, where=voice)
            raise OSError(f"{exe} failed: {msg or proc.returncode}")
        wave, sr = sf.read(out, dtype="int16", always_2d=True)
    return wave[:, 0].copy(), int(sr)


def _speak(text: str, voice: str, rate_wpm: int, pitch: int) -> tuple[np.ndarray, int]:
    global _library_error
    with _lock:
        if _library_error is None:
            try:
                return _speak_with_library(text, voice, rate_wpm, pitch)
            except AudioError:
                raise
            except (OSError, ImportError, RuntimeError, AttributeError) as exc:
                _library_error = f"{type(exc).__name__}: {exc}"  # don't retry a broken library every clip
        try:
            return _speak_with_binary(text, voice, rate_wpm, pitch)
        except AudioError:
            raise
        except (OSError, subprocess.SubprocessError) as exc:
            raise AudioError(f"Speech synthesis is unavailable: eSpeak NG library ({_library_error}) "
                             f"and binary ({exc}) both failed",
                             "reinstall whisper-tui (it ships espeakng-loader) or install the espeak-ng package",
                             where="espeak-ng") from exc


def synthesize(text: str, voice: str = DEFAULT_VOICE, rate_wpm: int = 160, pitch: int = 50, *,
               lead_in_s: float = LEAD_IN_S) -> np.ndarray:
    """Speak `text` -> float32 mono at 16 kHz. Same arguments, same samples.

    eSpeak starts speaking on the very first sample; Whisper mishears a first word with no
    silence before it, so `lead_in_s` of silence is put in front (as in any real recording).
    """
    if not text or not text.strip():
        raise ValueError("synthesize() needs some text")
    if not RATE_RANGE[0] <= rate_wpm <= RATE_RANGE[1]:
        raise ValueError(f"rate_wpm must be within {RATE_RANGE}, got {rate_wpm}")
    if not PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
        raise ValueError(f"pitch must be within {PITCH_RANGE}, got {pitch}")
    samples, sr = _speak(text, voice, int(rate_wpm), int(pitch))
    wave = resample(samples.astype(np.float32) / 32768.0, sr, SAMPLE_RATE)
    return np.concatenate([np.zeros(int(round(lead_in_s * SAMPLE_RATE)), np.float32), wave])


def synthesize_words(text: str, voice: str = DEFAULT_VOICE, rate_wpm: int = 160, pitch: int = 50, *,
                     lead_in_s: float = LEAD_IN_S) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """As `synthesize`, with (word, start s) for every word as eSpeak placed it in the audio (its word
    events): a truth for word timestamps on continuous speech. Needs the bundled library (the binary's
    output has no events): AudioError otherwise."""
    if not text or not text.strip():
        raise ValueError("synthesize_words() needs some text")
    found: list = []
    with _lock:
        try:
            samples, sr = _speak_with_library(text, voice, int(rate_wpm), int(pitch), words=found)
        except (OSError, ImportError, RuntimeError, AttributeError) as exc:
            raise AudioError(f"eSpeak NG's library is needed for word times ({type(exc).__name__}: {exc})",
                             "reinstall whisper-tui (it ships espeakng-loader)", where="espeak-ng") from exc
    wave = resample(samples.astype(np.float32) / 32768.0, sr, SAMPLE_RATE)
    wave = np.concatenate([np.zeros(int(round(lead_in_s * SAMPLE_RATE)), np.float32), wave])
    words = [(text[pos - 1:pos - 1 + length], lead_in_s + ms / 1000.0) for pos, length, ms in found]
    return wave, words


@functools.lru_cache(maxsize=64)
def voice_available(voice: str) -> bool:
    """Whether eSpeak knows `voice` (e.g. "en-gb-x-rp", "en-us+f3"); AudioError if eSpeak can't run at all."""
    try:
        synthesize("a", voice)
    except UnknownVoice:
        return False
    return True


def backend() -> str:
    """Which engine synthesize() is using: "library", "binary" or "unavailable" (`whisper-tui doctor` reports it)."""
    return backend_report()[0]


def backend_report() -> tuple[str, str]:
    """(backend(), why): speaks one letter at eSpeak's own rate, so torch (the resampler) is never imported.

    `why` says what failed: the bundled library when the binary stands in, both when "unavailable", "" when the
    library works."""
    try:
        _speak("a", DEFAULT_VOICE, 160, 50)
    except AudioError as exc:
        return "unavailable", exc.message
    return ("library", "") if _library_error is None else ("binary", f"the bundled library failed: {_library_error}")

