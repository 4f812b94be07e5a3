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
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from steward.errors import InvalidInput
from steward.explain._inputs import Explained, resolve_data, resolve_model

Algorithm = Literal["auto", "tree", "permutation", "kernel"]
_TREE_OUTPUTS = {"probability", "raw_value"}  # shap tree outputs that are the score itself


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

    def __init__(self, explained: Explained, settings: ExplainerSettings, engine: _Engine) -> None:
        self.explained = explained
        self.settings = settings
        self._engine = engine
        self._verified = engine.verified

    def explain(self, data: Any) -> ShapExplanation:
        """Return the Shapley values of every row of ``data``, checked against the model's output."""
        frame = _rows(resolve_data(data, self.explained), self.explained.features)
        values, base = self._engine.shap(frame)
        output = _as_2d(self.explained.score(frame))
        self._check(values, base, output)
        return self._assemble(frame, values, base, output)

    def _fast(self, frame: pd.DataFrame) -> ShapExplanation:
        """Explain rows without scoring them again once the explainer has been verified."""
        if not self._verified:
            return self.explain(frame)
        values, base = self._engine.shap(frame)
        return self._assemble(frame, values, base, base + values.sum(axis=1))

    def _check(self, values: np.ndarray, base: np.ndarray, output: np.ndarray) -> None:
        error = _excess_error(values, base, output)
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
    flavor = _flavor(explained)
    engine: _Engine | None = None
    if algorithm in ("auto", "tree"):
        try:
            engine, reason = _tree_engine(explained, bg, multiclass)
        except _NoTree as exc:
            if algorithm == "tree":
                raise InvalidInput(f"algorithm='tree' is not possible here: {exc}.") from None
            reason = str(exc)
    else:
        reason = f"algorithm={algorithm!r} was requested"
    if engine is None:
        n = len(explained.features)
        kind = algorithm if algorithm in ("permutation", "kernel") else _agnostic_kind(n)
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
        engine = _AgnosticEngine(explained, bg, kind, seed)
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
        shap_version=_shap().__version__,
    )
    return Explainer(explained, settings, engine)


class _Engine:
    """What computes Shapley values: (rows, features, outputs) values and (rows, outputs) bases."""

    kind: Literal["tree", "permutation", "kernel"]
    method: str
    uses_background = True
    verified = False

    def shap(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


@dataclass
class _Layout:
    """Where a tree model sits: the preprocessing before it, and where its features come from."""

    prep: Any  # the Pipeline steps before the model, or None
    model: Any
    columns: np.ndarray  # the input column of each feature the model sees
    n_features: int


class _TreeEngine(_Engine):
    kind = "tree"

    def __init__(self, explainer: Any, layout: _Layout, n_out: int) -> None:
        self.explainer, self.n_out = explainer, n_out
        self.prep, self.model = layout.prep, layout.model
        self.method = str(explainer.feature_perturbation)
        self.uses_background = self.method == "interventional"
        self.project = np.zeros((len(layout.columns), layout.n_features))  # model -> input column
        self.project[np.arange(len(layout.columns)), layout.columns] = 1.0

    def matrix(self, frame: pd.DataFrame) -> Any:
        if self.prep is None:
            return frame
        out = self.prep.transform(frame)
        out = np.ascontiguousarray(
            out.toarray() if hasattr(out, "toarray") else out, dtype=np.float64
        )
        names = getattr(self.model, "feature_names_in_", None)
        return (
            pd.DataFrame(out, columns=names)
            if names is not None and len(names) == out.shape[1]
            else out
        )

    def shap(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        raw = np.asarray(self.explainer.shap_values(self.matrix(frame), check_additivity=False))
        base = np.atleast_1d(np.asarray(self.explainer.expected_value, dtype=float)).ravel()
        values = raw[:, :, None] if raw.ndim == 2 else raw
        if values.shape[2] == 2 and self.n_out == 1:  # binary classifier: keep the positive class
            values, base = values[:, :, 1:], base[1:]
        if values.shape[2] != self.n_out or base.size != self.n_out:
            raise InvalidInput(
                f"shap's tree explainer returned {values.shape[2]} outputs; expected {self.n_out}."
            )
        values = np.einsum("ntk,tm->nmk", values, self.project)
        return values, np.repeat(base[None, :], len(frame), axis=0)


class _AgnosticEngine(_Engine):
    verified = True  # kernel and permutation values add up to the output by construction

    def __init__(
        self,
        explained: Explained,
        bg: pd.DataFrame,
        kind: Literal["permutation", "kernel"],
        seed: int,
    ) -> None:
        shap = _shap()
        self.kind = kind
        self.method = kind
        self.seed = seed
        self.codec = _Codec(bg)
        n = len(
            explained.features
        )  # permutation: 10 permutations; kernel: all coalitions or 2M+2048
        self.max_evals = 10 * (2 * n + 1) if kind == "permutation" else min(2**n - 2, 2 * n + 2048)
        background = self.codec.encode(bg)

        def score(codes: np.ndarray) -> np.ndarray:
            return explained.score(self.codec.decode(codes))

        with _seeded(seed):
            if kind == "permutation":
                masker = shap.maskers.Independent(background, max_samples=len(background))
                self.explainer = shap.PermutationExplainer(score, masker, seed=seed)
            else:
                self.explainer = shap.KernelExplainer(score, background)

    def shap(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        codes = self.codec.encode(frame)
        with _seeded(self.seed):
            if self.kind == "permutation":
                result = self.explainer(codes, max_evals=self.max_evals, silent=True)
                values, base = (
                    np.asarray(result.values),
                    np.asarray(result.base_values, dtype=float),
                )
            else:
                values = np.asarray(
                    self.explainer.shap_values(codes, nsamples=self.max_evals, silent=True)
                )
                expected = np.atleast_1d(np.asarray(self.explainer.expected_value, dtype=float))
                base = np.repeat(expected[None, :], len(frame), axis=0)
        values = values[:, :, None] if values.ndim == 2 else values
        return values, base.reshape(len(frame), -1)


def _agnostic_kind(n_features: int) -> Literal["permutation", "kernel"]:
    """Kernel SHAP over every coalition is exact and quick for a few features; permutation scales."""
    return "kernel" if n_features <= 11 else "permutation"


class _NoTree(Exception):
    """Why shap's tree explainer cannot explain this model's score exactly."""


def _tree_engine(
    explained: Explained, bg: pd.DataFrame | None, multiclass: bool
) -> tuple[_TreeEngine, str]:
    """Return shap's tree explainer for the model and why, or raise _NoTree saying why not."""
    from sklearn.pipeline import Pipeline

    shap = _shap()
    estimator, prep = explained.estimator, None
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        estimator, prep = estimator.steps[-1][1], estimator[:-1]
    name = type(estimator).__name__
    try:
        path = shap.TreeExplainer(estimator, feature_perturbation="tree_path_dependent")
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        detail = "" if detail.startswith("Model type not yet supported") else f" ({detail[:120]})"
        raise _NoTree(
            f"flavor {_flavor(explained)} has no tree structure ({name}){detail}"
        ) from None
    columns = np.arange(len(explained.features))
    if prep is not None:
        mapped = _input_columns(
            prep, explained.features, getattr(estimator, "n_features_in_", None)
        )
        if mapped is None:
            raise _NoTree(
                f"the pipeline's steps before {name} mix input columns, so tree SHAP values "
                "cannot be summed back into them"
            )
        columns = mapped
    layout = _Layout(prep, estimator, columns, len(explained.features))
    tree_output = getattr(path.model, "tree_output", None)
    if explained.task != "classification" or tree_output == "probability":
        if tree_output not in _TREE_OUTPUTS:
            raise _NoTree(f"shap reads the {tree_output} output of {name}, not its prediction")
        engine = _TreeEngine(path, layout, len(explained.classes or []) if multiclass else 1)
        why = "path-dependent, the trees' training cover as background"
    elif multiclass:
        raise _NoTree(
            f"shap's tree explainer cannot give the class probabilities of a multi-class {name}"
        )
    elif bg is None:
        raise _NoTree(
            f"shap explains the probabilities of {name} against a background sample, and none was given"
        )
    else:
        try:
            data = _TreeEngine(path, layout, 1).matrix(bg)
            inter = shap.TreeExplainer(
                estimator, data, feature_perturbation="interventional", model_output="probability"
            )
        except Exception as exc:
            raise _NoTree(
                f"shap's tree explainer cannot give the probabilities of {name} ({str(exc)[:120]})"
            ) from None
        engine = _TreeEngine(inter, layout, 1)
        why = "interventional, on the background sample, for the probability"
    why = f"{name} is a tree ensemble: exact TreeExplainer ({why})"
    if prep is not None:
        why += "; the pipeline's transformed features are summed back into their input columns"
    if bg is not None:  # check against the model itself before trusting shap's reading of it
        probe = bg.head(5)
        try:
            values, base = engine.shap(probe)
            error = _excess_error(values, base, _as_2d(explained.score(probe)))
        except Exception as exc:
            raise _NoTree(f"shap's tree explainer failed on {name} ({str(exc)[:120]})") from None
        if error is not None:
            raise _NoTree(
                f"shap's tree explainer does not reproduce the output of {name} (off by {error:.2g})"
            )
        engine.verified = True
    return engine, why


def _excess_error(values: np.ndarray, base: np.ndarray, output: np.ndarray) -> float | None:
    """Return how far base + values is from the output when beyond rounding, else None."""
    error = float(np.abs(base + values.sum(axis=1) - output).max())
    return error if error > 1e-4 * max(1.0, float(np.abs(output).max())) else None


def _input_columns(prep: Any, features: list[str], n_out: int | None) -> np.ndarray | None:
    """Return, for each feature the preprocessing outputs, the index of its input column."""
    names = [str(n) for n in getattr(prep, "feature_names_in_", features)]
    if n_out is None or any(n not in features for n in names):
        return None
    try:
        mapping = _column_map(prep, len(names), n_out)
    except Exception:  # an unusual column spec: fall back to the agnostic explainer
        return None
    return (
        None
        if mapping is None
        else np.array([features.index(names[j]) for j in mapping], dtype=int)
    )


def _column_map(step: Any, n_in: int, n_out: int) -> list[int] | None:
    """Return the input column behind each output column of a fitted transformer, or None."""
    from sklearn.base import OneToOneFeatureMixin
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    if n_out == 0:
        return []
    one_to_one = isinstance(step, OneToOneFeatureMixin) or (
        isinstance(step, FunctionTransformer) and step.feature_names_out == "one-to-one"
    )
    if step is None or (isinstance(step, str) and step == "passthrough") or one_to_one:
        return list(range(n_in)) if n_in == n_out else None
    if n_in == 1:
        return [0] * n_out
    if isinstance(step, Pipeline):
        steps = [
            s
            for _, s in step.steps
            if not (s is None or (isinstance(s, str) and s == "passthrough"))
        ]
        mapping, width = list(range(n_in)), n_in
        for i, sub in enumerate(steps):
            out = n_out if i == len(steps) - 1 else getattr(steps[i + 1], "n_features_in_", None)
            inner = None if out is None else _column_map(sub, width, out)
            if inner is None or out is None:
                return None
            mapping, width = [mapping[j] for j in inner], out
        return mapping if width == n_out else None
    if isinstance(step, ColumnTransformer):
        result: list[int] = [-1] * n_out
        names = [str(n) for n in getattr(step, "feature_names_in_", [])]
        for name, transformer, cols in step.transformers_:
            if isinstance(transformer, str) and transformer == "drop":
                continue
            idx = _indices(cols, names, n_in)
            out = step.output_indices_[name]
            inner = _column_map(transformer, len(idx), out.stop - out.start)
            if inner is None:
                return None
            result[out] = [idx[j] for j in inner]
        return None if -1 in result else result
    if isinstance(step, SimpleImputer):  # drops all-missing columns, may add indicators
        kept = [
            i for i, v in enumerate(step.statistics_) if step.keep_empty_features or not pd.isna(v)
        ]
        indicator = getattr(step, "indicator_", None)
        mapping = kept + ([int(i) for i in indicator.features_] if indicator is not None else [])
        return mapping if len(mapping) == n_out else None
    if isinstance(step, OneHotEncoder):
        drop = getattr(step, "drop_idx_", None)
        rare = getattr(step, "infrequent_categories_", None)
        counts = []
        for i, cats in enumerate(step.categories_):
            n = len(cats) if rare is None or rare[i] is None else len(cats) - len(rare[i]) + 1
            counts.append(n - (drop is not None and drop[i] is not None))
        mapping = [i for i, c in enumerate(counts) for _ in range(c)]
        return mapping if len(mapping) == n_out else None
    return None


def _indices(cols: Any, names: list[str], n_in: int) -> list[int]:
    if isinstance(cols, slice):
        if isinstance(cols.start, str) or isinstance(cols.stop, str):  # includes the stop
            start = names.index(cols.start) if cols.start is not None else 0
            stop = names.index(cols.stop) + 1 if cols.stop is not None else n_in
            return list(range(start, stop))
        return list(range(n_in))[cols]
    if isinstance(cols, str | int):
        cols = [cols]
    array = np.asarray(cols)
    if array.dtype == bool:
        return [int(i) for i in np.flatnonzero(array)]
    return [names.index(c) if isinstance(c, str) else int(c) for c in cols]


class _Codec:
    """Each column's values as integer codes, so that shap's numeric maskers can mix rows."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = list(frame.columns)
        self.tables = [pd.Index(frame[c].unique()) for c in self.columns]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        codes = np.empty((len(frame), len(self.columns)))
        for j, column in enumerate(self.columns):
            found = self.tables[j].get_indexer(frame[column])
            if (found < 0).any():  # values the background lacks: extend the table
                new = frame[column][found < 0].unique()
                self.tables[j] = self.tables[j].append(pd.Index(new))
                found = self.tables[j].get_indexer(frame[column])
            codes[:, j] = found
        return codes

    def decode(self, codes: np.ndarray) -> pd.DataFrame:
        index = codes.astype(np.intp)
        return pd.DataFrame(
            {c: self.tables[j].take(index[:, j]) for j, c in enumerate(self.columns)}
        )


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed numpy's global generator (shap's explainers draw from it), then restore it."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


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
    model: Any, data: Any, *, max_rows: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Return mean |SHAP| per feature over at most ``max_rows`` rows of ``data``, largest first.

    The rows (sampled with ``seed``) double as the background; the settings are in
    ``result.attrs["settings"]``.
    """
    explained = resolve_model(model)
    frame = _rows(resolve_data(data, explained), explained.features)
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    return make_explainer(explained, frame, seed=seed).explain(frame).importance()


def importance_figure(importance: pd.DataFrame | ShapExplanation, *, top: int = 20) -> Any:
    """Return a Plotly bar chart of mean |SHAP| per feature (a ``plotly.graph_objects.Figure``)."""
    import plotly.graph_objects as go

    table = importance.importance() if isinstance(importance, ShapExplanation) else importance
    table = table.head(top).iloc[::-1]
    figure = go.Figure(go.Bar(x=table["mean_abs_shap"], y=table["feature"], orientation="h"))
    output = table.attrs.get("settings", {}).get("output", "model output")
    figure.update_layout(
        title="Feature importance (mean |SHAP value|)", xaxis_title=f"mean |SHAP| on the {output}"
    )
    return figure


def summary_figure(explanation: ShapExplanation, *, top: int = 15, seed: int = 0) -> Any:
    """Return a Plotly beeswarm-like summary: each row's SHAP value per feature, coloured by the value."""
    import plotly.graph_objects as go

    features = list(explanation.importance()["feature"].head(top))[::-1]
    rng = np.random.default_rng(seed)
    xs, ys, colours, texts = [], [], [], []
    for position, feature in enumerate(features):
        column = explanation.data[feature]
        ranked = (
            column.rank(pct=True)
            if pd.api.types.is_numeric_dtype(column)
            else column.astype("category").cat.codes.rank(pct=True)
        )
        xs.append(explanation.values[feature].to_numpy())
        ys.append(position + rng.uniform(-0.3, 0.3, len(column)))
        colours.append(ranked.fillna(0.5).to_numpy())
        texts.append([f"{feature} = {v}" for v in column])
    figure = go.Figure(
        go.Scattergl(
            x=np.concatenate(xs),
            y=np.concatenate(ys),
            mode="markers",
            text=[t for part in texts for t in part],
            marker={
                "color": np.concatenate(colours),
                "colorscale": "RdBu_r",
                "size": 5,
                "opacity": 0.7,
                "colorbar": {
                    "title": "feature value",
                    "tickvals": [0, 1],
                    "ticktext": ["low", "high"],
                },
            },
        )
    )
    figure.update_layout(
        title=f"SHAP values ({explanation.settings.output})",
        xaxis_title="SHAP value",
        yaxis={"tickvals": list(range(len(features))), "ticktext": features},
    )
    return figure


def prediction_figure(explanation: PredictionExplanation, *, top: int = 10) -> Any:
    """Return a Plotly waterfall from the base value to one prediction's output."""
    import plotly.graph_objects as go

    shown = explanation.contributions.head(top)
    rest = float(explanation.contributions["contribution"].iloc[top:].sum())
    labels = [f"{f} = {v}" for f, v in zip(shown["feature"], shown["value"], strict=True)]
    steps = list(shown["contribution"])
    if len(explanation.contributions) > top:
        labels, steps = (
            [*labels, f"{len(explanation.contributions) - top} other features"],
            [*steps, rest],
        )
    figure = go.Figure(
        go.Waterfall(
            orientation="h",
            y=["base value", *labels, "output"],
            x=[explanation.base_value, *steps, explanation.output],
            measure=["absolute"] + ["relative"] * len(steps) + ["total"],
        )
    )
    figure.update_layout(title=f"Why {explanation.settings.output} = {explanation.output:.4g}")
    return figure


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


def _as_2d(score: Any) -> np.ndarray:
    array = np.asarray(score, dtype=float)
    return array[:, None] if array.ndim == 1 else array


def _output_name(explained: Explained, multiclass: bool) -> str:
    if explained.task != "classification":
        return "prediction"
    if multiclass:
        return "probability of the predicted class (every class in by_class)"
    classes = explained.classes or [0, 1]
    return f"probability of class {classes[-1]}"


def _flavor(explained: Explained) -> str:
    if explained.version is not None:
        return explained.version.flavor
    try:
        from steward.registry._flavors import flavor_for

        return flavor_for(explained.estimator).name
    except Exception:  # no flavor accepts it: name its type
        return type(explained.estimator).__name__


def _shap() -> Any:
    """Return the shap module, imported without matplotlib's deprecation noise about shap's colormaps."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "The set_(bad|over|under) function", PendingDeprecationWarning
        )
        import shap

    return shap


def _model_key(model: Any) -> Any:
    """Return what identifies a model's explainer: its manifest hash for registry models."""
    from steward.registry import LoadedModel, get_model_version

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


def _plain(value: Any) -> Any:
    """Return a JSON-ready scalar: numpy scalars as Python ones, missing values as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value
