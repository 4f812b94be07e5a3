"""`steward users`: users of the team server, their roles per project, and their tokens."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from steward.cli._output import format_time as when
from steward.cli._output import new_table, note, print_json, stdout
from steward.errors import InvalidInput

app = typer.Typer(
    name="users",
    help="Users of the team server: roles per project (admin, data_scientist, reviewer, "
    "deployer, auditor) and API tokens. With no users, the server trusts its network.",
    no_args_is_help=True,
)
token_app = typer.Typer(name="token", help="A user's API tokens.", no_args_is_help=True)
app.add_typer(token_app)


def _roles(values: list[str] | None) -> dict[str, list[str]]:
    roles: dict[str, list[str]] = {}
    for value in values or []:
        role, _, project = value.partition("@")
        roles.setdefault(project or "*", []).append(role)
    return roles


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The user's name (what events record).")],
    role: Annotated[
        list[str] | None,
        typer.Option("--role", help="ROLE or ROLE@PROJECT (repeatable), e.g. reviewer@churn."),
    ] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Also ask for a password (for the web UI).")
    ] = False,
    expires_days: Annotated[float, typer.Option(help="Days until the first token expires.")] = 90,
) -> None:
    """Add a user with roles and print their first API token (shown once, stored hashed).

    The first admin is added against the store itself (no server involved): run it where
    `STEWARD_STORE_URI` names the team's database.

    Example:

    ```
    steward users add alice --role admin
    steward users add bob --role reviewer@churn --password
    ```
    """
    from steward.context import get_backend

    secret = None
    if password:
        secret = getpass.getpass("Password (12 characters or more): ")
        if secret != getpass.getpass("Again: "):
            raise InvalidInput("The two passwords differ.")
    backend = get_backend()
    user = backend.create_user(name, _roles(role), secret)
    made = backend.create_user_token(name, "first token", expires_days)
    typer.echo(made.secret)
    shown = ", ".join(f"{r}@{p}" for p, rs in user.roles.items() for r in rs) or "no roles"
    note(f"User {name} ({shown}); the token above is shown once: set STEWARD_TOKEN to it.")


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the users and their roles.

    Example:

    ```
    steward users list
    ```
    """
    from steward.context import get_backend

    found = get_backend().list_users()
    if as_json:
        print_json([u.model_dump(mode="json") for u in found])
        return
    table = new_table()
    for column in ("user", "roles", "password", "disabled", "created"):
        table.add_column(column)
    for u in found:
        roles = ", ".join(f"{r}@{p}" for p, rs in u.roles.items() for r in rs)
        table.add_row(
            u.name,
            roles,
            "yes" if u.has_password else "no",
            "yes" if u.disabled else "",
            when(u.created_at),
        )
    stdout().print(table)


@app.command("grant")
def grant(
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help="ROLE or ROLE@PROJECT.")],
) -> None:
    """Grant a role (on one project, or all).

    Example:

    ```
    steward users grant bob deployer@churn
    ```
    """
    from steward.context import get_backend

    r, _, project = role.partition("@")
    get_backend().grant_role(name, r, project or "*")
    stdout().print(f"{name} is now {r} on {project or 'every project'}.")


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help="ROLE or ROLE@PROJECT.")],
) -> None:
    """Take a role away.

    Example:

    ```
    steward users revoke bob deployer@churn
    ```
    """
    from steward.context import get_backend

    r, _, project = role.partition("@")
    get_backend().revoke_role(name, r, project or "*")
    stdout().print(f"{name} is no longer {r} on {project or 'every project'}.")


@app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="The user.")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable them again.")] = False,
) -> None:
    """Disable a user (their tokens and sessions stop working), or enable them again.

    Example:

    ```
    steward users disable carol
    ```
    """
    from steward.context import get_backend

    get_backend().set_user_disabled(name, not enable)
    stdout().print(f"{name} is {'enabled' if enable else 'disabled'}.")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="The user.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    expires_days: Annotated[float, typer.Option(help="Days until it expires.")] = 90,
) -> None:
    """Create another API token for a user (printed once).

    Example:

    ```
    steward users token create alice --label ci --expires-days 30
    ```
    """
    from steward.context import get_backend

    made = get_backend().create_user_token(name, label, expires_days)
    typer.echo(made.secret)
    note(f"Token {made.token.id} ({made.token.prefix}...) of {name}: shown once.")


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="The user.")],
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id.")],
) -> None:
    """Revoke a user's token.

    Example:

    ```
    steward users token revoke alice 3
    ```
    """
    from steward.context import get_backend

    get_backend().revoke_user_token(name, token_id)
    stdout().print(f"Revoked token {token_id} of {name}.")
