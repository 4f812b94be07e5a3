"""What a reproduction found: per run, its code, data, environment, metrics and predictions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

ProgressCallback = Callable[[str, int | None, int | None], None]
"""Called with (what is happening, steps done, steps in all) as the work goes on."""


class CodeCheck(BaseModel):
    """The code that ran again: commit, and whether the run's uncommitted diff was applied."""

    repository: str
    commit: str
    branch: str | None = None
    dirty: bool = False
    diff_applied: bool | None = None  # None: the run had no uncommitted diff
    diff_files: list[str] = Field(default_factory=list)
    failed_files: list[str] = Field(default_factory=list)
    untracked: list[str] = Field(default_factory=list)


class DatasetCheck(BaseModel):
    """A dataset version the run read, verified against its content hash."""

    dataset: str
    version: int
    content_hash: str
    verified: bool


class PackageChange(BaseModel):
    """A distribution whose version differs between the record and the environment used."""

    name: str
    recorded: str | None
    installed: str | None


class EnvironmentCheck(BaseModel):
    """Where the command ran again, and how that environment differs from the record."""

    mode: Literal["here", "venv"]
    python_recorded: str | None
    python_used: str
    packages_recorded: int
    differences: list[PackageChange] = Field(default_factory=list)


class MetricCheck(BaseModel):
    """One metric's latest value in the original and the reproduced run."""

    key: str
    original: float | None
    reproduced: float | None
    difference: float | None
    within_tolerance: bool
    ignored: bool = False
    note: str = ""


class ParamDifference(BaseModel):
    """A param whose value differs (None: not logged on that side)."""

    key: str
    original: str | None
    reproduced: str | None


class PredictionCheck(BaseModel):
    """Predictions of the original and the reproduced model on the same recorded data."""

    model: str
    dataset: str | None = None
    version: int | None = None
    rows: int = 0
    method: str | None = None
    max_abs_diff: float | None = None
    mismatched_rows: int = 0  # rows whose outputs differ by more than the tolerance
    within_tolerance: bool
    notes: list[str] = Field(default_factory=list)


class RunCheck(BaseModel):
    """One original run of the command against the run its re-execution made."""

    name: str
    project: str
    experiment: str
    original_run_id: str
    new_run_id: str | None
    original_status: str
    new_status: str | None
    metrics: list[MetricCheck] = Field(default_factory=list)
    params_compared: int = 0
    param_differences: list[ParamDifference] = Field(default_factory=list)
    input_differences: list[str] = Field(default_factory=list)
    predictions: list[PredictionCheck] = Field(default_factory=list)
    reproduced: bool
    reasons: list[str] = Field(default_factory=list)


class ReproductionReport(BaseModel):
    """Whether a run was re-created from its record, and every comparison that says so."""

    run_id: str
    run_name: str
    project: str
    experiment: str
    new_run_id: str | None
    command: list[str]
    exit_code: int | None
    duration_seconds: float
    seed: int | None
    tolerance: float
    code: CodeCheck
    datasets: list[DatasetCheck]
    environment: EnvironmentCheck
    runs: list[RunCheck]  # the requested run first, then the others its command made
    reproduced: bool
    reasons: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    output_tail: str | None = None

    def to_markdown(self) -> str:
        """Return the report as Markdown: verdict, code, data, environment, metrics, predictions."""
        verdict = "reproduced" if self.reproduced else "NOT reproduced"
        code = f"`{self.code.commit[:12]}`" + (f" ({self.code.branch})" if self.code.branch else "")
        if self.code.diff_applied is not None:
            code += ", uncommitted diff " + ("applied" if self.code.diff_applied else "NOT applied")
        data = ", ".join(f"{d.dataset} v{d.version} (hash verified)" for d in self.datasets)
        env = self.environment
        lines = [
            f"## Reproduction of run {self.run_id[:12]} ({self.run_name}): {verdict}",
            "",
            "| | |",
            "|---|---|",
            f"| Original run | {self.project}/{self.experiment} `{self.run_id}` |",
            f"| Reproduced as | `{self.new_run_id or '—'}` |",
            f"| Code | {code} |",
            f"| Data | {data or 'none recorded'} |",
            f"| Environment | {_environment_text(env)} |",
            f"| Seed | {self.seed if self.seed is not None else 'none recorded'} |",
            f"| Command | `{' '.join(self.command)}` (exit {self.exit_code}) |",
            f"| Tolerance | {self.tolerance:g} |",
        ]
        lines += [f"| Why not | {reason.replace('|', '/')} |" for reason in self.reasons]
        target = self.runs[0] if self.runs else None
        if target and target.metrics:
            lines += ["", "| Metric | Original | Reproduced | Δ | |", "|---|---:|---:|---:|---|"]
            for m in target.metrics:
                mark = "ignored" if m.ignored else ("ok" if m.within_tolerance else "DIFFERS")
                lines.append(
                    f"| {m.key} | {_num(m.original)} | {_num(m.reproduced)} "
                    f"| {_num(m.difference)} | {mark} |"
                )
        for p in target.predictions if target else []:
            state = "ok" if p.within_tolerance else "DIFFERS"
            where = ""
            if p.method:
                where = (
                    f" on {p.dataset} v{p.version} ({p.rows} rows, {p.method}): max \\|Δ\\| "
                    f"{_num(p.max_abs_diff)}, {p.mismatched_rows} rows beyond tolerance"
                )
            lines += ["", f"Predictions of `{p.model}`{where}: {state}."]
            lines += [f"- {extra}" for extra in p.notes]
        if len(self.runs) > 1:
            lines += [
                "",
                "| Other run of the command | Original | Reproduced | |",
                "|---|---|---|---|",
            ]
            for r in self.runs[1:]:
                lines.append(
                    f"| {r.name} | `{r.original_run_id[:12]}` | `{(r.new_run_id or '—')[:12]}` "
                    f"| {'ok' if r.reproduced else 'DIFFERS'} |"
                )
        if env.differences:
            lines += ["", "| Package | Recorded | Used |", "|---|---|---|"]
            lines += [
                f"| {c.name} | {c.recorded or '—'} | {c.installed or '—'} |"
                for c in env.differences
            ]
        if self.warnings:
            lines += ["", "Warnings:", ""] + [f"- {w}" for w in self.warnings]
        return "\n".join(lines) + "\n"


def _environment_text(env: EnvironmentCheck) -> str:
    where = "current interpreter" if env.mode == "here" else "fresh virtual environment"
    changed = len(env.differences)
    return f"{where}, {env.python_used}; {changed} package{'s' * (changed != 1)} differ from the record"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.10g}"
