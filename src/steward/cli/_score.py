"""`steward score`: a model's predictions for every row of a Parquet or CSV file."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from steward.cli._output import (
    fields_grid,
    format_duration,
    format_number,
    note,
    print_json,
    stderr,
    stdout,
)
from steward.serve import ScoreResult
from steward.serve import score as score_file

ProgressCallback = Callable[[int, int | None], None]


def score(
    uri: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_URI",
            help="`models:/name@alias`, `models:/name/3`, `runs:/<run id>/model` or a package "
            "folder.",
        ),
    ],
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA",
            help="The rows to score: a Parquet (`.parquet`, `.pq`) or CSV (`.csv`, `.tsv`) file "
            "with the model's input columns.",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="PATH",
            help="The Parquet file to write (with `--cluster`: a folder of Parquet parts).",
        ),
    ],
    chunk_rows: Annotated[
        int,
        typer.Option(
            "--chunk-rows",
            metavar="N",
            min=1,
            help="Rows read and scored at a time; memory grows with it.",
        ),
    ] = 100_000,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="local|ADDRESS",
            help="Run on Dask: `local` starts a cluster of `--workers` processes on this "
            "machine; an address (`tcp://scheduler:8786`) uses that cluster, whose workers "
            "must see the input and output paths.",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", metavar="N", min=1, help="Worker processes of `--cluster local`."
        ),
    ] = 2,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the output if it exists.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Score a file with a model: write every row's prediction, with the model version.

    The file is read in chunks (memory stays bounded by `--chunk-rows`), each chunk is
    checked against the model's signature and scored, and the output is written as
    Parquet: `row` (the row's position in the input), the input's other columns (ids pass
    through), `prediction`, `proba_<class>` for each class of a classifier, and
    `model_version`. The output appears only when every row is scored; a failed job
    leaves none. The job is logged as a run in the experiment `batch-scoring`.

    With `--cluster`, the output is a folder of Parquet parts (pandas and pyarrow read
    it as one table); the model is sent to each worker and loaded once per worker.

    Example:

    ```
    steward score models:/churn@champion customers.parquet --out scored.parquet
    ```
    """
    caught: list[warnings.WarningMessage] = []
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            _progress(stderr(), data.name) as progress,
        ):
            warnings.simplefilter("always")
            result = score_file(
                uri,
                data,
                out,
                chunk_rows=chunk_rows,
                cluster=cluster,
                workers=workers,
                overwrite=overwrite,
                progress=progress,
            )
    finally:
        shown = {str(w.message) for w in caught if issubclass(w.category, UserWarning)}
        for message in sorted(shown):
            note(f"Warning: {message}", style="yellow")
    if as_json:
        print_json(result)
    else:
        render_result(stdout(), result)


@contextmanager
def _progress(console: Console, name: str) -> Iterator[ProgressCallback]:
    """Yield a callback that draws the rows scored (a bar when the total is known) on stderr."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    # Drawn on a terminal only: in a log file a live bar would be noise (and a stray newline).
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as progress:
        task = progress.add_task(f"Scoring {name}", total=None, rows="")

        def update(done: int, total: int | None) -> None:
            rows = f"{done:,} rows" if total is None else f"{done:,}/{total:,} rows"
            progress.update(task, completed=done, total=total, rows=rows)

        yield update


def render_result(console: Console, result: ScoreResult) -> None:
    """Print what a scoring job did: model, rows, speed, output and run."""
    if result.cluster is None:
        where = f"in process, {result.partitions} chunk(s)"
    else:
        cluster = "a local Dask cluster" if result.cluster == "local" else result.cluster
        where = f"on {cluster}, {result.partitions} partition(s)"
    loads = (
        ", ".join(f"{worker}: {n}" for worker, n in sorted(result.model_loads.items()))
        if result.model_loads
        else None
    )
    console.print(
        Text.assemble(
            ("Scored ", "bold"),
            (f"{result.rows:,} rows", "bold"),
            f" of {Path(result.input).name} with {result.version_label}",
        )
    )
    console.print(
        fields_grid(
            [
                ("Output", result.output),
                ("Time", format_duration(0.0, result.seconds)),
                ("Speed", f"{format_number(result.rows_per_second)} rows/s"),
                ("Ran", where),
                ("Model loads", loads),
                ("Run", result.run_id),
            ]
        )
    )
