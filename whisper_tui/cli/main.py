"""`whisper-tui` command line: the headless subcommands (the `whisper-tui` script opens the app first: screens.launch).

Exit codes (`whisper_tui.exit_codes`): 0 success, 1 unexpected error (a bug: traceback in the log),
2 a problem the user can fix (bad data, profile, model; one line says what and how), 3 training failed,
130 cancelled.
"""

from __future__ import annotations

import argparse
import os
import sys

from whisper_tui.cli.console import say
from whisper_tui.cli.profile_flags import add_profile_flags
from whisper_tui.errors import WhisperTuiError
from whisper_tui.exit_codes import EXIT_CANCELLED, EXIT_OK, EXIT_USER
from whisper_tui.models.window import WHISPER_WINDOW_S


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="whisper-tui",
        description="Fine-tune, evaluate and run Whisper Tiny offline. With no arguments on a terminal, opens the app.")
    p.add_argument("--version", action="version", version=f"whisper-tui {__import__('whisper_tui').__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="fine-tune a model (headless)")
    t.add_argument("--profile", default=None, help="profile name (see `whisper-tui profiles`) or TOML file "
                                                   "(default: cpu-quick)")
    t.add_argument("--config", default=None, help="a seed-tool config.yaml to import as the profile")
    t.add_argument("--output", default=None, help="run folder (final model in OUTPUT/final, best in OUTPUT/best)")
    t.add_argument("--resume", default=None, metavar="RUN_OR_CHECKPOINT", help="continue a cancelled/crashed run")
    add_profile_flags(t)  # --model, --data, --epochs, --lr, --budget ...: the schema's Rule.flag
    t.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any profile key, e.g. --set training.warmup_steps=0.05 (repeatable)")
    t.add_argument("--no-base-eval", action="store_true", help="skip evaluating the model before training")
    t.add_argument("--quiet", action="store_true")

    e = sub.add_parser("evaluate", help="WER/CER of a model on a dataset's test split")
    e.add_argument("--model", default="tiny.en")
    e.add_argument("--data", default=None, help="dataset folder; default: bundled sample data")
    e.add_argument("--test-split", type=float, default=0.2, help="1.0 evaluates the whole folder")
    e.add_argument("--seed", type=int, default=42, help="split seed (same as the profile's data.split_seed)")
    e.add_argument("--split-by", default="auto", metavar="KEY",
                   help="what test clips share with no training clip: text, a metadata column (speaker), "
                        "text+speaker, clip; auto = the split column if any, else text (data.split_by)")
    e.add_argument("--batch-size", type=int, default=8)
    e.add_argument("--backend", choices=["torch", "ct2"], default="torch",
                   help="torch (any model) or ct2 (CTranslate2 int8, faster on CPU; scores can differ slightly)")
    e.add_argument("--prompt", default=None, metavar="TEXT",
                   help="previous text before each window (like OpenAI's initial_prompt): names, spellings, style; "
                        "default: --profile's model.prompt, else the model's run folder's; \"\" = none")
    e.add_argument("--profile", default=None, help="profile (name or TOML) whose model.prompt is the default prompt")
    e.add_argument("--report", default=None, help="where to save the JSON report (default: beside the data)")
    e.add_argument("--rows", type=int, default=20, help="per-clip rows to print (0 = none, -1 = all)")
    e.add_argument("--keep-dir", default=None, metavar="DIR",
                   help="a dataset folder of general speech added to the keep set (jfk.flac + everyday sentences)")
    e.add_argument("--no-keep", action="store_true",
                   help="skip the general-speech figure (by default the model is also scored on the keep set)")

    tr = sub.add_parser("transcribe", help="transcribe a file or every audio file in a folder")
    tr.add_argument("path")
    tr.add_argument("--model", default="tiny.en")
    tr.add_argument("--compare", default=None, metavar="BASE", help="also run BASE and show both side by side")
    tr.add_argument("--batch-size", type=int, default=8)
    tr.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    tr.add_argument("--backend", choices=["torch", "ct2"], default=None,
                    help="ct2 = CTranslate2 (faster-whisper's engine; the model is exported once and cached); "
                         "default: torch, and ct2 (when installed) for timed output (--format/--output-dir)")
    tr.add_argument("--format", choices=["txt", "srt", "vtt", "json", "tsv"], default=None,
                    help="timed segments (Whisper's timestamp decoding) in this format: one file to stdout")
    tr.add_argument("--output-dir", default=None, metavar="DIR",
                    help="write one NAME.EXT per input here (atomically) instead of stdout")
    tr.add_argument("--word-timestamps", action="store_true",
                    help="also time each word (cross-attention alignment, as OpenAI's --word_timestamps): "
                         "segments[].words in --format json, which it implies when no --format is given")
    tr.add_argument("--prompt", default=None, metavar="TEXT",
                    help="previous text before each window (like OpenAI's initial_prompt): names, spellings, style; "
                         "default: --profile's model.prompt, else the model's run folder's; \"\" = none")
    tr.add_argument("--profile", default=None, help="profile (name or TOML) whose model.prompt is the default prompt")

    x = sub.add_parser("export", help="export a model (LoRA merged) to CTranslate2 for faster-whisper")
    x.add_argument("model", help="tiny.en, a run folder, its final/ or best/, or any local Whisper folder")
    x.add_argument("out", help="folder to write (must be new or empty unless --force)")
    x.add_argument("--quantization", default="int8",
                   choices=["float32", "int8", "int8_float32", "int16", "float16", "int8_float16", "bfloat16",
                            "int8_bfloat16"])
    x.add_argument("--force", action="store_true", help="replace an earlier whisper-tui export in OUT (never a folder of other files)")

    v = sub.add_parser("validate", help="check a dataset folder and print the report")
    v.add_argument("path")
    v.add_argument("--test-dir", default=None, help="a separate test folder: also checked, and sentences it "
                   "shares with the training folder are counted")
    v.add_argument("--test-split", type=float, default=0.2, help="share of clips the split holds out (data.test_split)")
    v.add_argument("--seed", type=int, default=42, help="split seed (data.split_seed)")
    v.add_argument("--split-by", default="auto", metavar="KEY", help="how the split groups clips (data.split_by)")

    im = sub.add_parser("import", help="turn other people's data (Common Voice, NeMo, LibriSpeech, Hugging Face, "
                                       "recordings with subtitles) into a dataset folder")
    im.add_argument("src", help="the folder or file to import (its format is detected and printed)")
    im.add_argument("out", help="the dataset folder to write (new or empty; --force replaces an earlier import)")
    im.add_argument("--format", default=None, choices=["hf-disk", "common-voice", "nemo", "librispeech", "parquet",
                                                       "subtitles", "transcript"], help="skip detection")
    im.add_argument("--link", action="store_true",
                    help="hard-link audio files instead of copying them (no extra space; the clip and the "
                         "source are then one file)")
    im.add_argument("--force", action="store_true", help="replace an earlier whisper-tui import in OUT")
    im.add_argument("--max-seconds", type=float, default=float(WHISPER_WINDOW_S), metavar="S",
                    help=f"subtitles: merged cues make segments of at most S seconds (at most {WHISPER_WINDOW_S})")
    im.add_argument("--max-gap", type=float, default=1.5, metavar="S",
                    help="subtitles: a pause of S seconds or more between cues starts a new segment")
    im.add_argument("--text-column", default=None, metavar="NAME", help="Hugging Face tables: the transcript column")
    im.add_argument("--model", default=None, help="transcript: the model that aligns the text (default tiny.en)")

    lb = sub.add_parser("label", help="transcribe a folder of recordings into a dataset to review (clips + "
                                      "metadata.csv with status auto); run again to relabel rows still auto")
    lb.add_argument("audio_dir", help="folder of recordings (wav/flac/ogg/mp3, any length; sub-folders too)")
    lb.add_argument("out", help="dataset folder to write (new, empty, or an earlier label output to update)")
    lb.add_argument("--model", default="tiny.en", help="tiny.en (bundled), a run folder, or a model folder")
    lb.add_argument("--backend", choices=["ct2", "torch"], default=None,
                    help="ct2 = CTranslate2 (default when installed), torch = transformers")

    from whisper_tui.cli.adapt_window_command import add_parser as add_adapt_window

    add_adapt_window(sub)

    s = sub.add_parser("sample-data", help="synthesise the offline sample dataset (eSpeak NG)")
    s.add_argument("out")
    s.add_argument("--clips", type=int, default=120)
    s.add_argument("--seed", type=int, default=0)

    d = sub.add_parser("demo", help="the quick start: sample data, base WER, fine-tune, tuned WER")
    d.add_argument("--profile", default=None)
    d.add_argument("--data", default=None)
    d.add_argument("--output", default=None)

    pr = sub.add_parser("profiles", help="list, show or import training profiles")
    pr.add_argument("action", nargs="?", choices=["list", "show", "import"], default="list")
    pr.add_argument("name", nargs="?", help="profile name/file (show) or seed config.yaml (import)")
    pr.add_argument("--as", dest="save_as", default=None, help="name to save an imported profile under")

    ca = sub.add_parser("cache", help="list the caches (encoder outputs, views, converted models, CT2 exports) "
                                      "with their sizes; prune or clear them")
    ca.add_argument("action", nargs="?", choices=["list", "prune", "clear"], default="list",
                    help="list (default, removes nothing); prune: caches not used for --older-than; clear: all")
    ca.add_argument("--older-than", default="30d", metavar="AGE", help="prune: not used for this long (30d, 12h, 90m)")
    ca.add_argument("--kind", choices=["encoder", "views", "converted", "ct2", "all"], default="all",
                    help="which caches prune/clear remove (leftovers of killed builds always go)")
    ca.add_argument("--dry-run", action="store_true", help="print what prune/clear would remove, remove nothing")

    sub.add_parser("locate", help="print where whisper-tui keeps profiles, models, data and runs")
    dr = sub.add_parser("doctor", help="check this machine: Python, torch, GPU, eSpeak, the bundled model, disk, "
                                        "profiles; exits 2 when a check fails")
    dr.add_argument("--json", action="store_true", help="print the checks as JSON (name, status, detail, fix)")
    sub.add_parser("tui", help="open the terminal app")
    return p


def _no_command_reason(command: str | None) -> str:
    if command is None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        return "no command given and no terminal to open the app in"
    return ("no command given: the engine's command line runs subcommands; the app opens with `whisper-tui` "
            "(no arguments, on a terminal) or `whisper-tui tui`")


def main(argv: list[str] | None = None) -> int:
    # OpenMP threads that spin while waiting made torch ~8x slower whenever anything else shared the
    # CPU (the TUI's own thread, a second job, another program): waiting threads should sleep.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None or args.command == "tui":
        # Opening the app is the launcher's choice (screens.launch, the `whisper-tui` script): the
        # engine knows no UI. Reaching here means no subcommand to run.
        parser.print_help(sys.stderr)
        say(f"\nerror: {_no_command_reason(args.command)}", err=True)
        return EXIT_USER
    from whisper_tui.cli import commands

    handler = getattr(commands, f"cmd_{args.command.replace('-', '_')}")
    try:
        return handler(args)
    except WhisperTuiError as exc:
        say(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        say("interrupted", err=True)
        return EXIT_CANCELLED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
