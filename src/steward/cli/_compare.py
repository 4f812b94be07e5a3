"""`steward models compare`: champion against challenger on the same labeled rows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from steward.cli._models import app
from steward.cli._output import new_table, note, print_json, stdout

VERDICT_STYLE = {
    "challenger better": "bold green",
    "champion better": "bold yellow",
    "no clear difference": "bold",
    "review": "bold red",
}


@app.command("compare")
def compare(
    champion: Annotated[
        str, typer.Argument(help="The current model, e.g. models:/churn@champion.")
    ],
    challenger: Annotated[str, typer.Argument(help="The candidate, e.g. models:/churn/4.")],
    data: Annotated[
        str | None,
        typer.Option(
            help="Labeled rows: a file (.parquet, .csv) or a dataset name such as holdout@2. "
            "Default: the champion's evaluation dataset."
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="The label column (default: inferred).")
    ] = None,
    segment: Annotated[
        list[str] | None, typer.Option("--segment", help="Compare within each value of a column.")
    ] = None,
    min_agreement: Annotated[
        float, typer.Option(help="Below this share of equal predictions the verdict is 'review'.")
    ] = 0.9,
    report: Annotated[Path | None, typer.Option(help="Also write the report (HTML) here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Compare two versions on the same rows: each metric's difference with a paired bootstrap
    interval, McNemar's test for accuracy, per-segment differences, how often they agree,
    and a verdict (challenger better, champion better, no clear difference, or review when
    they disagree too often for a script to decide).

    Example:

    ```
    steward models compare models:/churn@champion models:/churn/4 --data holdout.parquet
    steward models compare models:/churn@champion models:/churn/4 --segment region --report cmp.html
    ```
    """
    from steward.iterate import compare_models
    from steward.report import html_page

    result = compare_models(
        champion,
        challenger,
        data=data,
        target=target,
        segments=segment,
        min_agreement=min_agreement,
    )
    if report is not None:
        report.write_text(html_page(result.to_markdown(), "Champion and challenger"), "utf-8")
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    out = stdout()
    out.print(
        Text.assemble(
            (f"{challenger} against {champion}: ", "bold"),
            (result.verdict, VERDICT_STYLE[result.verdict]),
        )
    )
    out.print(
        f"{result.rows:,} rows of {result.data} (target {result.target}); "
        f"they agree on {result.agreement:.1%}."
    )
    table = _table("metric", "champion", "challenger", "difference", "95% interval", "p")
    for m in result.metrics:
        table.add_row(
            m.metric,
            f"{m.champion:.4f}",
            f"{m.challenger:.4f}",
            f"{m.difference:+.4f}",
            f"[{m.ci_low:+.4f}, {m.ci_high:+.4f}]",
            "" if m.p_value is None else f"{m.p_value:.3g}",
        )
    out.print(table)
    if result.segments:
        seg = _table("column", "value", "rows", "champion", "challenger", "difference")
        for s in result.segments:
            seg.add_row(
                s.column,
                s.value,
                str(s.rows),
                "n/a" if s.champion is None else f"{s.champion:.4f}",
                "n/a" if s.challenger is None else f"{s.challenger:.4f}",
                "n/a" if s.difference is None else f"{s.difference:+.4f}",
            )
        out.print(seg)
    for reason in result.reasons[1:]:
        note(reason)
    if report is not None:
        note(f"Report: {report}")


def _table(*columns: str) -> Table:
    table = new_table()
    for column in columns:
        table.add_column(column)
    return table
