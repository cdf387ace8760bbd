"""Facts the engine keeps in one place: a second copy, typed again somewhere, fails here.

Each test walks the engine's source (AST, not imports: nothing heavy is loaded) and names the
file and line of the copy, so the fix is to import the one definition instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "whisper_tui"


def _modules():
    for path in sorted(ENGINE.rglob("*.py")):
        yield path.relative_to(ENGINE.parent).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _where(rel: str, node: ast.AST) -> str:
    return f"{rel}:{node.lineno}"


WINDOW_HOME = "whisper_tui/models/window.py"
WINDOW_NUMBERS = {30, 1500, 3000, 480000}  # seconds, encoder positions, mel frames, samples at 16 kHz


def test_whisper_window_is_defined_once():
    """30 s / 1500 positions / 3000 frames / 480000 samples appear as numbers only in models/window.py."""
    copies = []
    for rel, tree in _modules():
        if rel == WINDOW_HOME:
            continue
        lines = (ENGINE.parent / rel).read_text(encoding="utf-8").splitlines()
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value in WINDOW_NUMBERS
                    and "snr" not in lines[node.lineno - 1]):  # a signal-to-noise ratio of 30 dB is no window
                copies.append(_where(rel, node))
    assert not copies, f"Whisper's window typed again (import it from {WINDOW_HOME}): {copies}"


def _assigned_names(tree: ast.Module) -> list[tuple[str, ast.AST]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        out.append((leaf.id, node))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.append((node.target.id, node))
    return out


@pytest.mark.parametrize(("prefix", "home"), [("EXIT_", "whisper_tui/exit_codes.py")])
def test_named_constants_have_one_home(prefix, home):
    copies = [_where(rel, node) for rel, tree in _modules() if rel != home
              for name, node in _assigned_names(tree) if name.startswith(prefix)]
    assert not copies, f"{prefix}* assigned outside {home}: {copies}"


def test_error_exit_codes_come_from_exit_codes():
    """`exit_code = 2` in an error class would be a third copy of the CLI's exit codes."""
    literal = [_where(rel, node) for rel, tree in _modules() for name, node in _assigned_names(tree)
               if name == "exit_code" and isinstance(node.value, ast.Constant)]
    assert not literal, f"exit codes typed as numbers (use whisper_tui.exit_codes): {literal}"


def test_whisper_linear_layer_names_are_listed_once():
    layers = {"q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"}
    copies = []
    for rel, tree in _modules():
        if rel == "whisper_tui/models/parts.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                strings = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                if strings >= layers:
                    copies.append(_where(rel, node))
    assert not copies, f"Whisper's linear layers listed again (use models.parts.WHISPER_LINEAR_LAYERS): {copies}"


def test_model_parts_are_reached_through_one_helper():
    """A peft model's base and a model's encoder/decoder are found by models/parts.py only."""
    copies = []
    for rel, tree in _modules():
        if rel == "whisper_tui/models/parts.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"get_base_model", "get_encoder", "get_decoder"}:
                copies.append(f"{_where(rel, node)} .{node.attr}")
            if (isinstance(node, ast.Attribute) and node.attr in {"encoder", "decoder"}
                    and isinstance(node.value, ast.Attribute) and node.value.attr == "model"):
                copies.append(f"{_where(rel, node)} .model.{node.attr}")
    assert not copies, f"reach model parts with models.parts.base_of/encoder_of/decoder_of: {copies}"


def test_parts_reach_through_a_peft_wrapper():
    from whisper_tui.models.parts import base_of, decoder_of, encoder_of

    class Inner:
        encoder, decoder = object(), object()

    class Whisper:
        model = Inner()

    class Peft:
        def __init__(self, base):
            self.base = base

        def get_base_model(self):
            return self.base

    plain = Whisper()
    for model in (plain, Peft(plain)):
        assert base_of(model) is plain
        assert encoder_of(model) is Inner.encoder and decoder_of(model) is Inner.decoder
    assert encoder_of(Inner()) is Inner.encoder  # a bare WhisperModel has no .model


def test_a_clip_result_builds_on_clip_errors():
    """evaluate.ClipResult adds to metrics.ClipErrors instead of declaring its fields again."""
    import dataclasses

    from whisper_tui.inference.evaluate import ClipResult
    from whisper_tui.inference.metrics import ClipErrors

    assert issubclass(ClipResult, ClipErrors)
    own = ClipResult.__dataclass_fields__.keys() - ClipErrors.__dataclass_fields__.keys()
    assert own == {"file_name", "duration_s", "error", "signs"}
    result = ClipResult("a b", "a c", 0.5, 1, 0, 0, 2, file_name="x.wav")
    assert result.errors == 1 and dataclasses.asdict(result)["file_name"] == "x.wav"
    assert ClipResult.unreadable("y.wav", "a b", "cannot read").error == "cannot read"


def test_the_sample_data_is_made_when_missing_in_one_place():
    """Callers ask sample_data.ensure_sample_dataset; only it and `whisper-tui sample-data` (an explicit
    new folder) call make_sample_dataset."""
    root = ENGINE.parent
    allowed = {("whisper_tui/data/sample_data.py", "ensure_sample_dataset"), ("whisper_tui/cli/commands.py", "cmd_sample_data")}
    callers = []
    for folder in ("whisper_tui", "screens", "benchmarks"):
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for func in ast.walk(tree):
                if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(func):
                    if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                            == "make_sample_dataset" and (rel, func.name) not in allowed):
                        callers.append(f"{rel}:{node.lineno} ({func.name})")
    assert not callers, f"use sample_data.ensure_sample_dataset: {sorted(set(callers))}"


FACTS_HOME = "whisper_tui/whisper_facts.py"
ROOT = ENGINE.parent


def _sources(*folders: str):
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _ints(tree: ast.AST, value: int):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and type(n.value) is int and n.value == value]


@pytest.mark.parametrize(("value", "name"), [(16000, "SAMPLE_RATE"), (448, "MAX_TARGET_TOKENS")])
def test_whisper_numbers_are_typed_once(value, name):
    """16 kHz and the decoder's 448 positions appear as numbers only in whisper_facts.py (engine and UI)."""
    copies = [_where(rel, node) for rel, tree in _sources("whisper_tui", "screens") if rel != FACTS_HOME
              for node in _ints(tree, value)]
    assert not copies, f"{value} typed again (import {name} from {FACTS_HOME}): {copies}"


def test_mel_bins_are_typed_once():
    """80 is a common number (columns, words per minute), so only a mel-bin name bound to 80 is a copy:
    an `n_mels`/`num_mel_bins` default or an assignment to a name with "mel" in it."""
    copies = []
    for rel, tree in _sources("whisper_tui", "screens"):
        if rel == FACTS_HOME:
            continue
        for node in ast.walk(tree):
            pairs = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.posonlyargs + node.args.args
                pairs += zip([a.arg for a in args[len(args) - len(node.args.defaults):]], node.args.defaults)
                pairs += [(a.arg, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                pairs.append((node.target.id, node.value))
            elif isinstance(node, ast.Assign):
                pairs += [(t.id, node.value) for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.BoolOp):  # `model.n_mels or 80`
                pairs += [("mel", v) for v in node.values if "mel" in ast.unparse(node).lower()]
            copies += [_where(rel, value) for arg, value in pairs if "mel" in arg.lower() and _ints(value, 80)]
    assert not copies, f"mel bins typed again (import MEL_BINS from {FACTS_HOME}): {copies}"


CACHE_FOLDERS = {"encoder-cache", "ct2", "cross-kv", "models"}


def test_cache_folder_names_are_typed_once():
    """`cache_dir() / "cross-kv"`: a cache subfolder named again instead of config/locations.py's *_FOLDER."""
    copies = []
    for rel, tree in _sources("whisper_tui", "screens"):
        for node in ast.walk(tree):
            if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant)
                    and node.right.value in CACHE_FOLDERS and "cache_dir" in ast.unparse(node.left)):
                copies.append(f"{_where(rel, node)} {node.right.value!r}")
    assert not copies, f"cache folder named again (use config.locations' *_FOLDER): {copies}"


def test_the_modes_are_listed_once():
    """screens/modes.py lists the app's modes; a literal naming all of them elsewhere is a second list."""
    from screens.modes import MODES

    names = {m.name for m in MODES}
    copies = []
    for rel, tree in _sources("screens"):
        if rel == "screens/modes.py":
            continue
        for node in ast.walk(tree):
            elts = node.keys if isinstance(node, ast.Dict) else node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else []
            found = {e.value for e in elts if isinstance(e, ast.Constant)}
            found |= {e.elts[0].value for e in elts if isinstance(e, ast.Tuple) and e.elts
                      and isinstance(e.elts[0], ast.Constant)}
            if found >= names:
                copies.append(_where(rel, node))
    assert not copies, f"the modes listed again (read screens/modes.py): {copies}"


def _timestamp_steps(tree: ast.AST) -> list[ast.Constant]:
    """0.02 typed where timestamps are meant: inside a function or statement that speaks of timestamps
    (a name or text with "timestamp", or a token like "<|%.2f|>"). Other 0.02s (a 2 % share) pass."""
    found: list[ast.Constant] = []
    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    statements = [n for n in getattr(tree, "body", []) if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                              ast.ClassDef))]
    for scope in scopes + statements:
        inner = scope.body if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else [scope]
        text = ast.unparse(scope).lower()
        if "timestamp" not in text and "<|" not in text:
            continue
        for stmt in inner:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue  # walked as a scope of its own
            found += [n for n in ast.walk(stmt) if isinstance(n, ast.Constant) and type(n.value) is float
                      and n.value == 0.02]
    return found


def test_the_timestamp_step_is_typed_once():
    """Whisper's 0.02 s timestamp step: TIMESTAMP_STEP_S in whisper_facts.py, not a 0.02 near timestamps."""
    copies = [_where(rel, node) for rel, tree in _sources("whisper_tui", "screens") if rel != FACTS_HOME
              for node in _timestamp_steps(tree)]
    assert not copies, f"the timestamp step typed again (import TIMESTAMP_STEP_S from {FACTS_HOME}): {copies}"


def test_the_timestamp_check_finds_a_copy():
    caught = ast.parse('TIMESTAMP_S = 0.02\n\ndef names(n):\n    return ["<|%.2f|>" % (i * 0.02) for i in range(n)]\n')
    share = ast.parse("def reserve(budget_s):\n    return 0.02 * budget_s\n")
    assert len(_timestamp_steps(caught)) == 2 and not _timestamp_steps(share)



SCHEMA_HOME = "whisper_tui/config/profile_schema.py"


def _schema_names() -> dict[tuple[str, str], str]:
    """(profile key, another name of it) -> what that name is: the form label, the train flag or its argparse
    dest, the seed's config.yaml key (`Rule` in the schema)."""
    from whisper_tui.config.profile_schema import settings

    names = {}
    for spec in settings():
        rule = spec.rule
        if rule.label:
            names[(spec.key, rule.label)] = "label"
        for flag in filter(None, {rule.flag, rule.flag.replace("-", "_"), "--" + rule.flag if rule.flag else ""}):
            names[(spec.key, flag)] = "flag"
        if rule.seed_key:
            names[(spec.key, rule.seed_key)] = "seed key"
    return names


def _name_pairs(tree: ast.AST, names: dict[tuple[str, str], str]) -> list[tuple[ast.AST, str]]:
    """Dict entries and 2-tuples that pair a profile key with its label, flag or seed key, either way round."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            pairs = [(k, v) for k, v in zip(node.keys, node.values) if k is not None]
        elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
            pairs = [tuple(node.elts)]
        else:
            continue
        for a, b in pairs:
            if isinstance(a, ast.Constant) and isinstance(b, ast.Constant) and isinstance(a.value, str):
                what = names.get((a.value, b.value)) or names.get((b.value, a.value))
                if what:
                    found.append((a, f"{what} {a.value!r}: {b.value!r}"))
    return found


def _train_flags(tree: ast.AST, flags: set[str]) -> list[tuple[ast.AST, str]]:
    """`t.add_argument("--epochs", ...)` on the `train` parser: a profile flag written outside the schema."""
    parsers = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
               and getattr(node.value.func, "attr", "") == "add_parser" and node.value.args
               and isinstance(node.value.args[0], ast.Constant) and node.value.args[0].value == "train"
               for t in node.targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func, args = node.func, node.args
            on_train = (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                        and func.value.id in parsers) or any(isinstance(a, ast.Name) and a.id in parsers for a in args)
            for arg in args:
                if on_train and isinstance(arg, ast.Constant) and isinstance(arg.value, str) \
                        and arg.value.removeprefix("--") in flags:
                    found.append((arg, f"train flag {arg.value!r}"))
    return found


def test_profile_labels_flags_and_seed_keys_are_written_in_the_schema_only():
    """A key's form label, `train` flag and seed config.yaml name are its Rule's (profile_schema.py); a table
    that pairs keys with them again (the form's old LABELS, the CLI's flag map, SEED_KEY_MAP) fails here."""
    from whisper_tui.config.profile_schema import flag_settings

    names, flags = _schema_names(), {spec.rule.flag for spec in flag_settings()}
    copies = [f"{_where(rel, node)} {what}" for rel, tree in _sources("whisper_tui", "screens") if rel != SCHEMA_HOME
              for node, what in _name_pairs(tree, names) + _train_flags(tree, flags)]
    assert not copies, f"profile names written again (read Rule.label/flag/seed_key in {SCHEMA_HOME}): {copies}"


def test_the_name_check_finds_copies():
    names = _schema_names()
    tables = ast.parse('LABELS = {"training.learning_rate": "learning rate"}\nMAP = {"epochs": "training.num_train_epochs"}\n'
                       'SEED = {"training.output_dir": "output.dir"}\nPAIRS = [("data.train_dir", "--data")]\n'
                       'OK = {"training.num_train_epochs": 3, "finetuning.strategy": "full"}\n')
    assert [what.split()[0] for _node, what in _name_pairs(tables, names)] == ["label", "flag", "seed", "flag"]
    parser = ast.parse('t = sub.add_parser("train")\nt.add_argument("--epochs", type=int)\n_bool_flag(t, "grad-ckpt")\n'
                       'e = sub.add_parser("evaluate")\ne.add_argument("--batch-size", type=int)\n')
    assert [what for _node, what in _train_flags(parser, {"epochs", "grad-ckpt", "batch-size"})] == [
        "train flag '--epochs'", "train flag 'grad-ckpt'"]
