"""What the validation gate returns: each check's verdict and evidence, and the whole run."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["passed", "failed", "not applicable"]


class CheckResult(BaseModel):
    """One step of the gate: its verdict, a sentence saying why, and the evidence."""

    check: str
    status: Status
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0
    required: bool = True


class GateReport(BaseModel):
    """A version's validation gate run."""

    model: str
    version: int
    project: str
    risk: str
    passed: bool
    checks: list[CheckResult]
    seconds: float
    validation_id: int | None = None

    def to_markdown(self) -> str:
        """Return the report as Markdown (a table, then each check's evidence)."""
        marks = {"passed": "passed", "failed": "**FAILED**", "not applicable": "n/a"}
        lines = [
            f"# Validation gate: {self.model} version {self.version}",
            "",
            f"Project `{self.project}`, {self.risk}-risk policy: "
            f"**{'PASSED' if self.passed else 'FAILED'}** in {self.seconds:.1f}s.",
            "",
            "| step | check | required | verdict | why |",
            "|---|---|---|---|---|",
        ]
        for i, c in enumerate(self.checks, 1):
            lines.append(
                f"| {i} | {c.check} | {'yes' if c.required else 'no'} | {marks[c.status]} | {c.summary} |"
            )
        for c in self.checks:
            if c.evidence:
                lines += ["", f"## {c.check}", ""]
                lines += [f"- {k}: `{_short(v)}`" for k, v in c.evidence.items()]
        return "\n".join(lines)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 300 else text[:297] + "..."
