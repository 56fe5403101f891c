"""The `digitrec` command: parses arguments and calls the library, nothing more."""

from __future__ import annotations

import sys

import typer

from digitrec import __version__
from digitrec.cli import data_cmds, predict_cmds, review_cmds, serve_cmds, train_cmds
from digitrec.cli.common import err
from digitrec.errors import DigitrecError

app = typer.Typer(
    name="digitrec",
    help="Handwritten-digit recognition: data, training, evaluation and Kaggle, from one command.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"digitrec {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool | None = typer.Option(None, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Handwritten-digit recognition: data, training, evaluation and Kaggle, from one command."""


app.add_typer(data_cmds.app, name="data")
app.command("recipes")(train_cmds.recipes)
app.command("train")(train_cmds.train)
app.command("evaluate")(train_cmds.evaluate)
app.command("report")(train_cmds.report)
app.command("kfold")(train_cmds.kfold)
app.command("ensemble")(train_cmds.ensemble)
app.command("compare")(train_cmds.compare)
app.command("predict")(predict_cmds.predict)
app.command("calibrate")(review_cmds.calibrate)
app.command("review")(review_cmds.review)
app.command("export")(serve_cmds.export)
app.command("serve")(serve_cmds.serve)
app.add_typer(train_cmds.kaggle_app, name="kaggle")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code. Errors become one line on stderr."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # Standalone mode: typer itself reports usage errors (exit 2) and --help.
        app(args=args, prog_name="digitrec")
        return 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except DigitrecError as e:
        if debug:
            raise
        err.print(f"error: {e}", markup=False)
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as e:  # a bug: say so plainly, and how to get details
        if debug:
            raise
        err.print(f"error: unexpected {type(e).__name__}: {e} (rerun with --debug for the traceback)", markup=False)
        return 1
