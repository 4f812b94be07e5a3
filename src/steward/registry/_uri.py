"""Model URIs: models:/name@alias, models:/name/3, models:/name/latest, runs:/<id>/path."""

from __future__ import annotations

import re
from dataclasses import dataclass

from steward.errors import InvalidInput

_MODELS = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<ref>[^/]+))$")
_RUNS = re.compile(r"^runs:/(?P<run>[0-9a-f]{32})/(?P<path>.+)$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model URI: a registry reference, a run artifact, or a local path."""

    kind: str  # "registry" | "run" | "path"
    name: str = ""
    version: int | None = None
    alias: str | None = None
    run_id: str = ""
    path: str = ""


def parse_model_uri(uri: str) -> ModelRef:
    """Return the parsed form of a model URI or local path."""
    if uri.startswith("models:"):
        match = _MODELS.match(uri)
        if not match:
            raise InvalidInput(
                f"{uri!r} is not a model URI. Use models:/name@alias, models:/name/3 or "
                "models:/name/latest."
            )
        ref = match["ref"]
        if ref is not None and ref != "latest":
            if not ref.isdigit():
                raise InvalidInput(
                    f"{uri!r}: the part after the model name must be a version number or "
                    f"'latest'; for an alias write models:/{match['name']}@{ref}."
                )
            return ModelRef("registry", name=match["name"], version=int(ref))
        return ModelRef("registry", name=match["name"], alias=match["alias"] or "latest")
    if uri.startswith("runs:"):
        match = _RUNS.match(uri)
        if not match:
            raise InvalidInput(
                f"{uri!r} is not a run URI. Use runs:/<32-character run id>/<path>, e.g. runs:/{'0' * 32}/model."
            )
        return ModelRef("run", run_id=match["run"], path=match["path"].strip("/"))
    return ModelRef("path", path=uri)
