"""The reference profile: what drift detection keeps of a model's training data.

One :class:`FeatureProfile` per input column and per model output (``output.prediction``,
``output.proba.<class>``, named as the prediction log names them), and a uniform sample
of rows for the multivariate check, kept apart from the JSON (a Parquet blob). Numeric
columns keep a mergeable KLL quantile sketch (Apache DataSketches) from which quantiles,
CDFs and the fixed reference bins are read; categorical columns keep exact counts of
their most frequent values. So drift needs no access to the raw training data, and
profiles of chunks merge into the profile of the whole.
"""

from __future__ import annotations

import base64
import time
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from steward.errors import InvalidInput, NotFound

FORMAT_VERSION = 1


class ProfileSettings(BaseModel):
    """How a profile is built: sketch size, bins, categories kept, sample size."""

    model_config = ConfigDict(extra="forbid")

    sketch_k: int = Field(
        default=400,
        ge=8,
        le=65535,
        description="KLL sketch size: ranks within 0.7% at 400, 0.3% at 1000 (99% bound).",
    )
    bins: int = Field(
        default=10, ge=2, le=100, description="Reference quantile bins of a numeric column (PSI)."
    )
    top_k: int = Field(
        default=1000, ge=1, description="Most frequent categories kept with exact counts."
    )
    max_distinct: int = Field(
        default=10_000,
        ge=1,
        description="Past this many distinct values a categorical column is treated as text.",
    )
    sample_rows: int = Field(
        default=5000, ge=0, description="Rows kept for the multivariate (domain) check."
    )


class NumericSummary(BaseModel):
    """A numeric column: its quantile sketch, moments, range and reference-bin histogram."""

    sketch: str = Field(description="base64 of a serialized datasketches kll_doubles_sketch")
    k: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None = Field(description="population standard deviation (ddof=0)")
    infinite: int = Field(default=0, description="values that were +-inf (kept out of the rest)")
    bin_edges: list[float] = Field(
        description="inner edges of the bins (-inf, e0], (e0, e1], ..., (e_last, +inf)"
    )
    bin_counts: list[float]
    bins_exact: bool = Field(
        description="counts made from the values (True) or read off the sketch (False)"
    )

    def kll(self) -> Any:
        """Return the deserialized KLL sketch."""
        from datasketches import kll_doubles_sketch

        return kll_doubles_sketch.deserialize(base64.b64decode(self.sketch))


class CategorySummary(BaseModel):
    """A categorical or boolean column: counts of its most frequent values, the rest as other."""

    counts: dict[str, int] = Field(description="the top_k most frequent values (as text)")
    other: int = Field(description="rows holding any other value")
    distinct: int = Field(description="distinct values seen (a lower bound when not exact)")
    distinct_exact: bool = True


class FeatureProfile(BaseModel):
    """The profile of one column: kind, rows, missing values, and its distribution."""

    name: str
    role: Literal["input", "output"] = "input"
    kind: Literal["numeric", "categorical", "boolean", "text", "datetime"]
    dtype: str
    count: int = Field(description="rows")
    missing: int = Field(description="rows with no value (null, None, NaN)")
    numeric: NumericSummary | None = None
    categories: CategorySummary | None = None
    note: str = ""

    @property
    def missing_rate(self) -> float:
        """Return the share of rows with no value."""
        return self.missing / self.count if self.count else 0.0

    @property
    def values(self) -> int:
        """Return the number of rows that hold a value usable by the drift tests."""
        infinite = self.numeric.infinite if self.numeric else 0
        return self.count - self.missing - infinite


class ReferenceProfile(BaseModel):
    """What a model version keeps of its training data for drift: a profile per column."""

    format_version: int = FORMAT_VERSION
    rows: int
    features: dict[str, FeatureProfile] = Field(
        description="inputs in column order, then the model's outputs (output.*)"
    )
    task: Literal["classification", "regression", "other"] | None = None
    importance: dict[str, float] | None = Field(
        default=None, description="the model's feature importance, when it exposes one"
    )
    importance_source: str | None = None
    settings: ProfileSettings = Field(default_factory=ProfileSettings)
    source: str = ""
    created_at: float = Field(default_factory=time.time)
    sample_rows: int = Field(default=0, description="rows in the sample (stored apart)")

    _sample: pa.Table | None = PrivateAttr(default=None)

    @property
    def sample(self) -> pa.Table | None:
        """Return the uniform sample of rows (inputs, with a ``__key`` column), if kept."""
        return self._sample

    def with_sample(self, sample: pa.Table | None) -> ReferenceProfile:
        """Return this profile holding ``sample`` as its row sample."""
        self._sample = sample
        self.sample_rows = 0 if sample is None else sample.num_rows
        return self

    @property
    def inputs(self) -> list[FeatureProfile]:
        """Return the profiles of the model's input columns."""
        return [f for f in self.features.values() if f.role == "input"]

    @property
    def outputs(self) -> list[FeatureProfile]:
        """Return the profiles of the model's outputs (``output.*``)."""
        return [f for f in self.features.values() if f.role == "output"]

    def feature(self, name: str) -> FeatureProfile:
        """Return the profile of column ``name``; NotFound names the columns there are."""
        from steward.errors import did_you_mean

        found = self.features.get(name)
        if found is None:
            raise NotFound(
                f"The reference profile has no column {name!r}.{did_you_mean(name, self.features)} "
                f"Its columns are: {', '.join(self.features)}."
            )
        return found

    @classmethod
    def from_json(cls, text: str | bytes) -> ReferenceProfile:
        """Return the profile serialized in ``text`` (as ``model_dump_json`` writes it)."""
        profile = cls.model_validate_json(text)
        if profile.format_version > FORMAT_VERSION:
            raise InvalidInput(
                f"This reference profile has format {profile.format_version}; this Steward "
                f"reads up to {FORMAT_VERSION}. Upgrade Steward to read it."
            )
        return profile
