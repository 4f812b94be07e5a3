"""`steward whatif`: vary features of one row and see a model's prediction change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.text import Text

import steward
from steward.cli._output import (
    fields_grid,
    format_value,
    indented,
    new_table,
    note,
    print_json,
    stdout,
)
from steward.errors import InvalidInput
from steward.explain import FlipResult, smallest_flip, what_if
from steward.registry import LoadedModel


def whatif(
    uri: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_URI",
            help="`models:/name/3`, `models:/name@alias` or `runs:/<run id>/model`.",
        ),
    ],
    row: Annotated[
        str | None,
        typer.Option(
            "--row",
            metavar="JSON",
            help='The row as a JSON object of input values, e.g. `{"age": 42, "plan": "b"}`.',
        ),
    ] = None,
    row_file: Annotated[
        Path | None,
        typer.Option(
            "--row-file",
            metavar="PATH",
            help="A JSON file holding the row: an object, or a list of one object.",
        ),
    ] = None,
    changes: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            metavar="FEATURE=V1,V2",
            help="Values to try for a feature (comma-separated, or a JSON list). Repeat for "
            "several features: every combination is tried.",
        ),
    ] = None,
    flip: Annotated[
        str | None,
        typer.Option(
            "--flip",
            metavar="FEATURE",
            help="Also find the smallest change of this feature that changes a classifier's "
            "decision.",
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            metavar="NAME[@VERSION]",
            help="A dataset giving --flip the feature's range or categories, when the model's "
            "signature records none.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the variations and the flip as JSON.")
    ] = False,
) -> None:
    """Predict one row with features changed, and find the change that flips the decision.

    Each `--set` value is tried in turn (with several `--set`, every combination); the
    table shows the prediction, the score (P(positive class) for a classifier) and its
    change from the original row, with changed predictions highlighted. `--flip` searches
    the range (or the categories) the model saw in training.

    Example:

    ```
    steward whatif models:/churn@champion --row '{"age": 42, "plan": "b", "tenure": 10}' \\
        --set tenure=5,20,40 --flip tenure
    ```
    """
    model = steward.load_model(uri)
    values = _row(row, row_file)
    wanted = dict(_change(model, item) for item in changes or [])
    frame = what_if(model, values, wanted)
    found = smallest_flip(model, values, flip, data=data) if flip else None
    if as_json:
        print_json(
            {
                "model": frame.attrs["model"],
                "score": frame.attrs["score"],
                "variations": json.loads(frame.to_json(orient="records")),
                "flip": None if found is None else _flip_json(found),
            }
        )
        return
    console = stdout()
    _print_variations(console, frame)
    if found is not None:
        _print_flip(console, found)
    if not wanted and found is None:
        note("Vary features with --set FEATURE=V1,V2, or find a decision boundary with --flip.")


def _row(text: str | None, path: Path | None) -> dict[str, Any]:
    if (text is None) == (path is None):
        raise InvalidInput(
            "Give the row with --row '{\"age\": 42, ...}' or --row-file row.json (one of them)."
        )
    where = "--row" if path is None else f"--row-file {str(path)!r}"
    if path is not None:
        if not path.is_file():
            raise InvalidInput(f"--row-file {str(path)!r} is not a file.")
        text = path.read_text()
    try:
        value = json.loads(text or "")
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{where} must hold a JSON object of input values, as in "
            f'{{"age": 42, "plan": "b"}}; it is not valid JSON: {exc.msg} at line {exc.lineno} '
            f"column {exc.colno}."
        ) from None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{where} must hold one JSON object of input values, as in "
            f'{{"age": 42, "plan": "b"}}; got a JSON {type(value).__name__}.'
        )
    return value


def _change(model: LoadedModel, item: str) -> tuple[str, list[Any]]:
    """Return (feature, values) from ``FEATURE=V1,V2`` (or ``FEATURE=[JSON list]``)."""
    name, sep, text = item.partition("=")
    name = name.strip()
    if not sep or not name or not text.strip():
        raise InvalidInput(f"--set takes FEATURE=V1,V2,... as in --set age=30,40,50; got {item!r}.")
    text = text.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"--set {name}=[...] must be a JSON list; {exc.msg} at column {exc.colno}."
            ) from None
        return name, parsed if isinstance(parsed, list) else [parsed]
    spec = model.signature.column(name) if model.signature else None
    textual = spec is not None and spec.kind in {"categorical", "text"}
    return name, [_value(part.strip(), textual) for part in text.split(",")]


def _value(text: str, textual: bool) -> Any:
    """Return a number, boolean or null when the text is one (and the column is not text)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if textual:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _print_variations(console: Console, frame: pd.DataFrame) -> None:
    columns = frame.attrs["columns"]
    varied: list[str] = frame.attrs["varied"]
    score = frame.attrs["score"]
    console.print(
        Text.assemble(
            ("What if: ", "bold"), (frame.attrs["model"], "bold cyan"), f", score {score}"
        )
    )
    table = new_table()
    table.add_column("")
    for name in varied:
        table.add_column(name)
    table.add_column("prediction")
    table.add_column(score, justify="right")
    table.add_column("Δ", justify="right")
    prediction, scores, delta = (frame[columns[c]] for c in ("prediction", "score", "delta"))
    changed = frame[columns["prediction_changed"]]
    for i in range(len(frame)):
        first = i == 0
        cells = [frame[name].iloc[i] for name in varied]
        mark = Text("original", style="dim") if first else Text("")
        predicted = Text(format_value(_plain(prediction.iloc[i])))
        if changed.iloc[i]:
            predicted.stylize("bold yellow")
            predicted.append(" ←", style="bold yellow")
        step = float(delta.iloc[i])
        table.add_row(
            mark,
            *(Text(format_value(_plain(v)), style="dim" if first else "") for v in cells),
            predicted,
            Text(format_value(float(scores.iloc[i]), 4)),
            Text(
                "" if first else f"{step:+.4g}",
                style="green" if step > 0 else "red" if step < 0 else "",
            ),
        )
    console.print(table)
    count = int(changed.sum())
    if len(frame) > 1:
        note(
            f"{count} of {len(frame) - 1} variation(s) change the prediction; other inputs are as "
            "in the row.",
            style="yellow" if count else "dim",
        )


def _print_flip(console: Console, found: FlipResult) -> None:
    flip = found.flip
    body: list[tuple[str, Any]] = [
        ("searched", found.searched),
        (
            "original",
            f"{found.feature} = {format_value(found.original_value)} → "
            f"{format_value(found.original_class)}"
            f"{_chance(found.original_class, found.original_probability)}",
        ),
    ]
    if flip is not None:
        body.append(
            (
                "flips at",
                Text(
                    f"{found.feature} = {format_value(flip.value)} → "
                    f"{format_value(flip.new_class)}{_chance(flip.new_class, flip.probability)}",
                    style="bold yellow",
                ),
            )
        )
        if flip.change is not None:
            body.append(("change", f"{flip.change:+.6g}"))
            body.append(("still original at", format_value(flip.keeps)))
    console.print()
    console.print(
        Text(f"Smallest change of {found.feature} that flips the decision", style="bold underline")
    )
    console.print(indented(Text(found.message)))
    console.print(indented(fields_grid(body)))
    if found.kind == "categorical" and len(found.flips) > 1:
        table = new_table()
        for name in (found.feature, "prediction", "probability", "Δ P(original)"):
            table.add_column(name)
        for item in found.flips:
            table.add_row(
                Text(format_value(item.value)),
                Text(format_value(item.new_class)),
                Text(format_value(item.probability, 4)),
                Text(format_value(item.probability_change, 4)),
            )
        console.print(indented(table))


def _flip_json(found: FlipResult) -> dict[str, Any]:
    def flip(item: Any) -> dict[str, Any]:
        return {
            "value": item.value,
            "new_class": item.new_class,
            "probability": item.probability,
            "probability_change": item.probability_change,
            "change": item.change,
            "keeps": item.keeps,
        }

    return {
        "feature": found.feature,
        "kind": found.kind,
        "original_value": found.original_value,
        "original_class": found.original_class,
        "original_probability": found.original_probability,
        "searched": found.searched,
        "message": found.message,
        "flip": None if found.flip is None else flip(found.flip),
        "flips": [flip(f) for f in found.flips],
    }


def _chance(cls: Any, probability: float | None) -> str:
    return "" if probability is None else f" (P({cls}) = {probability:.3g})"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
