"""The registry's public API: log_model, register_model, load_model, aliases."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import BaseModel

from steward.context import get_backend, run_target

if TYPE_CHECKING:
    from steward._backend import Backend
from steward.artifacts import sha256_file
from steward.buffer import buffer
from steward.config import load_settings
from steward.errors import IntegrityError, InvalidInput, NotFound, StewardError
from steward.registry._hooks import has_version_hooks, version_logged
from steward.registry._loaded import LoadedModel
from steward.registry._models import (
    AliasMove,
    DatasetRef,
    Manifest,
    ModelFile,
    ModelVersion,
    ModelVersionSpec,
    RegisteredModel,
    Signature,
)
from steward.registry._package import (
    MANIFEST,
    STAMP,
    VersionMismatchWarning,
    check_versions,
    load_package_object,
    load_yaml,
    package_path,
    read_manifest,
    verify_package,
    write_package,
)
from steward.registry._signature import Policy, infer_signature
from steward.registry._uri import parse_model_uri
from steward.validation import check_artifact_path, renamed


class ModelInfo(BaseModel):
    """Where a logged model went: its run, artifact path, URI, manifest, and version if registered."""

    run_id: str
    artifact_path: str
    uri: str
    manifest: Manifest
    version: ModelVersion | None = None

    @property
    def model_uri(self) -> str:
        """Return the URI to load the logged model from (MLflow's name for ``uri``)."""
        return self.uri

    @property
    def registered_model_version(self) -> int | None:
        """Return the registered version's number, if the model was registered."""
        return self.version.version if self.version else None


def log_model(
    model: Any,
    name: str = "model",
    *,
    input_example: pd.DataFrame | None = None,
    signature: Signature | None = None,
    code_paths: list[str | Path] | None = None,
    flavor: str | None = None,
    registered_model_name: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
) -> ModelInfo:
    """Return where the model was logged, after saving it as a package of the active run.

    ``input_example`` should be the training inputs (or a representative sample): the
    signature records its column types, ranges and categories. With
    ``registered_model_name`` the package also becomes a new version of that model.
    ``artifact_path=`` is accepted for ``name`` as MLflow 2 spells it; the result's
    ``model_uri`` is its ``uri``, as MLflow's ``ModelInfo`` names it.
    """
    name = (
        renamed(None if name == "model" else name, artifact_path, "name", "artifact_path") or name
    )
    backend, rid = run_target(run_id)
    check_artifact_path(name)
    buffer.flush()  # metrics logged so far belong in the manifest
    run = backend.get_run(rid)
    if signature is None and input_example is not None:
        signature = infer_signature(input_example, model)
    datasets = _run_datasets(backend, run.inputs)
    sensitive = sorted({c for d in datasets for c in d[1]})
    with tempfile.TemporaryDirectory(prefix="steward-package-") as tmp:
        folder = Path(tmp) / "package"
        manifest, _ = write_package(
            model,
            folder,
            signature=signature,
            flavor=flavor,
            code_paths=[Path(p) for p in code_paths or []],
            run_id=rid,
            datasets=[d[0] for d in datasets],
            metrics={k: m.value for k, m in run.metrics.items()},
            sensitive=sensitive,
        )
        if input_example is not None:
            example = input_example.head(5).to_json(orient="records")
            (folder / "input_example.json").write_text(example)
            manifest.files["input_example.json"] = _sha(folder / "input_example.json")
            _rewrite_manifest(folder, manifest)
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            sha, size = backend.blobs.put_file(file)
            backend.add_artifact(rid, f"{name}/{file.relative_to(folder).as_posix()}", sha, size)
    info = ModelInfo(run_id=rid, artifact_path=name, uri=f"runs:/{rid}/{name}", manifest=manifest)
    if registered_model_name:
        info.version = _register(info.uri, registered_model_name)
        # The reference profile describes the training data when the run logged it (as
        # register_model does), not the few example rows MLflow habits pass.
        # (Only when it holds the signature's columns: a run may have read raw data and
        # fitted on features derived from it.)
        data = input_example
        if signature is not None and any(d[0].context == "training" for d in datasets):
            trained = _training_inputs(info.version)
            if trained is not None and list(trained.columns) == [c.name for c in signature.inputs]:
                data = trained
        version_logged(info.version, data, model)
    return info


def _sha(path: Path) -> str:
    return sha256_file(path)[0]


def _rewrite_manifest(folder: Path, manifest: Manifest) -> None:
    import yaml

    (folder / MANIFEST).write_bytes(
        yaml.safe_dump(manifest.model_dump(mode="json"), sort_keys=False).encode()
    )


def _run_datasets(backend: Backend, inputs: list[Any]) -> list[tuple[DatasetRef, list[str]]]:
    found = []
    for item in inputs:
        version = backend.get_dataset_version(item.dataset, item.version)
        ref = DatasetRef(
            dataset=item.dataset,
            version=item.version,
            content_hash=version.content_hash,
            context=item.context,
        )
        found.append((ref, version.sensitive_columns))
    return found


def register_model(model_uri: str, name: str, *, description: str = "") -> ModelVersion:
    """Return the new version of model ``name`` made from a logged package (runs:/ or a path).

    The version hooks (e.g. the monitor stage's reference profile) are given the training
    dataset the version's run read, or else the package's input example.
    """
    version = _register(model_uri, name, description=description)
    if has_version_hooks():
        data = _training_inputs(version)
        if data is not None:
            with warnings.catch_warnings():  # differing pins are told on the user's own loads
                warnings.simplefilter("ignore", VersionMismatchWarning)
                model = load_model(version.uri)
            version_logged(version, data, model)
    return version


def _training_inputs(version: ModelVersion) -> pd.DataFrame | None:
    """Return the inputs the version was trained on (its run's training dataset), else its
    input example; only the signature's input columns."""
    from steward.data import as_frame
    from steward.registry._evaluation import input_example

    refs = [d for d in version.manifest.datasets if d.context == "training"]
    frame = None
    if refs:
        try:
            frame = as_frame(f"{refs[0].dataset}@{refs[0].version}")
        except StewardError:  # e.g. its rows were deleted under a retention rule
            frame = None
    if frame is None:
        frame = input_example(version)
    signature = version.manifest.signature
    if frame is not None and signature is not None:
        names = [c.name for c in signature.inputs]
        if all(n in frame.columns for n in names):
            frame = frame[names]
    return frame


def _register(model_uri: str, name: str, *, description: str = "") -> ModelVersion:
    backend = get_backend()
    ref = parse_model_uri(model_uri)
    if ref.kind == "registry":
        raise InvalidInput(
            f"{model_uri!r} is already a registered version; to give it another name, load it "
            "and log it again."
        )
    if ref.kind == "run":
        prefix = ref.path.rstrip("/") + "/"
        artifacts = [
            a for a in backend.list_artifacts(ref.run_id, prefix) if a.path.startswith(prefix)
        ]
        files = [
            ModelFile(path=a.path[len(prefix) :], sha256=a.sha256, size=a.size) for a in artifacts
        ]
        manifest_file = next((f for f in files if f.path == MANIFEST), None)
        if manifest_file is None:
            raise NotFound(
                f"Run {ref.run_id} has no model package at {ref.path!r} (no {prefix}{MANIFEST}). "
                "Log one with steward.log_model(model, name)."
            )

        manifest = Manifest.model_validate(
            load_yaml(backend.blobs.read_bytes(manifest_file.sha256))
        )
        spec = ModelVersionSpec(
            model=name,
            run_id=ref.run_id,
            source=model_uri,
            manifest=manifest,
            manifest_sha256=manifest_file.sha256,
            files=files,
            description=description,
        )
        return backend.create_model_version(spec)
    folder = package_path(ref.path)
    manifest = verify_package(folder)
    _, manifest_sha = read_manifest(folder)
    files = []
    for file in sorted(
        p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        sha, size = backend.blobs.put_file(file)
        files.append(ModelFile(path=file.relative_to(folder).as_posix(), sha256=sha, size=size))
    run_id = manifest.run_id
    if run_id is not None:
        try:
            backend.get_run(run_id)
        except NotFound:
            run_id = None  # a package from another store: keep it, without the lineage edge
    spec = ModelVersionSpec(
        model=name,
        run_id=run_id,
        source=str(folder.resolve()),
        manifest=manifest,
        manifest_sha256=manifest_sha,
        files=files,
        description=description,
    )
    return backend.create_model_version(spec)


def get_model_version(model_uri: str) -> ModelVersion:
    """Return the registered version a ``models:/`` URI names."""
    ref = parse_model_uri(model_uri)
    if ref.kind != "registry":
        raise InvalidInput(
            f"{model_uri!r} does not name a registered version; use models:/name@alias or models:/name/3."
        )
    backend = get_backend()
    if ref.version is not None:
        return backend.get_model_version(ref.name, ref.version)
    return backend.get_model_version_by_alias(ref.name, ref.alias or "latest")


def download_model(model_uri: str, dst: str | Path | None = None) -> Path:
    """Return a local folder holding the verified package of a model (registry, run or path)."""
    folder, _manifest, _version = _fetch(model_uri)
    if dst is None:
        return folder
    target = Path(dst)
    if target.exists() and not target.is_dir():
        raise InvalidInput(
            f"{str(target)!r} is a file; give a folder to download the package into."
        )
    if target.exists() and any(target.iterdir()):
        raise InvalidInput(
            f"{str(target)!r} exists and is not empty; choose an empty or new folder."
        )
    shutil.copytree(folder, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(STAMP))
    return target


def load_model(
    model_uri: str | Path,
    *,
    strict: bool | None = None,
    extra: Literal["ignore", "error"] = "ignore",
    unseen: Policy = "warn",
    nulls: Policy = "warn",
) -> LoadedModel:
    """Return the model behind a URI, after verifying every file's hash.

    ``models:/churn@champion``, ``models:/churn/3``, ``models:/churn/latest``,
    ``runs:/<run id>/model`` or a package folder. Library versions that differ from the
    pinned ones give a warning naming each (an error with ``strict=True`` or
    ``STEWARD_STRICT_VERSIONS=1``).
    """
    folder, manifest, version = _fetch(str(model_uri))
    if strict is None:
        strict = os.environ.get("STEWARD_STRICT_VERSIONS", "0").lower() in {"1", "true", "yes"}
    check_versions(manifest, strict=strict)
    obj = load_package_object(folder, manifest)
    return LoadedModel(
        obj,
        manifest,
        source=str(model_uri),
        version=version,
        extra=extra,
        unseen=unseen,
        nulls=nulls,
    )


def _fetch(model_uri: str) -> tuple[Path, Manifest, ModelVersion | None]:
    ref = parse_model_uri(model_uri)
    if ref.kind == "path":
        folder = package_path(ref.path)
        return folder, verify_package(folder), None
    backend = get_backend()
    if ref.kind == "registry":
        version = get_model_version(model_uri)
        files = [f for f in version.files if f.kind == "package"]
        folder, manifest = _cached(backend, version.manifest_sha256, files, version.uri)
        return folder, manifest, version
    prefix = ref.path.rstrip("/") + "/"
    artifacts = [a for a in backend.list_artifacts(ref.run_id, prefix) if a.path.startswith(prefix)]
    files = [ModelFile(path=a.path[len(prefix) :], sha256=a.sha256, size=a.size) for a in artifacts]
    manifest_file = next((f for f in files if f.path == MANIFEST), None)
    if manifest_file is None:
        raise NotFound(f"Run {ref.run_id} has no model package at {ref.path!r}.")
    folder, manifest = _cached(backend, manifest_file.sha256, files, model_uri)
    return folder, manifest, None


def _cached(
    backend: Backend, key: str, files: list[ModelFile], source: str
) -> tuple[Path, Manifest]:
    """Return a verified local copy of a package's files and its manifest.

    The copy lives in the package cache under the manifest's sha256 as the registry
    records it (``key``). Every load hashes the cached manifest against ``key`` and checks
    each file against the manifest; an altered copy is refused, never silently replaced:
    something on this machine changed a verified model, and the user should know.
    """
    cache = load_settings().home / "cache" / "packages" / key
    if cache.is_dir():
        try:
            return cache, verify_package(cache, manifest_sha256=key, use_stamp=True)
        except IntegrityError as exc:
            raise IntegrityError(
                f"The cached copy of {source} was altered after Steward verified it: "
                f"{_altered_files(exc, cache)}. Steward will not load it. If you did not "
                f"change it on purpose, find out what did; then delete the folder "
                f"{str(cache)!r} and load again to fetch a verified copy from the store.",
                cache=str(cache),
                **exc.details,
            ) from exc
    staging = cache.with_name(f"{key}.{uuid.uuid4().hex}.partial")
    try:
        for f in files:
            try:
                backend.blobs.download(f.sha256, staging / f.path)
            except IntegrityError as exc:
                raise IntegrityError(
                    f"File {f.path!r} of {source} is altered or corrupted in the artifact "
                    f"store: {exc.message}",
                    path=f.path,
                    **exc.details,
                ) from exc
        cache.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # another process filled the cache meanwhile
            os.replace(staging, cache)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cache, verify_package(cache, manifest_sha256=key, use_stamp=True)


def _altered_files(error: IntegrityError, cache: Path) -> str:
    """Return which files of a cached package an IntegrityError found altered, by path."""
    details = error.details
    parts = [
        f"{what} {', '.join(str(cache / p) for p in details.get(what, []))}"
        for what in ("changed", "missing", "added")
        if details.get(what)
    ]
    return "; ".join(parts) or f"{cache / MANIFEST} changed"


def create_registered_model(
    name: str, description: str = "", owners: list[str] | None = None
) -> RegisteredModel:
    """Return a new registered model."""
    return get_backend().create_registered_model(name, description, owners)


def get_registered_model(name: str) -> RegisteredModel:
    """Return the registered model ``name`` with its aliases."""
    return get_backend().get_registered_model(name)


def set_alias(
    name: str, alias: str, version: int, *, reason: str = "", expected_version: int | None = None
) -> AliasMove:
    """Return the recorded move after pointing ``alias`` of model ``name`` at ``version``."""
    return get_backend().set_alias(name, alias, version, reason, expected_version)


def delete_alias(
    name: str, alias: str, *, reason: str = "", expected_version: int | None = None
) -> AliasMove:
    """Return the recorded move after removing ``alias`` (only from ``expected_version``)."""
    return get_backend().delete_alias(name, alias, reason, expected_version)


def get_alias_history(name: str, alias: str | None = None) -> list[AliasMove]:
    """Return the moves of the aliases of model ``name``, oldest first."""
    return get_backend().get_alias_history(name, alias)


def set_model_tag(name: str, key: str, value: str, *, version: int = 0) -> None:
    """Set a tag on a registered model (or one of its versions), e.g. ``intended_use``."""
    get_backend().set_model_tag(name, key, value, version)
