"""Turn a profile into a trainable model: precision, quantisation, freezing, LoRA, checkpointing.

Rules kept from the seed tool and the Whisper recipe:
- a frozen encoder (or its bottom K layers) gets requires_grad=False; LoRA then targets only the
  trainable part (decoder, plus unfrozen top encoder layers);
- peft's `task_type` is left unset: SEQ_2_SEQ_LM makes peft pass `input_ids=` which Whisper rejects;
- gradient checkpointing is non-reentrant so frozen inputs don't break the backward pass;
- QLoRA quantises to nf4 with bitsandbytes (runs on CPU with bnb >= 0.50);
- transformers' own SpecAugment (`config.apply_spec_augment`, set in some hub checkpoints) is turned
  off: `augment.py` masks the training clips instead, so there is one mechanism and one switch.
"""

from __future__ import annotations

from dataclasses import dataclass

from whisper_tui.models.parts import base_of, encoder_of


@dataclass
class Precision:
    name: str          # "fp32" | "fp16" | "bf16"
    trainer_fp16: bool
    trainer_bf16: bool
    note: str = ""


def choose_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def choose_precision(profile, device: str) -> Precision:
    tr = profile.training
    wanted = tr.precision
    if wanted == "auto":
        if device == "cuda":
            import torch

            if tr.fp16 or not torch.cuda.is_bf16_supported():
                return Precision("fp16", True, False, "mixed precision fp16 on CUDA")
            return Precision("bf16", False, True, "mixed precision bf16 on CUDA")
        note = "fp16 needs CUDA: training in fp32 on the CPU" if tr.fp16 else ""
        return Precision("fp32", False, False, note)
    if wanted == "fp16" and device != "cuda":
        return Precision("fp32", False, False, "precision fp16 needs a CUDA GPU: training in fp32 on the CPU")
    return Precision(wanted, wanted == "fp16", wanted == "bf16")


def freeze_encoder_layers(model, k: int) -> None:
    enc = encoder_of(model)
    n = len(enc.layers)
    if k <= 0:
        return
    for mod in [enc.conv1, enc.conv2, enc.embed_positions, *enc.layers[:k]]:
        for p in mod.parameters():
            p.requires_grad_(False)
    if k >= n:
        for p in enc.parameters():
            p.requires_grad_(False)


def keep_4bit_weights_trainable(model) -> None:
    """Stop bitsandbytes from repacking nf4 weights for its CPU inference kernel.

    On AVX512-BF16 CPUs, bnb >= 0.50 repacks a Linear4bit's weight the first time it runs in eval
    mode without grad (our base evaluation, the encoder cache); the packed path adds the bias in
    place and breaks the backward pass once training starts. Training must keep the plain layout.
    """
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def lora_target_regex(target_modules: list[str], n_encoder_layers: int, k_frozen: int) -> str:
    """A peft target regex that skips frozen encoder layers (LoRA there would be wasted and uncacheable)."""
    names = "|".join(sorted(set(target_modules)))
    parts = [rf"model\.decoder\.layers\.\d+\.(self_attn|encoder_attn)\.({names})"]
    parts.append(rf"model\.decoder\.layers\.\d+\.({names})")
    trainable_enc = [str(i) for i in range(k_frozen, n_encoder_layers)]
    if trainable_enc:
        idx = "|".join(trainable_enc)
        parts.append(rf"model\.encoder\.layers\.({idx})\.self_attn\.({names})")
        parts.append(rf"model\.encoder\.layers\.({idx})\.({names})")
    return r".*(" + "|".join(parts) + r")$"


def count_parameters(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def _set_window(model, processor, seconds: int, log, key: str = "model.window_s") -> None:
    from whisper_tui.errors import ProfileError
    from whisper_tui.models.window import apply_window, model_window_s

    own = model_window_s(model)
    if seconds == own:
        return
    try:
        apply_window(model, processor, seconds)
    except ValueError as exc:
        hint = ("list windows up to it" if key == "model.windows"
                else f"use at most {own:g}, or 0 for the model's own window")
        raise ProfileError(f"{key} asks for {seconds} s: {exc}", hint, where=key) from exc
    log(f"encoder window {own:g} s -> {seconds} s ({key}): the saved model keeps this window")


def _set_windows(model, processor, windows, log) -> None:
    """model.windows: the longest becomes the model's window, and every one is recorded as supported."""
    from whisper_tui.models.window import set_supported_windows

    _set_window(model, processor, max(windows), log, key="model.windows")
    set_supported_windows(processor, windows)
    listed = "/".join(str(w) for w in sorted(windows))
    log(f"training at windows {listed} s (model.windows): each batch at one that holds its clips, each test clip "
        "evaluated at the shortest that holds it; the saved model runs each batch at the shortest that fits")


def build_trainable_model(profile, device: str, precision: Precision, log=print):
    """Load the profile's model and prepare it for its strategy. Returns (model, processor, k_frozen)."""
    import torch

    from whisper_tui.models.loading import load_model

    ft = profile.finetuning
    strategy = ft.strategy
    quantization = "nf4" if strategy == "qlora" else None
    model, processor = load_model(profile.model.name, device=device, dtype=torch.float32, quantization=quantization)
    if quantization:
        keep_4bit_weights_trainable(model)
    if profile.model.trained_windows:
        _set_windows(model, processor, profile.model.trained_windows, log)
    elif profile.model.window_s > 0:
        _set_window(model, processor, profile.model.window_s, log)
    from whisper_tui.models.window import supported_windows

    if len(supported_windows(processor)) > 1:  # listed now, or a model trained at several windows before
        from whisper_tui.models.any_window import enable_any_window

        enable_any_window(model)
    if hasattr(model, "peft_config"):
        # Continuing from a LoRA adapter: train the adapter further.
        for name, p in model.named_parameters():
            p.requires_grad_("lora_" in name)
        model_is_peft = True
    else:
        model_is_peft = False
    n_layers = len(encoder_of(model).layers)
    from whisper_tui.training.encoder_cache import frozen_layer_count

    k = frozen_layer_count(profile, n_layers)

    gen = model.generation_config
    gen.forced_decoder_ids = None
    if getattr(gen, "is_multilingual", False):
        gen.language = profile.model.language
        gen.task = profile.model.task
    model.config.use_cache = False

    if strategy == "full":
        if model_is_peft:
            raise ValueError("strategy 'full' cannot continue a LoRA adapter; pick 'lora' or merge it first")
        for p in model.parameters():
            p.requires_grad_(True)
        freeze_encoder_layers(model, k)
    elif not model_is_peft:
        from peft import LoraConfig, get_peft_model

        if strategy == "qlora":
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=ft.gradient_checkpointing,
                gradient_checkpointing_kwargs={"use_reentrant": False})
        lora = ft.lora
        config = LoraConfig(
            r=lora.r, lora_alpha=lora.lora_alpha, lora_dropout=lora.lora_dropout,
            target_modules=lora_target_regex(list(lora.target_modules), n_layers, k), bias="none")
        model = get_peft_model(model, config)
        freeze_encoder_layers(model, k)
    else:
        freeze_encoder_layers(model, k)

    if ft.gradient_checkpointing:
        base = base_of(model)
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if hasattr(base, "enable_input_require_grads"):
            base.enable_input_require_grads()
    base = base_of(model)
    if getattr(base.config, "apply_spec_augment", False):
        # One masking mechanism: training.spec_augment (augment.py), on the training clips only.
        base.config.apply_spec_augment = False
        log("the model's config had apply_spec_augment on: turned off (SpecAugment is training.spec_augment)")
    return model, processor, k
