"""Trainable-parameter count and a training-memory estimate, by arithmetic only.

The Train setup screen shows these while the user edits a profile, and `whisper-tui train` logs the same
`memory estimate: X.X GiB` line before it loads the model, so they must be instant and torch-free: we count Whisper's
parameters from its shape (d_model, layers, ffn, vocab, positions) the way `WhisperForConditionalGeneration`
lays them out, rather than building a model. Which parts are frozen follows `training.model_setup` (bottom K
encoder layers, adapters only above them).

Memory on a CPU is the peak resident set (RSS) of the training process, the figure benchmarks/bench_memory.py
measures (RESULTS section 14). It is what is always there plus the largest of the run's phases:

- always: the process with torch and transformers imported (`PROCESS_BASELINE_BYTES`, measured), the
  working set a run adds before its first step (`RUNTIME_WORKING_SET_BYTES`, calibrated: see there), the
  weights, and for the trainable part its gradients and AdamW's two fp32 moments;
- a training piece: the frame budget (batching.py) cuts every batch into forward passes of at most
  batch x 10 s of audio, so activations follow the largest piece of any trained window (clips x positions),
  not a whole batch at 30 s. What each layer keeps for its backward pass is counted tensor by tensor below
  (`_ENC_*` units); SDPA attention (flash kernel on CPU) keeps no positions x positions matrix;
- an evaluation batch (generation without gradients) at the longest window;
- building the cross-attention K/V cache (cross_kv.py): one evaluation batch of rows at a time, written to
  its file with plain writes (page cache, not RSS), so it does not grow with the data set.

The encoder caches are read with pread (encoder_cache.py) and live in the page cache, not in the RSS, so they
are not counted. On CUDA the same arithmetic gives GPU memory, with 16-bit activations under mixed precision
and a CUDA context instead of the host process; no GPU run has confirmed it, and it says so wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from whisper_tui.models.parts import WHISPER_LINEAR_LAYERS
from whisper_tui.models.window import POSITIONS_PER_SECOND, WHISPER_WINDOW_POSITIONS
# the encoder cache on disk lives in cache_estimate.py; its names stay importable from here
from whisper_tui.training.cache_estimate import (  # noqa: F401
    NPY_HEADER_BYTES, CacheEstimate, dataset_clip_counts, encoder_cache_file_bytes, estimate_encoder_cache)
from whisper_tui.whisper_facts import MAX_TARGET_TOKENS, MEL_BINS

GIB = 1024**3
MIB = 1024**2
# Measured (RESULTS section 14): a process that only imports torch 2.11 (its CUDA 13 wheel, run on a CPU) and
# transformers' trainer holds 0.70 GiB RSS, mostly mapped library pages. Replaces the old guess of 512 MiB
# "runtime overhead", which undercounted it.
PROCESS_BASELINE_BYTES = int(0.70 * GIB)
# Calibrated: an RSS trace of the cpu-quick run (84 training clips, tiny.en) between training steps reads
# 1100 MiB = baseline 717 + weights 148 + 235 MiB. Of those, RssFile grows 286 -> 447 MiB once the first forward and
# backward pass have run (oneDNN / MKL kernels and the rest of libtorch's code paged in), and RssAnon ~75 MiB (the
# Trainer, datasets, tokenizer, the keep set's audio, allocator slack). The seed-settings run sits at the same
# 1101 MiB between steps, so it does not depend on the recipe.
RUNTIME_WORKING_SET_BYTES = 235 * MIB
CUDA_CONTEXT_BYTES = 512 * MIB  # CUDA context + kernels + allocator slack on the device (not yet verified)
NF4_BYTES_PER_PARAM = 0.5 + 4 / 64  # 4-bit weight + one fp32 absmax per 64-value block
# What one encoder layer keeps for its backward pass, in units of (positions x d_model) values, counted from the
# layer's ops (pre-LN: LN, q/k/v, SDPA, out_proj, LN, fc1, GELU, fc2; ffn = 4 d_model):
_ENC_PASS_GRADIENT = 10  # any layer a gradient flows through: LN inputs 2, q/k/v 3 + SDPA output 1, GELU input 4
_ENC_FULL_EXTRA = 7  # weights that train keep their inputs too: LN outputs 2, out_proj input 1, GELU output 4
_DROPOUT_COPY = 1.25  # LoRA dropout > 0: a dropped copy of the adapter's input + its bool mask (1 byte a value)
_CONV_STEM = 6  # trained conv stem: conv1 output + its GELU (2 x 2 positions), conv2 output + its GELU
_BACKWARD_WORKSPACE = 10  # gradients alive inside one layer's backward pass (the fc1/GELU ones are 4 each)
_DECODER_PER_TOKEN = 24  # a decoder layer per label token (two attentions + FFN; tokens are few next to positions)
_EVAL_ENCODER = 10  # the largest live set inside one encoder layer without gradients: residual + fc1 + GELU out
_LOGIT_COPIES = 3  # fp32 logits, their log-softmax (kept by the loss) and its gradient
# the KL term to the base model (distill.py): the base's logits and log-softmax, the student's tempered
# log-softmax (kept for the backward pass) and its gradient
_DISTILL_LOGIT_COPIES = 4
# Label tokens per clip: Whisper's 3 special tokens + what a window of speech holds at ~3 tokens per second
# (2.3 words/s x 1.3 tokens/word). The sample data's longest transcript is 22 text tokens in its 10 s window
# (estimate: 33 tokens); a 30 s clip gets 93 (the old fixed guess was 96 at every window).
LABEL_SPECIAL_TOKENS = 3
LABEL_TOKENS_PER_SECOND = 3
STRATEGIES = ("full", "lora", "qlora")


@dataclass(frozen=True)
class WhisperShape:
    """The sizes that decide a Whisper model's parameter count (defaults: tiny / tiny.en)."""

    d_model: int = 384
    encoder_layers: int = 4
    decoder_layers: int = 4
    attention_heads: int = 6
    encoder_ffn_dim: int = 1536
    decoder_ffn_dim: int = 1536
    vocab_size: int = 51864
    num_mel_bins: int = MEL_BINS
    max_source_positions: int = WHISPER_WINDOW_POSITIONS
    max_target_positions: int = MAX_TARGET_TOKENS

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> WhisperShape:
        """From a WhisperConfig (`config.to_dict()`) or its config.json; missing keys keep tiny's value."""
        base = cls()
        get = lambda key, default: int(config.get(key, default))  # noqa: E731
        return cls(
            d_model=get("d_model", base.d_model),
            encoder_layers=get("encoder_layers", base.encoder_layers),
            decoder_layers=get("decoder_layers", base.decoder_layers),
            attention_heads=get("encoder_attention_heads", base.attention_heads),
            encoder_ffn_dim=get("encoder_ffn_dim", base.encoder_ffn_dim),
            decoder_ffn_dim=get("decoder_ffn_dim", base.decoder_ffn_dim),
            vocab_size=get("vocab_size", base.vocab_size),
            num_mel_bins=get("num_mel_bins", base.num_mel_bins),
            max_source_positions=get("max_source_positions", base.max_source_positions),
            max_target_positions=get("max_target_positions", base.max_target_positions),
        )


TINY = WhisperShape()


def _linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def _attention(d: int) -> int:
    # Whisper's k_proj has no bias; q, v and out do.
    return 3 * _linear(d, d) + _linear(d, d, bias=False)


def _layer_norm(d: int) -> int:
    return 2 * d


def encoder_layer_params(shape: WhisperShape) -> int:
    d = shape.d_model
    return _attention(d) + _layer_norm(d) + _linear(d, shape.encoder_ffn_dim) + _linear(shape.encoder_ffn_dim, d) \
        + _layer_norm(d)


def decoder_layer_params(shape: WhisperShape) -> int:
    d = shape.d_model
    return 2 * (_attention(d) + _layer_norm(d)) + _linear(d, shape.decoder_ffn_dim) \
        + _linear(shape.decoder_ffn_dim, d) + _layer_norm(d)


@dataclass(frozen=True)
class ParamCounts:
    """Parameters by block, as `model.named_parameters()` would count them (proj_out is tied)."""

    encoder_conv: int
    encoder_positions: int  # sinusoidal, frozen by transformers
    encoder_layer: int  # one layer
    encoder_layers: int
    encoder_norm: int
    decoder_tokens: int  # shared with proj_out
    decoder_positions: int
    decoder_layer: int
    decoder_layers: int
    decoder_norm: int

    @property
    def encoder(self) -> int:
        return self.encoder_conv + self.encoder_positions + self.encoder_layer * self.encoder_layers + self.encoder_norm

    @property
    def decoder(self) -> int:
        return self.decoder_tokens + self.decoder_positions + self.decoder_layer * self.decoder_layers \
            + self.decoder_norm

    @property
    def total(self) -> int:
        return self.encoder + self.decoder


def count_params(shape: WhisperShape = TINY) -> ParamCounts:
    d, mels = shape.d_model, shape.num_mel_bins
    return ParamCounts(
        encoder_conv=(mels * d * 3 + d) + (d * d * 3 + d),
        encoder_positions=shape.max_source_positions * d,
        encoder_layer=encoder_layer_params(shape),
        encoder_layers=shape.encoder_layers,
        encoder_norm=_layer_norm(d),
        decoder_tokens=shape.vocab_size * d,
        decoder_positions=shape.max_target_positions * d,
        decoder_layer=decoder_layer_params(shape),
        decoder_layers=shape.decoder_layers,
        decoder_norm=_layer_norm(d),
    )


def _linear_shapes(shape: WhisperShape, ffn: int) -> dict[str, tuple[int, int]]:
    d = shape.d_model
    return {"q_proj": (d, d), "k_proj": (d, d), "v_proj": (d, d), "out_proj": (d, d), "fc1": (d, ffn), "fc2": (ffn, d)}


def lora_params(shape: WhisperShape, r: int, target_modules: Iterable[str], *, encoder: bool = True,
                first_encoder_layer: int = 0) -> int:
    """r·(in+out) per targeted linear (A is r×in, B is out×r); attention names match both attentions of a
    decoder layer. `encoder=False` leaves the encoder without adapters (frozen encoder)."""
    targets = set(target_modules)
    unknown = targets - set(WHISPER_LINEAR_LAYERS)
    if unknown:
        raise ValueError(f"unknown LoRA target module(s): {', '.join(sorted(unknown))}")
    total = 0
    if encoder:
        enc = _linear_shapes(shape, shape.encoder_ffn_dim)
        per_layer = sum(r * (i + o) for name, (i, o) in enc.items() if name in targets)
        total += per_layer * max(0, shape.encoder_layers - first_encoder_layer)
    dec = _linear_shapes(shape, shape.decoder_ffn_dim)
    per_layer = 0
    for name, (i, o) in dec.items():
        if name in targets:
            per_layer += r * (i + o) * (2 if name.endswith("proj") else 1)  # self_attn + encoder_attn
    total += per_layer * shape.decoder_layers
    return total


def _quantised_linear_params(shape: WhisperShape) -> int:
    """Weights (not biases) of the Linear layers bitsandbytes turns into 4-bit; embeddings/convs/norms stay."""
    d = shape.d_model
    enc = 4 * d * d + 2 * d * shape.encoder_ffn_dim
    dec = 8 * d * d + 2 * d * shape.decoder_ffn_dim
    return enc * shape.encoder_layers + dec * shape.decoder_layers


@dataclass(frozen=True)
class TrainingEstimate:
    """What `train` logs and the Train setup screen shows; `parts` are bytes by cause (they sum to the total:
    what is always there plus the largest phase); `phases` are every phase's bytes, the largest in `parts`."""

    strategy: str
    total_params: int
    trainable_params: int
    parts: dict[str, int] = field(default_factory=dict)
    phases: dict[str, int] = field(default_factory=dict)
    cuda: bool = False

    @property
    def total_bytes(self) -> int:
        return sum(self.parts.values())

    @property
    def trainable_percent(self) -> float:
        return 100.0 * self.trainable_params / self.total_params if self.total_params else 0.0

    @property
    def figure(self) -> str:
        """`memory estimate: X.X GiB`: the words `train` logs and the Train setup screen shows (one decimal)."""
        return f"memory estimate: {self.total_bytes / GIB:.1f} GiB"

    @property
    def where(self) -> str:
        """What the figure counts; on CUDA that no GPU run has confirmed it yet."""
        return "GPU, not yet verified on hardware" if self.cuda else "peak RAM (RSS)"

    @property
    def headline(self) -> str:
        """`memory estimate: X.X GiB (what it counts)`, the line `train` logs before loading the model."""
        return f"{self.figure} ({self.where})"

    def format_lines(self) -> list[str]:
        from whisper_tui.system.sysmon import format_bytes

        lines = [f"Trainable parameters: {self.trainable_params:,} of {self.total_params:,}"
                 f" ({self.trainable_percent:.2f}%)", self.headline]
        lines += [f"  {name}: {format_bytes(value)}" for name, value in self.parts.items()]
        return lines


def label_tokens_at(window_s: float, max_target_positions: int = MAX_TARGET_TOKENS) -> int:
    """Label tokens of a clip trained at `window_s` (see LABEL_TOKENS_PER_SECOND), at most the decoder's positions."""
    return min(int(max_target_positions), LABEL_SPECIAL_TOKENS + int(round(LABEL_TOKENS_PER_SECOND * window_s)))


def largest_piece(windows_s: Iterable[float], batch_size: int, frame_budget_s: float = 0) -> tuple[int, int, float]:
    """(clips, encoder positions, window s) of the largest forward pass a step runs: batching.budget_positions
    cut by each window's positions, the largest over the trained windows (a 30 s window fits fewer clips)."""
    from whisper_tui.training.batching import budget_positions

    budget = budget_positions(frame_budget_s, batch_size)
    best = (0, 0, 0.0)
    for window in windows_s:
        positions = max(1, int(round(window * POSITIONS_PER_SECOND)))
        clips = min(max(1, int(batch_size)), max(1, budget // positions))
        if clips * positions > best[1]:
            best = (clips, clips * positions, float(window))
    return best


def _encoder_layer_units(shape: WhisperShape, *, full: bool, targets: set[str], dropout: bool) -> float:
    """Values (x positions x d_model) one trained encoder layer keeps for backward."""
    if full:
        return _ENC_PASS_GRADIENT + _ENC_FULL_EXTRA
    ffn = shape.encoder_ffn_dim / shape.d_model
    units = float(_ENC_PASS_GRADIENT)
    for name in targets:
        width = ffn if name == "fc2" else 1.0  # an adapter's input: fc2 reads the ffn-wide GELU output
        # dropout > 0 keeps a dropped copy; dropout 0 keeps the input itself (the base layer is frozen and kept none)
        units += width * _DROPOUT_COPY if dropout else (width if name in ("fc1", "fc2") else 0.0)
    if not dropout and targets & {"q_proj", "k_proj", "v_proj"}:
        units += 1.0  # the LN output the attention adapters read
    return units


def _training_piece_bytes(shape: WhisperShape, *, clips: int, positions: int, window_s: float, act_bytes: int,
                          trained_encoder_layers: int, full: bool, conv_trained: bool, cache_active: bool,
                          checkpointing: bool, targets: set[str], dropout: bool, distill: bool = False) -> int:
    """Activations of the largest forward pass (one frame-budget piece) at the start of its backward pass.
    Frozen layers below every trainable one keep nothing (no gradient has to flow through them)."""
    d = shape.d_model
    unit = positions * d * act_bytes
    units = 1.0 if cache_active else 2 * shape.num_mel_bins / d  # the cached rows (fp32) or the log-mel input
    if conv_trained:
        units += _CONV_STEM
    per_layer = _encoder_layer_units(shape, full=full, targets=targets, dropout=dropout)
    if trained_encoder_layers:
        if checkpointing:  # each layer's input, plus one layer recomputed in full during backward
            units += trained_encoder_layers + per_layer
        else:
            units += trained_encoder_layers * per_layer
        units += 2 + _BACKWARD_WORKSPACE  # the final LN's input and output (the cross-attention input)
    # cross-attention: SDPA keeps K and V of the encoder positions in every decoder layer; adapters on the
    # cross k/v projections keep a dropped copy of the encoder output each (trained k/v weights keep the encoder
    # output itself, one tensor for every layer: counted above)
    cross_adapters = len(targets & {"k_proj", "v_proj"}) * (_DROPOUT_COPY if dropout else 0)
    units += shape.decoder_layers * (2 + cross_adapters)
    tokens = clips * label_tokens_at(window_s, shape.max_target_positions)
    per_token = (shape.decoder_layers + _DECODER_PER_TOKEN) if checkpointing else \
        shape.decoder_layers * _DECODER_PER_TOKEN
    decoder = tokens * d * per_token * act_bytes
    copies = _LOGIT_COPIES + (_DISTILL_LOGIT_COPIES if distill else 0)
    logits = tokens * shape.vocab_size * 4 * copies  # the loss runs in fp32
    return int(units * unit + decoder + logits)


def _evaluation_bytes(shape: WhisperShape, *, batch_size: int, act_bytes: int, encoder_runs: bool) -> int:
    """Generation for one evaluation batch at the longest window: the encoder's largest layer without gradients
    (when it is not cached) or the encoder output and every decoder layer's cross-attention K/V cache."""
    unit = int(batch_size) * shape.max_source_positions * shape.d_model * act_bytes
    features = int(batch_size) * shape.num_mel_bins * 2 * shape.max_source_positions * 4
    cached = 1 + 2 * shape.decoder_layers
    return int(features + unit * (max(_EVAL_ENCODER, cached) if encoder_runs else cached + 0.5))


def cross_kv_bytes(shape: WhisperShape, rows: int) -> int:
    """cross_kv.estimated_bytes without a model: fp16 K and V of every decoder layer for `rows` training rows."""
    return int(rows) * shape.decoder_layers * 2 * shape.max_source_positions * shape.d_model * 2


def estimate_training(
    *,
    strategy: str = "full",
    shape: WhisperShape = TINY,
    precision: str = "fp32",
    batch_size: int = 16,
    gradient_checkpointing: bool = False,
    freeze_encoder: bool = False,
    frozen_encoder_layers: int = 0,
    encoder_cache: bool = False,
    spec_augment: bool = False,
    lora_r: int = 32,
    lora_target_modules: Iterable[str] = ("q_proj", "v_proj"),
    lora_dropout: float = 0.05,
    windows_s: Iterable[float] = (),
    frame_budget_s: float = 0,
    eval_batch_size: int = 8,
    cross_kv_rows: int = 0,
    distill: bool = False,
    cuda: bool = False,
) -> TrainingEstimate:
    """Trainable parameters and peak memory for one training configuration, following the trainer's rules.

    `frozen_encoder_layers` = K freezes the conv stem, positions and the bottom K encoder layers;
    `freeze_encoder` freezes all of it. LoRA adapters go only on unfrozen layers. `encoder_cache`
    (when K > 0 and no SpecAugment) replaces the frozen bottom with its cached output; with the whole encoder
    cached, gradient checkpointing is turned off (trainer_setup). `windows_s` are the trained windows (empty:
    the shape's own); `cross_kv_rows` > 0 when the cross-attention cache is built for that many rows.
    Precision `fp16`/`bf16` is mixed precision (CUDA only): weights and optimizer states stay fp32,
    activations are 16-bit. `cuda` counts GPU memory (a CUDA context instead of the host process).
    `distill` (training.distill_weight > 0): the base model's logits beside the fine-tune's, and for a full
    fine-tune a frozen copy of the weights.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    targets = tuple(lora_target_modules)
    counts = count_params(shape)
    total = counts.total
    n = shape.encoder_layers
    k = n if freeze_encoder else max(0, min(int(frozen_encoder_layers), n))

    if strategy == "full":
        trainable = total - counts.encoder_positions
        if k >= n:
            trainable -= counts.encoder - counts.encoder_positions
        elif k:
            trainable -= counts.encoder_conv + counts.encoder_layer * k
        weights = total * 4
        trained_encoder_layers = n - k
    else:
        trainable = lora_params(shape, lora_r, targets, encoder=k < n, first_encoder_layer=k)
        if strategy == "qlora":
            quantised = _quantised_linear_params(shape)
            weights = int(quantised * NF4_BYTES_PER_PARAM) + (total - quantised) * 4 + trainable * 4
        else:
            weights = (total + trainable) * 4
        trained_encoder_layers = n - k if targets else 0
    act_bytes = 2 if precision in ("fp16", "bf16") else 4
    cache_active = encoder_cache and k > 0 and not spec_augment
    windows = tuple(windows_s) or (shape.max_source_positions / POSITIONS_PER_SECOND,)
    clips, positions, window = largest_piece(windows, batch_size, frame_budget_s)
    piece = _training_piece_bytes(
        shape, clips=clips, positions=positions, window_s=window, act_bytes=act_bytes,
        trained_encoder_layers=trained_encoder_layers, full=strategy == "full", conv_trained=strategy == "full"
        and k == 0, cache_active=cache_active, checkpointing=gradient_checkpointing and not (cache_active and k >= n),
        targets=set(targets) if strategy != "full" else set(), dropout=lora_dropout > 0, distill=distill)
    phases = {f"training piece ({clips} x {window:g} s)": piece,
              f"evaluation ({eval_batch_size} x {shape.max_source_positions / POSITIONS_PER_SECOND:g} s)":
                  _evaluation_bytes(shape, batch_size=eval_batch_size, act_bytes=act_bytes,
                                    encoder_runs=not (cache_active and k >= n))}
    if cross_kv_rows > 0:
        at_once = min(int(cross_kv_rows), int(eval_batch_size))
        hidden = at_once * shape.max_source_positions * shape.d_model * 4  # the batch's encoder output, fp32
        phases[f"cross-attn K/V build ({at_once} clips at a time)"] = cross_kv_bytes(shape, at_once) + 2 * hidden
    peak = max(phases, key=phases.get)
    parts = {"CUDA context": CUDA_CONTEXT_BYTES} if cuda else {
        "torch + transformers": PROCESS_BASELINE_BYTES, "run working set": RUNTIME_WORKING_SET_BYTES}
    parts.update({"weights": weights, "gradients": trainable * 4, "optimizer (AdamW)": trainable * 8})
    if distill and strategy == "full":
        parts["base model copy (KL term)"] = total * 4
    parts[peak] = phases[peak]
    return TrainingEstimate(strategy=strategy, total_params=total, trainable_params=trainable, parts=parts,
                            phases=phases, cuda=cuda)


def resolved_precision(precision: str, fp16: bool, cuda: bool) -> str:
    """What the trainer will use: 16-bit needs CUDA; 'auto' follows `fp16` on a GPU."""
    if not cuda:
        return "fp32"
    if precision == "auto":
        return "fp16" if fp16 else "fp32"
    return precision


def shape_for_model(name: str) -> tuple[WhisperShape, str]:
    """The shape of `model.name` when it can be read cheaply (a folder's config.json), else tiny's.

    Returns (shape, note); the note says when tiny's shape was assumed.
    """
    import json
    from pathlib import Path

    path = Path(name).expanduser()
    for candidate in (path, path / "final", path / "best"):
        config = candidate / "config.json"
        if config.is_file():
            try:
                return WhisperShape.from_config(json.loads(config.read_text(encoding="utf-8"))), ""
            except (OSError, ValueError, TypeError, AttributeError):
                break
    lowered = name.lower()
    if lowered in ("tiny.en", "openai/whisper-tiny.en"):
        return TINY, ""
    if lowered in ("tiny", "openai/whisper-tiny"):
        return WhisperShape(vocab_size=51865), ""
    return TINY, f"shape of {name!r} not known here: assumed Whisper tiny"


def _profile_shape(profile) -> tuple[WhisperShape, str]:
    """`shape_for_model` of the profile's model, its position table cut to `model.window_s` (or to the longest
    of `model.windows`: memory peaks on a batch at that window, so the estimate counts every batch there)."""
    from whisper_tui.models.window import POSITIONS_PER_SECOND

    shape, note = shape_for_model(profile.model.name)
    # a shorter position table, fewer tokens (auto, -1, depends on the data: counted as the model's own)
    windows = profile.model.trained_windows
    window_positions = (max(windows) if windows else max(0, profile.model.window_s)) * POSITIONS_PER_SECOND
    if 0 < window_positions < shape.max_source_positions:
        import dataclasses

        shape = dataclasses.replace(shape, max_source_positions=window_positions)
    return shape, note


def estimate_for_profile(profile, *, cuda: bool = False) -> tuple[TrainingEstimate, str]:
    """`estimate_training` for a `whisper_tui.config.profile.Profile`; returns (estimate, notes).

    The notes (one per line, "" when none) say when tiny's shape was assumed and when SpecAugment
    turns the encoder cache off (the memory then counts the whole encoder's activations).
    """
    from whisper_tui.training.augment import augments_encoder_input

    ft, tr = profile.finetuning, profile.training
    shape, note = _profile_shape(profile)
    augmented = augments_encoder_input(profile)
    windows = profile.model.trained_windows or ((profile.model.window_s,) if profile.model.window_s > 0 else ())
    # trainer_setup: several windows perturb the augmentation views as drawn, so no encoder cache
    cache = ft.encoder_cache and not (len(windows) > 1 and tr.augment_views > 0)
    full_cache = cache and ft.freeze_encoder and not augmented
    rows = 0
    if full_cache and len(windows) <= 1 and ft.strategy != "full":  # the cross-attention cache (cross_kv.py)
        rows = dataset_clip_counts(profile)[1] * (1 + max(0, tr.augment_views))
    estimate = estimate_training(
        strategy=ft.strategy, shape=shape, precision=resolved_precision(tr.precision, tr.fp16, cuda),
        batch_size=tr.per_device_train_batch_size, gradient_checkpointing=ft.gradient_checkpointing,
        freeze_encoder=ft.freeze_encoder, frozen_encoder_layers=ft.frozen_encoder_layers,
        encoder_cache=cache, spec_augment=augmented, lora_r=ft.lora.r,
        lora_target_modules=ft.lora.target_modules, lora_dropout=ft.lora.lora_dropout, windows_s=windows,
        frame_budget_s=getattr(tr, "frame_budget_s", 0), eval_batch_size=tr.per_device_eval_batch_size,
        cross_kv_rows=rows, distill=tr.distill_weight > 0, cuda=cuda)
    frozen = ft.freeze_encoder or ft.frozen_encoder_layers > 0
    notes = [note] if note else []
    if augmented and ft.encoder_cache and frozen:
        notes.append("encoder cache off: SpecAugment masks the encoder's input every epoch")
    elif tr.augment_views and ft.encoder_cache and frozen:
        from whisper_tui.system.sysmon import format_bytes

        per_clip = shape.max_source_positions * shape.d_model * 2  # fp16 frozen-encoder output of one version
        notes.append(f"augmentation views: the encoder cache holds {1 + tr.augment_views} versions of each training "
                     f"clip ({format_bytes(per_clip * (1 + tr.augment_views))} per clip on disk)")
    return estimate, "\n".join(notes)


def memory_estimate_line(profile, device: str = "cpu") -> str:
    """The line `whisper-tui train` logs before loading the model (job.py): `estimate_for_profile` on `device`,
    in the words the Train setup screen shows, `memory estimate: X.X GiB (...)`."""
    return estimate_for_profile(profile, cuda=str(device).startswith("cuda"))[0].headline
