"""Every kind of broken profile is refused with a message naming the file, the key (or line) and a fix."""

from __future__ import annotations

import json
import textwrap

import pytest

from whisper_tui.errors import ProfileError
from whisper_tui.config.profile import load_profile, read_profile_file


def write(tmp_path, text: str, name: str = "my.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def refused(tmp_path, text: str) -> ProfileError:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        read_profile_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return info.value


def test_message_names_file_key_value_and_line(tmp_path):
    err = refused(tmp_path, """\
        [finetuning.lora]
        r = 0
        """)
    assert err.message == f"{tmp_path / 'my.toml'}: finetuning.lora.r must be an integer > 0 (got 0) (line 2)"
    assert err.where == "finetuning.lora.r"
    assert "LoRA rank" in err.hint and "default 16" in err.hint


def test_syntax_error_keeps_line_and_column(tmp_path):
    err = refused(tmp_path, """\
        [training]
        num_train_epochs = 3
        learning_rate 1e-3
        """)
    assert "TOML syntax error" in err.message
    assert "line 3" in err.message and "column" in err.message


def test_unterminated_string_is_a_syntax_error(tmp_path):
    err = refused(tmp_path, '[model]\nname = "tiny.en\n')
    assert "line 2" in err.message


def test_duplicate_key_is_a_syntax_error(tmp_path):
    err = refused(tmp_path, "[training]\nseed = 1\nseed = 2\n")
    assert "line 3" in err.message


@pytest.mark.parametrize(("text", "key", "suggestion"), [
    ("[trainin]\nseed = 1\n", "trainin", "training"),
    ("[training]\nlearnin_rate = 1e-3\n", "training.learnin_rate", "training.learning_rate"),
    ("[finetuning.lora]\nalpha = 16\n", "finetuning.lora.alpha", "finetuning.lora.lora_alpha"),
    # right key, wrong section: suggest where it lives
    ("[training]\nstrategy = \"lora\"\n", "training.strategy", "finetuning.strategy"),
    ("epochs = 3\n", "epochs", "training.num_train_epochs"),
])
def test_unknown_names_suggest_the_closest_valid_one(tmp_path, text, key, suggestion):
    err = refused(tmp_path, text)
    assert f": {key} is not a known" in err.message
    assert f"did you mean {suggestion}?" in err.hint


def test_unknown_key_line_is_reported(tmp_path):
    err = refused(tmp_path, "[training]\nseed = 1\n\nbogus_setting = 2\n")
    assert "training.bogus_setting" in err.message and "(line 4)" in err.message


@pytest.mark.parametrize(("text", "key", "got"), [
    ('[training]\nnum_train_epochs = "3"\n', "training.num_train_epochs", '(got "3")'),
    ("[training]\nper_device_train_batch_size = true\n", "training.per_device_train_batch_size", "(got true)"),
    ("[training]\nnum_train_epochs = 2.5\n", "training.num_train_epochs", "(got 2.5)"),
    ('[training]\nlearning_rate = "fast"\n', "training.learning_rate", '(got "fast")'),
    ("[training]\nlearning_rate = nan\n", "training.learning_rate", "(got nan)"),
    ('[finetuning]\nfreeze_encoder = "yes"\n', "finetuning.freeze_encoder", '(got "yes")'),
    ("[finetuning]\nfreeze_encoder = 1\n", "finetuning.freeze_encoder", "(got 1)"),
    ("[model]\nname = 3\n", "model.name", "(got 3)"),
    ("description = [\"a\"]\n", "description", '(got ["a"])'),
    ('[finetuning.lora]\ntarget_modules = "q_proj"\n', "finetuning.lora.target_modules", '(got "q_proj")'),
    ("training = 3\n", "training", "(got 3)"),
])
def test_wrong_types(tmp_path, text, key, got):
    err = refused(tmp_path, text)
    assert f": {key} must be " in err.message and got in err.message


def test_quoted_number_hint_says_remove_quotes(tmp_path):
    err = refused(tmp_path, '[finetuning.lora]\nr = "8"\n')
    assert "without quotes" in err.hint and "r = 8" in err.hint


@pytest.mark.parametrize(("text", "key", "rule"), [
    ("[finetuning.lora]\nr = -4\n", "finetuning.lora.r", "an integer > 0"),
    ("[finetuning.lora]\nlora_alpha = 0\n", "finetuning.lora.lora_alpha", "an integer > 0"),
    ("[finetuning.lora]\nlora_dropout = 1.0\n", "finetuning.lora.lora_dropout", "a number >= 0 and < 1"),
    ("[finetuning.lora]\nlora_dropout = -0.1\n", "finetuning.lora.lora_dropout", "a number >= 0 and < 1"),
    ("[training]\nlearning_rate = 0\n", "training.learning_rate", "a number > 0"),
    ("[training]\nlearning_rate = -1e-5\n", "training.learning_rate", "a number > 0"),
    ("[training]\nnum_train_epochs = 0\n", "training.num_train_epochs", "an integer > 0"),
    ("[training]\nper_device_train_batch_size = 0\n", "training.per_device_train_batch_size", "an integer >= 1"),
    ("[training]\nper_device_eval_batch_size = 0\n", "training.per_device_eval_batch_size", "an integer >= 1"),
    ("[training]\ngradient_accumulation_steps = 0\n", "training.gradient_accumulation_steps", "an integer >= 1"),
    ("[training]\ngeneration_max_length = 1000\n", "training.generation_max_length", "an integer >= 1 and <= 448"),
    ("[data]\ntest_split = 0\n", "data.test_split", "a number > 0 and <= 1"),
    ("[data]\ntest_split = 1.5\n", "data.test_split", "a number > 0 and <= 1"),
    ("[data]\nmax_duration_s = 45\n", "data.max_duration_s", "a number > 0 and <= 30"),
    ("[finetuning]\nfrozen_encoder_layers = -1\n", "finetuning.frozen_encoder_layers", "an integer >= 0"),
])
def test_out_of_range_numbers(tmp_path, text, key, rule):
    err = refused(tmp_path, text)
    assert f": {key} must be {rule}" in err.message


@pytest.mark.parametrize(("text", "key", "allowed", "suggestion"), [
    ('[finetuning]\nstrategy = "lorra"\n', "finetuning.strategy", '"full", "lora", "qlora"', '"lora"'),
    ('[training]\nprecision = "fp8"\n', "training.precision", '"auto", "fp32", "fp16", "bf16"', ""),
    ('[training]\neval_strategy = "epochs"\n', "training.eval_strategy", '"epoch", "steps", "no"', '"epoch"'),
    ('[training]\nlr_scheduler_type = "cosin"\n', "training.lr_scheduler_type", '"cosine"', '"cosine"'),
    ('[model]\ntask = "translat"\n', "model.task", '"transcribe", "translate"', '"translate"'),
])
def test_bad_enum_values_list_the_allowed_ones(tmp_path, text, key, allowed, suggestion):
    err = refused(tmp_path, text)
    assert f": {key} must be one of " in err.message and allowed in err.message
    if suggestion:
        assert f"did you mean {suggestion}?" in err.hint


def test_enum_values_ignore_case(tmp_path):
    path = write(tmp_path, '[finetuning]\nstrategy = "QLoRA"\n')
    assert read_profile_file(path).finetuning.strategy == "qlora"


def test_empty_target_modules(tmp_path):
    err = refused(tmp_path, "[finetuning.lora]\ntarget_modules = []\n")
    assert "finetuning.lora.target_modules must be a non-empty list" in err.message


def test_unknown_target_module_suggests_a_whisper_layer(tmp_path):
    err = refused(tmp_path, '[finetuning.lora]\ntarget_modules = ["q_proj", "v_prj"]\n')
    assert 'finetuning.lora.target_modules names an unknown layer "v_prj"' in err.message
    assert 'did you mean "v_proj"?' in err.hint


@pytest.mark.parametrize(("text", "key"), [
    ("[data]\nmin_duration_s = 5.0\nmax_duration_s = 4.0\n", "data.min_duration_s"),
    ("[training]\nwarmup_steps = 1.5\n", "training.warmup_steps"),
    ("[training]\nwarmup_steps = -0.1\n", "training.warmup_steps"),
    ("[training]\nmax_steps = 0\n", "training.max_steps"),
    ("[training]\nmax_steps = -2\n", "training.max_steps"),
])
def test_settings_that_contradict(tmp_path, text, key):
    err = refused(tmp_path, text)
    assert f": {key} must be" in err.message


def test_model_folder_that_is_not_whisper(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "metadata.csv").write_text("file_name,transcription\n")
    err = refused(tmp_path, f'[model]\nname = "{folder}"\n')
    assert "model.name" in err.message and "not a Whisper model folder" in err.message
    assert "tiny.en" in err.hint


def test_model_folder_of_another_architecture(tmp_path):
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    err = refused(tmp_path, f'[model]\nname = "{folder}"\n')
    assert 'model_type "bert"' in err.message


def test_model_path_that_is_a_file_or_missing(tmp_path):
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"\0")
    assert "is a file" in refused(tmp_path, f'[model]\nname = "{weights}"\n').message
    assert "does not exist" in refused(tmp_path, f'[model]\nname = "{tmp_path / "nope"}"\n').message


def test_missing_file_and_unknown_name(tmp_path, monkeypatch):
    monkeypatch.setenv("WHISPER_TUI_CONFIG_DIR", str(tmp_path / "config"))
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "absent.toml")
    with pytest.raises(ProfileError) as info:
        load_profile("cpu-quik")
    assert 'no profile named "cpu-quik"' in info.value.message
    assert 'did you mean "cpu-quick"?' in info.value.hint


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes('description = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ProfileError, match="not UTF-8"):
        read_profile_file(path)
