"""Train setup screen: inline validation, dependent fields, profiles round trip, unsaved marker, start."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select, Static
from helpers_tui import isolated_dirs, settle  # noqa: F401 (fixture)

from screens.app import WhisperTuiApp
from screens.train_setup import NameScreen, TrainSetupScreen, validate_form
from screens.widgets.profile_form import ProfileForm, format_value
from whisper_tui.config.locations import user_profiles_dir
from whisper_tui.config.profile import DEFAULT_PROFILE, load_profile

pytestmark = pytest.mark.usefixtures("isolated_dirs")


async def open_setup(pilot) -> TrainSetupScreen:
    await pilot.press("2")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, TrainSetupScreen)
    return screen


async def type_into(pilot, screen, key: str, text: str) -> None:
    field = screen.query_one(ProfileForm).editor(key)
    field.focus()
    field.value = ""
    await pilot.press(*text)
    await settle(pilot)


def marker(screen) -> str:
    return str(screen.query_one("#ts-modified", Static).content)


# -- pure helpers -------------------------------------------------------------------------------

def test_validate_form_reports_every_bad_field():
    base = load_profile(DEFAULT_PROFILE)
    values = {"finetuning.lora.r": "0", "training.learning_rate": "fast", "training.num_train_epochs": "2"}
    profile, errors = validate_form(base, values)
    assert set(errors) == {"finetuning.lora.r", "training.learning_rate"}
    assert errors["finetuning.lora.r"].startswith("must be an integer > 0 (got 0)")
    assert profile.training.num_train_epochs == 2  # the valid field still applies
    assert profile.finetuning.lora.r == base.finetuning.lora.r


def test_cross_field_error_lands_on_the_named_field():
    base = load_profile(DEFAULT_PROFILE)
    _profile, errors = validate_form(base, {"data.max_duration_s": "0.05"}, last_edited="data.max_duration_s")
    assert "data.min_duration_s" in errors and "must be below data.max_duration_s" in errors["data.min_duration_s"]


@pytest.mark.parametrize(("value", "text"), [(1e-5, "1e-5"), (0.001, "0.001"), (3.0, "3"), (0.2, "0.2"),
                                             (16, "16"), (2.5e-4, "2.5e-4"), (True, "true")])
def test_numbers_are_shown_as_typed(value, text):
    assert format_value(value) == text


# -- the screen ---------------------------------------------------------------------------------

async def test_form_shows_the_default_profile_and_estimate():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        default = load_profile(DEFAULT_PROFILE)
        assert screen.profile == default and screen.profile_name == DEFAULT_PROFILE
        form = screen.query_one(ProfileForm)
        assert form.editor("finetuning.strategy").value == default.finetuning.strategy
        assert form.editor("finetuning.lora.r").value == str(default.finetuning.lora.r)
        assert "✓ saved" in marker(screen) and "built-in" in marker(screen)
        estimate = str(screen.query_one("#ts-estimate", Static).content)
        # r16 on every projection of the top 3 encoder layers (3 x 110,592) and the 4 decoder layers (4 x 159,744)
        assert "trainable 970,752" in estimate
        assert "fits: RAM has 8.00 GiB free" in estimate
        assert "No NVIDIA GPU detected" in estimate
        # no figure cut in two by the side panel's wrap ("training piece (8 x 10 s): 749" / "MiB")
        from screens.train_setup import ESTIMATE_WIDTH
        parts = [line for line in estimate.splitlines() if line.startswith("  ") and ":" in line]
        assert parts and all(len(line) <= ESTIMATE_WIDTH or line.endswith(":") for line in parts), parts
        assert "  training piece (8 x 10 s):\n    749 MiB" in estimate


async def test_invalid_value_shows_under_its_field_and_blocks_start(monkeypatch):
    started = []
    app = WhisperTuiApp()

    async def fake_start(profile, output_dir=None, resume_from=None):
        started.append(profile)

    monkeypatch.setattr(app, "start_training", fake_start)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        form = screen.query_one(ProfileForm)
        await type_into(pilot, screen, "finetuning.lora.r", "0")
        row = form.row("finetuning.lora.r")
        assert "must be an integer > 0 (got 0)" in row.error
        assert row.has_class("-invalid")
        assert "1 invalid" in marker(screen)
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert started == []
        assert app.current_mode == "train"
        await pilot.press("backspace", "8")
        await settle(pilot)
        assert row.error == "" and screen.errors == {}
        assert screen.profile.finetuning.lora.r == 8
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert len(started) == 1 and started[0].finetuning.lora.r == 8


async def test_lora_fields_are_disabled_for_full_finetuning():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        form = screen.query_one(ProfileForm)
        assert not form.editor("finetuning.lora.r").disabled
        form.editor("finetuning.strategy").value = "full"
        await settle(pilot)
        for key in ("finetuning.lora.r", "finetuning.lora.lora_alpha", "finetuning.lora.target_modules",
                    "output.merge_lora"):
            assert form.editor(key).disabled, key
        assert screen.profile.finetuning.strategy == "full"
        estimate = str(screen.query_one("#ts-estimate", Static).content)
        assert "trainable 34,874,880" in estimate  # the decoder and the top 3 encoder layers (cpu-quick freezes 1)
        form.editor("finetuning.freeze_encoder").value = True
        await settle(pilot)
        assert form.editor("finetuning.frozen_encoder_layers").disabled
        assert "trainable 29,551,872" in str(screen.query_one("#ts-estimate", Static).content)  # the decoder alone
        form.editor("finetuning.freeze_encoder").value = False
        await settle(pilot)
        assert not form.editor("finetuning.frozen_encoder_layers").disabled
        assert "trainable 34,874,880" in str(screen.query_one("#ts-estimate", Static).content)


async def test_save_as_load_round_trip_and_unsaved_marker():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        await type_into(pilot, screen, "training.num_train_epochs", "6")
        await type_into(pilot, screen, "training.learning_rate", "2e-4")
        assert "● modified" in marker(screen)
        await pilot.press("escape", "ctrl+s")  # built-in profile: save asks for a new name
        await settle(pilot)
        assert isinstance(app.screen, NameScreen)
        name_field = app.screen.query_one("#name-input", Input)
        assert name_field.value == f"{DEFAULT_PROFILE}-copy"
        name_field.value = ""
        await pilot.press(*"my-run", "enter")
        await settle(pilot)
        assert app.screen is screen
        saved_file = user_profiles_dir() / "my-run.toml"
        assert saved_file.is_file()
        assert "✓ saved" in marker(screen) and screen.profile_name == "my-run" and not screen.builtin
        on_disk = load_profile("my-run")
        assert on_disk.training.num_train_epochs == 6 and on_disk.training.learning_rate == pytest.approx(2e-4)

        # load another profile, then the saved one again through the picker
        screen.query_one("#ts-profile", Select).value = "full"
        await settle(pilot)
        assert screen.profile_name == "full"
        assert screen.query_one(ProfileForm).editor("training.num_train_epochs").value == "5"
        screen.query_one("#ts-profile", Select).value = "my-run"
        await settle(pilot)
        form = screen.query_one(ProfileForm)
        assert form.editor("training.num_train_epochs").value == "6"
        assert form.editor("training.learning_rate").value == "2e-4"

        # edit, see the marker, edit back: the marker goes away; revert also clears it
        await type_into(pilot, screen, "training.num_train_epochs", "4")
        assert "● modified" in marker(screen)
        await type_into(pilot, screen, "training.num_train_epochs", "6")
        assert "✓ saved" in marker(screen)
        await type_into(pilot, screen, "training.num_train_epochs", "7")
        await pilot.press("escape", "ctrl+r")
        await settle(pilot)
        assert "✓ saved" in marker(screen) and form.editor("training.num_train_epochs").value == "6"

        # a user profile saves in place
        await type_into(pilot, screen, "training.seed", "7")
        await pilot.press("escape", "ctrl+s")
        await settle(pilot)
        assert load_profile("my-run").training.seed == 7 and "✓ saved" in marker(screen)


async def test_loading_with_unsaved_changes_asks_first():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        await type_into(pilot, screen, "training.num_train_epochs", "9")
        screen.request_load("full")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert screen.profile_name == DEFAULT_PROFILE and screen.profile.training.num_train_epochs == 9
        screen.request_load("full")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert screen.profile_name == "full" and "✓ saved" in marker(screen)


async def test_delete_user_profile_and_builtins_are_protected():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        await pilot.press("f8")  # built-in: refused with a notification, nothing asked
        await settle(pilot)
        assert app.screen is screen
        assert any("cannot be deleted" in n.message for n in app._notifications)
        from whisper_tui.config.profile import save_user_profile

        save_user_profile(screen.profile, "scratch")
        screen.request_load("scratch")
        await settle(pilot)
        assert screen.profile_name == "scratch"
        await pilot.press("f8", "y")
        await settle(pilot)
        assert not (user_profiles_dir() / "scratch.toml").exists()
        assert screen.profile_name == DEFAULT_PROFILE


async def test_bad_name_is_refused_in_the_prompt():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        prompt = app.screen
        prompt.query_one("#name-input", Input).value = ""
        await pilot.press(*"full", "enter")  # a built-in's name
        await settle(pilot)
        assert app.screen is prompt
        assert "built-in" in str(prompt.query_one("#name-error", Static).content)
        await pilot.press("escape")
        assert app.screen is screen


async def test_help_line_follows_focus():
    app = WhisperTuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        screen.query_one(ProfileForm).editor("training.warmup_steps").focus()
        await settle(pilot)
        help_line = str(screen.query_one("#ts-help", Static).content)
        assert help_line.startswith("training.warmup_steps — below 1 = share of all steps")
