"""The root `steward` command: its command groups, `--version`, and how errors are shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from steward._version import __version__
from steward.cli import (
    _ab,
    _audit,
    _build_image,
    _compare,
    _datasets,
    _deploy,
    _govern,
    _iterate_reports,
    _lineage,
    _model_exports,
    _models,
    _monitor,
    _reproduce,
    _retrain,
    _runs,
    _score,
    _serve,
    _server,
    _store,
    _users,
    _whatif,
)
from steward.cli._output import print_error
from steward.errors import StewardError

if TYPE_CHECKING:
    from typer._click import (
        Context,  # Typer vendors click; its Context is the base of typer.Context
    )


COMMAND_ORDER = (
    "runs",
    "reproduce",
    "datasets",
    "models",
    "whatif",
    "serve",
    "deploy",
    "monitor",
    "score",
    "build-image",
    "ui",
    "server",
    "users",
    "lineage",
    "audit",
    "store",
)


class StewardGroup(TyperGroup):
    """The root group: a StewardError from any command becomes `Error: ...` and its exit code."""

    def list_commands(self, ctx: Context) -> list[str]:
        """Return the commands in the order of the life cycle, as --help and the docs list them."""
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(super().list_commands(ctx), key=lambda name: rank.get(name, len(rank)))

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except StewardError as exc:
            print_error(exc.message)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    name="steward",
    cls=StewardGroup,
    rich_markup_mode="markdown",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals of a crash may hold credentials
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"steward {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Steward: track, compare and govern machine-learning runs, datasets and models.

    Works on the local store (`STEWARD_HOME`, default `~/.steward`), or on a team server
    when `STEWARD_URI` is set. Every command takes `--help`.

    Example:

    ```
    steward runs list --filter "metrics.auc > 0.9" --order-by "metrics.auc DESC"
    ```
    """


app.add_typer(_runs.app)
app.add_typer(_datasets.app)
app.add_typer(_models.app)  # with the commands _model_exports adds to it
_ = _model_exports, _compare
app.command("server")(_server.serve)
app.command("ui")(_server.ui)
app.command("whatif")(_whatif.whatif)
app.command("serve")(_serve.serve)
app.add_typer(_deploy.app)
app.add_typer(_monitor.app)
app.command("score")(_score.score)
app.command("build-image")(_build_image.build_image)
app.command("reproduce")(_reproduce.reproduce)
app.add_typer(_store.app)
app.add_typer(_users.app)
app.add_typer(_lineage.app)
app.add_typer(_audit.app)
app.command("validate")(_govern.validate)
app.add_typer(_govern.policy_app)
app.add_typer(_ab.app)
app.add_typer(_iterate_reports.shadow_app)
app.add_typer(_iterate_reports.bandit_app)
app.command("retrain")(_retrain.retrain)
app.add_typer(_retrain.app)


def main() -> None:
    """Run the `steward` command with the process's arguments."""
    app(prog_name="steward")
