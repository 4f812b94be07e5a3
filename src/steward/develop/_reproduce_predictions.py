"""Compare the predictions of the models an original run and its re-run logged, on the same rows."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from steward.context import get_backend
from steward.develop._datasets import load_dataset
from steward.develop._models import Run
from steward.develop._reproduction_report import PredictionCheck, ProgressCallback
from steward.registry import load_model

EVALUATION_CONTEXTS = ("evaluation", "validation", "test", "holdout", "training")
PREDICTION_ROWS = 10_000


def _models(run_id: str) -> dict[str, str]:
    """Return {artifact folder: manifest sha} of every model package logged to a run."""
    artifacts = get_backend().list_artifacts(run_id)
    return {
        a.path.rsplit("/", 1)[0]: a.sha256 for a in artifacts if a.path.endswith("/steward.yaml")
    }


def compare_predictions(
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
            code = "from steward.develop._reproduce_predictions import _prediction_main; _prediction_main()"
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
