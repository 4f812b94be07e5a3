"""`steward deploy`: deployments in the store: create, show, switch models, traffic, tokens."""

from __future__ import annotations

import time
from typing import Annotated, Any

import httpx
import typer
from rich.text import Text

from steward.cli._output import fields_grid, indented, new_table, note, print_json, stdout
from steward.cli._output import format_time as when
from steward.errors import InvalidInput, ServerUnavailable

app = typer.Typer(
    name="deploy",
    help="Deployments: what a served model is, its traffic policy, its versions over time.",
    no_args_is_help=True,
)
token_app = typer.Typer(
    name="token", help="Tokens that may call a deployment.", no_args_is_help=True
)
app.add_typer(token_app)


def _weights(values: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in values:
        uri, sep, weight = item.rpartition("=")
        try:
            out[uri if sep else item] = float(weight) if sep else 1.0
        except ValueError as exc:
            raise InvalidInput(
                f"--ab takes URI=WEIGHT, e.g. models:/churn/4=0.1; got {item!r}."
            ) from exc
    return out


def _show(deployment: Any) -> None:
    from steward.serve import describe_routes

    console = stdout()
    spec = deployment.spec
    console.print(
        Text.assemble(
            ("Deployment ", "bold"),
            (deployment.name, "bold cyan"),
            f"  revision {deployment.revision}, policy {spec.policy}",
        )
    )
    table = new_table()
    for column in ("route", "serves", "requested", "role", "share"):
        table.add_column(column)
    for row in describe_routes(spec):
        share = "" if row["share"] is None else f"{row['share']:.0%}"
        table.add_row(row["route"], row["model"], row["requested"], row["role"], share)
    console.print(indented(table))
    facts = [
        ("changed", f"{when(deployment.updated_at)} by {deployment.updated_by}"),
        ("created", f"{when(deployment.created_at)} by {deployment.created_by}"),
        (
            "tokens",
            str(deployment.token_count) + (" (callers need one)" if deployment.token_count else ""),
        ),
        ("log", spec.log.uri or "STEWARD_HOME/deployments/" + deployment.name),
    ]
    if spec.sticky_column:
        facts.append(("sticky column", spec.sticky_column))
    if spec.batching.max_batch_size > 1:
        facts.append(
            ("batching", f"{spec.batching.max_batch_size} rows, {spec.batching.max_wait_ms:g} ms")
        )
    if deployment.arms:
        facts.append(
            (
                "bandit",
                ", ".join(f"{k}: {s:g} won / {f:g} lost" for k, (s, f) in deployment.arms.items()),
            )
        )
    console.print(indented(fields_grid(facts)))


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The deployment's name, e.g. `churn`.")],
    model: Annotated[
        str | None,
        typer.Argument(metavar="[MODEL]", help="`models:/churn@champion` (or use --spec)."),
    ] = None,
    spec: Annotated[
        str | None, typer.Option("--spec", metavar="FILE", help="A deployment spec in YAML.")
    ] = None,
    shadow: Annotated[
        list[str] | None,
        typer.Option(
            "--shadow",
            metavar="URI",
            help="A challenger scored on every request, never returned (repeatable).",
        ),
    ] = None,
    ab: Annotated[
        list[str] | None,
        typer.Option(
            "--ab", metavar="URI=WEIGHT", help="A/B split; give MODEL its weight too (repeatable)."
        ),
    ] = None,
    bandit: Annotated[
        list[str] | None,
        typer.Option(
            "--bandit", metavar="URI", help="Another bandit arm besides MODEL (repeatable)."
        ),
    ] = None,
    sticky_column: Annotated[
        str | None, typer.Option(help="A/B: the input column that keeps an entity on one route.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, for the history (a ticket, a decision).")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the deployment as JSON.")] = False,
) -> None:
    """Create a deployment: one model, or a traffic policy from a YAML spec or options.

    Example:

    ```
    steward deploy create churn models:/churn@champion --shadow models:/churn/4
    steward deploy create churn models:/churn/3 --ab models:/churn/3=0.9 --ab models:/churn/4=0.1
    steward deploy create churn --spec churn.yaml
    ```
    """
    from steward.serve import create_deployment, load_spec, traffic_spec

    if (model is None) == (spec is None):
        raise InvalidInput("Give the MODEL to serve or --spec FILE (one of them).")
    built = (
        load_spec(spec)
        if spec is not None
        else traffic_spec(
            model or "",
            shadow=shadow,
            ab=_weights(ab) if ab else None,
            bandit=bandit,
            sticky_column=sticky_column,
        )
    )
    created = create_deployment(name, built, reason=reason)
    if as_json:
        print_json(created.model_dump(mode="json"))
        return
    _show(created)
    note(f"Serve it with: steward serve --deployment {name}")


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the deployments: their policy, revision and what each route serves.

    Example:

    ```
    steward deploy list
    ```
    """
    from steward.serve import list_deployments

    found = list_deployments()
    if as_json:
        print_json([d.model_dump(mode="json") for d in found])
        return
    if not found:
        note(
            "No deployments yet. Create one with `steward serve MODEL` or `steward deploy create`."
        )
        return
    table = new_table()
    for column in ("deployment", "revision", "policy", "serves", "changed"):
        table.add_column(column)
    for d in found:
        serves = ", ".join(f"{r.name}={r.resolved or r.model}" for r in d.spec.routes)
        table.add_row(
            d.name,
            str(d.revision),
            d.spec.policy,
            serves,
            f"{when(d.updated_at)} by {d.updated_by}",
        )
    stdout().print(table)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The deployment.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a deployment: its routes, what they serve, tokens, bandit arms.

    Example:

    ```
    steward deploy show churn --json
    ```
    """
    from steward.serve import get_deployment

    found = get_deployment(name)
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    _show(found)


@app.command("history")
def history(
    name: Annotated[str, typer.Argument(help="The deployment.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show every revision of a deployment: what it served, who changed it, when and why.

    Example:

    ```
    steward deploy history churn
    ```
    """
    from steward.serve import get_deployment_history

    revisions = get_deployment_history(name)
    if as_json:
        print_json([r.model_dump(mode="json") for r in revisions])
        return
    table = new_table()
    for column in ("revision", "when", "who", "policy", "serves", "reason"):
        table.add_column(column)
    for r in revisions:
        serves = ", ".join(f"{x.name}={x.resolved or x.model}" for x in r.spec.routes)
        table.add_row(str(r.revision), when(r.time), r.actor, r.spec.policy, serves, r.reason)
    stdout().print(table)


@app.command("set-model")
def set_model(
    name: Annotated[str, typer.Argument(help="The deployment.")],
    model: Annotated[
        str, typer.Argument(metavar="MODEL", help="The model to serve now, e.g. `models:/churn/4`.")
    ],
    route: Annotated[
        str | None, typer.Option(help="The route to change (default: the one serving route).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "",
    wait: Annotated[
        str | None,
        typer.Option(
            "--wait",
            metavar="URL",
            help="A server of the deployment (e.g. http://127.0.0.1:8080): wait until it serves the new revision.",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to --wait at most.")] = 120.0,
) -> None:
    """Switch a deployment to another model: blue-green, with no request dropped.

    Every server of the deployment loads and warms the new model beside the old one,
    then switches atomically; requests in flight finish on the old model, and every
    response names the version that produced it. Rolling back is the same command with
    the old model.

    Example:

    ```
    steward deploy set-model churn models:/churn/4 --reason CHG-1234 --wait http://127.0.0.1:8080
    ```
    """
    from steward.serve import set_deployment_model

    before_rev = None
    updated = set_deployment_model(name, model, route=route, reason=reason)
    before_rev = updated.revision - 1
    console = stdout()
    served = ", ".join(f"{r.name}={r.resolved or r.model}" for r in updated.spec.routes)
    console.print(
        Text.assemble(
            f"Deployment {name}: revision {before_rev} -> ",
            (str(updated.revision), "bold"),
            f" ({served})",
        )
    )
    if wait is not None:
        seconds = _wait_for(wait, updated.revision, timeout)
        console.print(
            Text(
                f"The server at {wait} serves revision {updated.revision} ({seconds:.1f}s).",
                style="green",
            )
        )


def _wait_for(url: str, revision: int, timeout: float) -> float:
    started = time.monotonic()
    last = None
    while time.monotonic() - started < timeout:
        try:
            status = httpx.get(url.rstrip("/") + "/deployment", timeout=5).json()
            last = status.get("revision")
            if last is not None and last >= revision:
                return time.monotonic() - started
        except (httpx.HTTPError, ValueError):
            last = "unreachable"
        time.sleep(0.2)
    raise ServerUnavailable(
        f"The server at {url} still serves revision {last} after {timeout:g}s. It may be loading "
        "a large model (raise --timeout), or not follow this deployment; see its /deployment."
    )


@app.command("traffic")
def traffic(
    name: Annotated[str, typer.Argument(help="The deployment.")],
    shadow: Annotated[
        list[str] | None, typer.Option("--shadow", metavar="URI", help="Shadow challenger(s).")
    ] = None,
    ab: Annotated[
        list[str] | None,
        typer.Option("--ab", metavar="URI=WEIGHT", help="A/B weights (include the serving model)."),
    ] = None,
    bandit: Annotated[
        list[str] | None,
        typer.Option("--bandit", metavar="URI", help="Bandit arm(s) besides the serving model."),
    ] = None,
    sticky_column: Annotated[
        str | None, typer.Option(help="A/B: the column that keeps an entity on one route.")
    ] = None,
    single: Annotated[
        bool, typer.Option("--single", help="Back to serving the model alone.")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "",
) -> None:
    """Change a deployment's traffic policy around its serving model: shadow, A/B, bandit or single.

    Example:

    ```
    steward deploy traffic churn --shadow models:/churn/5 --reason "try v5 on live traffic"
    steward deploy traffic churn --ab models:/churn/3=0.8 --ab models:/churn/5=0.2 --sticky-column customer_id
    steward deploy traffic churn --single
    ```
    """
    from steward.serve import set_traffic

    if not (shadow or ab or bandit or single):
        raise InvalidInput(
            "Say the policy: --shadow URI, --ab URI=W (twice or more), --bandit URI, or --single."
        )
    updated = set_traffic(
        name,
        shadow=shadow,
        ab=_weights(ab) if ab else None,
        bandit=bandit,
        sticky_column=sticky_column,
        reason=reason,
    )
    _show(updated)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="The deployment.")],
    label: Annotated[str, typer.Option(help="What the token is for (a service, a team).")] = "",
) -> None:
    """Create a token for calling a deployment; it is printed once and stored only hashed.

    Once a deployment has a token, its servers refuse requests without a valid one.

    Example:

    ```
    steward deploy token create churn --label checkout-service
    curl -H "Authorization: Bearer stw_..." ...
    ```
    """
    from steward.serve import create_serving_token

    made = create_serving_token(name, label)
    typer.echo(made.secret)
    note(
        f"Token {made.token.id} ({made.token.prefix}...) for {name}: keep it now, it is not shown again."
    )


@token_app.command("list")
def token_list(name: Annotated[str, typer.Argument(help="The deployment.")]) -> None:
    """List a deployment's tokens (prefixes only, never the secrets).

    Example:

    ```
    steward deploy token list churn
    ```
    """
    from steward.serve import list_serving_tokens

    table = new_table()
    for column in ("id", "prefix", "label", "created", "revoked"):
        table.add_column(column)
    for t in list_serving_tokens(name):
        table.add_row(
            str(t.id),
            t.prefix + "...",
            t.label,
            f"{when(t.created_at)} by {t.created_by}",
            when(t.revoked_at) if t.revoked_at else "",
        )
    stdout().print(table)


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="The deployment.")],
    token_id: Annotated[
        int, typer.Argument(metavar="ID", help="The token's id (see `token list`).")
    ],
) -> None:
    """Revoke a token: servers refuse it within their poll interval (a second by default).

    Example:

    ```
    steward deploy token revoke churn 3
    ```
    """
    from steward.serve import revoke_serving_token

    revoked = revoke_serving_token(name, token_id)
    stdout().print(f"Revoked token {revoked.id} ({revoked.prefix}...) of {name}.")
