"""ONNX export of scikit-learn models (skl2onnx) and its parity check (onnxruntime).

The exported graph takes the same named columns as the original model: one input per
column, shaped ``[n, 1]``; numbers (integers and booleans included) as doubles (or floats,
see below), text and categories as strings. Classifiers output ``label`` and
``probabilities`` as plain tensors (no ZipMap); regressors output ``variable``.

Float32 versus double, as found on skl2onnx 1.20, onnx 1.23, onnxruntime 1.32,
scikit-learn 1.9:

- skl2onnx's default is float32 inputs, so every preprocessing step (scaling, imputing,
  arithmetic) runs in float32 in ONNX while scikit-learn runs it in float64. Tree
  ensembles then compare slightly different values with the same thresholds, and a row
  within a few float32 steps of a split goes the other way. On 1,000 rows with an epoch
  timestamp column (float32 keeps steps of 128 s there) behind a StandardScaler: a random
  forest classifier's probabilities differ by up to 0.07 on 18 rows, a random forest
  regressor's predictions by up to 1.0 on ~20 rows, and an XGBoost classifier changes
  the label of 1% of the rows. A bare tree model fed the raw columns in float32 agrees,
  because skl2onnx shifts the thresholds to reproduce scikit-learn's own float32 cast;
  linear models differ by a few parts in a million. The parity check catches all this.
- DoubleTensorType inputs make skl2onnx convert the preprocessing in double (Sub/Mul
  instead of the float-only ``Scaler`` operator). Its double path for the tree operators
  themselves is broken on these versions: it writes ai.onnx.ml opset 1
  ``TreeEnsembleRegressor``/``TreeEnsembleClassifier`` nodes whose output is float while
  declaring a double output, and onnxruntime refuses the graph for every regressor and
  for gradient boosting classifiers ("Type (tensor(double)) of output arg ... does not
  match expected type (tensor(float))"); only forest classifiers load. Asking for
  ``ai.onnx.ml`` opset 3 does not help: skl2onnx still emits opset-1 attributes, and in
  opset 3 those operators output float anyway (only opset 5 ``TreeEnsemble`` outputs
  double, and skl2onnx 1.20 does not emit it).
- scikit-learn's trees (decision trees, random forests, extra trees, gradient boosting)
  cast their input to float32 before comparing it with a float64 threshold. So the
  faithful graph is: the preprocessing in double, a ``Cast`` to float32 just before the
  tree ensemble (skl2onnx's ``CastTransformer``), then skl2onnx's float32 tree, whose
  thresholds are adjusted so that ``float(x) <= t`` decides as scikit-learn does. With
  it, every decision matches and labels agree on every row; what remains is the float32
  rounding of the tree operator's output (probabilities within 1e-7; a regression
  prediction within ~2e-7 of its magnitude, so pass ``rtol=1e-6`` or a tolerance on the
  target's scale). XGBoost works in float32 internally, so the same cast is faithful for
  it; LightGBM compares doubles, so a row within a float32 step of a split may still
  differ (onnxmltools' converter only takes float32), which the parity check reports.
- skl2onnx declares a classifier's outputs with the type of the first block of a
  ColumnTransformer (float for a OneHotEncoder) even when the graph computes them in
  double, and onnxruntime refuses the graph; :func:`to_onnx` re-declares every output
  with the type ONNX shape inference finds.
- HistGradientBoosting* cannot be converted on these versions: skl2onnx 1.20 writes a
  Python bool into an integer attribute and onnx 1.23 rejects it ("Field
  onnx.AttributeProto.ints: Expected an int, got a boolean").

:func:`to_onnx` therefore tries ``precision="double"`` first (double inputs and
preprocessing, float32 cast before tree ensembles), checks that onnxruntime loads and runs
the graph on the sample, and falls back to ``precision="float"`` (skl2onnx's default)
only when that fails; the chosen precision and the reason of any fall-back are written in
the model's metadata and repeated in the :class:`ParityReport`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from steward.errors import InvalidInput
from steward.registry._parity import ParityReport, compare_outputs, library_versions

Precision = Literal["auto", "double", "float"]

PRECISION_KEY = "steward.precision"
COLUMNS_KEY = "steward.columns"  # the data column behind each graph input, in input order
FALLBACK_KEY = "steward.precision_fallback"
FLOAT32_CAST_KEY = "steward.float32_cast"
_LIBRARIES = ("skl2onnx", "onnx", "onnxruntime", "onnxmltools", "scikit-learn")
# Estimators fed float32: scikit-learn's trees and XGBoost cast to float32 themselves;
# onnxmltools' LightGBM converter only takes float32 (LightGBM itself compares doubles).
_FLOAT32_ESTIMATORS = (
    "sklearn.tree",
    "sklearn.ensemble._forest",
    "sklearn.ensemble._gb",
    "sklearn.ensemble._iforest",
    "xgboost",
    "lightgbm",
)
# onnxmltools emits ai.onnx.ml opset 5 unless told otherwise, which skl2onnx 1.20 refuses.
_ML_OPSET = 3
# Relative rounding of float32 outputs summed over many trees, with margin (eps is 1.2e-7).
_FLOAT32_RTOL = 1e-6


@dataclass(frozen=True)
class _Column:
    name: str
    kind: Literal["number", "string"]


def to_onnx(
    model: Any,
    sample: pd.DataFrame,
    *,
    target_opset: int | dict[str, int] | None = None,
    precision: Precision = "auto",
) -> bytes:
    """Return the serialized ONNX model of a fitted estimator or Pipeline, one input a column.

    ``sample`` gives the column names and types (a few rows of training or validation
    data). ``precision="auto"`` tries the double graph and falls back to float32 (see the
    module docstring); "double" or "float" forces one.
    """
    if precision not in ("auto", "double", "float"):
        raise InvalidInput(
            f"The 'precision' parameter must be 'auto', 'double' or 'float'. Got {precision!r}."
        )
    _task(model)
    columns = _columns(model, sample)
    frame = sample[[c.name for c in columns]]
    if frame.empty:
        raise InvalidInput("The sample must hold at least one row to check the export. Got 0.")
    attempts: list[Literal["double", "float"]] = (
        ["double", "float"] if precision == "auto" else [precision]
    )
    failures: list[str] = []
    for attempt in attempts:
        try:
            proto = _convert(model, columns, frame, attempt, target_opset)
            _set_metadata(proto, {COLUMNS_KEY: json.dumps([c.name for c in columns])})
            data = proto.SerializeToString()
            run_onnx(data, frame.head(20))
        except InvalidInput:
            raise
        except Exception as exc:
            failures.append(f"{attempt}: {_first_line(exc)}")
            continue
        metadata: dict[str, str] = {PRECISION_KEY: attempt}
        if failures:
            metadata[FALLBACK_KEY] = "; ".join(failures)
        _set_metadata(proto, metadata)
        return bytes(proto.SerializeToString())
    raise InvalidInput(
        f"skl2onnx could not convert {_name(model)} to a graph onnxruntime runs "
        f"({'; '.join(failures)}). ONNX export is not available for this model; "
        "use the native model package instead."
    )


def run_onnx(onnx_bytes: bytes, frame: pd.DataFrame) -> tuple[np.ndarray | None, np.ndarray]:
    """Return (labels, scores) of the ONNX model on ``frame``: labels None for regressors."""
    session = _session(onnx_bytes)
    inputs = session.get_inputs()
    # skl2onnx turns a column name into a valid graph name ('mean radius' -> 'mean_radius');
    # Steward's exports record the data column of each input, in input order.
    recorded = _metadata(onnx_bytes).get(COLUMNS_KEY)
    sources = json.loads(recorded) if recorded else [spec.name for spec in inputs]
    feeds: dict[str, np.ndarray] = {}
    for spec, column in zip(inputs, sources, strict=True):
        if column not in frame.columns:
            raise InvalidInput(
                f"The data has no column {column!r}, which the ONNX model takes as input "
                f"{spec.name!r}. Columns given: {', '.join(map(str, frame.columns))}."
            )
        feeds[spec.name] = _feed(frame[column], spec.type)
    names = [out.name for out in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, feeds), strict=True))
    if "probabilities" in outputs:
        labels = np.asarray(outputs["label"]).reshape(-1)
        return labels, np.asarray(outputs["probabilities"])
    scores = np.asarray(outputs[names[0]])
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    return None, scores


def check_onnx_parity(
    model: Any,
    onnx_bytes: bytes,
    data: pd.DataFrame,
    *,
    tolerance: float = 1e-5,
    rtol: float = 0.0,
) -> ParityReport:
    """Return the parity report of the ONNX model against ``model`` on the rows of ``data``."""
    task = _task(model)
    frame = data[[c.name for c in _columns(model, data)]]
    features = frame if hasattr(model, "feature_names_in_") else frame.to_numpy()
    labels, scores = run_onnx(onnx_bytes, frame)
    metadata = _metadata(onnx_bytes)
    precision = metadata.get(PRECISION_KEY)
    notes = []
    if precision == "double":
        notes.append("Inputs and preprocessing ran in double.")
        if FLOAT32_CAST_KEY in metadata:
            notes.append(
                f"{metadata[FLOAT32_CAST_KEY]} takes its input cast to float32, "
                "as it does in its own library."
            )
    elif precision == "float":
        notes.append("Inputs and preprocessing ran in float32 (skl2onnx's default).")
    if FALLBACK_KEY in metadata:
        notes.append(f"The double conversion failed, so float32 was used: {metadata[FALLBACK_KEY]}")
    common: dict[str, Any] = {
        "tolerance": tolerance,
        "rtol": rtol,
        "format": "onnx",
        "task": task,
        "precision": precision,
        "versions": library_versions(*_LIBRARIES),
    }
    if task == "classification":
        original = model.predict_proba(features)
        return compare_outputs(
            original, scores, model.predict(features), labels, notes=notes, **common
        )
    original = model.predict(features)
    if rtol == 0.0 and scores.dtype == np.float32:
        diff = np.abs(np.asarray(original, dtype=np.float64) - scores.astype(np.float64))
        within = diff <= tolerance + _FLOAT32_RTOL * np.abs(np.asarray(original, dtype=np.float64))
        if not (diff <= tolerance).all() and within.all():
            notes.append(
                "The ONNX model outputs float32 and every difference is within its rounding "
                f"(|Δ| <= tolerance + {_FLOAT32_RTOL:g}·|prediction|); pass "
                f"rtol={_FLOAT32_RTOL:g} to accept it."
            )
    return compare_outputs(original, scores, notes=notes, **common)


def _convert(
    model: Any,
    columns: list[_Column],
    frame: pd.DataFrame,
    precision: Literal["double", "float"],
    target_opset: int | dict[str, int] | None,
) -> Any:
    """Return the ONNX ModelProto of ``model`` with one typed input per column."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType
    from skl2onnx.common.exceptions import MissingConverter, MissingShapeCalculator

    _register_boosters()
    number_type = DoubleTensorType if precision == "double" else FloatTensorType
    initial_types = [
        (c.name, StringTensorType([None, 1]) if c.kind == "string" else number_type([None, 1]))
        for c in columns
    ]
    graph_model, final, cast = _graph_model(model, columns, frame, cast=precision == "double")
    opsets = _opsets(target_opset)
    options = {id(final): {"zipmap": False}} if _task(model) == "classification" else None
    try:
        with warnings.catch_warnings():
            # skl2onnx warns about opsets and deprecated scikit-learn attributes it reads.
            warnings.simplefilter("ignore")
            proto = convert_sklearn(
                graph_model,
                initial_types=initial_types,
                target_opset=opsets,
                options=options,
            )
    except (MissingConverter, MissingShapeCalculator) as exc:
        raise InvalidInput(
            f"skl2onnx has no converter for {_unsupported_name(exc, model)}; ONNX export is "
            "not available for this model, use the native model package instead."
        ) from exc
    _fix_output_types(proto)
    if cast:
        _set_metadata(proto, {FLOAT32_CAST_KEY: type(final).__name__})
    return proto


def _fix_output_types(proto: Any) -> None:
    """Declare each graph output with the element type the graph computes.

    skl2onnx types a classifier's outputs from the first column block of a
    ColumnTransformer (float for a OneHotEncoder) while the graph computes in double when
    another block is double; onnxruntime then refuses the graph. ONNX shape inference,
    run with the output types cleared, gives the computed types.
    """
    import onnx

    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    for output in probe.graph.output:
        output.type.tensor_type.elem_type = onnx.TensorProto.UNDEFINED
    try:
        inferred = onnx.shape_inference.infer_shapes(probe, strict_mode=False)
    except Exception:  # inference is best effort; onnxruntime has the last word
        return
    computed = {o.name: o.type.tensor_type.elem_type for o in inferred.graph.output}
    for output in proto.graph.output:
        elem_type = computed.get(output.name, onnx.TensorProto.UNDEFINED)
        if elem_type != onnx.TensorProto.UNDEFINED:
            output.type.tensor_type.elem_type = elem_type


def _opsets(target_opset: int | dict[str, int] | None) -> dict[str, int]:
    """Return the opsets to target: the given or latest tested main opset, ai.onnx.ml 3."""
    from skl2onnx import get_latest_tested_opset_version

    if isinstance(target_opset, dict):
        return {"ai.onnx.ml": _ML_OPSET, **target_opset}
    main = get_latest_tested_opset_version() if target_opset is None else target_opset
    return {"": int(main), "ai.onnx.ml": _ML_OPSET}


def _graph_model(
    model: Any, columns: list[_Column], frame: pd.DataFrame, *, cast: bool
) -> tuple[Any, Any, bool]:
    """Return the model to convert, its final estimator and whether a float32 cast was added.

    The columns are gathered by a passthrough ColumnTransformer unless the model starts
    with one (skl2onnx feeds several inputs only to a ColumnTransformer); with ``cast`` a
    float32 cast goes before a final estimator that compares float32 features.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    steps: list[tuple[str, Any]] = (
        list(model.steps) if isinstance(model, Pipeline) else [("model", model)]
    )
    steps = [(name, step) for name, step in steps if step is not None and step != "passthrough"]
    final = steps[-1][1]
    innermost = final
    while getattr(innermost, "steps", None):
        innermost = innermost.steps[-1][1]
    changed = casted = False
    if not isinstance(steps[0][1], ColumnTransformer):
        names = [c.name for c in columns]
        gather = ColumnTransformer([("columns", "passthrough", names)]).fit(frame)
        steps.insert(0, ("steward_columns", gather))
        changed = True
    if cast and _casts_to_float32(final):
        from skl2onnx.sklapi import CastTransformer

        steps.insert(len(steps) - 1, ("steward_float32", CastTransformer(dtype=np.float32)))
        changed = casted = True
    if not changed and len(steps) == len(getattr(model, "steps", [])):
        return model, innermost, False
    return Pipeline(steps), innermost, casted


def _casts_to_float32(estimator: Any) -> bool:
    """Return whether the estimator compares float32 features (trees, forests, boosting)."""
    module = type(estimator).__module__
    return any(
        module == prefix or module.startswith(prefix + ".") for prefix in _FLOAT32_ESTIMATORS
    )


def _register_boosters() -> None:
    """Register onnxmltools' XGBoost and LightGBM converters with skl2onnx, when installed."""
    global _BOOSTERS_REGISTERED
    if _BOOSTERS_REGISTERED:
        return
    _BOOSTERS_REGISTERED = True
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    try:
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from xgboost import XGBClassifier, XGBRegressor
    except ImportError:
        pass
    else:
        update_registered_converter(
            XGBClassifier,
            "XGBoostXGBClassifier",
            calculate_linear_classifier_output_shapes,
            convert_xgboost,
            options=classifier_options,
        )
        update_registered_converter(
            XGBRegressor,
            "XGBoostXGBRegressor",
            calculate_linear_regressor_output_shapes,
            convert_xgboost,
        )
    try:
        from lightgbm import LGBMClassifier, LGBMRegressor
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    except ImportError:
        pass
    else:
        update_registered_converter(
            LGBMClassifier,
            "LightGbmLGBMClassifier",
            calculate_linear_classifier_output_shapes,
            convert_lightgbm,
            options=classifier_options,
        )
        update_registered_converter(
            LGBMRegressor,
            "LightGbmLGBMRegressor",
            calculate_linear_regressor_output_shapes,
            convert_lightgbm,
        )


_BOOSTERS_REGISTERED = False


def _columns(model: Any, frame: pd.DataFrame) -> list[_Column]:
    """Return the model's input columns, in its order, each typed from the frame."""
    expected = getattr(model, "feature_names_in_", None)
    names = [str(n) for n in expected] if expected is not None else [str(c) for c in frame.columns]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InvalidInput(
            f"The data lacks column(s) {', '.join(map(repr, missing))} that the model was "
            f"trained on. Columns given: {', '.join(map(str, frame.columns))}."
        )
    columns = []
    for name in names:
        dtype = frame[name].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            columns.append(_Column(name, "number"))
        elif (
            pd.api.types.is_string_dtype(dtype)
            or pd.api.types.is_object_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
        ):
            columns.append(_Column(name, "string"))
        else:
            raise InvalidInput(
                f"Column {name!r} has type {dtype}, which ONNX export cannot take as input. "
                "Convert it to numbers or strings (dates to timestamps) before training."
            )
    return columns


def _task(model: Any) -> Literal["classification", "regression"]:
    """Return the model's task, refusing estimators that are neither classifier nor regressor."""
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(model) and hasattr(model, "predict_proba"):
        return "classification"
    if is_regressor(model):
        return "regression"
    raise InvalidInput(
        f"Export with a parity check needs a fitted classifier with predict_proba or a "
        f"regressor. Got {_name(model)}; use the native model package instead."
    )


def _feed(column: pd.Series, onnx_type: str) -> np.ndarray:
    """Return one column as the ``[n, 1]`` array of the dtype the ONNX input declares."""
    if onnx_type == "tensor(string)":
        values = column.astype(object).where(column.notna(), "")
        return np.asarray(values.map(str), dtype=object).reshape(-1, 1)
    dtypes = {"tensor(double)": np.float64, "tensor(float)": np.float32, "tensor(int64)": np.int64}
    if onnx_type not in dtypes:
        raise InvalidInput(f"Column {column.name!r} feeds an unsupported ONNX input {onnx_type}.")
    try:
        array = column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Column {column.name!r} must be numeric for the ONNX model. Got {column.dtype}."
        ) from exc
    return array.astype(dtypes[onnx_type]).reshape(-1, 1)


def _session(onnx_bytes: bytes) -> Any:
    """Return an onnxruntime CPU inference session for the serialized model."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def _metadata(onnx_bytes: bytes) -> dict[str, str]:
    """Return the metadata properties stored in a serialized ONNX model."""
    import onnx

    proto = onnx.load_model_from_string(onnx_bytes)
    return {prop.key: prop.value for prop in proto.metadata_props}


def _set_metadata(proto: Any, values: dict[str, str]) -> None:
    """Add key/value metadata properties to an ONNX ModelProto."""
    for key, value in values.items():
        prop = proto.metadata_props.add()
        prop.key = key
        prop.value = value


def _name(model: Any) -> str:
    """Return the class name of a model, with its final step for a Pipeline."""
    steps = getattr(model, "steps", None)
    if steps:
        return f"Pipeline({' → '.join(type(s).__name__ for _, s in steps)})"
    return type(model).__name__


def _unsupported_name(exc: Exception, model: Any) -> str:
    """Return the estimator class skl2onnx could not convert, from its error or the model."""
    text = str(exc)
    for candidate in _estimators(model):
        if type(candidate).__name__ in text:
            return type(candidate).__name__
    return _name(model)


def _estimators(model: Any) -> list[Any]:
    """Return the model and every estimator nested in it (pipeline steps, transformers)."""
    found = [model]
    for _, step in getattr(model, "steps", []):
        found.extend(_estimators(step))
    for _, transformer, _ in getattr(model, "transformers", []):
        if not isinstance(transformer, str):
            found.extend(_estimators(transformer))
    return found


def _first_line(exc: BaseException) -> str:
    """Return the first line of the root cause of an exception, shortened."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {line[:300]}"
