"""`steward models export` and `steward models summary`: portable exports and model summaries."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

import steward
from steward.cli._models import app
from steward.cli._output import fields_grid, indented, new_table, note, print_json, stdout

EXPORT_INVALID = 9
_SOURCES = {
    "given": "given with --data",
    "dataset": "the dataset the version's run recorded",
    "sample": "sampled: no dataset was recorded (pass --data for real rows)",
}


@app.command("export")
def export(
    uri: Annotated[
        str, typer.Argument(metavar="URI", help="`models:/name/3` or `models:/name@alias`.")
    ],
    format: Annotated[
        str, typer.Option("--format", "-f", help="`onnx` or `pmml` (PMML needs Java).")
    ] = "onnx",
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="Data to check parity on: a file (CSV, Parquet, JSON...) or a dataset "
            "`name[@version]`. Default: the evaluation data the version's run read, else its "
            "training data, else the input example plus rows sampled within the signature.",
        ),
    ] = None,
    tolerance: Annotated[
        float | None, typer.Option(help="Largest absolute score difference allowed.")
    ] = None,
    rtol: Annotated[
        float | None, typer.Option(help="Relative tolerance added (default 1e-6 for regressors).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write the exported file here.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the parity report as JSON.")
    ] = False,
) -> None:
    """Export a version to ONNX or PMML, check its scores against the original, record both.

    The exported file and its parity report are stored with the version under
    `exports/<format>/`, and the version is tagged `export.<format>=valid|invalid`. Exits
    9 when the export's scores differ beyond the tolerance.

    Example:

    ```
    steward models export models:/churn@champion --format onnx --out churn.onnx
    ```
    """
    result = steward.export_model(uri, format, data=data, tolerance=tolerance, rtol=rtol)  # type: ignore[arg-type]
    report = result.report
    if out is not None:
        exported = next(f for f in result.files if not f.path.endswith((".json", ".md")))
        from steward import _backend

        _backend.get_backend().blobs.download(exported.sha256, out)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        console = stdout()
        verdict = ("valid", "bold green") if result.valid else ("NOT valid", "bold red")
        console.print(
            Text.assemble(
                f"{result.format.upper()} export of {result.model} version {result.version}: ",
                verdict,
            )
        )
        console.print(indented(Text(report.reason)))
        rows = [
            ("checked on", f"{report.rows} rows of {result.data}"),
            ("data source", _SOURCES[result.data_source]),
            ("max |Δ score|", f"{report.max_abs_score_diff:.3g}"),
            ("mean |Δ score|", f"{report.mean_abs_score_diff:.3g}"),
            ("rows over tolerance", str(report.rows_over_tolerance)),
            ("tolerance", f"{report.tolerance:g} + {report.rtol:g}·|score|"),
        ]
        if report.label_agreement is not None:
            rows.append(("label agreement", f"{report.label_agreement:.2%}"))
        if report.precision:
            rows.append(("precision", report.precision))
        console.print(indented(fields_grid(rows)))
        if report.worst_rows and not result.valid:
            table = new_table(title="worst rows")
            keys = list(report.worst_rows[0])
            for key in keys:
                table.add_column(str(key))
            for row in report.worst_rows:
                table.add_row(*[str(row[k]) for k in keys])
            console.print(indented(table))
        for line in report.notes[1:]:  # the first says what the rows above already say
            note(line)
        if out is not None:
            note(f"Wrote {out}")
    if not result.valid:
        raise typer.Exit(EXPORT_INVALID)


@app.command("summary")
def summary(
    uri: Annotated[
        str, typer.Argument(metavar="URI", help="`models:/name/3` or `models:/name@alias`.")
    ],
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the summary as an HTML page here.")
    ] = None,
) -> None:
    """Print a version's summary (Markdown) from what the registry records, or write HTML.

    Sections a person must write (intended use, sign-offs) are marked missing, never invented.

    Example:

    ```
    steward models summary models:/churn@champion --html churn.html
    ```
    """
    if html is not None:
        html.write_text(steward.model_summary(uri, format="html"), encoding="utf-8")
        stdout().print(f"Wrote {html}")
        return
    typer.echo(steward.model_summary(uri))


@app.command("card")
def card(
    uri: Annotated[
        str, typer.Argument(metavar="URI", help="`models:/name/3` or `models:/name@alias`.")
    ],
    target: Annotated[
        str | None,
        typer.Option(help="The label column (default: the data's one non-input column)."),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="Evaluation data: a file (CSV, Parquet, JSON...) or a dataset `name[@version]`. "
            "Default: the run's evaluation data, else its training data; without any, the "
            "card explains the model on sampled rows and marks evaluation data missing.",
        ),
    ] = None,
    segment: Annotated[
        list[str] | None,
        typer.Option("--segment", help="Column to break metrics down by (repeatable)."),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the HTML card here.")
    ] = None,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Attach the card to the version.")
    ] = True,
) -> None:
    """Build the model card of a version: details, data, metrics per segment, fairness,
    Shapley importance, partial dependence, environment and lineage.

    Sections a person must write (intended use, ethical considerations, caveats) come from
    the model's tags and are marked missing when absent. The card is attached to the
    version as `reports/model_card.md` and `.html`.

    Example:

    ```
    steward models card models:/churn@champion --segment region --html churn-card.html
    ```
    """
    from steward.explain import model_card

    built = model_card(uri, data=data, target=target, segments=segment, save=save)
    if html is not None:
        html.write_text(built.to_html(), encoding="utf-8")
    console = stdout()
    console.print(
        Text.assemble(
            "Model card of ",
            (f"{built.model} version {built.version}", "bold cyan"),
            f" ({built.seconds:.1f}s)",
        )
    )
    for flag in built.flags:
        console.print(Text("  ⚑ " + flag, style="yellow"))
    if built.missing:
        note("Missing (for a person to write): " + ", ".join(built.missing))
    for file in built.files:
        note(f"Attached {file.path}")
    if html is not None:
        note(f"Wrote {html}")
