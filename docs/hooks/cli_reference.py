"""MkDocs hook: the CLI reference is generated from the `digitrec` command itself at every
build, so it cannot drift from the code. A page that holds the marker gets it."""

from __future__ import annotations

MARKER = "<!-- digitrec-cli-reference -->"


def cli_reference() -> str:
    import typer
    from typer.cli import get_docs_for_click

    from digitrec.cli import app

    command = typer.main.get_command(app)
    # One level below the page's own title.
    return get_docs_for_click(obj=command, ctx=typer.Context(command), name="digitrec", indent=1).strip() + "\n"


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference())
