"""The engines behind an explainer: shap's exact tree explainer, checked, or a model-agnostic one."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from steward.errors import InvalidInput
from steward.explain._inputs import Explained
from steward.explain._shap_columns import Codec, input_columns
from steward.registry import flavor_for

_TREE_OUTPUTS = {"probability", "raw_value"}  # shap tree outputs that are the score itself


class Engine:
    """What computes Shapley values: (rows, features, outputs) values and (rows, outputs) bases."""

    kind: Literal["tree", "permutation", "kernel"]
    method: str
    uses_background = True
    verified = False

    def shap(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


@dataclass
class Layout:
    """Where a tree model sits: the preprocessing before it, and where its features come from."""

    prep: Any  # the Pipeline steps before the model, or None
    model: Any
    columns: np.ndarray  # the input column of each feature the model sees
    n_features: int


class TreeEngine(Engine):
    kind = "tree"

    def __init__(self, explainer: Any, layout: Layout, n_out: int) -> None:
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


class AgnosticEngine(Engine):
    verified = True  # kernel and permutation values add up to the output by construction

    def __init__(
        self,
        explained: Explained,
        bg: pd.DataFrame,
        kind: Literal["permutation", "kernel"],
        seed: int,
    ) -> None:
        shap = load_shap()
        self.kind = kind
        self.method = kind
        self.seed = seed
        self.codec = Codec(bg)
        n = len(
            explained.features
        )  # permutation: 10 permutations; kernel: all coalitions or 2M+2048
        self.max_evals = 10 * (2 * n + 1) if kind == "permutation" else min(2**n - 2, 2 * n + 2048)
        background = self.codec.encode(bg)

        def score(codes: np.ndarray) -> np.ndarray:
            return explained.score(self.codec.decode(codes))

        with seeded(seed):
            if kind == "permutation":
                masker = shap.maskers.Independent(background, max_samples=len(background))
                self.explainer = shap.PermutationExplainer(score, masker, seed=seed)
            else:
                self.explainer = shap.KernelExplainer(score, background)

    def shap(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        codes = self.codec.encode(frame)
        with seeded(self.seed):
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


def agnostic_kind(n_features: int) -> Literal["permutation", "kernel"]:
    """Kernel SHAP over every coalition is exact and quick for a few features; permutation scales."""
    return "kernel" if n_features <= 11 else "permutation"


class NoTree(Exception):
    """Why shap's tree explainer cannot explain this model's score exactly."""


def tree_engine(
    explained: Explained, bg: pd.DataFrame | None, multiclass: bool
) -> tuple[TreeEngine, str]:
    """Return shap's tree explainer for the model and why, or raise NoTree saying why not."""
    from sklearn.pipeline import Pipeline

    shap = load_shap()
    estimator, prep = explained.estimator, None
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        estimator, prep = estimator.steps[-1][1], estimator[:-1]
    name = type(estimator).__name__
    try:
        path = shap.TreeExplainer(estimator, feature_perturbation="tree_path_dependent")
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        detail = "" if detail.startswith("Model type not yet supported") else f" ({detail[:120]})"
        raise NoTree(
            f"flavor {flavor_name(explained)} has no tree structure ({name}){detail}"
        ) from None
    columns = np.arange(len(explained.features))
    if prep is not None:
        mapped = input_columns(prep, explained.features, getattr(estimator, "n_features_in_", None))
        if mapped is None:
            raise NoTree(
                f"the pipeline's steps before {name} mix input columns, so tree SHAP values "
                "cannot be summed back into them"
            )
        columns = mapped
    layout = Layout(prep, estimator, columns, len(explained.features))
    tree_output = getattr(path.model, "tree_output", None)
    if explained.task != "classification" or tree_output == "probability":
        if tree_output not in _TREE_OUTPUTS:
            raise NoTree(f"shap reads the {tree_output} output of {name}, not its prediction")
        engine = TreeEngine(path, layout, len(explained.classes or []) if multiclass else 1)
        why = "path-dependent, the trees' training cover as background"
    elif multiclass:
        raise NoTree(
            f"shap's tree explainer cannot give the class probabilities of a multi-class {name}"
        )
    elif bg is None:
        raise NoTree(
            f"shap explains the probabilities of {name} against a background sample, and none was given"
        )
    else:
        try:
            data = TreeEngine(path, layout, 1).matrix(bg)
            inter = shap.TreeExplainer(
                estimator, data, feature_perturbation="interventional", model_output="probability"
            )
        except Exception as exc:
            raise NoTree(
                f"shap's tree explainer cannot give the probabilities of {name} ({str(exc)[:120]})"
            ) from None
        engine = TreeEngine(inter, layout, 1)
        why = "interventional, on the background sample, for the probability"
    why = f"{name} is a tree ensemble: exact TreeExplainer ({why})"
    if prep is not None:
        why += "; the pipeline's transformed features are summed back into their input columns"
    if bg is not None:  # check against the model itself before trusting shap's reading of it
        probe = bg.head(5)
        try:
            values, base = engine.shap(probe)
            error = excess_error(values, base, as_2d(explained.score(probe)))
        except Exception as exc:
            raise NoTree(f"shap's tree explainer failed on {name} ({str(exc)[:120]})") from None
        if error is not None:
            raise NoTree(
                f"shap's tree explainer does not reproduce the output of {name} (off by {error:.2g})"
            )
        engine.verified = True
    return engine, why


def excess_error(values: np.ndarray, base: np.ndarray, output: np.ndarray) -> float | None:
    """Return how far base + values is from the output when beyond rounding, else None."""
    error = float(np.abs(base + values.sum(axis=1) - output).max())
    return error if error > 1e-4 * max(1.0, float(np.abs(output).max())) else None


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed numpy's global generator (shap's explainers draw from it), then restore it."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def load_shap() -> Any:
    """Return the shap module, imported without matplotlib's deprecation noise about shap's colormaps."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "The set_(bad|over|under) function", PendingDeprecationWarning
        )
        import shap

    return shap


def as_2d(score: Any) -> np.ndarray:
    array = np.asarray(score, dtype=float)
    return array[:, None] if array.ndim == 1 else array


def flavor_name(explained: Explained) -> str:
    if explained.version is not None:
        return explained.version.flavor
    try:
        return flavor_for(explained.estimator).name
    except Exception:  # no flavor accepts it: name its type
        return type(explained.estimator).__name__
