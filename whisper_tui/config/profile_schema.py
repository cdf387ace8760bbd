"""What a training profile may contain: its sections, keys, defaults and rules (`Profile`).

The section and key names copy the seed tool's `config.yaml` so its users find every setting
where they expect it. Each key's type, allowed range, one-line help, form label, `train` flag and
seed config.yaml name live next to its default (`Rule` in the field metadata), so validation, the
saved TOML's comments, the CLI's flags and `--set` help, the TUI's form and the seed import all read
one table instead of keeping their own copies (tests/test_one_home.py fails on a copy).

Beside it: profile_checks.py turns raw TOML data into a `Profile` (coercion, ranges, cross-checks, the
model-name check) and profile_toml.py writes a profile as commented TOML and finds keys' lines in a file.
Pure data: no torch, no disk access.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from types import MappingProxyType
from typing import Any

from whisper_tui.models.parts import WHISPER_LINEAR_LAYERS
from whisper_tui.models.window import WHISPER_WINDOW_S
from whisper_tui.whisper_facts import MAX_TARGET_TOKENS, MEL_BINS

# LoRA/QLoRA runs at or below this learning rate (a full-fine-tune rate) are raised to
# LORA_RAISED_LEARNING_RATE: the seed tool's rule (`if lr <= 1e-5: lr = 1e-3` in its train.py).
LORA_TINY_LEARNING_RATE = 1e-5
LORA_RAISED_LEARNING_RATE = 1e-3
RUN_MODEL_FOLDERS = ("final", "best", "merged")  # where a run folder keeps loadable models


@dataclass(frozen=True)
class Rule:
    """Type and range of one setting, the help line shown in saved files, forms and `train --help`, and the
    names it goes by outside a profile file (the one place each of them is written)."""

    kind: str  # "str" | "bool" | "int" | "float" | "number" (int or float, kept as given) | "str_list" | "int_list"
    help: str
    low: float | None = None
    low_open: bool = False  # True: value must be > low, else >= low
    high: float | None = None
    high_open: bool = False
    choices: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()  # str_list: every item must be one of these
    label: str = ""  # the Train setup form's label (under 20 characters); empty = the key's last part
    flag: str = ""  # `whisper-tui train --FLAG` (a bool also gets --no-FLAG); empty = only --set KEY=VALUE
    metavar: str = ""  # the flag's value in `train --help`; empty = argparse's (the flag in capitals)
    seed_key: str = ""  # the key's name in the seed tool's config.yaml; empty = the seed has no such key

    def requirement(self) -> str:
        """'an integer > 0', 'one of "a", "b"' ... (the middle of every error message)."""
        if self.choices:
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        noun = {"str": "a text string", "bool": "true or false", "int": "an integer", "float": "a number",
                "number": "a number", "str_list": "a non-empty list of layer names",
                "int_list": "a list of whole seconds"}[self.kind]
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {format_number(self.low)}")
        if self.high is not None:
            bounds.append(f"{'<' if self.high_open else '<='} {format_number(self.high)}")
        return " ".join([noun, " and ".join(bounds)]).strip()


def setting(default: Any, rule: Rule) -> Any:
    """A dataclass field carrying its `Rule`."""
    if isinstance(default, list | tuple):
        return field(default_factory=lambda: tuple(default), metadata={"rule": rule})
    return field(default=default, metadata={"rule": rule})


# ---------------------------------------------------------------------------------------------
# Sections (defaults = the values documented in docs/ENGINE_API.md and the seed's config.yaml)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelSettings:
    name: str = setting("tiny.en", Rule(
        "str", "bundled tiny.en, a local model folder, a run folder, a LoRA adapter folder or a hub id",
        label="model", flag="model", seed_key="model.name"))
    language: str = setting("en", Rule("str", "spoken language code (tiny.en is English only)",
                                       label="language", seed_key="model.language"))
    task: str = setting("transcribe", Rule("str", "transcribe, or translate to English",
                                           choices=("transcribe", "translate"), label="task", seed_key="model.task"))
    window_s: int = setting(0, Rule(
        "int", f"encoder window in seconds, 0 = the model's own ({WHISPER_WINDOW_S} for OpenAI's); 10 runs clips under 10 s "
        "~3x faster (longer clips are skipped in training); -1 = auto: the shortest of 10/15/20 s that holds "
        "every training and test clip, else the model's own",
        low=-1, high=WHISPER_WINDOW_S, label="window seconds"))
    windows: tuple[int, ...] = setting([], Rule(
        "int_list", f"train at several encoder windows (seconds, e.g. [10, 20, {WHISPER_WINDOW_S}]): each batch runs at a "
        "window that holds its clips, and the saved model runs every batch at the shortest that fits (short clips "
        f"~3x faster); keep {WHISPER_WINDOW_S} in the list to keep full-length accuracy and faster-whisper export; "
        "empty = one window; a window_s other than 0 sets one window instead",
        low=1, high=WHISPER_WINDOW_S, label="windows (s)"))
    prompt: str = setting("", Rule(
        "str", "vocabulary/prompt used by default by transcribe and evaluate: previous text before each window "
        "(names, spellings, style, like OpenAI's initial_prompt); empty = none; their --prompt overrides it"))

    @property
    def trained_windows(self) -> tuple[int, ...]:
        """The windows a run trains at: `windows`, unless `window_s` asks for one window (it wins, so the
        older key keeps working on presets that list windows)."""
        return self.windows if self.window_s == 0 else ()


@dataclass(frozen=True)
class DataSettings:
    train_dir: str = setting("", Rule("str", "folder with audio + metadata.csv; empty = the bundled sample set",
                                      label="train folder", flag="data", seed_key="data.train_dir"))
    test_dir: str = setting("", Rule("str", "separate test folder; when set it is used instead of splitting train_dir",
                                     label="test folder", flag="test-dir"))
    test_split: float = setting(0.2, Rule(
        "float", "share of clips held out for testing (1.0 = all, only useful for evaluation)",
        low=0, low_open=True, high=1, label="test split", flag="test-split", seed_key="data.test_split"))
    split_seed: int = setting(42, Rule("int", "seed of the train/test split (same seed = same split)", low=0,
                                       label="split seed"))
    split_by: str = setting("auto", Rule(
        "str", "what a test clip shares with no training clip: text (its sentence), a metadata column "
        "such as speaker, both as text+speaker, or clip; auto = the split column if there is one, else text",
        label="split by", flag="split-by", metavar="KEY"))
    max_duration_s: float = setting(float(WHISPER_WINDOW_S), Rule(
        "float", f"skip clips longer than this (Whisper sees at most {WHISPER_WINDOW_S} s)", low=0, low_open=True,
        high=WHISPER_WINDOW_S, label="max clip seconds", seed_key="data.max_duration_seconds"))
    min_duration_s: float = setting(0.1, Rule("float", "skip clips shorter than this", low=0,
                                              label="min clip seconds"))
    max_bad_fraction: float = setting(0.05, Rule(
        "float", "a clip that cannot be decoded during training is skipped and named in the log; the run stops when "
        "more than this share of the clips are bad", low=0, high=1))
    only_reviewed: str = setting("auto", Rule(
        "str", "train only on rows whose status is reviewed (set in the Dataset screen); auto = yes when "
        "metadata.csv has a status column (a `whisper-tui label` dataset), true/false to decide yourself",
        choices=("auto", "true", "false")))
    keep_set: bool = setting(True, Rule(
        "bool", "also measure general speech (bundled jfk.flac + everyday sentences + keep_dir) before training "
        "and at every evaluation", label="general speech"))
    keep_dir: str = setting("", Rule(
        "str", "extra general-speech folder (audio + metadata.csv) for the keep set; empty = only the bundled set",
        label="general speech dir"))
    replay_share: float = setting(0.0, Rule(
        "float", "replay: everyday sentences spoken by eSpeak mixed into training, as a share of your training "
        "clips (0.25 = one per 4 of yours, at most 64), so domain words do not leak into ordinary speech; 0 = off",
        low=0, high=1, label="replay share", flag="replay-share", metavar="SHARE"))


@dataclass(frozen=True)
class LoraSettings:
    r: int = setting(16, Rule("int", "LoRA rank: adapter capacity (8-64 is typical)", low=0, low_open=True,
                              label="rank r", seed_key="finetuning.lora.r"))
    lora_alpha: int = setting(32, Rule("int", "LoRA scaling factor, usually 2 x r", low=0, low_open=True,
                                       label="alpha", seed_key="finetuning.lora.lora_alpha"))
    lora_dropout: float = setting(0.05, Rule("float", "dropout on the adapter input", low=0, high=1, high_open=True,
                                             label="dropout", seed_key="finetuning.lora.lora_dropout"))
    target_modules: tuple[str, ...] = setting(["q_proj", "v_proj"], Rule(
        "str_list", "Whisper layers that get adapters: " + ", ".join(WHISPER_LINEAR_LAYERS),
        allowed=WHISPER_LINEAR_LAYERS, label="target layers", seed_key="finetuning.lora.target_modules"))


@dataclass(frozen=True)
class FinetuningSettings:
    strategy: str = setting("lora", Rule(
        "str", "full = every weight, lora = adapters, qlora = adapters on a 4-bit base",
        choices=("full", "lora", "qlora"), label="strategy", flag="strategy", seed_key="finetuning.strategy"))
    freeze_encoder: bool = setting(True, Rule(
        "bool", "freeze the whole audio encoder (train the decoder only)",
        label="freeze encoder", flag="freeze-encoder", seed_key="finetuning.freeze_encoder"))
    frozen_encoder_layers: int = setting(0, Rule(
        "int", "with freeze_encoder = false: freeze this many bottom encoder layers", low=0,
        label="frozen enc. layers", flag="frozen-encoder-layers", metavar="K"))
    gradient_checkpointing: bool = setting(True, Rule(
        "bool", "recompute activations: ~40% less memory, ~20% slower",
        label="grad checkpointing", flag="grad-ckpt", seed_key="finetuning.gradient_checkpointing"))
    encoder_cache: bool = setting(True, Rule("bool", "reuse frozen encoder outputs across epochs when valid",
                                             label="encoder cache", flag="encoder-cache"))
    encoder_cache_max_gb: float = setting(20.0, Rule(
        "float", "disk the encoder caches may use together, in GB; least recently used go first (0 = no limit)",
        low=0, label="cache limit GB"))
    merge_strength: float = setting(1.0, Rule(
        "float", "share of the fine-tune's change the saved LoRA/QLoRA model keeps (WiSE-FT): 1 = all of it; 0.75 "
        "kept the domain gain and gave back part of what general speech lost (benchmarks/RESULTS.md 12)",
        low=0, low_open=True, high=1, label="merge strength"))
    choose_merge_strength: bool = setting(False, Rule(
        "bool", "after training, measure merge strengths 1, 0.75 and 0.5 on the test split and the keep set and save "
        "the best by the keep rule instead of merge_strength (2 more evaluations; needs a test split that is not ~0%)",
        label="choose strength"))
    lora: LoraSettings = field(default_factory=LoraSettings)


@dataclass(frozen=True)
class TrainingSettings:
    num_train_epochs: int = setting(3, Rule("int", "passes over the training clips", low=0, low_open=True,
                                            label="epochs", flag="epochs", seed_key="training.num_train_epochs"))
    learning_rate: float = setting(1e-3, Rule(
        "float", "peak learning rate (LoRA/QLoRA at 1e-5 or below is raised to 1e-3, as in the seed tool)",
        low=0, low_open=True, label="learning rate", flag="lr", seed_key="training.learning_rate"))
    fp16: bool = setting(False, Rule("bool", "mixed precision on CUDA (ignored on CPU); used when precision = auto",
                                     label="fp16 (when auto)", seed_key="training.fp16"))
    precision: str = setting("auto", Rule("str", "auto follows fp16 and the device; otherwise forces one",
                                          choices=("auto", "fp32", "fp16", "bf16"),
                                          label="precision", flag="precision"))
    per_device_train_batch_size: int = setting(4, Rule(
        "int", "clips per training step", low=1,
        label="batch size", flag="batch-size", seed_key="training.per_device_train_batch_size"))
    per_device_eval_batch_size: int = setting(8, Rule(
        "int", "clips per evaluation batch", low=1,
        label="eval batch size", seed_key="training.per_device_eval_batch_size"))
    gradient_accumulation_steps: int = setting(1, Rule(
        "int", "steps summed before each update", low=1,
        label="grad accumulation", seed_key="training.gradient_accumulation_steps"))
    warmup_steps: float = setting(0.1, Rule("number", "below 1 = share of all steps, else a number of steps", low=0,
                                            label="warmup", seed_key="training.warmup_steps"))
    weight_decay: float = setting(0.0, Rule("float", "AdamW weight decay", low=0, label="weight decay"))
    lr_scheduler_type: str = setting("linear", Rule(
        "str", "learning-rate schedule after warmup", choices=("linear", "cosine", "constant", "constant_with_warmup"),
        label="scheduler"))
    eval_strategy: str = setting("epoch", Rule("str", "when to compute test WER", choices=("epoch", "steps", "no"),
                                               label="evaluate every"))
    eval_steps: int = setting(50, Rule("int", "steps between evaluations when eval_strategy = steps", low=1,
                                       label="eval steps", seed_key="training.eval_steps"))
    logging_steps: int = setting(5, Rule("int", "steps between loss log lines", low=1,
                                         label="logging steps", seed_key="training.logging_steps"))
    save_total_limit: int = setting(2, Rule("int", "checkpoints kept on disk", low=1,
                                            label="checkpoints kept", seed_key="training.save_total_limit"))
    seed: int = setting(42, Rule("int", "random seed for initialisation and shuffling", low=0, label="seed"))
    max_steps: int = setting(-1, Rule("int", "stop after this many steps; -1 = run all epochs", low=-1,
                                      label="max steps", flag="max-steps"))
    budget_s: float = setting(0.0, Rule(
        "float", "time budget in seconds for the whole run (train --budget 5m): as many epochs as fit, up to "
        "num_train_epochs, with the learning-rate schedule ending with the budget; 0 = no budget", low=0,
        label="time budget s", flag="budget", metavar="TIME"))
    early_stopping_patience: int = setting(0, Rule(
        "int", "stop when the test WER has not improved for this many evaluations (0 = never)", low=0,
        label="early stop after"))
    generation_max_length: int = setting(128, Rule(
        "int", "longest transcript (tokens) generated when evaluating", low=1, high=MAX_TARGET_TOKENS,
        label="max eval tokens"))
    spec_augment: bool = setting(False, Rule(
        "bool", "SpecAugment: mask mel bands and time spans of the training clips (disables encoder_cache)",
        label="SpecAugment"))
    # LibriSpeech-style defaults (Park et al. 2019, policy LD): 2 bands of up to 27 of 80 mel bins, 2 spans
    # of up to 5% of the clip. The time share is of the clip's speech, not of the 30 s window it is
    # padded to: masks in the padding would hide nothing. At most 20 masks (adaptive SpecAugment's
    # ceiling); a span over half the speech would leave little to transcribe.
    spec_augment_freq_masks: int = setting(2, Rule(
        "int", "SpecAugment: frequency bands masked per training clip", low=0, high=20, label="SpecAug freq masks"))
    spec_augment_freq_width: int = setting(27, Rule(
        "int", "SpecAugment: widest frequency mask, in mel bins (Whisper tiny has 80)", low=0, high=MEL_BINS,
        label="SpecAug freq bins"))
    spec_augment_time_masks: int = setting(2, Rule(
        "int", "SpecAugment: time spans masked per training clip", low=0, high=20, label="SpecAug time masks"))
    spec_augment_time_width: float = setting(0.05, Rule(
        "float", "SpecAugment: widest time mask, as a share of the clip's speech (not of the 30 s window)",
        low=0, high=0.5, label="SpecAug time share"))
    # Perturbed copies of the training clips' audio ("views", training/views.py), encoded once into the
    # encoder cache. No pitch key: torchaudio's pitch_shift took 30 s per 5 s clip here, and the speed
    # change already moves the pitch (Kaldi-style speed perturbation). Every view also gets a gain of +-6 dB.
    augment_views: int = setting(0, Rule(
        "int", "perturbed copies of each training clip besides the clean one, encoded once into the encoder "
        "cache; each epoch draws one per clip (0 = off)", low=0, high=16, label="views per clip"))
    augment_speed: float = setting(0.1, Rule(
        "float", "views: largest speed change, 0.1 = 0.9x-1.1x (moves the pitch too; 0 = same speed)",
        low=0, high=0.3, label="views: speed ±"))
    augment_snr_low_db: float = setting(10.0, Rule(
        "float", "views: loudest added noise, as signal-to-noise ratio in dB", low=0, high=60,
        label="views: SNR low dB"))
    augment_snr_high_db: float = setting(30.0, Rule(
        "float", "views: quietest added noise, SNR in dB (0 = no noise)", low=0, high=60, label="views: SNR high dB"))
    augment_reverb: bool = setting(True, Rule("bool", "views: light synthetic room reverb", label="views: reverb"))
    keep_tolerance: float = setting(2.0, Rule(
        "float", "WER points general speech (the keep set) may get worse; a checkpoint over it is never the best "
        "while one within it exists", low=0, label="keep tolerance pts"))
    # Whisper's own training mixes timestamp and previous-text labels; jumon/whisper-finetuning trains half of
    # each (its --no-timestamps-rate and --prompt-use-rate are 0.5). Both off: measured, neither paid on the
    # sample data (benchmarks/RESULTS.md 13 for timestamps, 15 for prompts; label_mix.py).
    timestamp_share: float = setting(0.0, Rule(
        "float", "share of training clips labelled with timestamps (<|0.00|> text <|end|>) instead of "
        "<|notimestamps|>, so a fine-tune keeps segment times (transcribe --format srt); test clips keep plain labels; 0 = off",
        low=0, high=1, label="timestamp share", flag="timestamp-share", metavar="SHARE"))
    prompt_share: float = setting(0.0, Rule(
        "float", "share of training clips conditioned on previous text (model.prompt when set, else another "
        "training clip's transcript; never in the loss), so prompts still work after fine-tuning; 0 = off",
        low=0, high=1, label="prompt share", flag="prompt-share", metavar="SHARE"))
    # Learning without forgetting (Li & Hoiem 2017): the fine-tune is pulled toward the base model's token
    # distribution on the training clips themselves (training/distill.py). Off: at weight 1 it halved the domain
    # gain and did not spare real speech (benchmarks/RESULTS.md 12c).
    distill_weight: float = setting(0.0, Rule(
        "float", "KL term to the base model: weight of KL(base || fine-tune) over each label position's token "
        "distribution, added to the cross-entropy, so ordinary words keep the base model's odds; LoRA/QLoRA use "
        "the adapters switched off as the base (~30% more time per step), full keeps a frozen copy; 0 = off",
        low=0, high=10, label="KL to base weight", flag="distill-weight", metavar="WEIGHT"))
    distill_temperature: float = setting(2.0, Rule(
        "float", "softmax temperature of the KL term (higher = more of the base model's second choices count)",
        low=0, low_open=True, high=10, label="KL temperature"))


@dataclass(frozen=True)
class OutputSettings:
    dir: str = setting("", Rule("str", "folder new run folders (dated) are made in; relative = to the folder "
                                       "whisper-tui is started from; empty = the app's runs folder",
                                label="runs folder", seed_key="training.output_dir"))
    merge_lora: bool = setting(False, Rule("bool", "LoRA/QLoRA runs also save a merged full model",
                                           label="merge LoRA", flag="merge-lora"))


SECTIONS: dict[str, type] = {"model": ModelSettings, "data": DataSettings, "finetuning": FinetuningSettings,
                             "training": TrainingSettings, "output": OutputSettings}
DESCRIPTION_RULE = Rule("str", "one line shown in profile lists")


@dataclass(frozen=True)
class Profile:
    """Every training setting. `name`, `source` and `notes` say where it came from and are not compared."""

    name: str = field(default="custom", compare=False)
    source: str = field(default="", compare=False)  # file path, "built-in", or "<path> + command line"
    description: str = ""
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=DataSettings)
    finetuning: FinetuningSettings = field(default_factory=FinetuningSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    notes: tuple[str, ...] = field(default=(), compare=False)  # e.g. seed keys that were dropped on import

    @property
    def uses_lora(self) -> bool:
        return self.finetuning.strategy in ("lora", "qlora")

    def effective_learning_rate(self) -> tuple[float, str | None]:
        """The seed's rule: adapters barely move at full-fine-tune rates, so LoRA/QLoRA at <= 1e-5 gets 1e-3.

        Returns (rate to train with, log line when it was raised, else None).
        """
        lr = self.training.learning_rate
        if self.uses_lora and lr <= LORA_TINY_LEARNING_RATE:
            return LORA_RAISED_LEARNING_RATE, (
                f"learning_rate {format_number(lr)} is too low for {self.finetuning.strategy.upper()} adapters: "
                f"raised to {format_number(LORA_RAISED_LEARNING_RATE)} (set training.learning_rate to "
                f"more than {format_number(LORA_TINY_LEARNING_RATE)} to keep your own value)")
        return lr, None

    def describe(self) -> str:
        """One line for lists: 'lora r16, 8 epochs, lr 1e-3, batch 8'."""
        ft, tr = self.finetuning, self.training
        strategy = f"{ft.strategy} r{ft.lora.r}" if self.uses_lora else ft.strategy
        epochs = f"{tr.num_train_epochs} epoch{'s' if tr.num_train_epochs != 1 else ''}"
        if tr.max_steps > 0:
            epochs += f" (max {tr.max_steps} steps)"
        if tr.budget_s > 0:  # the budget decides how many of them run (training/budget.py)
            minutes, seconds = divmod(int(round(tr.budget_s)), 60)
            budget = (f"{minutes}m" if minutes else "") + (f"{seconds}s" if seconds or not minutes else "")
            epochs = f"up to {epochs} in {budget}"
        batch = f"batch {tr.per_device_train_batch_size}"
        if tr.gradient_accumulation_steps > 1:
            batch += f"x{tr.gradient_accumulation_steps}"
        return f"{strategy}, {epochs}, lr {format_number(tr.learning_rate)}, {batch}"

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain TOML-ready data (tuples become lists)."""
        data: dict[str, Any] = {"description": self.description}
        for section in SECTIONS:
            data[section] = _section_to_dict(getattr(self, section))
        return data

    def get(self, dotted_key: str) -> Any:
        """The value at 'training.learning_rate' (raises KeyError for unknown keys)."""
        if dotted_key not in all_keys():
            raise KeyError(dotted_key)
        value: Any = self
        for part in dotted_key.split("."):
            value = getattr(value, part)
        return value

    def to_toml(self) -> str:
        from whisper_tui.config.profile_toml import render_toml

        return render_toml(self)


def _section_to_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if is_dataclass(value):
            out[f.name] = _section_to_dict(value)
        else:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


# ---------------------------------------------------------------------------------------------
# The table of settings (for forms, --set help and key suggestions)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SettingSpec:
    key: str  # dotted, e.g. "finetuning.lora.r"
    default: Any
    rule: Rule

    @property
    def label(self) -> str:
        """What the form calls it: the rule's label, else the key's last part ("max bad fraction")."""
        return self.rule.label or self.key.rpartition(".")[2].replace("_", " ")


def _iter_specs(cls: type, prefix: str) -> Iterator[SettingSpec]:
    for f in fields(cls):
        if "rule" in f.metadata:
            default = f.default_factory() if callable(f.default_factory) else f.default
            yield SettingSpec(f"{prefix}{f.name}", default, f.metadata["rule"])
        else:
            yield from _iter_specs(nested_class(cls, f.name), f"{prefix}{f.name}.")


def nested_class(cls: type, name: str) -> type:
    """The dataclass of a sub-table (annotations are strings under `from __future__ import annotations`)."""
    return typing.get_type_hints(cls)[name]


@functools.cache
def _settings_table() -> tuple[SettingSpec, ...]:
    specs = [SettingSpec("description", "", DESCRIPTION_RULE)]
    for section, cls in SECTIONS.items():
        specs.extend(_iter_specs(cls, f"{section}."))
    return tuple(specs)


def settings() -> list[SettingSpec]:
    """Every setting in file order, with its default and rule."""
    return list(_settings_table())


def flag_settings() -> list[SettingSpec]:
    """The settings `whisper-tui train` has a flag for (`Rule.flag`), in file order."""
    return [spec for spec in _settings_table() if spec.rule.flag]


@functools.cache
def all_keys() -> Mapping[str, SettingSpec]:
    return MappingProxyType({spec.key: spec for spec in _settings_table()})


@functools.cache
def section_keys() -> frozenset[str]:
    """Dotted names of tables: 'model', ..., 'finetuning.lora'."""
    keys = set(SECTIONS)
    for spec in _settings_table():
        parts = spec.key.split(".")
        keys.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return frozenset(keys)


def spec_augment_masks_anything(tr: TrainingSettings) -> bool:
    """Whether the SpecAugment settings draw any mask at all (a count and a width above 0 on one axis)."""
    freq = tr.spec_augment_freq_masks > 0 and tr.spec_augment_freq_width > 0
    time = tr.spec_augment_time_masks > 0 and tr.spec_augment_time_width > 0
    return freq or time


def format_number(value: float) -> str:
    """1e-3 rather than 0.001, 3 rather than 3.0: how people write training settings."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    if 1e-2 <= abs(value) < 1e4:
        return f"{value:g}"
    mantissa, exponent = f"{value:.6e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"
