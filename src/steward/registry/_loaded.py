"""A loaded model: the flavor's object behind predict methods that check the signature."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from steward.errors import InvalidInput
from steward.registry._models import Manifest, ModelVersion, Signature
from steward.registry._signature import Policy, as_frame, validate_frame


class LoadedModel:
    """A verified model package, ready to predict; inputs are checked against its signature."""

    def __init__(
        self,
        model: Any,
        manifest: Manifest,
        *,
        source: str,
        version: ModelVersion | None = None,
        extra: Literal["ignore", "error"] = "ignore",
        unseen: Policy = "warn",
        nulls: Policy = "warn",
    ) -> None:
        self.raw = model
        self.manifest = manifest
        self.source = source
        self.version = version
        self._policies: dict[str, Any] = {"extra": extra, "unseen": unseen, "nulls": nulls}

    @property
    def signature(self) -> Signature | None:
        """Return the input/output signature recorded with the model, if any."""
        return self.manifest.signature

    @property
    def classes(self) -> list[Any] | None:
        """Return the classes of a classifier, in the order of predict_proba's columns."""
        return self.signature.output.classes if self.signature else None

    def validate(self, data: Any) -> pd.DataFrame:
        """Return the input as the DataFrame the model expects, or raise SignatureError."""
        frame = as_frame(data, self.signature)
        if self.signature is None:
            return frame
        return validate_frame(frame, self.signature, **self._policies)

    def _call(self, method: str, data: Any) -> Any:
        if method not in self.manifest.methods:
            raise InvalidInput(
                f"This {self.manifest.flavor} model has no {method}(); it offers "
                f"{', '.join(self.manifest.methods)}."
            )
        return getattr(self.raw, method)(self.validate(data))

    def predict(self, data: Any) -> Any:
        """Return the model's predictions for ``data`` (DataFrame, dict, records or array)."""
        return self._call("predict", data)

    def predict_proba(self, data: Any) -> Any:
        """Return class probabilities (columns in the order of ``classes``)."""
        return self._call("predict_proba", data)

    def decision_function(self, data: Any) -> Any:
        """Return the model's decision scores."""
        return self._call("decision_function", data)

    def __repr__(self) -> str:
        where = self.version.uri if self.version else self.source
        return f"<LoadedModel {self.manifest.flavor} from {where}>"
