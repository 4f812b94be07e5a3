"""Reference profiles kept with model versions: stored, loaded, and made when logged.

A version's reference is two version files of kind ``monitoring``:
``monitoring/reference.json`` (the :class:`ReferenceProfile`) and
``monitoring/reference_sample.parquet`` (its row sample). ``log_model(...,
input_example=X, registered_model_name=...)`` stores one from X through a version hook;
:func:`set_reference` builds one from any data (a Parquet folder of the whole training
set, streamed) and replaces it.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from steward.context import get_backend
from steward.errors import NotFound
from steward.monitor._build import build_profile
from steward.monitor._chunks import DEFAULT_CHUNK_ROWS, Source
from steward.monitor._profile import ProfileSettings, ReferenceProfile
from steward.registry import ModelFile, ModelVersion, add_version_hook, get_model_version

PROFILE_PATH = "monitoring/reference.json"
SAMPLE_PATH = "monitoring/reference_sample.parquet"


def store_reference(version: ModelVersion | str, profile: ReferenceProfile) -> ModelVersion:
    """Return the version after storing ``profile`` as its reference (replacing any before)."""
    if isinstance(version, str):
        version = get_model_version(version)
    backend = get_backend()
    files = []
    if profile.sample is not None:
        buffer = io.BytesIO()
        pq.write_table(profile.sample, buffer, compression="zstd")
        files.append((SAMPLE_PATH, buffer.getvalue()))
    files.append((PROFILE_PATH, profile.model_dump_json().encode()))  # last: it names the sample
    for path, content in files:
        sha, size = backend.blobs.put_bytes(content)
        file = ModelFile(path=path, sha256=sha, size=size, kind="monitoring")
        version = backend.add_model_version_file(version.model, version.version, file)
    return version


def load_reference(model: ModelVersion | str) -> ReferenceProfile:
    """Return the reference profile stored with a model version (``models:/name/3``, ``@alias``)."""
    version = get_model_version(model) if isinstance(model, str) else model
    files = {f.path: f for f in version.files}
    found = files.get(PROFILE_PATH)
    if found is None:
        raise NotFound(
            f"Model version {version.uri} has no reference profile ({PROFILE_PATH}), so its "
            "drift cannot be measured. Make one from its training data with "
            f"steward.monitor.set_reference({version.uri!r}, training_data), or log the model "
            "with input_example=<training inputs> and registered_model_name=..."
        )
    backend = get_backend()
    profile = ReferenceProfile.from_json(backend.blobs.read_bytes(found.sha256))
    sample = files.get(SAMPLE_PATH)
    if sample is not None and profile.sample_rows:
        profile.with_sample(pq.read_table(io.BytesIO(backend.blobs.read_bytes(sample.sha256))))
    return profile


def set_reference(
    model_uri: str,
    data: Source,
    *,
    with_outputs: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    settings: ProfileSettings | None = None,
    random_state: int | None = None,
) -> ReferenceProfile:
    """Return the reference profile built from ``data`` and stored with the version.

    Use it for training data bigger than the input example (a Parquet folder streams
    through in bounded memory). The version's signature gives the columns and kinds;
    with ``with_outputs`` the version's model is loaded and its outputs on ``data``
    profiled too, for prediction drift.
    """
    version = get_model_version(model_uri)
    model = None
    if with_outputs:
        from steward.registry import load_model

        model = load_model(version.uri)
    profile = build_profile(
        data,
        signature=version.manifest.signature,
        model=model,
        chunk_rows=chunk_rows,
        settings=settings,
        random_state=random_state,
    )
    store_reference(version, profile)
    return profile


def _on_version_logged(version: ModelVersion, data: pd.DataFrame | None, model: Any) -> None:
    """Store the reference profile of a version just logged, from its input example."""
    if data is None or len(data) == 0:
        return
    signature = version.manifest.signature
    try:
        with warnings.catch_warnings():  # what the model says about its inputs, serving says
            warnings.simplefilter("ignore")
            profile = build_profile(data, signature=signature, model=model)
    except Exception as exc:  # a model that cannot predict on its example: inputs only
        profile = build_profile(data, signature=signature)
        profile.source += f" (the model's outputs could not be profiled: {exc})"
    store_reference(version, profile)


add_version_hook(_on_version_logged)
