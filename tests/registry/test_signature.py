"""Signature checks on predict: missing, extra, wrong-typed, unseen and null inputs."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

import steward
from steward._backend import Backend
from steward.registry import LoadedModel, SignatureError, SignatureWarning, UnseenCategoryWarning


@pytest.fixture
def model(sqlite_backend: Backend, churn_pipeline: Pipeline, churn_data) -> LoadedModel:  # type: ignore[no-untyped-def]
    from steward._backend import set_backend

    set_backend(sqlite_backend)
    X, _ = churn_data
    with steward.start_run():
        info = steward.log_model(churn_pipeline, input_example=X)
    return steward.load_model(info.uri)


def test_inputs_in_many_shapes(model: LoadedModel, churn_pipeline: Pipeline, churn_data) -> None:  # type: ignore[no-untyped-def]
    X, _ = churn_data
    expected = churn_pipeline.predict(X.head(3))
    shuffled = X.head(3)[["plan", "paperless", "monthly", "tenure"]].assign(extra_col=1)
    assert (model.predict(shuffled) == expected).all()  # reordered, extra column dropped
    records = X.head(3).to_dict(orient="records")
    assert (model.predict(records) == expected).all()
    assert model.predict(records[0]).tolist() == expected[:1].tolist()
    as_text = X.head(3).astype({"tenure": str, "monthly": str})
    assert (model.predict(as_text) == expected).all()  # numbers sent as text are converted


def test_missing_and_wrong_typed_columns_are_errors(model: LoadedModel, churn_data) -> None:  # type: ignore[no-untyped-def]
    X, _ = churn_data
    with pytest.raises(SignatureError, match=r"missing column\(s\) 'monthly' \(numeric\)"):
        model.predict(X.drop(columns=["monthly"]))
    with pytest.raises(
        SignatureError, match=r"Column 'tenure' must be numeric .* values like \['ten'\]"
    ):
        model.predict(X.head(1).assign(tenure="ten"))
    with pytest.raises(SignatureError, match="expects 4"):
        model.predict(np.zeros((2, 3)))
    with pytest.raises(SignatureError, match="Cannot use str"):
        model.predict("tenure=3")


def test_extra_columns_can_be_refused(
    sqlite_backend: Backend, churn_data, model: LoadedModel
) -> None:  # type: ignore[no-untyped-def]
    X, _ = churn_data
    strict = steward.load_model(model.source, extra="error")
    with pytest.raises(SignatureError, match="does not know: surprise"):
        strict.predict(X.head(2).assign(surprise=1))


def test_unseen_categories_and_nulls_follow_the_policy(model: LoadedModel, churn_data) -> None:  # type: ignore[no-untyped-def]
    X, _ = churn_data
    odd = X.head(2).assign(plan=["enterprise", "basic"])
    with pytest.warns(UnseenCategoryWarning, match=r"\['enterprise'\]"):
        model.predict(odd)
    with pytest.raises(SignatureError, match="never seen"):
        steward.load_model(model.source, unseen="error").predict(odd)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        steward.load_model(model.source, unseen="ignore").predict(odd)
    holes = X.head(3).astype({"monthly": float}).copy()
    holes.loc[holes.index[0], "monthly"] = np.nan
    # LogisticRegression itself refuses NaN, after the signature check has warned
    with pytest.warns(SignatureWarning, match="1 null value"), contextlib.suppress(ValueError):
        model.predict(holes)


def test_methods_the_model_lacks(model: LoadedModel) -> None:
    assert model.classes == [0, 1]
    from steward.errors import InvalidInput

    with pytest.raises(InvalidInput, match="has no transform"):
        model._call("transform", {})
