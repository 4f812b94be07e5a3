"""The demo's governance step: a high-risk policy blocks a move to production until the
validation gate passes and a reviewer (not the author) approves; then the audit trail is
verified, edited by hand in the database, and the edit is caught and named."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

import steward
from steward import govern
from steward.config import load_settings
from steward.errors import PolicyViolation

POLICY = """\
# The triage model decides who sees a specialist sooner: high risk. All eight checks and
# one reviewer's approval before 'champion' or 'production' moves, and the move is
# prevented (not only warned about) until then.
risk: high
governance:
  # Age and sex are clinical risk factors here: declared sensitive, used on purpose.
  block_flagged_features: false
  # Progression risk differs by age, so equal selection would be wrong; equal opportunity
  # (of the patients who progress fast, the share flagged) is compared across groups.
  fairness_metric: true_positive_rate
  # Groups of 30-40 holdout patients: a ratio moves by about 0.15 by chance alone.
  min_ratio: 0.6
"""


@contextmanager
def as_user(name: str) -> Iterator[None]:
    """Act as another person (locally, STEWARD_USER names who acts)."""
    before = os.environ.get("STEWARD_USER")
    os.environ["STEWARD_USER"] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("STEWARD_USER", None)
        else:
            os.environ["STEWARD_USER"] = before


def lift_earlier_policy(console: Console, project: str) -> None:
    """Lift the high-risk policy an earlier run of the demo left on the project, so that
    this run may move 'champion' again (the change is in the audit trail like any other)."""
    events = steward.context.get_backend().list_events(
        entity_type="project", entity_id=project, limit=10_000
    )
    if any(e.action == "policy.set" for e in events):
        production = {"aliases": ["champion", "production"], "deployments": ["*"]}
        govern.set_policy(
            project,
            {"risk": "low", "environments": {"production": {**production, "enforcement": "off"}}},
        )
        console.print(
            f"[dim]An earlier run of the demo left a high-risk policy on {project}: lifted for "
            "this run (enforcement off), and set again in the governance step.[/]"
        )


def govern_step(console: Console, model: str, version: int, project: str) -> None:
    """Gate the champion's move to production, approve it, promote it, audit it."""
    console.rule("[bold]Govern: a high-risk policy, the validation gate, a sign-off, the audit")
    home = load_settings().home
    policy = home / "policies" / f"{project}.yaml"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(POLICY, encoding="utf-8")
    govern.set_policy(project, policy)
    try:
        steward.set_alias(model, "production", version, reason="go live")
    except steward.StewardError as exc:
        console.print(f"[yellow]Promotion blocked:[/] {exc}")
    govern.request_review(model, version, "ready for production: please review")
    try:
        govern.sign_off(model, version, "approve", "my own model looks fine")
    except steward.StewardError as exc:
        console.print(f"[yellow]The author's own approval is refused:[/] {exc}")
    with as_user("dr-rivera"):  # a reviewer who did not train it
        govern.sign_off(
            model, version, "approve", "Equal opportunity by age within the policy; ship it."
        )
    console.print("dr-rivera (reviewer) approved the version.")
    with console.status("Validation gate: the eight checks...") as status:
        report = govern.validate(f"models:/{model}/{version}", progress=status.update)
    show_gate(console, report)
    page = home / "reports" / f"{model}-v{version}-validation.html"
    from steward.report import html_page

    page.write_text(html_page(report.to_markdown(), f"Validation: {model} v{version}"), "utf-8")
    try:
        steward.set_alias(model, "production", version, reason="validated and approved")
    except PolicyViolation as exc:  # e.g. the demo's code edited and not committed
        console.print(f"[red]Still blocked:[/] {exc}\nGate report: {page}")
        if not report.passed:
            console.print(
                "The reproducibility check re-runs the training from its git commit: run the "
                "demo from a clean clone (or commit your changes) to see the promotion pass."
            )
    else:
        console.print(f"[green]Promoted[/] {model} v{version} to 'production'. Gate report: {page}")
    audit(console, home)


def show_gate(console: Console, report: govern.GateReport) -> None:
    verdict = "[bold green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
    table = Table("step", "check", "verdict", "why", title=f"Validation gate: {verdict}")
    for i, c in enumerate(report.checks, 1):
        style = {"passed": "green", "failed": "bold red"}.get(c.status, "dim")
        table.add_row(str(i), c.check, Text(c.status, style=style), c.summary)
    console.print(table)


def audit(console: Console, home: Path) -> None:
    """Verify the audit chain, edit one row by hand as a database admin could, verify again."""
    first = govern.verify_audit()
    console.print(f"steward audit verify: [green]{first.summary}[/]")
    row = next(e for e in govern.audit_events(action="signoff.approved"))
    database = home / "steward.db"
    with sqlite3.connect(database) as db:  # behind Steward's back: the approver's name changed
        db.execute("UPDATE events SET actor = 'someone-else' WHERE id = ?", (row.id,))
    broken = govern.verify_audit()
    console.print(f"After editing row {row.id} in {database.name}: [red]{broken.summary}[/]")
    with sqlite3.connect(database) as db:
        db.execute("UPDATE events SET actor = ? WHERE id = ?", (row.actor, row.id))
    console.print(f"Put back: {govern.verify_audit().summary}")
