"""Shapley values: per prediction and as global importance, in the model's input columns.

A tree ensemble (scikit-learn forests, GBMs and trees, XGBoost, LightGBM; alone or as the
last step of a Pipeline) gets shap's exact ``TreeExplainer``: path-dependent when the trees
output the score itself (forests, regressors), interventional on the background sample
when they output log-odds (boosted classifiers: their probability is explained). A
Pipeline's transformed features are summed back into the input columns they come from
(one-hot columns into their column), which keeps additivity. Every other model, and trees
shap cannot read exactly, get a model-agnostic explainer over a background sample of at
most ``max_background`` rows: kernel SHAP over every coalition of features (exact) up to 11
features, shap's permutation explainer beyond. The explained output is what
:meth:`Explained.score` returns: P(positive class) for a binary classifier, the prediction
for a regressor. A multi-class classifier has every class explained (``by_class``), and
``values`` holds, per row, the contributions to the probability of the class the model
predicts: the question a user asks of one prediction. Each explanation carries
:class:`ExplainerSettings`: which explainer, why, the background and its hash, the seed and
the shap version.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from steward.errors import InvalidInput
from steward.explain._inputs import Explained, resolve_data, resolve_model
from steward.explain._shap_engines import (
    AgnosticEngine,
    Engine,
    NoTree,
    agnostic_kind,
    as_2d,
    excess_error,
    flavor_name,
    load_shap,
    tree_engine,
)
from steward.registry import LoadedModel, get_model_version

Algorithm = Literal["auto", "tree", "permutation", "kernel"]


class ExplainerSettings(BaseModel):
    """How an explanation was computed; recorded with every explanation."""

    explainer: Literal["tree", "permutation", "kernel"]
    reason: str
    method: str  # tree_path_dependent | interventional | permutation | kernel
    output: str  # what the values add up to, e.g. "probability of class 1"
    model: str
    flavor: str
    features: list[str]
    background_rows: int
    background_sha256: str | None
    seed: int
    max_evals: int | None = None
    shap_version: str


@dataclass
class ShapExplanation:
    """Shapley values of several rows: ``base_values + values.sum(axis=1) == output``."""

    values: pd.DataFrame  # rows by input columns
    base_values: pd.Series
    output: pd.Series  # the explained model score of each row
    data: pd.DataFrame  # the explained rows' feature values
    settings: ExplainerSettings
    explained_class: pd.Series | None = None  # multi-class: the class explained per row
    by_class: dict[Any, pd.DataFrame] | None = None  # multi-class: every class's values
    class_base_values: dict[Any, float] | None = None  # multi-class: every class's base value

    @property
    def base_value(self) -> float:
        """Return the expected score (the same for every row unless multi-class)."""
        if self.base_values.nunique() > 1:
            raise InvalidInput(
                "Rows of a multi-class explanation have different base values (one per "
                "predicted class); read base_values instead."
            )
        return float(self.base_values.iloc[0])

    def additivity_error(self) -> float:
        """Return the largest |base value + sum of values - output| over the rows."""
        total = self.base_values + self.values.sum(axis=1)
        return float((total - self.output).abs().max())

    def to_frame(self, row: int = 0) -> pd.DataFrame:
        """Return one row's contributions (feature, value, contribution), largest first."""
        if not -len(self.values) <= row < len(self.values):
            raise InvalidInput(
                f"Row {row} is out of range: this explanation has {len(self.values)} rows."
            )
        return _contributions(self.values.iloc[row], self.data.iloc[row])

    def top(self, k: int = 5, row: int = 0) -> pd.DataFrame:
        """Return the ``k`` largest contributions of one row."""
        return self.to_frame(row).head(k)

    def importance(self) -> pd.DataFrame:
        """Return mean |SHAP| per feature, largest first (averaged over classes if multi-class)."""
        frames = list(self.by_class.values()) if self.by_class else [self.values]
        mean_abs = np.mean([f.abs().mean().to_numpy() for f in frames], axis=0)
        table = pd.DataFrame({"feature": self.values.columns, "mean_abs_shap": mean_abs})
        table = table.sort_values("mean_abs_shap", ascending=False, ignore_index=True)
        table.attrs["settings"] = self.settings.model_dump()
        return table


@dataclass
class PredictionExplanation:
    """One prediction with its Shapley values: ``base_value + sum(contribution) == output``."""

    prediction: Any
    output: float
    base_value: float
    contributions: pd.DataFrame  # feature, value, contribution; largest |contribution| first
    settings: ExplainerSettings
    explained_class: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Return the explanation as JSON-ready data (for a serving endpoint)."""
        return {
            "prediction": _plain(self.prediction),
            "output": self.output,
            "base_value": self.base_value,
            "explained_class": _plain(self.explained_class),
            "contributions": [
                {"feature": f, "value": _plain(v), "contribution": float(c)}
                for f, v, c in self.contributions.itertuples(index=False)
            ],
            "settings": self.settings.model_dump(),
        }


class Explainer:
    """A shap explainer bound to one model, its background and its settings."""

    def __init__(self, explained: Explained, settings: ExplainerSettings, engine: Engine) -> None:
        self.explained = explained
        self.settings = settings
        self._engine = engine
        self._verified = engine.verified

    def explain(self, data: Any) -> ShapExplanation:
        """Return the Shapley values of every row of ``data``, checked against the model's output."""
        frame = _rows(resolve_data(data, self.explained), self.explained.features)
        values, base = self._engine.shap(frame)
        output = as_2d(self.explained.score(frame))
        self._check(values, base, output)
        return self._assemble(frame, values, base, output)

    def _fast(self, frame: pd.DataFrame) -> ShapExplanation:
        """Explain rows without scoring them again once the explainer has been verified."""
        if not self._verified:
            return self.explain(frame)
        values, base = self._engine.shap(frame)
        return self._assemble(frame, values, base, base + values.sum(axis=1))

    def _check(self, values: np.ndarray, base: np.ndarray, output: np.ndarray) -> None:
        error = excess_error(values, base, output)
        if error is not None:
            raise InvalidInput(
                f"shap's {self.settings.method} explainer does not reproduce this model's "
                f"output (largest difference {error:.3g}). Pass algorithm='permutation' and a "
                "background sample to use the model-agnostic explainer."
            )
        self._verified = True

    def _assemble(
        self, frame: pd.DataFrame, values: np.ndarray, base: np.ndarray, output: np.ndarray
    ) -> ShapExplanation:
        features, index = self.explained.features, frame.index
        if values.shape[2] == 1:
            return ShapExplanation(
                pd.DataFrame(values[:, :, 0], index=index, columns=features),
                pd.Series(base[:, 0], index=index, name="base_value"),
                pd.Series(output[:, 0], index=index, name="output"),
                frame,
                self.settings,
            )
        classes = self.explained.classes or list(range(values.shape[2]))
        chosen, rows = output.argmax(axis=1), np.arange(len(frame))
        return ShapExplanation(
            pd.DataFrame(values[rows, :, chosen], index=index, columns=features),
            pd.Series(base[rows, chosen], index=index, name="base_value"),
            pd.Series(output[rows, chosen], index=index, name="output"),
            frame,
            self.settings,
            pd.Series([classes[c] for c in chosen], index=index, name="explained_class"),
            {
                c: pd.DataFrame(values[:, :, j], index=index, columns=features)
                for j, c in enumerate(classes)
            },
            {c: float(base[0, j]) for j, c in enumerate(classes)},
        )

    def __repr__(self) -> str:
        return f"<Explainer {self.settings.method} for {self.settings.model}>"


def make_explainer(
    model: Any,
    background: Any = None,
    *,
    max_background: int = 100,
    seed: int = 0,
    algorithm: Algorithm = "auto",
) -> Explainer:
    """Return an explainer for ``model``: exact tree SHAP when shap can read it, else model-agnostic.

    ``background`` (a DataFrame or dataset name) is sampled to at most ``max_background``
    rows with ``seed``; the model-agnostic explainers need it, tree models may do without.
    """
    explained = model if isinstance(model, Explained) else resolve_model(model)
    bg: pd.DataFrame | None = None
    if background is not None:
        frame = _rows(resolve_data(background, explained), explained.features, "background")
        bg = (
            frame.sample(n=min(max_background, len(frame)), random_state=seed)
            if len(frame) > max_background
            else frame
        )
    if not explained.features:
        raise InvalidInput(
            f"The {type(explained.estimator).__name__} does not record its input columns: pass "
            "background= a DataFrame of training rows so that the explainer knows them."
        )
    multiclass = explained.task == "classification" and len(explained.classes or []) > 2
    flavor = flavor_name(explained)
    engine: Engine | None = None
    if algorithm in ("auto", "tree"):
        try:
            engine, reason = tree_engine(explained, bg, multiclass)
        except NoTree as exc:
            if algorithm == "tree":
                raise InvalidInput(f"algorithm='tree' is not possible here: {exc}.") from None
            reason = str(exc)
    else:
        reason = f"algorithm={algorithm!r} was requested"
    if engine is None:
        n = len(explained.features)
        kind = algorithm if algorithm in ("permutation", "kernel") else agnostic_kind(n)
        if algorithm == "auto":
            exact = (
                f" (exact: all {2**n - 2} coalitions of the {n} features)"
                if kind == "kernel"
                else ""
            )
            reason = f"{reason}: using the model-agnostic {kind} explainer{exact}"
        if bg is None:
            raise InvalidInput(
                f"The model-agnostic explainer needs a background sample ({reason}). Pass "
                "background= a DataFrame or dataset name with a few hundred training rows."
            )
        engine = AgnosticEngine(explained, bg, kind, seed)
    if engine.uses_background:
        rows, digest = len(bg) if bg is not None else 0, _sha256(bg) if bg is not None else None
    else:
        rows, digest = 0, None
    settings = ExplainerSettings(
        explainer=engine.kind,
        reason=reason,
        method=engine.method,
        output=_output_name(explained, multiclass),
        model=explained.version.uri if explained.version else explained.source,
        flavor=flavor,
        features=list(explained.features),
        background_rows=rows,
        background_sha256=digest,
        seed=seed,
        max_evals=getattr(engine, "max_evals", None),
        shap_version=load_shap().__version__,
    )
    return Explainer(explained, settings, engine)


_CACHE: OrderedDict[tuple[Any, Any], tuple[Any, Any, Explainer]] = OrderedDict()
_CACHE_SIZE = 16
_LOCK = threading.Lock()


def cached_explainer(model: Any, *, background: Any = None) -> Explainer:
    """Return the explainer of ``model`` (and ``background``), built once and then reused.

    Models are identified by object, registry URIs and loaded versions by the version's
    manifest hash (so an alias that moves gets a new explainer); backgrounds by object or
    dataset name. Pass the same objects to hit the cache; it keeps the last 16.
    """
    key = (_model_key(model), _background_key(background))
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit[2]
    explainer = make_explainer(model, background)
    with _LOCK:
        _CACHE[key] = (model, background, explainer)  # keeping the objects keeps their ids unique
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return explainer


def clear_explainer_cache() -> None:
    """Forget every cached explainer."""
    with _LOCK:
        _CACHE.clear()


def explain_prediction(model: Any, row: Any, *, background: Any = None) -> PredictionExplanation:
    """Return one prediction with its Shapley values, largest contributions first.

    ``row`` is a dict of column values, a Series or a one-row DataFrame. The explainer is
    cached per model, so calls after the first only compute the values. The prediction is
    derived from the explained output (the class with the highest probability).
    """
    explainer = cached_explainer(model, background=background)
    frame = _one_row(row)
    explanation = explainer._fast(
        _rows(resolve_data(frame, explainer.explained), explainer.explained.features)
    )
    output = float(explanation.output.iloc[0])
    explained_class = (
        None if explanation.explained_class is None else explanation.explained_class.iloc[0]
    )
    return PredictionExplanation(
        prediction=_prediction(explainer.explained, output, explained_class),
        output=output,
        base_value=float(explanation.base_values.iloc[0]),
        contributions=explanation.to_frame(0),
        settings=explainer.settings,
        explained_class=explained_class,
    )


def global_importance(
    model: Any, data: Any, *, max_rows: int = 1000, agnostic_rows: int = 200, seed: int = 0
) -> pd.DataFrame:
    """Return mean |SHAP| per feature over at most ``max_rows`` rows of ``data``, largest first.

    The rows (sampled with ``seed``) double as the background; the settings are in
    ``result.attrs["settings"]``. A model-agnostic explainer calls the model about
    10·(2·features+1)·background times per explained row, so it explains at most
    ``agnostic_rows`` of them (the exact tree explainer explains all ``max_rows``).
    """
    explained = resolve_model(model)
    frame = _rows(resolve_data(data, explained), explained.features)
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    explainer = make_explainer(explained, frame, seed=seed)
    if explainer.settings.explainer != "tree" and len(frame) > agnostic_rows:
        frame = frame.sample(n=agnostic_rows, random_state=seed)
    return explainer.explain(frame).importance()


def _rows(frame: pd.DataFrame, features: list[str], what: str = "data") -> pd.DataFrame:
    if frame.empty:
        raise InvalidInput(f"The {what} to explain has no rows; pass at least one row.")
    return frame[features]


def _one_row(row: Any) -> pd.DataFrame:
    if isinstance(row, pd.Series):
        row = row.to_frame().T.infer_objects()
    if isinstance(row, dict):
        if not all(np.isscalar(v) or v is None for v in row.values()):
            raise InvalidInput(
                "explain_prediction takes one row: a dict of scalar column values. "
                "Use Explainer.explain(frame) for several rows."
            )
        return pd.DataFrame([row])
    if isinstance(row, pd.DataFrame):
        if len(row) != 1:
            raise InvalidInput(
                f"explain_prediction explains one row; got {len(row)} rows. Use "
                "make_explainer(model, background).explain(frame) for several."
            )
        return row
    raise InvalidInput(
        f"explain_prediction takes a dict, a Series or a one-row DataFrame; got {type(row).__name__}."
    )


def _prediction(explained: Explained, output: float, explained_class: Any) -> Any:
    if explained.task != "classification":
        return output
    if explained_class is not None:
        return explained_class
    classes = explained.classes or [0, 1]
    return classes[1] if output > 0.5 else classes[0]


def _output_name(explained: Explained, multiclass: bool) -> str:
    if explained.task != "classification":
        return "prediction"
    if multiclass:
        return "probability of the predicted class (every class in by_class)"
    classes = explained.classes or [0, 1]
    return f"probability of class {classes[-1]}"


def _model_key(model: Any) -> Any:
    """Return what identifies a model's explainer: its manifest hash for registry models."""
    if isinstance(model, str):  # an alias moves and stores differ: key by the version's content
        return get_model_version(model).manifest_sha256 if model.startswith("models:") else model
    if isinstance(model, LoadedModel) and model.version is not None:
        return model.version.manifest_sha256
    return ("object", id(model))


def _background_key(background: Any) -> Any:
    if background is None or isinstance(background, str):
        return background
    return ("object", id(background))


def _sha256(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """Return a JSON-ready scalar: numpy scalars as Python ones, missing values as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _contributions(values: pd.Series, data: pd.Series) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "feature": values.index,
            "value": data[values.index].to_numpy(),
            "contribution": values.to_numpy(),
        }
    )
    order = np.argsort(-np.abs(table["contribution"].to_numpy()), kind="stable")
    return table.iloc[order].reset_index(drop=True)
