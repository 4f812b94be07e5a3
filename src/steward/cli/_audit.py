"""`steward audit`: verify the hash-chained audit log, and export a period of it for auditors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.text import Text

from steward import govern
from steward.cli._output import note, print_json, stdout
from steward.errors import IntegrityError, InvalidInput

app = typer.Typer(
    name="audit",
    help="The audit log: every change, hash-chained. Verify it; export it for auditors.",
    rich_markup_mode="markdown",
    no_args_is_help=True,
)

Format = Literal["html", "json", "csv"]


def parse_time(text: str, option: str) -> float:
    """Return a Unix time from '2026-11-01', '2026-11-01T09:30', '...+02:00' (UTC unless
    given) or a Unix time itself."""
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{option} takes a date or time such as 2026-11-01 or 2026-11-01T09:30 (UTC unless "
            f"an offset is given) or a Unix time; got {text!r}."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


@app.command("verify")
def verify(
    anchor: Annotated[
        str | None,
        typer.Option(
            "--anchor",
            metavar="ID:HASH",
            help="The head of an earlier verification or report: that row must still carry "
            "that hash (catches a rewritten or truncated log).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the verification as JSON.")
    ] = False,
) -> None:
    """Verify the audit log's hash chain; name the first broken row and exit 7 if it is broken.

    Every row carries sha256(previous row's hash + its own content). An edited row, a
    deleted one (a gap the chain does not bridge) or one inserted by hand is found and
    named. Keep the printed head: `--anchor` proves later that nothing up to it changed.

    Example:

    ```
    steward audit verify --anchor 1234:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    ```
    """
    result = govern.verify_audit(anchor)
    if as_json:
        print_json(result)
    elif result.ok:
        console = stdout()
        console.print(Text.assemble(("✓ ", "bold green"), result.summary), soft_wrap=True)
        if result.head_id is not None:
            note(f"Anchor to keep: {result.head_id}:{result.head_hash}")
    else:
        console = stdout()
        console.print(
            Text(f"✗ The audit chain is broken ({len(result.problems)} problem(s)):", "bold red")
        )
        for problem in result.problems:
            console.print(
                Text.assemble(
                    "  - ", (f"row {problem.row_id} {problem.kind}: ", "bold"), problem.message
                ),
                soft_wrap=True,
            )
    if not result.ok:
        first = result.problems[0]
        raise IntegrityError(
            f"The audit log does not verify: {first.message} Restore the events table from a "
            "backup and compare it with this store to see what changed."
        )


@app.command("export")
def export(
    start: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="WHEN", help="The period's start (UTC unless an offset is given)."
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", metavar="WHEN", help="The period's end, excluded."),
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="html (a report to read), json or csv.")
    ] = "html",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write here (default: standard output)."
        ),
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", metavar="USER", help="Only this person's changes.")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(
            "--action", metavar="PREFIX", help="Only actions starting with this, e.g. `dataset.`."
        ),
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option(
            "--entity",
            metavar="TYPE[:ID]",
            help="Only changes to this entity, e.g. `run` or `deployment:churn`.",
        ),
    ] = None,
) -> None:
    """Export the audit log of a period for auditors: the chain's verification, then each change.

    The HTML report counts changes by action and by actor and lists every one; JSON and
    CSV keep every payload and both hashes of each row. Each report carries the anchor
    to verify against later.

    Example:

    ```
    steward audit export --from 2026-10-01 --to 2026-11-01 -o audit-october.html
    ```
    """
    entity_type, _, entity_id = (entity or "").partition(":")
    begin = parse_time(start, "--from") if start else None
    finish = parse_time(end, "--to") if end else None
    if begin is not None and finish is not None and finish <= begin:
        raise InvalidInput(f"--to ({end}) must come after --from ({start}).")
    report = govern.export_audit(
        start=begin,
        end=finish,
        fmt=fmt,
        actor=actor,
        action=action,
        entity_type=entity_type or None,
        entity_id=entity_id or None,
    )
    if output is None:
        typer.echo(report, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report, encoding="utf-8")
    note(f"Wrote the audit report to {output}")
