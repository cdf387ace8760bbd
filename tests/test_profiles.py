"""Profiles: defaults, presets, round trips, overrides, user profiles, atomic saves, seed import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import replace

import pytest

from whisper_tui.config import profile as profiles
from whisper_tui.errors import ProfileError
from whisper_tui.config.profile import (
    DEFAULT_PROFILE,
    Profile,
    apply_overrides,
    check_strategy_available,
    delete_user_profile,
    import_seed_config,
    list_profiles,
    load_profile,
    read_profile_file,
    save_profile,
    save_user_profile,
    settings,
)

PRESETS = ["cpu-quick", "cpu-gentle", "lora-8gb", "qlora-4gb", "full"]


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    monkeypatch.setenv("WHISPER_TUI_CONFIG_DIR", str(folder))
    return folder


def flat_keys(data: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in data.items():
        if isinstance(value, dict):
            keys |= flat_keys(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def test_defaults_are_the_documented_values():
    p = Profile()
    assert (p.model.name, p.model.language, p.model.task) == ("tiny.en", "en", "transcribe")
    assert (p.data.train_dir, p.data.test_dir, p.data.test_split, p.data.split_seed) == ("", "", 0.2, 42)
    assert (p.data.max_duration_s, p.data.min_duration_s) == (30.0, 0.1)
    ft = p.finetuning
    assert (ft.strategy, ft.freeze_encoder, ft.frozen_encoder_layers, ft.gradient_checkpointing,
            ft.encoder_cache) == ("lora", True, 0, True, True)
    assert (ft.lora.r, ft.lora.lora_alpha, ft.lora.lora_dropout, list(ft.lora.target_modules)) == (
        16, 32, 0.05, ["q_proj", "v_proj"])
    tr = p.training
    assert (tr.num_train_epochs, tr.learning_rate, tr.fp16, tr.precision) == (3, 1e-3, False, "auto")
    assert (tr.per_device_train_batch_size, tr.per_device_eval_batch_size, tr.gradient_accumulation_steps) == (4, 8, 1)
    assert (tr.warmup_steps, tr.weight_decay, tr.lr_scheduler_type, tr.eval_strategy) == (0.1, 0.0, "linear", "epoch")
    assert (tr.eval_steps, tr.logging_steps, tr.save_total_limit, tr.seed, tr.max_steps) == (50, 5, 2, 42, -1)
    assert (tr.generation_max_length, tr.spec_augment) == (128, False)
    assert (tr.spec_augment_freq_masks, tr.spec_augment_freq_width, tr.spec_augment_time_masks,
            tr.spec_augment_time_width) == (2, 27, 2, 0.05)
    assert (p.output.dir, p.output.merge_lora) == ("", False)


def test_empty_and_partial_files_take_defaults(tmp_path):
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    assert read_profile_file(empty) == Profile()
    partial = tmp_path / "partial.toml"
    partial.write_text("[training]\nnum_train_epochs = 2\nlearning_rate = 1\n")
    p = read_profile_file(partial)
    assert p.training.num_train_epochs == 2 and p.data.train_dir == ""  # empty yaml value = not set
    assert p.training.learning_rate == 1.0 and isinstance(p.training.learning_rate, float)  # int accepted as float
    assert replace(p, training=Profile().training) == Profile()
    assert (p.name, p.source) == ("partial", str(partial))


def test_saved_file_lists_every_setting_and_reads_back_equal(tmp_path):
    changed = apply_overrides(Profile(description="all changed"), {
        "model.name": "openai/whisper-tiny", "model.language": "de", "model.task": "translate", "model.window_s": 15,
        "model.windows": [10, 30], "model.prompt": "Kubernetes, kubectl, etcd.",
        "data.train_dir": "/data/clips", "data.test_dir": "/data/test", "data.test_split": 1.0,
        "data.split_seed": 7, "data.split_by": "text+speaker", "data.max_duration_s": 12.5, "data.min_duration_s": 0.5, "data.max_bad_fraction": 0.2, "data.only_reviewed": "true",
        "data.keep_set": False, "data.keep_dir": "/data/general", "training.keep_tolerance": 5.0,
        "data.replay_share": 0.25, "training.timestamp_share": 0.5, "training.prompt_share": 0.25,
        "training.distill_weight": 0.5, "training.distill_temperature": 1.5,
        "finetuning.strategy": "qlora", "finetuning.freeze_encoder": False, "finetuning.frozen_encoder_layers": 2,
        "finetuning.gradient_checkpointing": False, "finetuning.encoder_cache": False,
        "finetuning.encoder_cache_max_gb": 5.0, "finetuning.merge_strength": 0.6,
        "finetuning.choose_merge_strength": True,
        "finetuning.lora.r": 4, "finetuning.lora.lora_alpha": 8, "finetuning.lora.lora_dropout": 0.0,
        "finetuning.lora.target_modules": ["k_proj", "out_proj", "fc1"],
        "training.num_train_epochs": 11, "training.learning_rate": 3.75e-5, "training.fp16": True,
        "training.precision": "bf16", "training.per_device_train_batch_size": 3,
        "training.per_device_eval_batch_size": 5, "training.gradient_accumulation_steps": 6,
        "training.warmup_steps": 25, "training.weight_decay": 0.01, "training.lr_scheduler_type": "cosine",
        "training.eval_strategy": "steps", "training.eval_steps": 9, "training.logging_steps": 2,
        "training.save_total_limit": 4, "training.seed": 3, "training.max_steps": 100,
        "training.budget_s": 600.0, "training.early_stopping_patience": 3,
        "training.generation_max_length": 200, "training.spec_augment": True,
        "training.spec_augment_freq_masks": 1, "training.spec_augment_freq_width": 15,
        "training.spec_augment_time_masks": 4, "training.spec_augment_time_width": 0.1,
        "training.augment_views": 3, "training.augment_speed": 0.05, "training.augment_snr_low_db": 5.0,
        "training.augment_snr_high_db": 25.0, "training.augment_reverb": False,
        "output.dir": "/runs/x", "output.merge_lora": True,
    })
    defaults = Profile()
    for spec in settings():  # the override list above really changes every setting
        assert changed.get(spec.key) != defaults.get(spec.key), spec.key
    path = save_profile(changed, tmp_path / "every.toml")
    text = path.read_text()
    assert text.startswith("#")
    assert flat_keys(tomllib.loads(text)) == {spec.key for spec in settings()}
    again = read_profile_file(path)
    assert again == changed
    assert again.training.warmup_steps == 25 and isinstance(again.training.warmup_steps, int)
    assert again.finetuning.lora.target_modules == ("k_proj", "out_proj", "fc1")


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load_validate_and_round_trip(name, tmp_path):
    p = load_profile(name)
    assert p.name == name and p.source == "built-in"
    assert p.description and p.describe()
    raw = tomllib.loads((profiles.builtin_profile_path(name)).read_text())
    assert flat_keys(raw) == {spec.key for spec in settings()}  # users see every setting
    assert read_profile_file(save_profile(p, tmp_path / f"{name}.toml")) == p
    lr, note = p.effective_learning_rate()
    assert note is None and lr == p.training.learning_rate  # presets never need the seed's lr bump


def test_preset_choices():
    quick = load_profile(DEFAULT_PROFILE)
    assert DEFAULT_PROFILE == "cpu-quick"
    ft, tr = quick.finetuning, quick.training
    # the best 5-minute CPU recipe on held-out sentences and voices (benchmarks/RESULTS.md, issue #10)
    assert (ft.strategy, ft.freeze_encoder, ft.frozen_encoder_layers, ft.encoder_cache, ft.gradient_checkpointing) == (
        "lora", False, 1, True, False)
    assert (ft.lora.r, list(ft.lora.target_modules)) == (16, ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"])
    assert (tr.num_train_epochs, tr.learning_rate, tr.per_device_train_batch_size, tr.eval_strategy) == (
        40, 1e-3, 8, "epoch")
    assert (tr.budget_s, quick.model.window_s, quick.data.split_by, quick.data.keep_set) == (300, 0, "auto", True)
    assert quick.model.windows == (10, 20, 30)  # any-window: short clips run at 10 s, long ones still at 30 s
    lora8 = load_profile("lora-8gb").finetuning
    assert (lora8.strategy, lora8.freeze_encoder, lora8.gradient_checkpointing, lora8.lora.r) == ("lora", True, True, 16)
    assert load_profile("qlora-4gb").finetuning.strategy == "qlora"
    full = load_profile("full")
    assert full.finetuning.strategy == "full" and not full.finetuning.freeze_encoder
    assert full.finetuning.gradient_checkpointing and 1e-5 <= full.training.learning_rate <= 3e-5



def test_cpu_gentle_is_cpu_quick_at_half_the_learning_rate():
    """The preset RESULTS 12e measured: cpu-quick's recipe with only the learning rate and the merge strength
    changed. Any other difference would make those figures say nothing about it."""
    quick, gentle = load_profile("cpu-quick").to_dict(), load_profile("cpu-gentle").to_dict()
    changed = {section: {k: (v, gentle[section][k]) for k, v in keys.items() if gentle[section][k] != v}
               for section, keys in quick.items() if isinstance(keys, dict)}
    changed = {section: diff for section, diff in changed.items() if diff}
    assert changed == {"finetuning": {"merge_strength": (0.75, 1.0)}, "training": {"learning_rate": (1e-3, 5e-4)}}
    assert load_profile("cpu-gentle").describe() == "lora r16, up to 40 epochs in 5m, lr 5e-4, batch 8"

def test_describe_and_effective_learning_rate():
    p = apply_overrides(Profile(), {"training.learning_rate": 1e-5, "training.gradient_accumulation_steps": 2})
    assert p.describe() == "lora r16, 3 epochs, lr 1e-5, batch 4x2"
    lr, note = p.effective_learning_rate()
    assert lr == 1e-3 and "raised to 1e-3" in note and "1e-5" in note
    assert apply_overrides(p, {"finetuning.strategy": "qlora"}).effective_learning_rate()[0] == 1e-3
    assert apply_overrides(p, {"training.learning_rate": 1e-4}).effective_learning_rate() == (1e-4, None)
    assert apply_overrides(p, {"training.learning_rate": 2e-5}).effective_learning_rate() == (2e-5, None)
    full = apply_overrides(p, {"finetuning.strategy": "full"})
    assert full.effective_learning_rate() == (1e-5, None)
    assert full.describe().startswith("full, 3 epochs")
    assert load_profile("cpu-quick").describe() == "lora r16, up to 40 epochs in 5m, lr 1e-3, batch 8"


def test_overrides_return_a_new_validated_profile():
    base = load_profile("cpu-quick")
    p = apply_overrides(base, {"training.learning_rate": 3e-5, "finetuning.lora.r": "8",
                               "finetuning.freeze_encoder": "false", "finetuning.lora.target_modules": '["fc1"]',
                               "output.dir": "42"})
    assert (p.training.learning_rate, p.finetuning.lora.r, p.finetuning.freeze_encoder) == (3e-5, 8, False)
    assert p.finetuning.lora.target_modules == ("fc1",) and p.output.dir == "42"
    assert base.training.learning_rate == 1e-3  # the original is untouched
    assert p.source == "built-in + command line" and p.name == "cpu-quick"
    assert apply_overrides(base, {}) is base
    assert apply_overrides(base, {"finetuning.lora": {"r": 4}}).finetuning.lora.r == 4


def test_override_errors_name_the_command_line():
    with pytest.raises(ProfileError) as info:
        apply_overrides(Profile(), {"training.learnin_rate": 1e-4})
    assert info.value.message == "command line: training.learnin_rate is not a known key"
    assert "training.learning_rate" in info.value.hint
    with pytest.raises(ProfileError, match=r"command line: finetuning.lora.r must be an integer > 0 \(got 0\)"):
        apply_overrides(Profile(), {"finetuning.lora.r": "0"})
    with pytest.raises(ProfileError, match=r'editor: training.seed must be an integer >= 0 \(got "many"\)'):
        apply_overrides(Profile(), {"training.seed": "many"}, origin="editor")


def test_user_profiles_save_load_list_delete(config_dir):
    mine = apply_overrides(load_profile("cpu-quick"), {"training.num_train_epochs": 2, "description": "mine"})
    path = save_user_profile(mine, "my-run_v1.2")
    assert path == config_dir / "profiles" / "my-run_v1.2.toml"
    loaded = load_profile("my-run_v1.2")
    assert loaded == mine and loaded.name == "my-run_v1.2" and loaded.source == str(path)
    infos = {info.name: info for info in list_profiles()}
    assert list_profiles()[0].name == DEFAULT_PROFILE
    assert set(PRESETS) <= set(infos) and all(infos[n].builtin for n in PRESETS)
    assert infos["my-run_v1.2"] == profiles.ProfileInfo(
        "my-run_v1.2", path, False, "mine", "lora r16, up to 2 epochs in 5m, lr 1e-3, batch 8")
    # saving back to where it came from, after an edit
    save_profile(apply_overrides(loaded, {"training.seed": 9}, origin="editor"), loaded.source)
    assert load_profile("my-run_v1.2").training.seed == 9
    with pytest.raises(ProfileError, match="already exists"):
        save_user_profile(mine, "my-run_v1.2", overwrite=False)
    assert delete_user_profile("my-run_v1.2") == path and not path.exists()
    with pytest.raises(ProfileError, match='no user profile named "my-run_v1.2"'):
        delete_user_profile("my-run_v1.2")
    with pytest.raises(ProfileError, match="no profile named"):
        load_profile("my-run_v1.2")


def test_broken_user_profile_is_listed_with_its_error(config_dir):
    folder = config_dir / "profiles"
    folder.mkdir(parents=True)
    (folder / "broken.toml").write_text("[training]\nseed = -1\n")
    info = {i.name: i for i in list_profiles()}["broken"]
    assert not info.builtin and "training.seed" in info.error


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "has space", "x" * 65, "ü"])
def test_bad_user_profile_names(config_dir, name):
    with pytest.raises(ProfileError, match="cannot be a profile name"):
        save_user_profile(Profile(), name)


def test_built_ins_are_read_only_and_cannot_be_shadowed(config_dir):
    quick = load_profile("cpu-quick")
    with pytest.raises(ProfileError) as info:
        save_profile(quick)
    assert "built-in" in info.value.message and "save as" in info.value.hint
    with pytest.raises(ProfileError, match="built-in"):
        save_profile(quick, profiles.builtin_profile_path("full"))
    with pytest.raises(ProfileError, match="name of a built-in profile"):
        save_user_profile(quick, "full")
    with pytest.raises(ProfileError, match="cannot be deleted"):
        delete_user_profile("cpu-quick")
    # a hand-made file with a built-in's name never replaces the preset
    folder = config_dir / "profiles"
    folder.mkdir(parents=True)
    (folder / "full.toml").write_text("[training]\nnum_train_epochs = 99\n")
    assert load_profile("full").training.num_train_epochs != 99
    assert [i.builtin for i in list_profiles() if i.name == "full"] == [True]


def test_save_without_a_path_writes_back_to_the_loaded_file(tmp_path):
    with pytest.raises(ProfileError, match="was not loaded from a file"):
        save_profile(Profile())
    with pytest.raises(ProfileError, match="built-in"):
        save_profile(apply_overrides(load_profile("full"), {"training.seed": 1}))
    path = save_profile(Profile(), tmp_path / "mine.toml")
    edited = apply_overrides(read_profile_file(path), {"training.seed": 1}, origin="editor")
    assert edited.source == f"{path} + editor"
    assert save_profile(edited) == path and read_profile_file(path).training.seed == 1


def test_saving_an_invalid_profile_writes_nothing(tmp_path):
    bad = replace(Profile(), training=replace(Profile().training, learning_rate=-1.0))
    with pytest.raises(ProfileError, match="training.learning_rate"):
        save_profile(bad, tmp_path / "bad.toml")
    assert not (tmp_path / "bad.toml").exists()


def test_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = save_profile(Profile(description="first"), tmp_path / "keep.toml")
    before = path.read_text()

    def power_cut(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(ProfileError, match="cannot save the profile"):
        save_profile(Profile(description="second"), path)
    monkeypatch.undo()
    assert path.read_text() == before
    assert read_profile_file(path).description == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.toml"]  # no temp file left behind


def test_model_name_paths(tmp_path):
    whisper = tmp_path / "hf"
    whisper.mkdir()
    (whisper / "config.json").write_text(json.dumps({"model_type": "whisper"}))
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    run = tmp_path / "20260101-120000-cpu-quick"
    (run / "final").mkdir(parents=True)
    (run / "final" / "adapter_config.json").write_text("{}")
    for name in (str(whisper), str(adapter), str(run), "openai/whisper-tiny", "tiny.en"):
        assert apply_overrides(Profile(), {"model.name": name}).model.name == name
    with pytest.raises(ProfileError, match="model.name"):
        apply_overrides(Profile(), {"model.name": str(tmp_path)})  # holds models, is none


def test_check_strategy_available(monkeypatch):
    assert check_strategy_available("full") is None
    assert check_strategy_available("lora") is None
    assert "unknown strategy" in check_strategy_available("dora")
    from importlib import metadata

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    profiles._qlora_problem.cache_clear()
    monkeypatch.setattr(metadata, "version", not_installed)
    try:
        reason = check_strategy_available("qlora")
    finally:
        monkeypatch.undo()
        profiles._qlora_problem.cache_clear()
    assert "bitsandbytes" in reason and "lora" in reason


def test_qlora_runs_here():
    """bitsandbytes >= 0.50 (a project dependency) quantises nf4 on the CPU, so QLoRA is available."""
    assert check_strategy_available("qlora") is None


SEED_YAML = """\
model:
  name: "openai/whisper-tiny"
  language: "en"
  task: "transcribe"

data:
  train_dir: "data"
  audio_format: "wav"
  sample_rate: 16000
  max_duration_seconds: 30
  test_split: 0.2

finetuning:
  strategy: "lora"
  freeze_encoder: true
  gradient_checkpointing: true
  lora:
    r: 16
    lora_alpha: 32
    lora_dropout: 0.05
    target_modules:
      - "q_proj"
      - "v_proj"
    bias: "none"
    task_type: "SEQ_2_SEQ_LM"

training:
  output_dir: "output/whisper-tiny-finetuned"
  num_train_epochs: 3
  per_device_train_batch_size: 4
  per_device_eval_batch_size: 4
  gradient_accumulation_steps: 2
  learning_rate: 1.0e-5
  warmup_steps: 50
  logging_steps: 10
  eval_steps: 50
  save_steps: 100
  save_total_limit: 2
  fp16: true
  dataloader_num_workers: 0
  push_to_hub: false
  report_to: "none"

evaluation:
  metric: "wer"
"""


def test_import_seed_config(tmp_path):
    yaml_path = tmp_path / "config.yaml"
    yaml_path.write_text(SEED_YAML)
    p = import_seed_config(yaml_path)
    assert p.model.name == "openai/whisper-tiny"
    assert p.data.train_dir == str(tmp_path / "data")
    assert p.output.dir == str(tmp_path / "output" / "whisper-tiny-finetuned") and p.output.merge_lora
    assert (p.finetuning.strategy, p.finetuning.freeze_encoder, p.finetuning.gradient_checkpointing) == (
        "lora", True, True)
    tr = p.training
    assert (tr.learning_rate, tr.warmup_steps, tr.gradient_accumulation_steps, tr.eval_strategy, tr.eval_steps) == (
        1e-5, 50, 2, "steps", 50)
    assert p.effective_learning_rate()[0] == 1e-3  # the seed's LoRA bump still applies
    assert any("task_type" in note for note in p.notes) and any("save_steps" in note for note in p.notes)
    assert (p.name, p.source, p.description) == ("config", str(yaml_path), "imported from config.yaml")
    saved = save_profile(p, tmp_path / "imported.toml")
    assert "# note: finetuning.lora.task_type not imported" in saved.read_text()
    assert read_profile_file(saved) == p


def test_seed_defaults_apply_to_missing_keys(tmp_path):
    yaml_path = tmp_path / "small.yaml"
    yaml_path.write_text("model:\n  name: tiny.en\ndata:\n  train_dir:\n"
                         "training:\n  learning_rate: 3e-5\n  num_train_epochs: 2\n")
    p = import_seed_config(yaml_path)
    # the seed's train.py defaulted to full fine-tuning with nothing frozen; PyYAML reads 3e-5 as text
    assert (p.finetuning.strategy, p.finetuning.freeze_encoder, p.training.learning_rate) == ("full", False, 3e-5)
    assert p.training.num_train_epochs == 2


def test_seed_import_errors(tmp_path):
    bad_key = tmp_path / "typo.yaml"
    bad_key.write_text(textwrap.dedent("""\
        training:
          learning_rat: 1.0e-5
        """))
    with pytest.raises(ProfileError) as info:
        import_seed_config(bad_key)
    assert info.value.message == f"{bad_key}: training.learning_rat is not a known key"
    assert "training.learning_rate" in info.value.hint
    not_a_table = tmp_path / "table.yaml"
    not_a_table.write_text("finetuning:\n  lora: 8\n")
    with pytest.raises(ProfileError, match=r"finetuning.lora must be a table"):
        import_seed_config(not_a_table)
    bad_value = tmp_path / "value.yaml"
    bad_value.write_text("data:\n  max_duration_seconds: 90\n")
    with pytest.raises(ProfileError, match=r"data.max_duration_seconds must be a number > 0 and <= 30 \(got 90\)"):
        import_seed_config(bad_value)
    broken = tmp_path / "broken.yaml"
    broken.write_text("model:\n  name: [tiny\n")
    with pytest.raises(ProfileError, match="YAML syntax error at line"):
        import_seed_config(broken)


def test_importing_profiles_loads_neither_torch_nor_textual():
    code = "import sys, whisper_tui.config.profile; print(sorted(m for m in ('torch', 'textual', 'yaml') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_each_label_flag_and_seed_key_names_one_setting():
    """Rule.label fits the form's 20-column label and names one setting; flags and seed keys name one key each."""
    from whisper_tui.config.profile_schema import flag_settings

    labels = [spec.label for spec in settings()]
    assert len(set(labels)) == len(labels) and all(0 < len(label) < 20 for label in labels)
    flags = [spec.rule.flag for spec in flag_settings()]
    assert len(set(flags)) == len(flags) and all(not f.startswith("-") for f in flags)
    seed_keys = [spec.rule.seed_key for spec in settings() if spec.rule.seed_key]
    assert len(set(seed_keys)) == len(seed_keys) and len(profiles.SEED_KEY_MAP) == len(seed_keys)
    assert profiles.SEED_KEY_MAP["training.output_dir"] == "output.dir"
    assert profiles.SEED_KEY_MAP["data.max_duration_seconds"] == "data.max_duration_s"
