"""`steward models`: list and inspect registered models, move aliases, register and download."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

import steward
from steward._backend import get_backend
from steward.cli._output import (
    MISSING,
    fields_grid,
    format_number,
    format_size,
    format_time,
    format_value,
    format_when,
    indented,
    new_table,
    note,
    print_json,
    section,
    stdout,
)
from steward.cli._runs import resolve_run
from steward.errors import InvalidInput, NotFound, did_you_mean
from steward.registry import AliasMove, ColumnSpec, ModelFile, ModelVersion, version_differences

app = typer.Typer(
    name="models",
    help="List and inspect registered models, move their aliases, register and download versions.",
    rich_markup_mode="markdown",
    no_args_is_help=True,
)

KEY_METRICS = 3
CATEGORIES_SHOWN = 5
HISTORY_ROWS = 20
_SHORT_RUN_URI = re.compile(r"^runs:/(?P<run>[0-9a-f]{1,31})/(?P<path>.+)$")

Name = Annotated[str, typer.Argument(metavar="NAME", help="The registered model's name.")]


def _arrow(version: int | None) -> str:
    """Return a version as the end of an alias move: its number, or 'none' when unset."""
    return "none" if version is None else str(version)


def _aliases_text(aliases: dict[str, int]) -> str:
    return ", ".join(f"{alias}→{version}" for alias, version in aliases.items()) or MISSING


@app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print the models as JSON.")] = False,
) -> None:
    """List the registered models: latest version, aliases (alias→version), owners, last update.

    Example:

    ```
    steward models list
    ```
    """
    models = get_backend().list_registered_models()
    if as_json:
        print_json(models)
        return
    if not models:
        note(
            "No registered models yet. Register one with steward.log_model(model, "
            "registered_model_name=NAME), or: steward models register runs:/<run id>/model NAME"
        )
        return
    table = new_table()
    table.add_column("Name")
    table.add_column("Latest", justify="right")
    table.add_column("Aliases", overflow="fold")
    table.add_column("Owners", overflow="fold")
    table.add_column("Updated", no_wrap=True)
    for model in models:
        table.add_row(
            Text(model.name, style="bold"),
            Text(f"v{model.latest_version}" if model.latest_version else MISSING),
            Text(_aliases_text(model.aliases)),
            Text(", ".join(model.owners)),
            Text(format_time(model.updated_at)),
        )
    stdout().print(table)


@app.command("show")
def show_model(
    name: Name,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the model and its alias history as JSON.")
    ] = False,
) -> None:
    """Show a registered model: description, owners, tags, its aliases and who moved them when and why.

    To see one version in full, use `steward models version`.

    Example:

    ```
    steward models show churn
    ```
    """
    backend = get_backend()
    model = backend.get_registered_model(name)
    history = backend.get_alias_history(name)
    versions = backend.list_model_versions(name)
    if as_json:
        print_json({**model.model_dump(mode="json"), "alias_history": history})
        return
    console = stdout()
    count = f"{len(versions)} version{'' if len(versions) == 1 else 's'}"
    latest = f", latest {model.latest_version}" if model.latest_version else ""
    console.print(
        Text.assemble(("Model ", "bold"), (model.name, "bold cyan"), f"  {count}{latest}")
    )
    console.print(
        indented(
            fields_grid(
                [
                    ("description", model.description or Text("none", style="dim")),
                    ("owners", ", ".join(model.owners)),
                    ("created", f"{format_time(model.created_at)} by {model.created_by}"),
                    ("updated", format_time(model.updated_at)),
                ]
            )
        )
    )
    tags = model.tags
    section(console, "Tags", fields_grid(sorted(tags.items())) if tags else None)
    section(console, "Aliases", _aliases_table(model.aliases, history) if model.aliases else None)
    shown = history[-HISTORY_ROWS:]
    title = "Alias history" + (
        f" (last {len(shown)} of {len(history)})" if len(shown) < len(history) else ""
    )
    section(console, title, _history_table(shown) if shown else None)
    if len(shown) < len(history):
        note("--json lists the whole alias history.")
    if not model.aliases and versions:
        note(
            f"Point an alias at a version with: steward models alias {name} champion {versions[0].version}"
        )


def _aliases_table(aliases: dict[str, int], history: list[AliasMove]) -> Table:
    last = {move.alias: move for move in history}
    table = new_table()
    for column in ("alias", "version", "since", "by", "reason"):
        table.add_column(column, justify="right" if column == "version" else "left")
    for alias, version in aliases.items():
        move = last.get(alias)
        table.add_row(
            Text(alias, style="bold"),
            Text(str(version)),
            Text(format_time(move.time) if move else MISSING),
            Text(move.actor if move else MISSING),
            Text(move.reason if move else ""),
        )
    return table


def _history_table(moves: list[AliasMove]) -> Table:
    table = new_table()
    for column in ("when", "alias", "change", "by", "reason"):
        table.add_column(column, overflow="fold")
    for move in moves:
        change = Text(f"{_arrow(move.from_version)} → {_arrow(move.to_version)}")
        if move.to_version is None:
            change.append(" (removed)", style="yellow")
        table.add_row(
            Text(format_time(move.time)),
            Text(move.alias),
            change,
            Text(move.actor),
            Text(move.reason),
        )
    return table


@app.command("versions")
def list_versions(
    name: Name,
    show_all: Annotated[
        bool, typer.Option("--all", "-a", help="Include deleted versions (marked).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the versions with their manifests as JSON.")
    ] = False,
) -> None:
    """List the versions of a model, newest first, with their aliases, run and key metrics.

    Example:

    ```
    steward models versions churn --all
    ```
    """
    versions = get_backend().list_model_versions(name, include_deleted=show_all)
    if as_json:
        print_json(versions)
        return
    if not versions:
        note(
            f"Model {name!r} has no versions" + ("." if show_all else "; --all shows deleted ones.")
        )
        return
    counts = Counter(key for v in versions for key in v.manifest.metrics)
    metrics = [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:KEY_METRICS]
    table = new_table(collapse_padding=True)
    table.add_column("Version", justify="right", no_wrap=True)
    table.add_column("Flavor", no_wrap=True)
    table.add_column("Created", no_wrap=True)
    table.add_column("By")
    table.add_column("Run", no_wrap=True, style="dim")
    table.add_column("Aliases", overflow="fold")
    for key in metrics:
        table.add_column(key, justify="right", no_wrap=True, overflow="ellipsis")
    table.add_column("Source", overflow="fold")
    for v in versions:
        label = Text(str(v.version))
        if v.deleted:
            label.append(" deleted", style="red")
        table.add_row(
            label,
            Text(v.flavor),
            Text(format_when(v.created_at)),
            Text(v.created_by),
            Text(v.run_id[:8] if v.run_id else MISSING),
            Text(", ".join(v.aliases) or MISSING, style="bold" if v.aliases else ""),
            *[Text(format_value(v.manifest.metrics.get(key), digits=4)) for key in metrics],
            Text(v.source),
            style="dim" if v.deleted else None,
        )
    stdout().print(table)


@app.command("version")
def show_version(
    target: Annotated[
        str,
        typer.Argument(
            metavar="URI_OR_NAME",
            help="A `models:/name/3` or `models:/name@alias` URI, or a model's name.",
        ),
    ],
    version: Annotated[
        str | None,
        typer.Argument(
            metavar="VERSION",
            help="With a name: a version number, an alias or `latest` (the default).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the version, manifest and files as JSON.")
    ] = False,
) -> None:
    """Show one model version in full: manifest, signature, output, requirements, lineage, files.

    Requirements whose installed version differs from the pinned one are marked; so are
    inputs the training data marked sensitive. A deleted version can be shown by number.

    Example:

    ```
    steward models version models:/churn@champion
    steward models version churn 3
    ```
    """
    found = _find_version(target, version)
    if as_json:
        print_json(found)
        return
    latest = get_backend().get_registered_model(found.model).latest_version
    _render_version(stdout(), found, latest)


def _find_version(target: str, version: str | None) -> ModelVersion:
    """Return the version a URI, or a name and a version number / alias, names."""
    if target.startswith("models:"):
        if version is not None:
            raise InvalidInput(
                f"Give either a URI or a name and a version, not both: got {target!r} and "
                f"{version!r}. Write models:/name/3, or: NAME 3."
            )
        return steward.get_model_version(target)
    if "/" in target or "@" in target:
        raise InvalidInput(
            f"{target!r} is neither a model name nor a models:/ URI. Write "
            "models:/name/3, models:/name@alias, or a name and a version: churn 3."
        )
    ref = (version or "latest").strip()
    if not ref.isdigit():
        return steward.get_model_version(f"models:/{target}@{ref}")
    try:
        return get_backend().get_model_version(target, int(ref))
    except NotFound:
        # A deleted version stays readable by number, for audits.
        every = get_backend().list_model_versions(target, include_deleted=True)
        deleted = next((v for v in every if v.version == int(ref) and v.deleted), None)
        if deleted is None:
            raise
        return deleted


def _render_version(console: Console, v: ModelVersion, latest: int | None) -> None:
    manifest = v.manifest
    where = " (latest)" if v.version == latest and not v.deleted else ""
    console.print(
        Text.assemble(
            ("Model ", "bold"),
            (v.model, "bold cyan"),
            (f" version {v.version}", "bold cyan"),
            where,
            (f"  {v.uri}", "dim"),
        )
    )
    cls = manifest.flavor_options.get("class")
    sensitive = manifest.uses_sensitive_columns
    rows: list[tuple[str, Any]] = [
        ("status", Text("deleted", style="bold red") if v.deleted else None),
        (
            "aliases",
            Text(", ".join(v.aliases), style="bold") if v.aliases else Text("none", style="dim"),
        ),
        ("flavor", f"{manifest.flavor} ({cls})" if cls else manifest.flavor),
        ("methods", ", ".join(manifest.methods) or MISSING),
        ("python", manifest.python),
        ("run", v.run_id or Text("none recorded", style="dim")),
        ("source", v.source),
        ("created", f"{format_time(v.created_at)} by {v.created_by}"),
        ("description", v.description or None),
        ("manifest", f"sha256:{v.manifest_sha256}"),
        (
            "sensitive",
            Text(f"⚠ uses sensitive columns: {', '.join(sensitive)}", style="bold red")
            if sensitive
            else None,
        ),
    ]
    console.print(indented(fields_grid(rows)))
    signature = manifest.signature
    inputs = f"Signature ({len(signature.inputs)} input columns)" if signature else "Signature"
    section(
        console, inputs, _signature_table(signature.inputs, set(sensitive)) if signature else None
    )
    if signature:
        out = signature.output
        classes = ", ".join(str(c) for c in out.classes) if out.classes is not None else None
        section(
            console,
            "Output",
            fields_grid([("task", out.task), ("classes", classes), ("dtype", out.dtype or None)]),
        )
    section(console, "Requirements", _requirements_table(v) if manifest.requirements else None)
    section(console, "Datasets", _datasets_table(v) if manifest.datasets else None)
    metrics = sorted(manifest.metrics.items())
    section(
        console,
        "Metrics",
        fields_grid([(k, format_value(value)) for k, value in metrics]) if metrics else None,
    )
    package = [f for f in v.files if f.kind == "package"]
    exports = [f for f in v.files if f.kind == "export"]
    total = format_size(sum(f.size for f in package))
    section(console, f"Files ({len(package)}, {total})", _files_table(package) if package else None)
    section(console, "Exports", _files_table(exports) if exports else None)
    if v.tags:
        section(console, "Tags", fields_grid(sorted(v.tags.items())))


def _signature_table(columns: list[ColumnSpec], sensitive: set[str]) -> Table:
    table = new_table()
    for name in ("column", "kind", "dtype", "nullable", "range or categories"):
        table.add_column(name, overflow="fold")
    for col in columns:
        label = Text(col.name)
        if col.name in sensitive:
            label.append(" ⚠ sensitive", style="bold red")
        table.add_row(
            label,
            Text(col.kind),
            Text(col.dtype),
            Text("yes" if col.nullable else "no"),
            Text(_seen(col)),
        )
    return table


def _seen(col: ColumnSpec) -> str:
    """Return what training saw of a column: its range, or its first categories."""
    if col.categories is not None:
        shown = ", ".join(col.categories[:CATEGORIES_SHOWN])
        rest = len(col.categories) - CATEGORIES_SHOWN
        return shown + (f" (+{rest} more)" if rest > 0 else "")
    if col.min is not None and col.max is not None:
        return f"{format_number(col.min)} to {format_number(col.max)}"
    return MISSING


def _requirements_table(v: ModelVersion) -> Table:
    differences: dict[str, str] = {}
    for line in version_differences(v.manifest):
        dist, _, detail = line.partition(": ")
        differences[dist] = detail
    table = new_table()
    table.add_column("library")
    table.add_column("pinned")
    table.add_column("installed here")
    for dist, pinned in sorted(v.manifest.requirements.items(), key=lambda kv: kv[0].lower()):
        mark = (
            Text(f"≠ {differences[dist]}", style="yellow")
            if dist in differences
            else Text("✓ same", style="green")
        )
        table.add_row(Text(dist), Text(pinned), mark)
    return table


def _datasets_table(v: ModelVersion) -> Table:
    table = new_table()
    for name in ("dataset", "version", "context", "content hash"):
        table.add_column(name)
    for ref in v.manifest.datasets:
        table.add_row(
            Text(ref.dataset),
            Text(str(ref.version)),
            Text(ref.context),
            Text(ref.content_hash[:12], style="dim"),
        )
    return table


def _files_table(files: list[ModelFile]) -> Table:
    table = new_table()
    table.add_column("path", overflow="fold")
    table.add_column("size", justify="right")
    table.add_column("sha256", style="dim")
    for f in files:
        table.add_row(Text(f.path), Text(format_size(f.size)), Text(f.sha256[:12]))
    return table


@app.command("alias")
def move_alias(
    name: Name,
    alias: Annotated[str, typer.Argument(metavar="ALIAS", help="The alias, e.g. `champion`.")],
    version: Annotated[
        int | None,
        typer.Argument(
            metavar="VERSION",
            help="The version the alias should point at (omit with --delete).",
            show_default=False,
        ),
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
    reason: Annotated[
        str,
        typer.Option("--reason", "-r", metavar="TEXT", help="Why: kept in the alias history."),
    ] = "",
    expect: Annotated[
        int | None,
        typer.Option(
            "--expect",
            metavar="N",
            min=0,
            help="Move only if the alias points at version N now (0: not set yet); "
            "otherwise fail with exit 4, because someone moved it meanwhile.",
        ),
    ] = None,
) -> None:
    """Point an alias of a model at a version, or remove it; the move is recorded with who and why.

    Prints the move, such as `champion: 2 → 3`.

    Example:

    ```
    steward models alias churn champion 3 --expect 2 --reason "auc 0.91 on March data"
    steward models alias churn challenger --delete --reason "experiment over"
    ```
    """
    if delete:
        if version is not None or expect is not None:
            raise InvalidInput(
                "--delete removes the alias: give no VERSION and no --expect, as in "
                f"steward models alias {name} {alias} --delete."
            )
        try:
            move = steward.delete_alias(name, alias, reason=reason)
        except NotFound as exc:
            known = get_backend().get_registered_model(name).aliases
            if alias in known:
                raise
            raise NotFound(
                f"{exc.message}{did_you_mean(alias, known)} "
                f"Its aliases are: {', '.join(known) or 'none'}."
            ) from None
    else:
        if version is None:
            raise InvalidInput(
                f"Give the VERSION the alias should point at, as in steward models alias "
                f"{name} {alias} 3, or --delete to remove it."
            )
        move = steward.set_alias(name, alias, version, reason=reason, expected_version=expect)
    stdout().print(
        Text.assemble(
            (f"{move.alias}: ", "bold"),
            f"{_arrow(move.from_version)} → {_arrow(move.to_version)}",
        )
    )
    if move.to_version is None:
        note(f"Removed alias {alias!r} of model {name!r}.")
    elif move.from_version == move.to_version:
        note(f"Alias {alias!r} already pointed at version {version}; the move is recorded anyway.")


def _expand_run_uri(uri: str) -> str:
    """Return ``uri`` with a run id prefix (``runs:/3f2a9c1b/model``) replaced by the full id."""
    match = _SHORT_RUN_URI.match(uri)
    if match is None:
        return uri
    return f"runs:/{resolve_run(match['run']).id}/{match['path']}"


@app.command("register")
def register(
    uri: Annotated[
        str,
        typer.Argument(
            metavar="URI",
            help="A logged package: `runs:/<run id>/model` (a unique id prefix will do) or a "
            "package folder.",
        ),
    ],
    name: Name,
    description: Annotated[
        str,
        typer.Option("--description", "-d", metavar="TEXT", help="What this version is."),
    ] = "",
) -> None:
    """Register a logged model package as a new version of a model (created if new).

    Example:

    ```
    steward models register runs:/3f2a9c1b/model churn -d "gradient boosting, March data"
    ```
    """
    created = steward.register_model(_expand_run_uri(uri), name, description=description)
    stdout().print(
        Text.assemble(
            "Registered ",
            (f"{created.model} version {created.version}", "bold cyan"),
            f" ({created.flavor}) from {created.source}",
        ),
        soft_wrap=True,
    )
    note(
        f"Point an alias at it with: steward models alias {created.model} champion {created.version}"
    )


@app.command("download")
def download(
    uri: Annotated[
        str,
        typer.Argument(
            metavar="URI",
            help="`models:/name/3`, `models:/name@alias`, `models:/name/latest` or "
            "`runs:/<run id>/model`.",
        ),
    ],
    dest: Annotated[
        Path, typer.Argument(metavar="DEST", help="A new or empty folder to copy the package to.")
    ],
) -> None:
    """Download a model's package (every file checked against its sha256) into a folder.

    Example:

    ```
    steward models download models:/churn@champion ./churn-model
    ```
    """
    if dest.exists() and not dest.is_dir():
        raise InvalidInput(f"{str(dest)!r} is a file; DEST must be a new or empty folder.")
    folder = steward.download_model(_expand_run_uri(uri), dest)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    console = stdout()
    console.print(Text.assemble("Downloaded ", (uri, "bold cyan"), f" to {folder}"), soft_wrap=True)
    table = new_table()
    table.add_column("path", overflow="fold")
    table.add_column("size", justify="right")
    for path in files:
        table.add_row(
            Text(path.relative_to(folder).as_posix()), Text(format_size(path.stat().st_size))
        )
    console.print(indented(table))
