"""reproduce_run: re-run a recorded run from its commit, data, seed and libraries, then compare.

The recorded code is checked out in a temporary git worktree (with the run's uncommitted
diff applied), the dataset versions it read are verified against their hashes, and its
command is run again, in the current interpreter (``here=True``) or in a fresh virtual
environment holding the recorded library versions. Each run the command makes is matched
by name with the run it re-creates, and their metrics, params, inputs and model
predictions are compared within a tolerance.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from steward import _backend
from steward.config import load_settings
from steward.develop._buffer import buffer
from steward.develop._environment import capture_environment
from steward.develop._models import Environment, Run
from steward.errors import Conflict, IntegrityError, InvalidInput, NotFound, StewardError

ProgressCallback = Callable[[str, int | None, int | None], None]
"""Called with (what is happening, steps done, steps in all) as the work goes on."""

NOT_PINNED = frozenset({"steward", "pip", "setuptools", "wheel"})
REPRODUCTION_TAG = "steward.reproduction_of"
DIFF_ARTIFACT = "environment/git.diff"
EVALUATION_CONTEXTS = ("evaluation", "validation", "test", "holdout", "training")
PREDICTION_ROWS = 10_000
TAIL_LINES = 30
SIBLING_WINDOW = 86_400.0
CLOCK_SKEW = 300.0  # seconds a server's clock may be behind this machine's


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


def reproduce_run(
    run_id: str,
    *,
    here: bool = False,
    tolerance: float = 1e-9,
    workdir: str | Path | None = None,
    timeout: float | None = None,
    allow_dirty_mismatch: bool = False,
    repo: str | Path | None = None,
    ignore_metrics: Sequence[str] = (),
    progress: ProgressCallback | None = None,
) -> ReproductionReport:
    """Return the report of re-running run ``run_id`` from its record and comparing the results.

    The code is the recorded commit (plus the run's uncommitted diff), checked out from the
    recorded repository or ``repo``; the data are the recorded dataset versions, verified
    by hash before anything runs; the seed is the recorded one (``PYTHONHASHSEED``); the
    libraries are the recorded versions in a fresh virtual environment, or the current
    interpreter with ``here=True`` (differences listed). Metrics must agree within
    ``tolerance`` (absolute); ``ignore_metrics`` holds glob patterns of metrics to show but
    not judge (timings). ``workdir`` keeps the virtual environment between calls.
    """
    if not tolerance >= 0:
        raise InvalidInput(f"The tolerance must be a number >= 0; got {tolerance!r}.")
    say = progress or (lambda _message, _done, _total: None)
    started = time.time()
    backend = _backend.get_backend()
    buffer.flush()
    run = backend.get_run(run_id)
    git, command = _recorded(run)
    warns: list[str] = []
    if run.status == "RUNNING":
        warns.append(f"Run {run.id} is still RUNNING: its metrics may not be final yet.")
    originals = [run, *_siblings(run)]
    datasets = _verify_datasets(originals, say)
    root = Path(repo).expanduser().resolve() if repo is not None else Path(git["root"])
    _check_repository(run, root, git)
    base = Path(workdir).expanduser().resolve() if workdir is not None else None
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="steward-reproduce-", dir=base))
    try:
        with _worktree(root, git["commit"], scratch / "code", say) as tree:
            code = _apply_diff(run, git, root, tree, allow_dirty_mismatch, warns, say)
            old_root = Path(git["root"])
            cwd, args = _relocate_command(run, command, old_root, tree, git)
            venv = base / f"venv-{run.environment_id or 'none'}"[:22] if base else scratch / "venv"
            python, environment = _environment(run, here, old_root, venv, warns, say)
            env = _child_environment(run, python, here, old_root, tree)
            say(f"Running {' '.join(args)}", None, None)
            existing = {r.id for r in _recent_runs(time.time())}
            log = scratch / "output.log"
            exit_code, pid, launched, timed_out = _launch(python, args, cwd, env, log, timeout)
            tail = _tail(log) if exit_code != 0 else None
            say("Comparing the runs", None, None)
            checks = [
                _compare(
                    orig, new, tolerance, ignore_metrics, here, python, env, (old_root, tree), say
                )
                for orig, new in _match(originals, _new_runs(run.id, pid, launched, existing))
            ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    reasons = list(checks[0].reasons)
    if timed_out:
        reasons.insert(0, f"the command did not finish within {timeout:g} s and was stopped")
    elif exit_code != 0:
        reasons.insert(0, f"the command exited with code {exit_code}")
    warns += [
        f"The command's run {c.name!r} did not reproduce either: {'; '.join(c.reasons)}."
        for c in checks[1:]
        if not c.reproduced
    ]
    report = ReproductionReport(
        run_id=run.id,
        run_name=run.name,
        project=run.project,
        experiment=run.experiment,
        new_run_id=checks[0].new_run_id,
        command=["python", *args],
        exit_code=exit_code,
        duration_seconds=round(time.time() - started, 3),
        seed=run.context.get("seed"),
        tolerance=tolerance,
        code=code,
        datasets=datasets,
        environment=environment,
        runs=checks,
        reproduced=not reasons,
        reasons=reasons,
        warnings=warns,
        output_tail=tail,
    )
    _record(report)
    return report


def _record(report: ReproductionReport) -> None:
    """Tag each new run with the run it reproduces; store the report with the new target run."""
    backend = _backend.get_backend()
    for check in report.runs:
        if check.new_run_id:
            backend.log_batch(check.new_run_id, tags={REPRODUCTION_TAG: check.original_run_id})
    if report.new_run_id:
        sha, size = backend.blobs.put_bytes(report.model_dump_json(indent=2).encode())
        backend.add_artifact(report.new_run_id, "reproduction/report.json", sha, size)


def _recorded(run: Run) -> tuple[dict[str, Any], list[str]]:
    """Return the run's recorded git state and command, or say why it cannot be re-run."""
    git = run.context.get("git")
    if not isinstance(git, dict) or not git.get("commit") or not git.get("root"):
        raise InvalidInput(
            f"Run {run.id} ({run.name!r}) was not started from a git repository (or one "
            "without commits); Steward cannot fetch its code. Commit the training script "
            "to git and start a new run from it."
        )
    command = run.context.get("command")
    if not isinstance(command, list) or len(command) < 2 or command[1] in ("", "-c", "-"):
        raise InvalidInput(
            f"Run {run.id} ({run.name!r}) recorded no script to re-run (command: "
            f"{command!r}): it was started from an interactive session or `python -c`. "
            "Start runs from a script to make them reproducible."
        )
    return git, [str(part) for part in command]


def _siblings(run: Run) -> list[Run]:
    """Return the other runs the same process made (same host, pid, command and commit)."""
    keys = ("hostname", "pid", "command")
    window = f"start_time >= {run.start_time - SIBLING_WINDOW} and start_time <= {run.start_time + SIBLING_WINDOW}"
    found = _backend.get_backend().search_runs(filter=window, max_results=10_000).runs
    same = [
        r
        for r in found
        if r.id != run.id
        and all(r.context.get(k) == run.context.get(k) for k in keys)
        and (r.context.get("git") or {}).get("commit") == run.context["git"]["commit"]
    ]
    return sorted(same, key=lambda r: r.start_time)


def _verify_datasets(runs: Sequence[Run], say: ProgressCallback) -> list[DatasetCheck]:
    """Return each dataset version the runs read, after loading it and checking its hash."""
    from steward.develop._datasets import load_dataset

    wanted = list(dict.fromkeys((i.dataset, i.version) for r in runs for i in r.inputs))
    checks = []
    for done, (name, version) in enumerate(wanted):
        say(f"Verifying dataset {name} v{version}", done, len(wanted))
        meta = _backend.get_backend().get_dataset_version(name, version)
        try:
            load_dataset(name, version)  # verifies the content hash
        except IntegrityError as exc:
            raise IntegrityError(
                f"Dataset {name!r} version {version}, which the run read, no longer matches "
                f"its recorded hash, so the run cannot be reproduced from it. {exc.message}"
            ) from exc
        checks.append(
            DatasetCheck(
                dataset=name, version=version, content_hash=meta.content_hash, verified=True
            )
        )
    return checks


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def _check_repository(run: Run, root: Path, git: dict[str, Any]) -> None:
    commit, remote = git["commit"], git.get("remote")
    where = f" (cloned from {remote})" if remote else ""
    if not root.is_dir() or _git(root, "rev-parse", "--git-dir").returncode != 0:
        raise NotFound(
            f"Run {run.id} was started from the git repository at {str(root)!r}{where}, commit "
            f"{commit[:12]}, and there is no repository there now. Clone it and pass its "
            "folder with --repo (repo=...)."
        )
    if _git(root, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        raise NotFound(
            f"The repository at {str(root)!r} does not have commit {commit}, which run {run.id} "
            "was started from. Fetch it (git fetch --all), or pass another clone with --repo."
        )


@contextlib.contextmanager
def _worktree(root: Path, commit: str, folder: Path, say: ProgressCallback) -> Iterator[Path]:
    """Yield a detached worktree of ``commit``; remove it afterwards, also on failure."""
    say(f"Checking out commit {commit[:12]}", None, None)
    added = _git(root, "worktree", "add", "--detach", "--quiet", str(folder), commit)
    if added.returncode != 0:
        raise StewardError(
            f"git could not check out commit {commit[:12]} of {root} into {folder}: "
            f"{added.stderr.strip()}"
        )
    try:
        yield folder
    finally:
        _git(root, "worktree", "remove", "--force", str(folder))
        shutil.rmtree(folder, ignore_errors=True)
        _git(root, "worktree", "prune")


_APPLY_ERROR = re.compile(
    r"^error: (?:patch failed: (?P<a>.+):\d+|(?P<b>.+?): (?:patch does not apply|No such file"
    r" or directory|already exists in working directory|does not exist in index))$",
    re.MULTILINE,
)


def _apply_diff(
    run: Run,
    git: dict[str, Any],
    root: Path,
    tree: Path,
    allow_mismatch: bool,
    warns: list[str],
    say: ProgressCallback,
) -> CodeCheck:
    """Return the code check after applying the run's uncommitted diff in the worktree."""
    untracked = [str(u) for u in git.get("untracked") or []]
    code = CodeCheck(
        repository=str(root),
        commit=git["commit"],
        branch=git.get("branch"),
        dirty=bool(git.get("dirty")),
        untracked=untracked,
    )
    if untracked:
        shown = ", ".join(untracked[:5]) + (", ..." if len(untracked) > 5 else "")
        warns.append(
            f"{len(untracked)} file(s) were untracked when the run started and were not "
            f"recorded ({shown}); if the run read them, the reproduction cannot."
        )
    if not git.get("diff_sha256"):
        return code
    backend = _backend.get_backend()
    stored = [a for a in backend.list_artifacts(run.id, DIFF_ARTIFACT) if a.path == DIFF_ARTIFACT]
    problem = f"its diff ({DIFF_ARTIFACT}) is not stored with the run"
    if stored:
        diff = backend.blobs.read_bytes(stored[0].sha256)
        if hashlib.sha256(diff).hexdigest() != git["diff_sha256"]:
            raise IntegrityError(
                f"The uncommitted diff stored with run {run.id} hashes to "
                f"{hashlib.sha256(diff).hexdigest()}, not the recorded {git['diff_sha256']}: "
                "it was altered. Steward will not apply it."
            )
        code.diff_files = list(
            dict.fromkeys(
                re.findall(r"^diff --git a/(.+?) b/", diff.decode("utf-8", "replace"), re.MULTILINE)
            )
        )
        patch = tree.parent / "uncommitted.diff"
        patch.write_bytes(diff)
        say(f"Applying the uncommitted diff ({len(code.diff_files)} files)", None, None)
        checked = _git(tree, "apply", "--check", "--binary", "--whitespace=nowarn", str(patch))
        if checked.returncode == 0:
            applied = _git(tree, "apply", "--binary", "--whitespace=nowarn", str(patch))
            if applied.returncode == 0:
                code.diff_applied = True
                return code
            checked = applied
        code.failed_files = list(
            dict.fromkeys(m["a"] or m["b"] for m in _APPLY_ERROR.finditer(checked.stderr))
        )
        problem = (
            "its diff does not apply to that commit"
            + (f" (failed: {', '.join(code.failed_files)})" if code.failed_files else "")
            + f": {checked.stderr.strip()[:500]}"
        )
    if not allow_mismatch:
        raise Conflict(
            f"Run {run.id} was started with uncommitted changes to commit {git['commit'][:12]}, "
            f"and {problem}. Pass --allow-dirty-mismatch (allow_dirty_mismatch=True) to "
            "reproduce without them, knowing the code differs from what ran."
        )
    code.diff_applied = False
    warns.append(f"The run had uncommitted changes and {problem}; reproduced without them.")
    return code


def _relocate(path: Path, old_root: Path, new_root: Path) -> Path | None:
    """Return ``path`` moved from under ``old_root`` to under ``new_root`` (None if outside)."""
    try:
        return new_root / Path(os.path.normpath(path)).relative_to(os.path.normpath(old_root))
    except ValueError:
        return None


def _relocate_command(
    run: Run, command: list[str], old_root: Path, tree: Path, git: dict[str, Any]
) -> tuple[Path, list[str]]:
    """Return the working folder and arguments of the recorded command, moved into the worktree."""
    old_cwd = Path(run.context.get("cwd") or old_root)
    moved_cwd = _relocate(old_cwd, old_root, tree)
    cwd = moved_cwd if moved_cwd is not None else old_cwd
    args = []
    for arg in command[1:]:
        path = Path(arg)
        moved = (
            None
            if arg.startswith("-")
            else _relocate(path if path.is_absolute() else old_cwd / path, old_root, tree)
        )
        keep = (
            moved is None
            or not moved.exists()
            or (moved_cwd is not None and not path.is_absolute())
        )
        args.append(arg if keep else str(moved))
    script = Path(args[0]) if Path(args[0]).is_absolute() else cwd / args[0]
    if not script.exists():
        inside = _relocate(old_cwd / command[1], old_root, Path("."))
        rel = inside.as_posix() if inside is not None else command[1]
        untracked = [str(u) for u in git.get("untracked") or []]
        why = (
            "it was untracked when the run started, so no copy of it was recorded"
            if any(rel == u or (u.endswith("/") and rel.startswith(u)) for u in untracked)
            else f"it is not in commit {git['commit'][:12]}"
        )
        raise NotFound(
            f"Cannot re-run {command[1]!r} of run {run.id}: {why}. Commit the script and "
            "start a new run from it."
        )
    if not cwd.is_dir():
        raise NotFound(f"The working folder {str(old_cwd)!r} of run {run.id} no longer exists.")
    return cwd, args


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _editable_dists(root: Path) -> set[str]:
    """Return the distributions installed here in editable mode from inside ``root``."""
    from urllib.parse import unquote, urlsplit

    found = set()
    for dist in importlib.metadata.distributions():
        text = dist.read_text("direct_url.json")
        if not text or not dist.metadata["Name"]:
            continue
        info = json.loads(text)
        url = str(info.get("url", ""))
        editable = info.get("dir_info", {}).get("editable") and url.startswith("file:")
        if editable and _relocate(Path(unquote(urlsplit(url).path)), root, root):
            found.add(_canonical(dist.metadata["Name"]))
    return found


def _differences(
    recorded: dict[str, str], used: dict[str, str], skip: set[str]
) -> list[PackageChange]:
    """Return the distributions added, removed or changed between two {name: version} maps."""
    old = {_canonical(k): (k, v) for k, v in recorded.items()}
    new = {_canonical(k): (k, v) for k, v in used.items()}
    changes = []
    for key in sorted(set(old) | set(new)):
        if key in NOT_PINNED or key in skip:
            continue
        before, after = old.get(key, (None, None))[1], new.get(key, (None, None))[1]
        if before != after:
            name = (old.get(key) or new[key])[0]
            changes.append(PackageChange(name=name, recorded=before, installed=after))
    return changes


def _python_text() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def _environment(
    run: Run, here: bool, old_root: Path, venv: Path, warns: list[str], say: ProgressCallback
) -> tuple[Path, EnvironmentCheck]:
    """Return the Python to re-run with, and how its libraries differ from the record."""
    backend = _backend.get_backend()
    recorded = backend.get_environment(run.environment_id) if run.environment_id else None
    editable = _editable_dists(old_root)  # the project itself: its code is the worktree's
    if not here:
        return _fresh_environment(recorded, editable, venv, say)
    if recorded is None:
        warns.append("No environment was recorded with the run; library versions unchecked.")
    return Path(sys.executable), EnvironmentCheck(
        mode="here",
        python_recorded=recorded.python if recorded else None,
        python_used=_python_text(),
        packages_recorded=len(recorded.packages) if recorded else 0,
        differences=_differences(recorded.packages, capture_environment().packages, editable)
        if recorded
        else [],
    )


def _fresh_environment(
    recorded: Environment | None, editable: set[str], venv: Path, say: ProgressCallback
) -> tuple[Path, EnvironmentCheck]:
    """Return the Python of a new virtual environment holding the recorded versions."""
    if recorded is None:
        raise InvalidInput(
            "The run recorded no environment, so there are no library versions to install. "
            "Reproduce it in the current environment with --here (here=True)."
        )
    pins = {
        k: v for k, v in recorded.packages.items() if _canonical(k) not in NOT_PINNED | editable
    }
    python = build_venv(venv, pins, base_python=_interpreter_for(recorded.python), progress=say)
    probe = "import importlib.metadata as m, json, platform as p; print(json.dumps([p.python_implementation() + ' ' + p.python_version(), {d.metadata['Name']: d.version for d in m.distributions() if d.metadata['Name']}]))"
    used_python, used = json.loads(_check_output([str(python), "-c", probe]))
    check = EnvironmentCheck(
        mode="venv",
        python_recorded=recorded.python,
        python_used=used_python,
        packages_recorded=len(recorded.packages),
        differences=_differences(recorded.packages, used, editable),
    )
    return python, check


def _interpreter_for(recorded: str | None) -> str:
    """Return a Python of the recorded minor version when one is on PATH, else this one."""
    found = re.search(r"(\d+)\.(\d+)", recorded or "")
    if found and (int(found[1]), int(found[2])) != sys.version_info[:2]:
        return shutil.which(f"python{found[1]}.{found[2]}") or sys.executable
    return sys.executable


def _check_output(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise StewardError(f"{' '.join(args[:3])} failed: {done.stderr.strip()[-1000:]}")
    return done.stdout


def build_venv(
    folder: Path,
    pins: dict[str, str],
    *,
    base_python: str | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Return the Python of a virtual environment in ``folder`` with ``pins`` and this Steward.

    Reuses ``folder`` when a previous call completed it with the same pins. pip follows
    the machine's configuration (index, find-links, proxy), so it works offline when that
    points at local wheels.
    """
    say = progress or (lambda _message, _done, _total: None)
    bindir = "Scripts" if os.name == "nt" else "bin"
    python = folder / bindir / ("python.exe" if os.name == "nt" else "python")
    stamp = folder / ".steward-pins.json"
    wanted = json.dumps(pins, sort_keys=True)
    if not (stamp.is_file() and stamp.read_text() == wanted and python.exists()):
        shutil.rmtree(folder, ignore_errors=True)
        say("Creating a virtual environment", None, None)
        _check_output([base_python or sys.executable, "-m", "venv", str(folder)])
        if pins:
            _pip_install(python, pins, folder / "requirements.txt", say)
        stamp.write_text(wanted)
    purelib = Path(
        _check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).strip()
    )
    _copy_steward(purelib)
    return python


def _pip_install(
    python: Path, pins: dict[str, str], requirements: Path, say: ProgressCallback
) -> None:
    requirements.write_text(
        "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
    )
    say(f"Installing {len(pins)} pinned packages", 0, len(pins))
    args = [
        str(python),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "-r",
        str(requirements),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    done = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith(("Collecting ", "Processing ", "Requirement already satisfied")):
            done = min(done + 1, len(pins))
            say(f"Installing {len(pins)} pinned packages", done, len(pins))
        elif line.startswith("Installing collected packages"):
            say(f"Installing {len(pins)} pinned packages (unpacking)", len(pins), len(pins))
    if proc.wait() != 0:
        raise pip_failure("\n".join(lines), pins)


def pip_failure(output: str, pins: dict[str, str]) -> StewardError:
    """Return the error for a failed ``pip install`` of pinned versions, naming the culprit."""
    canonical = {_canonical(k): (k, v) for k, v in pins.items()}
    named = re.search(
        r"(?:No matching distribution found for|Could not find a version that satisfies the "
        r"requirement|Failed to build|Failed building wheel for) ([A-Za-z0-9_.\-]+)",
        output,
    )
    errors = [line for line in output.splitlines() if line.startswith(("ERROR", "error", "\u00d7"))]
    detail = " ".join(errors[-3:])[:800] or output.strip()[-800:]
    hint = (
        "Check that it is available from your package index (pip config list), or reproduce "
        "in the current environment with --here (here=True)."
    )
    if named is None:
        return StewardError(f"pip could not install the recorded library versions: {detail} {hint}")
    name, version = canonical.get(_canonical(named[1]), (named[1], "?"))
    cls = (
        NotFound
        if "No matching distribution" in output or "Could not find" in output
        else StewardError
    )
    return cls(
        f"Cannot install the recorded version of {name!r} ({name}=={version}) into a fresh "
        f"virtual environment: {detail} {hint}"
    )


def _copy_steward(purelib: Path) -> None:
    """Install the running Steward into ``purelib`` as a plain copy (fast, offline)."""
    import steward

    source = Path(steward.__file__).parent
    shutil.rmtree(purelib / "steward", ignore_errors=True)
    shutil.copytree(source, purelib / "steward", ignore=shutil.ignore_patterns("__pycache__"))
    meta = purelib / f"steward-{steward.__version__}.dist-info"
    meta.mkdir(exist_ok=True)
    (meta / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: steward\nVersion: {steward.__version__}\n"
    )


def _child_environment(
    run: Run, python: Path, here: bool, old_root: Path, tree: Path
) -> dict[str, str]:
    """Return the environment variables of the re-run: same store, seed, project, experiment."""
    import steward

    env = dict(os.environ)
    settings = load_settings()
    env["STEWARD_HOME"] = str(settings.home.resolve())
    env.update(
        STEWARD_PROJECT=run.project, STEWARD_EXPERIMENT=run.experiment, STEWARD_REPRODUCING=run.id
    )
    seed = run.context.get("seed")
    if seed is not None:
        env["PYTHONHASHSEED"] = str(seed)
    own = Path(steward.__file__).resolve().parent.parent
    paths = [
        str(moved)
        for entry in sys.path
        if entry
        and Path(entry).resolve() != own
        and (moved := _relocate(Path(entry).resolve(), old_root, tree)) is not None
        and moved.exists()
    ]
    if not here:
        env["VIRTUAL_ENV"] = str(python.parent.parent)
        env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])
        env["PYTHONNOUSERSITE"] = "1"
        for leak in ("PYTHONHOME", "PYTHONPATH"):  # would bring this environment's libraries
            env.pop(leak, None)
    if paths:
        env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _launch(
    python: Path, args: list[str], cwd: Path, env: dict[str, str], log: Path, timeout: float | None
) -> tuple[int | None, int, float, bool]:
    """Return (exit code, pid, start time, timed out) of the command, its output in ``log``."""
    launched = time.time()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(python), *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            return proc.wait(timeout=timeout), proc.pid, launched, False
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None, proc.pid, launched, True


def _tail(log: Path) -> str:
    lines = log.read_text("utf-8", "replace").splitlines()
    return "\n".join(lines[-TAIL_LINES:])


def _recent_runs(since: float) -> list[Run]:
    window = f"start_time >= {since - CLOCK_SKEW}"
    return _backend.get_backend().search_runs(filter=window, max_results=10_000).runs


def _new_runs(run_id: str, pid: int, launched: float, existing: set[str]) -> list[Run]:
    """Return the runs the re-run process made (its pid on this host, or tagged by the hook)."""
    host = socket.gethostname()
    mine = [
        r
        for r in _recent_runs(launched)
        if r.id not in existing
        and (
            (r.context.get("pid") == pid and r.context.get("hostname") == host)
            or r.tags.get(REPRODUCTION_TAG) == run_id
        )
    ]
    return sorted(mine, key=lambda r: r.start_time)


def _match(originals: list[Run], new: list[Run]) -> list[tuple[Run, Run | None]]:
    """Pair each original run with the new run of the same experiment and name, in start order."""
    pool: dict[tuple[str, str, str], list[Run]] = {}
    for r in new:
        pool.setdefault((r.project, r.experiment, r.name), []).append(r)
    seen: dict[tuple[str, str, str], int] = {}
    pairs: dict[str, Run | None] = {}
    for r in sorted(originals, key=lambda r: r.start_time):
        key = (r.project, r.experiment, r.name)
        index = seen[key] = seen.get(key, -1) + 1
        candidates = pool.get(key, [])
        pairs[r.id] = candidates[index] if index < len(candidates) else None
    return [(r, pairs[r.id]) for r in originals]


def _close(a: float, b: float, tolerance: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= tolerance


def _compare(
    orig: Run,
    new: Run | None,
    tolerance: float,
    ignore: Sequence[str],
    here: bool,
    python: Path,
    env: dict[str, str],
    roots: tuple[Path, Path],
    say: ProgressCallback,
) -> RunCheck:
    """Return how the new run compares with the original: metrics, params, inputs, predictions."""
    check = RunCheck(
        name=orig.name,
        project=orig.project,
        experiment=orig.experiment,
        original_run_id=orig.id,
        new_run_id=new.id if new else None,
        original_status=orig.status,
        new_status=new.status if new else None,
        reproduced=False,
    )
    if new is None:
        check.reasons.append(
            f"the command made no run named {orig.name!r} in {orig.project}/{orig.experiment}"
        )
        return check
    if new.status != orig.status:
        check.reasons.append(f"the new run ended {new.status}, the original {orig.status}")
    for key in sorted(set(orig.metrics) | set(new.metrics)):
        a, b = orig.metrics.get(key), new.metrics.get(key)
        ignored = any(fnmatch.fnmatchcase(key, pattern) for pattern in ignore)
        metric = MetricCheck(
            key=key,
            original=a.value if a else None,
            reproduced=b.value if b else None,
            difference=b.value - a.value if a and b else None,
            within_tolerance=False,
            ignored=ignored,
        )
        if a and b:
            same_history = a.count == b.count and (
                _close(a.min, b.min, tolerance) and _close(a.max, b.max, tolerance)
            )
            metric.within_tolerance = _close(a.value, b.value, tolerance) and same_history
            if _close(a.value, b.value, tolerance) and not same_history:
                metric.note = (
                    f"same last value, other history: {a.count} vs {b.count} values, "
                    f"min/max {a.min:.6g}/{a.max:.6g} vs {b.min:.6g}/{b.max:.6g}"
                )
        else:
            metric.note = "only in the " + ("original" if a else "reproduced") + " run"
        check.metrics.append(metric)
    differing = [m.key for m in check.metrics if not (m.within_tolerance or m.ignored)]
    if differing:
        check.reasons.append(f"metrics differ beyond {tolerance:g}: {', '.join(differing)}")
    old_root, tree = roots  # a param holding a path inside the worktree names the original
    new_params = {k: v.replace(str(tree), str(old_root)) for k, v in new.params.items()}
    check.params_compared = len(set(orig.params) | set(new_params))
    check.param_differences = [
        ParamDifference(key=k, original=orig.params.get(k), reproduced=new_params.get(k))
        for k in sorted(set(orig.params) | set(new_params))
        if orig.params.get(k) != new_params.get(k)
    ]
    if check.param_differences:
        check.reasons.append(f"params differ: {', '.join(p.key for p in check.param_differences)}")
    before = {(i.dataset, i.version, i.context) for i in orig.inputs}
    after = {(i.dataset, i.version, i.context) for i in new.inputs}
    check.input_differences = [
        f"original read {d} v{v} ({c})" for d, v, c in sorted(before - after)
    ] + [f"reproduction read {d} v{v} ({c})" for d, v, c in sorted(after - before)]
    if check.input_differences:
        check.reasons.append("the runs read different data: " + "; ".join(check.input_differences))
    check.predictions = _compare_predictions(orig, new, tolerance, here, python, env, say)
    bad = [p.model for p in check.predictions if not p.within_tolerance]
    if bad:
        check.reasons.append(f"predictions differ beyond {tolerance:g}: {', '.join(bad)}")
    check.reproduced = not check.reasons
    return check


def _models(run_id: str) -> dict[str, str]:
    """Return {artifact folder: manifest sha} of every model package logged to a run."""
    artifacts = _backend.get_backend().list_artifacts(run_id)
    return {
        a.path.rsplit("/", 1)[0]: a.sha256 for a in artifacts if a.path.endswith("/steward.yaml")
    }


def _compare_predictions(
    orig: Run,
    new: Run,
    tolerance: float,
    here: bool,
    python: Path,
    env: dict[str, str],
    say: ProgressCallback,
) -> list[PredictionCheck]:
    """Return, per model package of the original run, how the new model's predictions compare."""
    old_models, new_models = _models(orig.id), _models(new.id)
    inputs = sorted(orig.inputs, key=lambda i: (*EVALUATION_CONTEXTS, i.context).index(i.context))
    checks = []
    for path in sorted(old_models):
        check = PredictionCheck(model=path, within_tolerance=False)
        checks.append(check)
        if path not in new_models:
            check.notes.append("the reproduced run logged no model here")
            continue
        if not inputs:
            check.within_tolerance = True
            check.notes.append("not compared: the run recorded no dataset to predict on")
            continue
        check.dataset, check.version = inputs[0].dataset, inputs[0].version
        say(f"Comparing predictions of {path} on {check.dataset} v{check.version}", None, None)
        job = {
            "original": f"runs:/{orig.id}/{path}",
            "new": f"runs:/{new.id}/{path}",
            "dataset": check.dataset,
            "version": check.version,
            "tolerance": tolerance,
        }
        if here:
            outcome = prediction_outputs(job)
        else:  # load the models where they were trained: in the recorded library versions
            code = "from steward.develop._reproduce import _prediction_main; _prediction_main()"
            done = subprocess.run(
                [str(python), "-c", code],
                input=json.dumps(job),
                capture_output=True,
                text=True,
                env=env,
                timeout=3600,
            )
            lines = done.stdout.strip().splitlines()
            outcome = (
                json.loads(lines[-1])
                if done.returncode == 0 and lines
                else {"error": done.stderr.strip()[-500:] or f"exit code {done.returncode}"}
            )
        check.notes += outcome.get("notes", [])
        if "skipped" in outcome:
            check.within_tolerance = True
            check.notes.append(f"not compared: {outcome['skipped']}")
        elif "error" in outcome:
            check.notes.append(f"could not compare predictions: {outcome['error']}")
        else:
            check.rows, check.method = outcome["rows"], outcome["method"]
            check.max_abs_diff = outcome["max_abs_diff"]
            check.mismatched_rows = outcome["mismatched_rows"]
            check.within_tolerance = check.mismatched_rows == 0
    return checks


def prediction_outputs(job: dict[str, Any]) -> dict[str, Any]:
    """Return how far two models' outputs lie apart on a recorded dataset version.

    ``job`` names the two model URIs, the dataset and version, and the tolerance. The
    result holds rows, method, max_abs_diff and mismatched_rows (rows beyond tolerance),
    or ``skipped``/``error`` with a reason; ``notes`` keeps the warnings seen on the way.
    """
    import numpy as np

    from steward.develop._datasets import load_dataset
    from steward.registry import load_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            original = load_model(job["original"], unseen="ignore", nulls="ignore")
            new = load_model(job["new"], unseen="ignore", nulls="ignore")
            frame = load_dataset(job["dataset"], job["version"]).head(PREDICTION_ROWS)
            if original.signature is not None:
                names = [c.name for c in original.signature.inputs]
                if missing := [n for n in names if n not in frame.columns]:
                    return {"skipped": f"the dataset lacks the model's input columns {missing}"}
                frame = frame[names]
            method = "predict_proba" if "predict_proba" in original.manifest.methods else "predict"
            a = np.asarray(getattr(original, method)(frame))
            b = np.asarray(getattr(new, method)(frame))
        except Exception as exc:  # a model that no longer loads or predicts is a finding
            return {"error": f"{type(exc).__name__}: {exc}"[:500]}
    notes = sorted({str(w.message) for w in caught})
    rows = len(frame)
    if a.shape != b.shape:
        gap = np.full(rows, np.inf)
        notes.append(f"output shapes differ: {a.shape} vs {b.shape}")
    elif a.dtype.kind in "biuf" and b.dtype.kind in "biuf":
        fa, fb = a.astype(np.float64).reshape(rows, -1), b.astype(np.float64).reshape(rows, -1)
        diff = np.where(np.isnan(fa) & np.isnan(fb), 0.0, np.abs(fa - fb))
        gap = np.nan_to_num(diff, nan=np.inf).max(axis=1) if diff.size else np.zeros(rows)
    else:  # labels that are not numbers: equal or not
        gap = np.where((a != b).reshape(rows, -1).any(axis=1), np.inf, 0.0)
    return {
        "rows": rows,
        "method": method,
        "max_abs_diff": float(gap.max()) if rows else 0.0,
        "mismatched_rows": int((gap > job["tolerance"]).sum()),
        "notes": notes,
    }


def _prediction_main() -> None:
    """Read a prediction job as JSON on stdin; print its outcome as JSON (used in a fresh venv)."""
    print(json.dumps(prediction_outputs(json.loads(sys.stdin.read()))))
