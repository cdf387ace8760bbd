"""Word and character error rates on Whisper-normalised English text.

Scores use transformers' `EnglishTextNormalizer` (what OpenAI's and HF's evaluations use) so
"Dr. Smith's 3 pills" and "doctor smith's three pills" don't count as errors. The British→American
spelling map (`normalizer.json`) is not shipped in the transformers wheel and we can't download it,
so we pass an empty map on purpose.

The normaliser's file needs only the standard library and `regex`, but importing it the usual way
runs transformers' package __init__ (seconds); the CTranslate2 evaluation never needs transformers
otherwise, so the file is loaded on its own, with the ordinary import as the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

_NORMALIZER_FILE = ("models", "whisper", "english_normalizer.py")


@lru_cache(maxsize=1)
def _normalizer():
    return _normalizer_class()({})


def _normalizer_class():
    import importlib.util
    import sys
    from pathlib import Path

    if "transformers" not in sys.modules:
        package = importlib.util.find_spec("transformers")  # finds, does not import
        if package is not None and package.origin:
            path = Path(package.origin).parent.joinpath(*_NORMALIZER_FILE)
            spec = importlib.util.spec_from_file_location("whisper_tui._english_normalizer", path)
            if spec is not None and spec.loader is not None and path.is_file():
                module = importlib.util.module_from_spec(spec)
                try:
                    spec.loader.exec_module(module)
                    return module.EnglishTextNormalizer
                except (ImportError, AttributeError):  # the file grew package imports: use the package
                    pass
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    return EnglishTextNormalizer


def normalize(text: str) -> str:
    return _normalizer()(text or "").strip()


@dataclass(frozen=True)
class ClipErrors:
    """One clip's word errors after normalisation (`evaluate.ClipResult` adds the clip's file and signs)."""

    reference: str
    hypothesis: str
    wer: float
    substitutions: int
    deletions: int
    insertions: int
    ref_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions


def _words_measures(refs: list[str], hyps: list[str]):
    import jiwer

    return jiwer.process_words(refs, hyps)


def error_rates(references: list[str], hypotheses: list[str]) -> tuple[float, float]:
    """Corpus WER and CER after normalisation; clips whose reference normalises to nothing are skipped."""
    import jiwer

    pairs = [(normalize(r), normalize(h)) for r, h in zip(references, hypotheses, strict=True)]
    pairs = [(r, h) for r, h in pairs if r]
    if not pairs:
        return 0.0, 0.0
    refs, hyps = zip(*pairs)
    return float(jiwer.wer(list(refs), list(hyps))), float(jiwer.cer(list(refs), list(hyps)))


def clip_errors(reference: str, hypothesis: str) -> ClipErrors:
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        n = len(hyp.split())
        return ClipErrors(reference, hypothesis, float(n > 0), 0, 0, n, 0)
    out = _words_measures([ref], [hyp])
    return ClipErrors(reference, hypothesis, float(out.wer), out.substitutions, out.deletions,
                      out.insertions, out.hits + out.substitutions + out.deletions)
