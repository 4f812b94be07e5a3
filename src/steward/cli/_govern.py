"""`steward validate`, `steward policy`, and `steward models review | signoff | signoffs`:
the validation gate, a project's policy, and sign-offs of model versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from steward.cli._models import app as models_app
from steward.cli._output import fields_grid, indented, new_table, note, print_json, stdout
from steward.cli._output import format_time as when

GATE_FAILED = 1

policy_app = typer.Typer(
    name="policy",
    help="A project's governance policy: the checks and sign-offs a version needs before an "
    "alias such as 'champion' may point at it or a deployment may serve it.",
    no_args_is_help=True,
)


def validate(
    uri: Annotated[
        str, typer.Argument(metavar="URI", help="`models:/name/3` or `models:/name@alias`.")
    ],
    data: Annotated[
        str | None,
        typer.Option(
            help="Held-out data: a file or a dataset `name[@version]` (default: the policy's "
            "dataset, else the version's evaluation dataset)."
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="The held-out data's label column (default: inferred).")
    ] = None,
    check: Annotated[
        list[str] | None,
        typer.Option("--check", help="Run only this step (repeatable), e.g. --check accuracy."),
    ] = None,
    no_store: Annotated[
        bool,
        typer.Option(
            "--no-store", help="Show the verdict without recording it (what authors use)."
        ),
    ] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the HTML report here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run the validation gate on a model version: the eight steps of a mission-critical
    model's CI/CD pipeline (documentation and sign-offs, reproducibility, accuracy against
    the champion, explainability, governance, data quality, resources under load,
    integration over both protocols). Each passes, fails or does not apply, with its
    evidence; the result is stored with the version and is what the deployment gate reads.

    Exit code 0 when every check the project's policy requires passed, 1 when one failed:
    CI pipelines call it as a step.

    Example:

    ```
    steward validate models:/churn/3
    steward validate models:/churn@challenger --data churn-holdout@2 --report gate.html
    ```
    """
    from steward.errors import InvalidInput
    from steward.govern import CHECKS
    from steward.govern import validate as run_gate

    unknown = [c for c in check or [] if c not in CHECKS]
    if unknown:
        raise InvalidInput(f"Unknown check(s) {unknown}; the steps are {', '.join(CHECKS)}.")
    with stdout().status("Validating...") as status:
        result = run_gate(
            uri,
            data=data,
            target=target,
            checks=list(check) if check else None,  # type: ignore[arg-type]
            progress=lambda m: status.update(m),
            store=not no_store,
        )
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        _show_gate(result)
    if report is not None:
        from steward.report import html_page

        report.write_text(
            html_page(result.to_markdown(), f"Validation: {result.model} v{result.version}"),
            encoding="utf-8",
        )
        note(f"Wrote {report}")
    if not result.passed:
        raise typer.Exit(GATE_FAILED)


def _show_gate(result: object) -> None:
    from steward.govern import GateReport

    assert isinstance(result, GateReport)
    console = stdout()
    verdict = ("PASSED", "bold green") if result.passed else ("FAILED", "bold red")
    console.print(
        Text.assemble(
            ("Validation gate ", "bold"),
            (f"{result.model} v{result.version}", "bold cyan"),
            f"  project {result.project}, {result.risk}-risk policy: ",
            verdict,
            f"  ({result.seconds:.1f}s)",
        )
    )
    table = new_table()
    for column in ("step", "check", "required", "verdict", "why"):
        table.add_column(column)
    styles = {"passed": "green", "failed": "bold red", "not applicable": "dim"}
    for i, c in enumerate(result.checks, 1):
        table.add_row(
            str(i),
            c.check,
            "yes" if c.required else "no",
            Text(c.status, style=styles[c.status]),
            c.summary,
        )
    console.print(indented(table))
    if result.validation_id is not None:
        note(f"Recorded as validation {result.validation_id} of {result.model} v{result.version}.")


@policy_app.command("set")
def policy_set(
    project: Annotated[str, typer.Argument(help="The project.")],
    file: Annotated[Path, typer.Argument(help="The policy, as YAML.")],
) -> None:
    """Store a project's policy from a YAML file (checked: a mistake names its line and key).

    A minimal high-risk policy is one line, `risk: high`: all eight checks and one
    reviewer's approval before `champion` moves or a deployment serves a version, and
    the move is prevented until then.

    Example:

    ```
    steward policy set churn policy.yaml
    ```
    """
    from steward.configs import load_config
    from steward.context import get_backend
    from steward.govern import Policy

    stored = get_backend().set_policy(project, load_config(file, Policy))
    _show_policy(project, stored)


@policy_app.command("show")
def policy_show(
    project: Annotated[str, typer.Argument(help="The project.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the policy as JSON.")] = False,
) -> None:
    """Show a project's policy (with the tier's defaults filled in).

    Example:

    ```
    steward policy show churn
    ```
    """
    from steward.context import get_backend

    backend = get_backend()
    found = backend.get_policy(project)
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    _show_policy(project, found)
    events = backend.list_events(entity_type="project", entity_id=project, limit=10_000)
    if not any(e.action == "policy.set" for e in events):
        note(
            f"No policy is stored for {project!r}: these are the low-risk defaults, and "
            f"nothing is gated until `steward policy set {project} FILE`."
        )


def _show_policy(project: str, policy: object) -> None:
    from steward.govern import Policy

    assert isinstance(policy, Policy)
    facts = [
        ("risk", policy.risk),
        ("required checks", ", ".join(policy.checks or []) or "none"),
        (
            "sign-offs",
            ", ".join(f"{r.count} {r.role}" for r in policy.signoffs or []) or "none",
        ),
    ]
    for name, env in policy.environments.items():
        where = ", ".join(
            [f"alias {a}" for a in env.aliases] + [f"deployment {d}" for d in env.deployments]
        )
        facts.append((f"environment {name}", f"{env.enforcement}: {where}"))
    stdout().print(Text.assemble(("Policy of ", "bold"), (project, "bold cyan")))
    stdout().print(indented(fields_grid(facts)))


@models_app.command("review")
def review(
    name: Annotated[str, typer.Argument(help="The registered model.")],
    version: Annotated[int, typer.Argument(help="The version to review.")],
    note_text: Annotated[str, typer.Option("--note", help="What reviewers should look at.")] = "",
) -> None:
    """Ask reviewers to look at a model version.

    Example:

    ```
    steward models review churn 3 --note "retrained on Q3 data"
    ```
    """
    from steward.context import get_backend

    found = get_backend().request_review(name, version, note_text)
    stdout().print(f"Review {found.id} requested for {name} v{version} by {found.requested_by}.")


@models_app.command("signoff")
def signoff(
    name: Annotated[str, typer.Argument(help="The registered model.")],
    version: Annotated[int, typer.Argument(help="The version.")],
    approve: Annotated[
        bool | None,
        typer.Option(
            "--approve/--reject", help="Approve, or reject (a rejection needs --comment)."
        ),
    ] = None,
    comment: Annotated[str, typer.Option(help="Feedback for the author.")] = "",
    role: Annotated[str, typer.Option(help="The role you sign as.")] = "reviewer",
) -> None:
    """Approve or reject a model version. Whoever trained or registered it cannot (the
    four-eyes rule); a reviewer decides once per version; an approval counts only while
    the version holds the files that were approved.

    Example:

    ```
    steward models signoff churn 3 --approve --comment "fairness checked on the holdout"
    steward models signoff churn 3 --reject --comment "calibration is off above 0.8"
    ```
    """
    from steward.context import get_backend
    from steward.errors import InvalidInput

    if approve is None:
        raise InvalidInput("Say --approve or --reject.")
    done = get_backend().sign_off(name, version, "approve" if approve else "reject", comment, role)
    stdout().print(
        f"{done.reviewer} {done.decision}d {name} v{version} as {done.role}"
        + (f": {done.comment}" if done.comment else ".")
    )


@models_app.command("signoffs")
def signoffs(
    name: Annotated[str, typer.Argument(help="The registered model.")],
    version: Annotated[int, typer.Argument(help="The version.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a version's review requests, sign-offs, and what its project's policy still asks.

    Example:

    ```
    steward models signoffs churn 3
    ```
    """
    from steward.context import get_backend

    backend = get_backend()
    status = backend.get_signoff_status(name, version)
    if as_json:
        print_json(status.model_dump(mode="json"))
        return
    console = stdout()
    console.print(Text.assemble(("Sign-offs of ", "bold"), (f"{name} v{version}", "bold cyan")))
    facts = [
        ("trained or registered by", ", ".join(status.trained_by) + " (cannot approve)"),
        ("approvals", ", ".join(f"{n} {r}" for r, n in status.approvals.items()) or "none"),
    ]
    if status.rejected:
        facts.append(("rejected", "yes: a new version is needed"))
    for r in status.requests:
        facts.append(
            (f"review {r.id}", f"asked by {r.requested_by} {when(r.requested_at)}: {r.note}")
        )
    console.print(indented(fields_grid(facts)))
    if status.signoffs:
        table = new_table()
        for column in ("when", "reviewer", "role", "decision", "comment", "counts"):
            table.add_column(column)
        for s in status.signoffs:
            table.add_row(
                when(s.created_at),
                s.reviewer,
                s.role,
                s.decision,
                s.comment,
                "yes" if s.valid else "no: the files changed since",
            )
        console.print(indented(table))
