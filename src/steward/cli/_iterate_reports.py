"""`steward shadow report` and `steward bandit report | simulate`: live tests read from the
prediction log of a deployment."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from steward.cli._output import fields_grid, indented, new_table, note, print_json, stdout

shadow_app = typer.Typer(
    name="shadow",
    help="Shadow tests: the served model and a shadow on the same live requests (agreement, "
    "differences, performance where labels arrived) with a paired test and a verdict.",
    no_args_is_help=True,
)
bandit_app = typer.Typer(
    name="bandit",
    help="Bandits: traffic share and posterior per arm over time, and the regret of "
    "Thompson sampling; a simulation against arms of known rates.",
    no_args_is_help=True,
)

VERDICT_STYLE = {
    "shadow better": "bold green",
    "primary better": "bold yellow",
    "no clear difference": "bold",
    "review": "bold red",
    "not enough requests": "bold cyan",
}
Deployment = Annotated[str, typer.Argument(help="The deployment's name.")]
Window = Annotated[
    str | None,
    typer.Option(help="Read the log of the last 30m, 24h, 7d...; default: all of it."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the analysis as JSON.")]


def _seconds(window: str | None) -> float | None:
    from steward.monitor import parse_window

    return None if window is None else parse_window(window)


@shadow_app.command("report")
def shadow_report(
    deployment: Deployment,
    window: Window = None,
    min_requests: Annotated[
        int, typer.Option(help="Requests both must have scored before a verdict is given.")
    ] = 200,
    as_json: AsJson = False,
) -> None:
    """Compare each shadow route with the served model on the requests both scored: how
    often they agree (Wilson interval), how their answers differ, their accuracy (or MAE)
    on the rows whose labels came back with a paired test (McNemar, Wilcoxon), and a verdict:
    shadow better, primary better, no clear difference, review, or not enough requests.

    Example:

    ```
    steward shadow report churn
    steward shadow report churn --window 24h --min-requests 500 --json
    ```
    """
    from steward.iterate import analyze_shadow

    result = analyze_shadow(deployment, window_seconds=_seconds(window), min_requests=min_requests)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    out = stdout()
    for r in result.routes:
        out.print(
            Text.assemble(
                (f"{result.deployment}: {r.route} against {r.primary_route}: ", "bold"),
                (r.verdict, VERDICT_STYLE[r.verdict]),
            )
        )
        facts: list[tuple[str, str | None]] = [
            (
                "compared",
                f"{r.requests:,} requests ({r.rows:,} rows)"
                + (f"; the shadow failed on {r.shadow_failed:,} rows" if r.shadow_failed else ""),
            ),
            (
                "versions",
                f"primary {_versions(r.primary_versions)}, shadow {_versions(r.shadow_versions)}",
            ),
        ]
        if r.agreement is not None:
            facts.append(
                (
                    "agreement",
                    f"{r.agreement:.1%} ({r.agreement_rule}; 95% interval "
                    f"{r.agreement_low:.1%} to {r.agreement_high:.1%})",
                )
            )
        if r.differences is not None:
            d = r.differences
            facts.append(
                (
                    f"shadow - primary {d.of}",
                    f"mean {d.mean:+.4g}, "
                    + ", ".join(f"{k} {v:+.4g}" for k, v in d.quantiles.items()),
                )
            )
        if r.pairs:
            facts.append(
                (
                    "labels (primary → shadow)",
                    ", ".join(f"{p.primary}→{p.shadow} {p.share:.1%}" for p in r.pairs[:5]),
                )
            )
        out.print(indented(fields_grid(facts)))
        if r.performance is not None:
            p = r.performance
            table = new_table()
            columns = ("metric", "labeled rows", "primary", "shadow", "difference", "test", "p")
            for column in columns:
                table.add_column(column)
            table.add_row(
                p.metric,
                f"{p.labeled_rows:,}",
                f"{p.primary:.4f}",
                f"{p.shadow:.4f}",
                f"{p.difference:+.4f}",
                p.test,
                f"{p.p_value:.3g}",
            )
            out.print(indented(table))
        for reason in r.reasons:
            out.print(indented(Text(reason)))
    if result.skipped_segments:
        note(f"{len(result.skipped_segments)} unreadable log segment(s) skipped.")


@bandit_app.command("report")
def bandit_report(
    deployment: Deployment,
    window: Window = None,
    buckets: Annotated[int, typer.Option(help="Slices of time the history is cut into.")] = 20,
    as_json: AsJson = False,
) -> None:
    """Show what a bandit deployment did: each arm's share of the traffic, its rewards, its
    posterior (mean and 95% credible interval) and its chance of being the best arm, the
    better arm's share over time, and an estimate of the regret.

    Example:

    ```
    steward bandit report churn-bandit
    steward bandit report churn-bandit --window 7d --json
    ```
    """
    from steward.iterate import analyze_bandit

    _print_bandit(
        analyze_bandit(deployment, window_seconds=_seconds(window), buckets=buckets), as_json
    )


@bandit_app.command("simulate")
def bandit_simulate(
    rates: Annotated[
        str, typer.Option(help="The arms' true reward rates, comma-separated: 0.05,0.10.")
    ],
    requests: Annotated[int, typer.Option(help="Requests to simulate.")] = 3000,
    seed: Annotated[int, typer.Option(help="Seed of the router's draws and of the rewards.")] = 0,
    as_json: AsJson = False,
) -> None:
    """Run the serving Router's Thompson sampling against arms of known reward rates and
    show the same analysis as a live bandit's, with the true regret beside the estimate.

    Example:

    ```
    steward bandit simulate --rates 0.05,0.10 --requests 3000
    ```
    """
    from steward.errors import InvalidInput
    from steward.iterate import simulate_bandit

    try:
        given = [float(r) for r in rates.split(",")]
    except ValueError:
        raise InvalidInput(f"--rates takes numbers separated by commas; got {rates!r}.") from None
    result = simulate_bandit(given, requests, seed=seed)
    _print_bandit(result, as_json)
    if not as_json:
        stdout().print(
            f"True regret {result.true_regret:.4g} (an even split: "
            f"{result.true_regret_even_split:.4g})."
        )


def _print_bandit(result: object, as_json: bool) -> None:
    from steward.iterate import BanditAnalysis

    assert isinstance(result, BanditAnalysis)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    out = stdout()
    out.print(
        Text.assemble(
            (f"{result.deployment}: ", "bold"),
            f"{result.requests:,} requests, {result.rewarded:,} rewarded; prior Beta"
            f"({result.prior[0]:g}, {result.prior[1]:g})",
            (f"; best arm {result.best}" if result.best else "", "bold green"),
        )
    )
    table = new_table()
    for column in (
        "arm",
        "model",
        "requests",
        "share",
        "rewards",
        "mean",
        "95% interval",
        "P(best)",
    ):
        table.add_column(column)
    for a in result.arms:
        table.add_row(
            a.route,
            a.model,
            f"{a.requests:,}",
            f"{a.share:.1%}",
            f"{a.successes:g}/{a.rewarded:,}",
            f"{a.mean:.4f}",
            f"[{a.low:.4f}, {a.high:.4f}]",
            f"{a.prob_best:.1%}",
        )
    out.print(table)
    if result.buckets and result.best:
        shares = [
            next(a.share for a in b.arms if a.route == result.best)
            for b in result.buckets
            if b.requests
        ]
        out.print(
            f"{result.best}'s share over time: " + " ".join(f"{s:.0%}" for s in _thin(shares, 10))
        )
    for line in result.notes:
        out.print(line)


def _thin(values: list[float], most: int) -> list[float]:
    """Return at most ``most`` of ``values``, evenly spaced, the first and the last among them."""
    if len(values) <= most:
        return values
    return [values[round(i * (len(values) - 1) / (most - 1))] for i in range(most)]


def _versions(versions: list[int]) -> str:
    return ", ".join(f"v{v}" for v in versions) or "none"
