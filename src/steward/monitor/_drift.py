"""Drift between a reference profile and current data: per feature, predictions, and jointly.

The current data is profiled chunk by chunk with the reference's own bins (so 10 million
rows from Parquet stream through in bounded memory), then every registered drift test
that fits a column's kind and sample size compares the two profiles. A feature drifted
when any of its tests says so; the drifted features are ranked by the model's feature
importance, so the drift that matters to the model comes first.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from steward.errors import InvalidInput, did_you_mean
from steward.monitor._build import INPUT, Plan, frame_of, profile_chunks
from steward.monitor._chunks import DEFAULT_CHUNK_ROWS, describe, iter_chunks, parquet_columns
from steward.monitor._domain import DomainCheck, DomainConfig, domain_check
from steward.monitor._drift_tests import (
    ColumnPair,
    DriftTest,
    DriftTestConfig,
    DriftTestResult,
    drift_tests,
)
from steward.monitor._profile import FeatureProfile, ReferenceProfile

Current: TypeAlias = pd.DataFrame | pa.Table | str | os.PathLike[str] | ReferenceProfile


class DriftConfig(BaseModel):
    """How drift is judged: per-test overrides, the dataset's share, the domain check."""

    model_config = ConfigDict(extra="forbid")

    tests: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="per test name, the config keys to change, e.g. {'psi': {'threshold': 0.25}}",
    )
    drift_share: float = Field(
        default=0.5, ge=0, le=1, description="the dataset drifted when this share of features did"
    )
    domain: DomainConfig = Field(default_factory=DomainConfig)
    sample_rows: int = Field(
        default=5000, ge=0, description="current rows kept for the domain check"
    )
    chunk_rows: int = Field(default=DEFAULT_CHUNK_ROWS, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _known_tests(self) -> DriftConfig:
        self.test_configs()
        return self

    def test_configs(self) -> dict[str, DriftTestConfig]:
        """Return every registered test's config, the defaults with this config's changes."""
        known = drift_tests()
        for name in self.tests:
            if name not in known:
                raise InvalidInput(
                    f"tests.{name}: there is no drift test {name!r}.{did_you_mean(name, known)} "
                    f"The tests are: {', '.join(known)}."
                )
        configs = {}
        for name, cls in known.items():
            try:
                configs[name] = DriftTestConfig.model_validate(
                    {**cls.defaults.model_dump(), **self.tests.get(name, {})}
                )
            except ValueError as exc:
                raise InvalidInput(f"tests.{name}: {exc}") from exc
        return configs


class FeatureDrift(BaseModel):
    """One column's drift: every test's result, its verdict and its importance to the model."""

    feature: str
    role: Literal["input", "output"]
    kind: str
    reference_rows: int
    current_rows: int
    reference_missing_rate: float
    current_missing_rate: float
    tests: list[DriftTestResult] = Field(default_factory=list)
    drifted: bool = False
    drifted_by: list[str] = Field(default_factory=list, description="the tests that said drift")
    score: float = Field(
        default=0.0, description="the largest effect as a multiple of its threshold"
    )
    importance: float | None = None
    note: str = ""

    def test(self, name: str) -> DriftTestResult | None:
        """Return the result of test ``name`` on this column, if it ran."""
        return next((t for t in self.tests if t.test == name), None)


class DriftReport(BaseModel):
    """What drifted between the reference and the current data, and how much it matters."""

    reference: str
    current: str
    reference_rows: int
    current_rows: int
    features: list[FeatureDrift]
    predictions: list[FeatureDrift] = Field(default_factory=list)
    drifted_features: list[str] = Field(
        default_factory=list, description="drifted inputs, most important to the model first"
    )
    features_checked: int = 0
    share_drifted: float = 0.0
    dataset_drifted: bool = False
    prediction_drifted: bool = False
    multivariate: DomainCheck | None = None
    importance_source: str | None = None
    notes: list[str] = Field(default_factory=list)
    config: DriftConfig = Field(default_factory=DriftConfig)
    seconds: float = 0.0

    def feature(self, name: str) -> FeatureDrift:
        """Return the drift of column ``name`` (an input or an ``output.*``)."""
        for found in (*self.features, *self.predictions):
            if found.feature == name:
                return found
        names = [f.feature for f in (*self.features, *self.predictions)]
        raise InvalidInput(f"The report has no column {name!r}.{did_you_mean(name, names)}")

    def to_json(self, *, indent: int | None = None) -> str:
        """Return the report as JSON."""
        return self.model_dump_json(indent=indent)

    def summary(self) -> str:
        """Return a few lines of text saying what drifted, by importance, and by how much."""
        lines = [
            f"Drift of {self.current} ({self.current_rows:,} rows) against {self.reference} "
            f"({self.reference_rows:,} rows): {len(self.drifted_features)} of "
            f"{self.features_checked} features drifted ({self.share_drifted:.0%})"
            + ("; the dataset drifted." if self.dataset_drifted else ".")
        ]
        by_name = {f.feature: f for f in self.features}
        for name in self.drifted_features:
            f = by_name[name]
            weight = "" if f.importance is None else f"importance {f.importance:.3g}; "
            tests = ", ".join(
                f"{t.test} {t.effect:.3g} >= {t.threshold:g}" for t in f.tests if t.drifted
            )
            lines.append(f"  {name}: {weight}{tests}")
        if self.predictions:
            moved = [p for p in self.predictions if p.drifted]
            lines.append(
                "Predictions drifted: " + ", ".join(p.feature for p in moved)
                if moved
                else "Predictions: no drift."
            )
        check = self.multivariate
        if check is not None and check.auc is not None:
            drivers = ", ".join(d.feature for d in check.drivers) or "none"
            lines.append(
                f"Domain classifier: ROC AUC {check.auc:.3f} (p = {check.p_value:.2g}): "
                + ("drifted" if check.drifted else "no drift")
                + f"; separates by {drivers}."
            )
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


def drift(
    reference: ReferenceProfile | str,
    current: Current,
    *,
    features: Sequence[str] | None = None,
    importance: Mapping[str, float] | None = None,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Return the drift of ``current`` from a model version's reference profile.

    ``reference`` is a :class:`ReferenceProfile` or a ``models:/`` URI of a version that
    has one. ``current`` is a DataFrame, an Arrow table, a Parquet file or folder (read
    in chunks), or a profile built with :func:`build_profile`; columns may carry the
    prediction log's names (``input.<feature>``, ``output.prediction``, ...). ``features``
    limits the inputs checked; ``importance`` (feature -> weight) ranks the drifted ones,
    else the importance stored with the reference, if the model exposed one.
    """
    started = time.perf_counter()
    config = config or DriftConfig()
    if isinstance(reference, str):
        from steward.monitor._reference import load_reference

        reference = load_reference(reference)
    tests = [drift_tests()[name](cfg) for name, cfg in config.test_configs().items()]
    inputs = _features(reference, features)
    if isinstance(current, ReferenceProfile):
        observed = current
        sources = _sources(reference, inputs, list(current.features), "the current profile")
    else:
        columns = _columns(current)
        sources = _sources(reference, inputs, columns, describe(current))
        plans = [_plan(reference.features[name], source) for name, source in sources.items()]
        settings = reference.settings.model_copy(
            update={"sample_rows": config.sample_rows if config.domain.enabled else 0}
        )
        observed = profile_chunks(
            iter_chunks(current, chunk_rows=config.chunk_rows, columns=list(sources.values())),
            plans,
            settings=settings,
            rng=np.random.default_rng(config.seed),
        )
    if observed.rows == 0:
        raise InvalidInput(
            f"The current data ({describe(current)}) has no rows: there is nothing to compare. "
            "Widen the window, or check that the log holds predictions for this model."
        )
    results = {
        name: _compare(reference.features[name], observed.features[name], tests) for name in sources
    }
    report = _report(reference, observed, results, inputs, importance, config)
    report.current = (
        describe(current) if not isinstance(current, ReferenceProfile) else current.source
    )
    if config.domain.enabled:
        checked = [
            n for n in inputs if reference.features[n].kind in ("numeric", "categorical", "boolean")
        ]
        report.multivariate = domain_check(
            frame_of(reference.sample),
            frame_of(observed.sample),
            checked,
            config.domain,
            seed=config.seed,
        )
    report.seconds = time.perf_counter() - started
    return report


def _plan(feature: FeatureProfile, source: str) -> Plan:
    """Return how to profile the current column of ``feature``: in the reference's bins."""
    edges = feature.numeric.bin_edges if feature.numeric is not None else None
    return Plan(feature.name, source, feature.kind, feature.role, edges)


def _features(reference: ReferenceProfile, features: Sequence[str] | None) -> list[str]:
    names = [f.name for f in reference.inputs]
    if features is None:
        return names
    unknown = [
        f for f in features if f not in reference.features or reference.features[f].role != "input"
    ]
    if unknown:
        raise InvalidInput(
            f"features: the reference has no input {unknown[0]!r}.{did_you_mean(unknown[0], names)} "
            f"Its inputs are: {', '.join(names)}."
        )
    return list(features)


def _columns(current: Current) -> list[str]:
    if isinstance(current, pd.DataFrame):
        if current.empty:
            raise InvalidInput(
                "The current data is an empty DataFrame: there is nothing to compare. Widen "
                "the window, or pass the rows to check."
            )
        return [str(c) for c in current.columns]
    if isinstance(current, pa.Table):
        return list(current.column_names)
    if isinstance(current, str | os.PathLike):
        return parquet_columns(current)
    raise InvalidInput(
        f"current must be a DataFrame, an Arrow table, a Parquet path or a ReferenceProfile; "
        f"got {type(current).__name__}."
    )


def _sources(
    reference: ReferenceProfile, inputs: list[str], columns: list[str], what: str
) -> dict[str, str]:
    """Return the column of the current data that holds each input and output checked."""
    present = set(columns)
    sources: dict[str, str] = {}
    missing = []
    for name in inputs:
        found = next((c for c in (name, INPUT + name) if c in present), None)
        if found is None:
            missing.append(name)
        else:
            sources[name] = found
    if missing:
        listed = ", ".join(repr(m) for m in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise InvalidInput(
            f"The current data ({what}) has no column for {len(missing)} feature(s) of the "
            f"reference: {listed} (looked for 'x' and 'input.x'). Its columns are: "
            f"{', '.join(columns[:30])}{' ...' if len(columns) > 30 else ''}. Pass "
            "features=[...] to check only the features it has."
        )
    for output in reference.outputs:
        if output.name in present:
            sources[output.name] = output.name
    return sources


def _compare(
    reference: FeatureProfile, current: FeatureProfile, tests: list[DriftTest]
) -> FeatureDrift:
    pair = ColumnPair(reference, current)
    outcomes = [(t, t.compute(pair)) for t in tests if t.applies(pair)]
    with_p = sum(o.p_value is not None for _, o in outcomes)
    results = [t.judge(o, tests=max(with_p, 1)) for t, o in outcomes]
    drifted = [r.test for r in results if r.drifted]
    note = ""
    if reference.kind in ("text", "datetime"):
        note = f"{reference.kind} column: only its missing rate is compared"
    elif min(pair.rows) == 0:
        note = "no values on one side: only the missing rate is compared"
    elif len(results) <= 1:
        note = f"too few values for the distribution tests ({min(pair.rows)})"
    return FeatureDrift(
        feature=reference.name,
        role=reference.role,
        kind=reference.kind,
        reference_rows=reference.count,
        current_rows=current.count,
        reference_missing_rate=reference.missing_rate,
        current_missing_rate=current.missing_rate,
        tests=results,
        drifted=bool(drifted),
        drifted_by=drifted,
        score=max((r.score for r in results), default=0.0),
        note=note,
    )


def _report(
    reference: ReferenceProfile,
    observed: ReferenceProfile,
    results: dict[str, FeatureDrift],
    inputs: list[str],
    importance: Mapping[str, float] | None,
    config: DriftConfig,
) -> DriftReport:
    notes = []
    source = "given" if importance is not None else reference.importance_source
    weights = dict(importance) if importance is not None else reference.importance
    if weights is None:
        notes.append(
            "No feature importance was given or stored with the model: drifted features are "
            "ranked by how far past its threshold each drifted. Pass importance={feature: "
            "weight} (e.g. from steward.explain.global_importance) to rank by what matters."
        )
    features = [results[n] for n in inputs]
    for f in features:
        f.importance = None if weights is None else float(weights.get(f.feature, 0.0))
    drifted = sorted(
        (f for f in features if f.drifted),
        key=lambda f: (-(f.importance or 0.0), -f.score, f.feature),
    )
    share = len(drifted) / len(features) if features else 0.0
    predictions = [r for n, r in results.items() if r.role == "output"]
    if reference.outputs and not predictions:
        notes.append("The current data has no output.* columns: predictions were not compared.")
    return DriftReport(
        reference=reference.source or "the reference profile",
        current="",
        reference_rows=reference.rows,
        current_rows=observed.rows,
        features=features,
        predictions=predictions,
        drifted_features=[f.feature for f in drifted],
        features_checked=len(features),
        share_drifted=share,
        dataset_drifted=bool(drifted) and share >= config.drift_share,
        prediction_drifted=any(p.drifted for p in predictions),
        importance_source=source,
        notes=notes,
        config=config,
    )
