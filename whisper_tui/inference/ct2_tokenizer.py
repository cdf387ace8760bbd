"""Whisper's tokenizer straight from a CTranslate2 folder's tokenizer.json, with the `tokenizers` package only.

transformers' `WhisperTokenizer` costs seconds to import (it brings torch); the CTranslate2 paths need
only a handful of special-token ids, the prompt, and text back from ids, which is what faster-whisper
uses too. Special tokens are looked up by name, so English-only (<|endoftext|> = 50256) and
multilingual (50257) vocabularies both work. faster-whisper's tokenizer.json stops at
<|notimestamps|>; the timestamp tokens <|0.00|> .. <|30.00|> follow it in the model's vocabulary,
one id per 20 ms, so they are computed rather than looked up.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from whisper_tui.errors import ModelError
from whisper_tui.whisper_facts import MAX_TARGET_TOKENS, TIMESTAMP_STEP_S

TASKS = ("transcribe", "translate")
PROMPT_TOKENS = MAX_TARGET_TOKENS // 2 - 1  # previous-text tokens kept (OpenAI: n_text_ctx // 2 - 1 = 223)


class WhisperTokens:
    """Token ids, prompts and decoding for one Whisper vocabulary (a CTranslate2 export's tokenizer.json)."""

    def __init__(self, tokenizer, multilingual: bool, where: str = "tokenizer.json") -> None:
        self.tokenizer = tokenizer
        self.multilingual = bool(multilingual)
        self._where = where
        self.eot = self.token_id("<|endoftext|>")
        self.sot = self.token_id("<|startoftranscript|>")
        self.sot_prev = self.token_id("<|startofprev|>")
        self.transcribe = self.token_id("<|transcribe|>")
        self.translate = self.token_id("<|translate|>")
        self.no_timestamps = self.token_id("<|notimestamps|>")
        self.timestamp_begin = self.no_timestamps + 1

    @classmethod
    def from_folder(cls, folder: str | Path, multilingual: bool) -> WhisperTokens:
        """The tokenizer.json next to a CTranslate2 model.bin; a ModelError says what to do when it is missing or broken."""
        from tokenizers import Tokenizer

        folder = Path(folder)
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise ModelError(f"{folder} has no tokenizer.json",
                             "copy tokenizer.json next to model.bin "
                             "(ct2-transformers-converter --copy_files tokenizer.json)", where=str(folder))
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises plain Exception for malformed JSON
            raise ModelError(f"{path} is not a readable tokenizer ({exc})", "restore it from the model's source",
                             where=str(path)) from exc
        return cls(tokenizer, multilingual, where=str(path))

    def token_id(self, token: str) -> int:
        found = self.tokenizer.token_to_id(token)
        if found is None:
            raise ModelError(f"{self._where} has no {token} token", "the tokenizer.json is not a Whisper tokenizer",
                             where=token)
        return int(found)

    def language_id(self, language: str) -> int:
        code = (language or "en").strip().lower()
        found = self.tokenizer.token_to_id(f"<|{code}|>")
        if found is None:
            raise ModelError(f"the model does not know the language '{language}'",
                             "use a Whisper language code such as en, de, fr", where="language")
        return int(found)

    def prompt(self, language: str = "en", task: str = "transcribe", timestamps: bool = False,
               previous_text: str | None = None) -> list[int]:
        """Decoder prompt: [<|startofprev|> previous text] <|startoftranscript|> (+ language + task on a
        multilingual model) (+ <|notimestamps|> unless `timestamps`). Previous text keeps its last
        PROMPT_TOKENS tokens, as OpenAI's initial_prompt does, so half the decoder stays for the transcript."""
        if task not in TASKS:
            raise ModelError(f"unknown task '{task}'", f"use one of: {', '.join(TASKS)}", where="task")
        ids: list[int] = []
        if previous_text and previous_text.strip():
            ids += [self.sot_prev, *self.encode(previous_text)[-PROMPT_TOKENS:]]
        ids.append(self.sot)
        if self.multilingual:
            ids += [self.language_id(language), self.transcribe if task == "transcribe" else self.translate]
        if not timestamps:
            ids.append(self.no_timestamps)
        return ids

    def encode(self, text: str) -> list[int]:
        """Text tokens for `text` as Whisper reads it after a prompt: one leading space, no special tokens."""
        return list(self.tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids)

    def is_timestamp(self, token: int) -> bool:
        return token >= self.timestamp_begin

    def timestamp_s(self, token: int) -> float:
        """Seconds from the start of the window that a timestamp token marks."""
        return round((token - self.timestamp_begin) * TIMESTAMP_STEP_S, 2)

    def decode(self, ids: Sequence[int]) -> str:
        """The text of the ids below <|endoftext|> (specials and timestamps dropped), as faster-whisper decodes."""
        return self.tokenizer.decode([int(t) for t in ids if t < self.eot])

    def segments(self, ids: Sequence[int]) -> list[tuple[float | None, float | None, str]]:
        """(start s, end s, text) per timestamped segment of a sequence decoded with timestamps.

        Text between two timestamp tokens is one segment. A timestamp that closes a segment also opens
        the next unless another one follows it (Whisper writes pairs: `<|1.00|><|1.00|>`); text with no
        closing timestamp (the decoder ran out of budget) ends with `None`, and text before any
        timestamp starts with `None`.
        """
        out: list[tuple[float | None, float | None, str]] = []
        start: float | None = None
        text: list[int] = []
        for token in ids:
            if self.is_timestamp(token):
                if text:
                    out.append((start, self.timestamp_s(token), self.decode(text).strip()))
                    text = []
                start = self.timestamp_s(token)
            elif token < self.eot:
                text.append(token)
        if text:
            out.append((start, None, self.decode(text).strip()))
        return out
