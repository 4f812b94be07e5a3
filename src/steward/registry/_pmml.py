"""PMML export of scikit-learn models (sklearn2pmml) and its parity check (pypmml).

Both libraries run Java: sklearn2pmml pickles the model and converts it with the
JPMML-SkLearn command-line application, pypmml scores with PMML4S through a py4j gateway.
Without a ``java`` on PATH every function here raises :class:`InvalidInput` saying so.

Found on sklearn2pmml 0.133.1, pypmml 1.5.8, OpenJDK 17, scikit-learn 1.9.1:

- JPMML-SkLearn refuses any model pickled by a scikit-learn newer than the one it was
  built for (0.133.1 knows up to 1.9.0) with "Scikit-Learn version '1.9.1' is not
  supported", even for a patch release. :func:`to_pmml` turns that into an
  :class:`InvalidInput` naming both versions; ``check_sklearn_version=False`` converts
  anyway by leaving the version out of the pickle, and the parity check then tells
  whether the result is faithful (on these versions a Pipeline of ColumnTransformer,
  StandardScaler, OneHotEncoder and a linear model or a random forest agrees to ~1e-12).
- sklearn2pmml mutates the estimator it converts (it "escapes" steps in place), so the
  model is deep-copied first; it prints the Java output to stdout, which is captured and
  used for error messages.
- pypmml returns one ``probability(<class>)`` column per class for classifiers and
  ``predicted_<target>`` for regressors; the label is taken as the most probable class.
"""

from __future__ import annotations

import contextlib
import copy
import io
import pickle
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from steward.errors import InvalidInput
from steward.registry._parity import ParityReport, compare_outputs, library_versions

JAVA_MISSING = (
    "PMML export needs a Java runtime (java on PATH); install one, "
    "e.g. apt-get install default-jre-headless"
)
_LIBRARIES = ("sklearn2pmml", "pypmml", "scikit-learn")
_TARGET = "target"


def java_available() -> bool:
    """Return whether a working ``java`` is on PATH (``java -version`` succeeds)."""
    return _java_version() is not None


def to_pmml(model: Any, sample: pd.DataFrame, *, check_sklearn_version: bool = True) -> bytes:
    """Return the PMML document (UTF-8 XML) of a fitted estimator or Pipeline.

    ``sample`` gives the input column names. With ``check_sklearn_version=False`` a
    scikit-learn newer than sklearn2pmml knows is accepted (see the module docstring).
    """
    _require_java()
    try:
        from sklearn2pmml import make_pmml_pipeline, sklearn2pmml
    except ImportError as exc:
        raise InvalidInput(
            "PMML export needs the sklearn2pmml package; install it with pip install sklearn2pmml."
        ) from exc
    columns = _input_columns(model, sample)
    target = _TARGET if _TARGET not in columns else f"{_TARGET}_"
    pipeline = make_pmml_pipeline(
        copy.deepcopy(model), active_fields=columns, target_fields=[target]
    )
    output = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="steward-pmml-") as folder:
        pmml_path = Path(folder) / "model.pmml"
        try:
            with contextlib.redirect_stdout(output):
                if check_sklearn_version:
                    sklearn2pmml(pipeline, str(pmml_path))
                else:
                    pickle_path = Path(folder) / "model.pkl"
                    _dump_without_version(pipeline, pickle_path)
                    sklearn2pmml(str(pickle_path), str(pmml_path), escape_func=None)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise InvalidInput(_conversion_error(model, output.getvalue(), exc)) from exc
        return pmml_path.read_bytes()


def check_pmml_parity(
    model: Any,
    pmml_bytes: bytes,
    data: pd.DataFrame,
    *,
    tolerance: float = 1e-5,
    rtol: float = 0.0,
) -> ParityReport:
    """Return the parity report of the PMML model (scored by pypmml) against ``model``."""
    from sklearn.base import is_classifier, is_regressor

    _require_java()
    try:
        from pypmml import Model
    except ImportError as exc:
        raise InvalidInput(
            "The PMML parity check needs the pypmml package; install it with pip install pypmml."
        ) from exc
    columns = _input_columns(model, data)
    frame = data[columns]
    features = frame if hasattr(model, "feature_names_in_") else frame.to_numpy()
    scorer = Model.fromString(pmml_bytes.decode("utf-8"))
    try:
        scored = scorer.predict(_pmml_frame(frame))
    finally:
        scorer.close()
    versions = library_versions(*_LIBRARIES)
    java = _java_version()
    if java:
        versions["java"] = java
    if is_classifier(model) and hasattr(model, "predict_proba"):
        classes = list(model.classes_)
        names = [f"probability({c})" for c in classes]
        missing = [n for n in names if n not in scored.columns]
        if missing:
            raise InvalidInput(
                f"The PMML model does not output {', '.join(missing)} for the classes "
                f"{classes} of {type(model).__name__}; it outputs {list(scored.columns)}. "
                "Was it exported from this model?"
            )
        scores = scored[names].to_numpy(dtype=np.float64)
        labels = np.asarray(classes, dtype=object)[np.argmax(scores, axis=1)]
        return compare_outputs(
            model.predict_proba(features),
            scores,
            model.predict(features),
            labels,
            tolerance=tolerance,
            rtol=rtol,
            format="pmml",
            task="classification",
            notes=["Exported labels are the most probable class of the PMML probabilities."],
            versions=versions,
        )
    if not is_regressor(model):
        raise InvalidInput(
            "The parity check needs a fitted classifier with predict_proba or a regressor. "
            f"Got {type(model).__name__}."
        )
    predicted = [c for c in scored.columns if str(c).startswith("predicted_")]
    column = predicted[0] if predicted else scored.columns[0]
    return compare_outputs(
        model.predict(features),
        scored[column].to_numpy(dtype=np.float64),
        tolerance=tolerance,
        rtol=rtol,
        format="pmml",
        task="regression",
        versions=versions,
    )


class _VersionlessPickler(pickle.Pickler):
    """Pickler that leaves scikit-learn's ``_sklearn_version`` out of estimator states."""

    def reducer_override(self, obj: Any) -> Any:
        from sklearn.base import BaseEstimator

        if not isinstance(obj, BaseEstimator):
            return NotImplemented
        reduced = obj.__reduce_ex__(4)
        if not isinstance(reduced, tuple) or len(reduced) < 3 or not isinstance(reduced[2], dict):
            return NotImplemented
        state = {k: v for k, v in reduced[2].items() if k != "_sklearn_version"}
        return (reduced[0], reduced[1], state, *reduced[3:])


def _dump_without_version(pipeline: Any, path: Path) -> None:
    """Pickle the PMML pipeline as sklearn2pmml would, minus the scikit-learn version."""
    from sklearn2pmml import _escape  # the escaping sklearn2pmml applies before pickling

    escaped = _escape(pipeline, escape_func=_escape)
    with path.open("wb") as handle:
        _VersionlessPickler(handle, protocol=4).dump(escaped)


def _conversion_error(model: Any, java_output: str, exc: Exception) -> str:
    """Return the user-facing message for a failed sklearn2pmml conversion."""
    version = re.search(r"Scikit-Learn version '([^']+)' is not supported", java_output)
    if version:
        supported = re.search(r"downgrade Scikit-Learn to version '([^']+)'", java_output)
        known = f" (it knows up to {supported.group(1)})" if supported else ""
        return (
            f"sklearn2pmml {library_versions('sklearn2pmml').get('sklearn2pmml', '')} cannot "
            f"convert models from scikit-learn {version.group(1)}{known}. Upgrade sklearn2pmml, "
            "install a scikit-learn it supports, or pass check_sklearn_version=False to "
            "convert anyway and rely on the parity check."
        )
    detail = _java_exception(java_output) or f"{type(exc).__name__}: {exc}"
    return (
        f"sklearn2pmml could not convert {type(model).__name__} to PMML: {detail}. "
        "PMML export is not available for this model; use ONNX or the native model package."
    )


def _java_exception(java_output: str) -> str | None:
    """Return the first Java exception message (and its suggested solution) in the output."""
    match = re.search(r"^\S+(?:Exception|Error): (.+)$", java_output, re.MULTILINE)
    if not match:
        return None
    text = match.group(1).strip()
    solution = re.search(r"^Solution:\s*\n\s*(.+)$", java_output, re.MULTILINE)
    if solution:
        text += f" ({solution.group(1).strip()})"
    return text


def _input_columns(model: Any, frame: pd.DataFrame) -> list[str]:
    """Return the model's input column names, checking the frame has them all."""
    expected = getattr(model, "feature_names_in_", None)
    names = [str(n) for n in expected] if expected is not None else [str(c) for c in frame.columns]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InvalidInput(
            f"The data lacks column(s) {', '.join(map(repr, missing))} that the model was "
            f"trained on. Columns given: {', '.join(map(str, frame.columns))}."
        )
    return names


def _pmml_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the frame as pypmml reads it: booleans as 0/1 (PMML declares them double)."""
    converted = frame.copy()
    for name in converted.columns:
        column = converted[name]
        if pd.api.types.is_bool_dtype(column.dtype):
            converted[name] = column.astype("int64")
        elif isinstance(column.dtype, pd.CategoricalDtype):
            converted[name] = column.astype(object)
    return converted


def _require_java() -> None:
    """Raise InvalidInput unless a Java runtime is available."""
    if not java_available():
        raise InvalidInput(JAVA_MISSING)


def _java_version() -> str | None:
    """Return the version of the ``java`` on PATH, or None when there is none that runs."""
    java = shutil.which("java")
    if java is None:
        return None
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    match = re.search(r'version "([^"]+)"', done.stderr + done.stdout)
    return match.group(1) if match else "unknown"
