"""reproduce_run: re-run a recorded run from its commit, data, seed and libraries, then compare.

The recorded code is checked out in a temporary git worktree (with the run's uncommitted
diff applied), the dataset versions it read are verified against their hashes, and its
command is run again, in the current interpreter (``here=True``) or in a fresh virtual
environment holding the recorded library versions. Each run the command makes is paired
with the run it re-creates (by name when the run was named, else by its place among the
command's unnamed runs; see :func:`_match`), and their metrics, params, inputs and model
predictions are compared within a tolerance.
"""

from __future__ import annotations

import fnmatch
import math
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from steward.buffer import buffer
from steward.context import get_backend
from steward.develop._datasets import load_dataset
from steward.develop._models import Run
from steward.develop._reproduce_code import apply_diff, check_repository, relocate_command, worktree
from steward.develop._reproduce_env import child_environment, recorded_environment
from steward.develop._reproduce_predictions import compare_predictions
from steward.develop._reproduction_report import (
    DatasetCheck,
    MetricCheck,
    ParamDifference,
    ProgressCallback,
    ReproductionReport,
    RunCheck,
)
from steward.errors import IntegrityError, InvalidInput

REPRODUCTION_TAG = "steward.reproduction_of"
TAIL_LINES = 30
SIBLING_WINDOW = 86_400.0
CLOCK_SKEW = 300.0  # seconds a server's clock may be behind this machine's


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
    backend = get_backend()
    buffer.flush()
    run = backend.get_run(run_id)
    git, command = _recorded(run)
    warns: list[str] = []
    if run.status == "RUNNING":
        warns.append(f"Run {run.id} is still RUNNING: its metrics may not be final yet.")
    originals = [run, *_siblings(run)]
    datasets = _verify_datasets(originals, say)
    root = Path(repo).expanduser().resolve() if repo is not None else Path(git["root"])
    check_repository(run, root, git)
    base = Path(workdir).expanduser().resolve() if workdir is not None else None
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="steward-reproduce-", dir=base))
    try:
        with worktree(root, git["commit"], scratch / "code", say) as tree:
            code = apply_diff(run, git, root, tree, allow_dirty_mismatch, warns, say)
            old_root = Path(git["root"])
            cwd, args = relocate_command(run, command, old_root, tree, git)
            venv = base / f"venv-{run.environment_id or 'none'}"[:22] if base else scratch / "venv"
            python, environment = recorded_environment(run, here, old_root, venv, warns, say)
            env = child_environment(run, python, here, old_root, tree)
            say(f"Running {' '.join(args)}", None, None)
            existing = {r.id for r in _recent_runs(time.time())}
            log = scratch / "output.log"
            exit_code, pid, launched, timed_out = _launch(python, args, cwd, env, log, timeout)
            tail = _tail(log) if exit_code != 0 else None
            say("Comparing the runs", None, None)
            checks = [
                _compare(
                    orig,
                    new,
                    _place(orig, originals),
                    tolerance,
                    ignore_metrics,
                    here,
                    python,
                    env,
                    (old_root, tree),
                    say,
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
    backend = get_backend()
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
    found = get_backend().search_runs(filter=window, max_results=10_000).runs
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
    wanted = list(dict.fromkeys((i.dataset, i.version) for r in runs for i in r.inputs))
    checks = []
    for done, (name, version) in enumerate(wanted):
        say(f"Verifying dataset {name} v{version}", done, len(wanted))
        meta = get_backend().get_dataset_version(name, version)
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
    return get_backend().search_runs(filter=window, max_results=10_000).runs


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


def was_named(run: Run) -> bool:
    """Return True when the run was given a name (an unnamed run is called ``run-<id[:8]>``)."""
    return run.name != f"run-{run.id[:8]}"


def _match(originals: list[Run], new: list[Run]) -> list[tuple[Run, Run | None]]:
    """Pair each original run with the new run that re-creates it.

    Within one project/experiment, in start order: a named run pairs with the new run of
    the same name (the k-th run of that name with the k-th), and an unnamed run with the
    new unnamed run in the same place (the k-th unnamed run with the k-th). An unnamed
    run's name is random, so its place among the command's unnamed runs is what a re-run
    of the same code keeps.
    """

    def key(r: Run) -> tuple[str, str, str | None]:
        return (r.project, r.experiment, r.name if was_named(r) else None)

    pool: dict[tuple[str, str, str | None], list[Run]] = {}
    for r in sorted(new, key=lambda r: r.start_time):
        pool.setdefault(key(r), []).append(r)
    seen: dict[tuple[str, str, str | None], int] = {}
    pairs: dict[str, Run | None] = {}
    for r in sorted(originals, key=lambda r: r.start_time):
        k = key(r)
        index = seen[k] = seen.get(k, -1) + 1
        candidates = pool.get(k, [])
        pairs[r.id] = candidates[index] if index < len(candidates) else None
    return [(r, pairs[r.id]) for r in originals]


def _place(run: Run, originals: list[Run]) -> str:
    """Return how a reason names an original run: by name, or by its place when unnamed."""
    if was_named(run):
        return f"run named {run.name!r}"
    unnamed = [
        r
        for r in sorted(originals, key=lambda r: r.start_time)
        if not was_named(r) and (r.project, r.experiment) == (run.project, run.experiment)
    ]
    place = next(i for i, r in enumerate(unnamed, 1) if r.id == run.id)
    return f"unnamed run #{place} (of {len(unnamed)}; the original is {run.name})"


def _close(a: float, b: float, tolerance: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= tolerance


def _compare(
    orig: Run,
    new: Run | None,
    place: str,
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
        check.reasons.append(f"the command made no {place} in {orig.project}/{orig.experiment}")
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
    check.predictions = compare_predictions(orig, new, tolerance, here, python, env, say)
    bad = [p.model for p in check.predictions if not p.within_tolerance]
    if bad:
        check.reasons.append(f"predictions differ beyond {tolerance:g}: {', '.join(bad)}")
    check.reproduced = not check.reasons
    return check
