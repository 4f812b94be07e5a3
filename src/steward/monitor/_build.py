"""Building profiles chunk by chunk, and merging two profiles into the profile of both."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from steward.errors import InvalidInput
from steward.monitor._accumulate import Accumulator, merged_numeric, top_categories
from steward.monitor._chunks import (
    DEFAULT_CHUNK_ROWS,
    Chunk,
    Kind,
    Source,
    columns_of,
    describe,
    dtype_of,
    iter_chunks,
    kind_of,
    rows_of,
    to_pandas,
)
from steward.monitor._profile import (
    CategorySummary,
    FeatureProfile,
    ProfileSettings,
    ReferenceProfile,
)
from steward.monitor._sample import BottomK, merge_samples
from steward.registry import LoadedModel, Signature

INPUT, OUTPUT = "input.", "output."
PREDICTION = "output.prediction"
_KINDS: dict[str, Kind] = {
    "numeric": "numeric",
    "integer": "numeric",
    "boolean": "boolean",
    "categorical": "categorical",
    "text": "text",
    "datetime": "datetime",
}


@dataclass
class Plan:
    """One column to profile: its name in the profile, where it is read, kind and role."""

    name: str
    source: str
    kind: Kind
    role: str = "input"
    edges: list[float] | None = None


def build_profile(
    data: Source,
    *,
    signature: Signature | None = None,
    model: Any = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    columns: Sequence[str] | None = None,
    settings: ProfileSettings | None = None,
    random_state: int | None = None,
) -> ReferenceProfile:
    """Return the reference profile of ``data``, read ``chunk_rows`` rows at a time.

    ``data`` is a DataFrame, an Arrow table, a Parquet file or folder (streamed), or an
    iterable of DataFrames or Arrow batches. Kinds come from ``signature`` when given
    (its inputs are then the columns profiled), else from the column types. With
    ``model``, its outputs on the data are profiled too, as ``output.prediction`` and
    ``output.proba.<class>``; columns named ``input.*``/``output.*`` (a prediction log)
    are profiled under the model's names. Memory is bounded by the chunk, whatever the size.
    """
    settings = settings or ProfileSettings()
    chunks = iter_chunks(data, chunk_rows=chunk_rows, columns=columns)
    first = next(chunks, None)
    if first is None or rows_of(first) == 0:
        raise InvalidInput(
            f"Cannot profile {describe(data)}: it has no rows. Give the training (or "
            "validation) data the model learnt from."
        )
    plans = _plans(first, signature)
    outputs = _Outputs(model, signature, [p.source for p in plans if p.role == "input"])
    profile = profile_chunks(
        itertools.chain([first], chunks),
        plans,
        settings=settings,
        rng=np.random.default_rng(random_state),
        outputs=outputs if model is not None else None,
    )
    profile.source = describe(data)
    profile.task = outputs.task
    if model is not None:
        profile.importance, profile.importance_source = model_importance(model, profile)
    return profile


def profile_chunks(
    chunks: Iterator[Chunk],
    plans: list[Plan],
    *,
    settings: ProfileSettings,
    rng: np.random.Generator,
    outputs: _Outputs | None = None,
) -> ReferenceProfile:
    """Return the profile of the columns ``plans`` name, over every chunk."""
    columns = {
        p.name: Accumulator(p.name, p.source, p.kind, "", p.role, settings, p.edges) for p in plans
    }
    sampled = [p.source for p in plans if p.role == "input" and p.kind not in ("text", "datetime")]
    names = {p.source: p.name for p in plans}
    sampler = BottomK(settings.sample_rows if sampled else 0, rng)
    rows = 0
    for chunk in chunks:
        for plan in plans:
            acc = columns[plan.name]
            if not acc.dtype:
                acc.dtype = dtype_of(chunk, plan.source)
            acc.update(chunk)
        if outputs is not None:
            for name, (kind, values) in outputs.of(chunk).items():
                if name not in columns:
                    columns[name] = Accumulator(
                        name, name, kind, str(values.type), "output", settings
                    )
                columns[name].update_values(values, rows_of(chunk))
        sampler.update(chunk, sampled)
        rows += rows_of(chunk)
    sample = sampler.result()
    if sample is not None:
        sample = sample.rename_columns([names.get(c, c) for c in sample.column_names])
    features = {name: acc.profile() for name, acc in columns.items()}
    return ReferenceProfile(rows=rows, features=features, settings=settings).with_sample(sample)


def _plans(first: Chunk, signature: Signature | None) -> list[Plan]:
    names = columns_of(first)
    logged = any(n.startswith(INPUT) for n in names)
    sources = (
        {n[len(INPUT) :]: n for n in names if n.startswith(INPUT)}
        if logged
        else {n: n for n in names if not n.startswith(OUTPUT)}
    )
    outputs = [n for n in names if n.startswith(OUTPUT)]
    if signature is not None and signature.inputs:
        absent = [c.name for c in signature.inputs if c.name not in sources]
        if absent:
            raise InvalidInput(
                f"The data has no column {absent[0]!r}, an input of the model's signature"
                f"{f' (and {len(absent) - 1} more)' if len(absent) > 1 else ''}. Its columns "
                f"are: {', '.join(names)}. Profile the data the model was trained on."
            )
        plans = [Plan(c.name, sources[c.name], _KINDS[c.kind]) for c in signature.inputs]
    else:
        plans = [Plan(name, source, kind_of(first, source)) for name, source in sources.items()]
    plans += [Plan(n, n, _output_kind(first, n), role="output") for n in outputs]
    return plans


def _output_kind(first: Chunk, name: str) -> Kind:
    kind = kind_of(first, name)
    if name == PREDICTION and kind == "numeric":
        values = np.asarray(to_pandas(first)[name].dropna().head(10_000), dtype=np.float64)
        if len(values) and np.all(values == np.round(values)) and len(np.unique(values)) <= 50:
            return "categorical"  # class labels written as numbers
    return kind


class _Outputs:
    """A model's outputs on each chunk: its predictions and, for a classifier, probabilities."""

    def __init__(self, model: Any, signature: Signature | None, inputs: list[str]) -> None:
        loaded = model if isinstance(model, LoadedModel) else None
        self.raw = loaded.raw if loaded is not None else model
        signature = signature or (loaded.signature if loaded is not None else None)
        self.inputs = (
            [c.name for c in signature.inputs] if signature and signature.inputs else inputs
        )
        classes = getattr(self.raw, "classes_", None)
        if classes is None and signature is not None and signature.output.task == "classification":
            classes = signature.output.classes
        self.classes = None if classes is None else list(classes)
        self.task = (
            signature.output.task
            if signature is not None and signature.output.task != "other"
            else ("classification" if self.classes is not None else None)
        )
        if self.task is None and model is not None:
            from sklearn.base import is_regressor

            self.task = "regression" if is_regressor(self.raw) else None

    def of(self, chunk: Chunk) -> dict[str, tuple[Kind, pa.Array]]:
        """Return each output column of the model on ``chunk``, with its kind."""
        frame = to_pandas(chunk)
        frame = frame[[c for c in self.inputs if c in frame.columns]]
        found: dict[str, tuple[Kind, pa.Array]] = {}
        predictions = np.asarray(self.raw.predict(frame))
        if predictions.ndim == 2 and predictions.shape[1] == 1:
            predictions = predictions[:, 0]
        if predictions.ndim == 1:
            numeric = predictions.dtype.kind in "fiu" and self.task != "classification"
            array = pa.array(
                predictions if predictions.dtype.kind != "O" else predictions.astype(str)
            )
            found[PREDICTION] = ("numeric" if numeric else "categorical", array)
        if self.classes is not None and callable(getattr(self.raw, "predict_proba", None)):
            proba = np.asarray(self.raw.predict_proba(frame), dtype=np.float64)
            if proba.ndim == 2 and proba.shape[1] == len(self.classes):
                for j, c in enumerate(self.classes):
                    found[f"output.proba.{c}"] = ("numeric", pa.array(proba[:, j]))
        return found


def model_importance(
    model: Any, profile: ReferenceProfile
) -> tuple[dict[str, float] | None, str | None]:
    """Return the model's own feature importance by input name, when it exposes one."""
    raw = model.raw if isinstance(model, LoadedModel) else model
    names = [f.name for f in profile.inputs]
    for attribute in ("feature_importances_", "coef_"):
        values = getattr(raw, attribute, None)
        if values is None:
            continue
        weights = np.abs(np.asarray(values, dtype=np.float64))
        if weights.ndim == 2:
            weights = weights.mean(axis=0)
        known = [str(n) for n in getattr(raw, "feature_names_in_", names)]
        if weights.ndim != 1 or len(weights) != len(known) or set(known) != set(names):
            return None, None  # importances of transformed features: not the inputs'
        total = float(weights.sum()) or 1.0
        importance = {n: float(w) / total for n, w in zip(known, weights, strict=True)}
        return importance, f"the model's {attribute} (normalized to sum to 1)"
    return None, None


def merge_profiles(a: ReferenceProfile, b: ReferenceProfile) -> ReferenceProfile:
    """Return the profile of the union of the rows two profiles were built from."""
    if list(a.features) != list(b.features):
        only = sorted(set(a.features) ^ set(b.features))
        raise InvalidInput(
            "Profiles merge only when they hold the same columns; these are in one and not "
            f"the other: {', '.join(only) or '(same columns, another order)'}. Build both "
            "with the same columns (columns=[...])."
        )
    features = {}
    for name, fa in a.features.items():
        fb = b.features[name]
        if fa.kind != fb.kind:
            raise InvalidInput(
                f"Column {name!r} is {fa.kind} in one profile and {fb.kind} in the other; "
                "build both with the same signature."
            )
        features[name] = _merged_feature(fa, fb, a.settings)
    sample = merge_samples(a.sample, b.sample, a.settings.sample_rows)
    return ReferenceProfile(
        rows=a.rows + b.rows,
        features=features,
        task=a.task or b.task,
        importance=a.importance or b.importance,
        importance_source=a.importance_source or b.importance_source,
        settings=a.settings,
        source=f"{a.source} + {b.source}",
    ).with_sample(sample)


def _merged_feature(
    a: FeatureProfile, b: FeatureProfile, settings: ProfileSettings
) -> FeatureProfile:
    merged = a.model_copy(update={"count": a.count + b.count, "missing": a.missing + b.missing})
    if a.numeric is not None and b.numeric is not None:
        merged.numeric = merged_numeric(a.numeric, b.numeric, settings)
    if a.categories is not None and b.categories is not None:
        merged.categories = _merged_categories(a.categories, b.categories, settings.top_k)
    return merged


def _merged_categories(a: CategorySummary, b: CategorySummary, top_k: int) -> CategorySummary:
    counts = dict(a.counts)
    for value, count in b.counts.items():
        counts[value] = counts.get(value, 0) + count
    exact = a.distinct_exact and b.distinct_exact and not a.other and not b.other
    distinct = len(counts) if exact else max(len(counts), a.distinct, b.distinct)
    return top_categories(counts, top_k, distinct=distinct, other=a.other + b.other, exact=exact)


def frame_of(sample: pa.Table | None) -> pd.DataFrame | None:
    """Return a profile's sample as a DataFrame without its key column."""
    if sample is None:
        return None
    frame: pd.DataFrame = sample.drop_columns(
        [c for c in sample.column_names if c == "__key"]
    ).to_pandas()
    return frame
