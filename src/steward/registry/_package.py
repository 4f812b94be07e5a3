"""The model package: a folder of files and ``steward.yaml``, which lists each file's sha256."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import yaml

from steward.artifacts import sha256_file
from steward.errors import IntegrityError, InvalidInput, NotFound
from steward.registry._flavors import flavor_for, get_flavor
from steward.registry._models import DatasetRef, Manifest, Signature
from steward.store import actor

MANIFEST = "steward.yaml"
METHODS = ("predict", "predict_proba", "decision_function", "transform")


class VersionMismatchWarning(UserWarning):
    """An installed library differs from the version the model was saved with."""


def write_package(
    model: Any,
    folder: Path,
    *,
    signature: Signature | None,
    flavor: str | None = None,
    code_paths: list[Path] | None = None,
    run_id: str | None = None,
    datasets: list[DatasetRef] | None = None,
    metrics: dict[str, float] | None = None,
    sensitive: list[str] | None = None,
) -> tuple[Manifest, bytes]:
    """Save ``model`` as a package under ``folder``; return its manifest and manifest bytes."""
    chosen = flavor_for(model, flavor)
    folder.mkdir(parents=True, exist_ok=True)
    options = chosen.save(model, folder, list(code_paths or []))
    requirements = {}
    for dist in sorted(chosen.requirements(model, folder, options), key=str.lower):
        try:
            requirements[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    files = {
        p.relative_to(folder).as_posix(): sha256_file(p)[0]
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST and "__pycache__" not in p.parts
    }
    used_sensitive = (
        sorted(set(sensitive or []) & {c.name for c in signature.inputs}) if signature else []
    )
    manifest = Manifest(
        flavor=chosen.name,
        flavor_options=options,
        methods=[m for m in METHODS if callable(getattr(model, m, None))],
        signature=signature,
        requirements=requirements,
        python=platform.python_version(),
        run_id=run_id,
        datasets=datasets or [],
        metrics=metrics or {},
        uses_sensitive_columns=used_sensitive,
        created_at=time.time(),
        created_by=actor(),
        files=files,
    )
    text = yaml.safe_dump(manifest.model_dump(mode="json"), sort_keys=False).encode()
    (folder / MANIFEST).write_bytes(text)
    return manifest, text


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~20x faster when present


def load_yaml(data: bytes | str) -> Any:
    """Return the data in a YAML document (safe loading only)."""
    return yaml.load(data, Loader=_LOADER)


def read_manifest(folder: Path, *, expected_sha256: str | None = None) -> tuple[Manifest, str]:
    """Return the package's manifest and the sha256 of ``steward.yaml``.

    With ``expected_sha256`` (the hash the registry records), an altered manifest is
    refused before it is parsed.
    """
    path = folder / MANIFEST
    if not path.is_file():
        if expected_sha256 is not None:
            raise IntegrityError(
                f"The model package at {str(folder)!r} lost its {MANIFEST}. "
                "Steward will not load it.",
                changed=[],
                missing=[MANIFEST],
                added=[],
            )
        raise NotFound(
            f"{str(folder)!r} is not a Steward model package: it has no {MANIFEST}. "
            "Create one with steward.log_model()."
        )
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and actual != expected_sha256:
        raise IntegrityError(
            f"The manifest {str(path)!r} was altered (sha256 {actual}, registered "
            f"{expected_sha256}). Steward will not load it.",
            changed=[MANIFEST],
            missing=[],
            added=[],
        )
    try:
        manifest = Manifest.model_validate(load_yaml(data))
    except Exception as exc:
        raise IntegrityError(f"{MANIFEST} in {str(folder)!r} cannot be read: {exc}") from exc
    return manifest, actual


STAMP = ".steward-verified.json"


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def verify_package(
    folder: Path, *, manifest_sha256: str | None = None, use_stamp: bool = False
) -> Manifest:
    """Return the manifest after checking every file against its recorded sha256.

    Refuses (IntegrityError) a package with a changed, missing or added file, and, when
    ``manifest_sha256`` is given (as the registry records it), a changed manifest.

    With ``use_stamp`` (Steward's own package cache), files whose size, modification
    time, change time and inode are those recorded when they were last hashed are not
    hashed again: git's index uses the same test. Any write to a file changes its change
    time (ctime), which no user-level tool can set back, so an altered file is still
    hashed and refused. ``STEWARD_VERIFY=always`` hashes every file on every load.
    """
    manifest, _ = read_manifest(folder, expected_sha256=manifest_sha256)
    present = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in {MANIFEST, STAMP} and "__pycache__" not in p.parts
    }
    stamps: dict[str, Any] = {}
    stamp_file = folder / STAMP
    if (
        use_stamp
        and os.environ.get("STEWARD_VERIFY", "").lower() != "always"
        and stamp_file.is_file()
    ):
        try:
            stamps = json.loads(stamp_file.read_text())
        except (OSError, ValueError):
            stamps = {}
    added = sorted(present - set(manifest.files))
    missing = sorted(set(manifest.files) - present)
    changed = []
    fresh: dict[str, Any] = {}
    for path in sorted(set(manifest.files) & present):
        key = _stat_key(folder / path)
        recorded = stamps.get(path)
        if recorded == [manifest.files[path], *key]:
            fresh[path] = recorded
            continue
        if sha256_file(folder / path)[0] != manifest.files[path]:
            changed.append(path)
        else:
            fresh[path] = [manifest.files[path], *key]
    if added or missing or changed:
        raise IntegrityError(
            f"The model package at {str(folder)!r} was altered: changed {changed or 'none'}, "
            f"missing {missing or 'none'}, added {added or 'none'}. Steward will not load it.",
            changed=changed,
            missing=missing,
            added=added,
        )
    if use_stamp and fresh != stamps:
        with contextlib.suppress(OSError):  # a read-only cache is verified in full next time
            partial = stamp_file.with_name(f"{STAMP}.{os.getpid()}")
            partial.write_text(json.dumps(fresh))
            os.replace(partial, stamp_file)
    return manifest


def version_differences(manifest: Manifest) -> list[str]:
    """Return one line per required library whose installed version differs from the pin."""
    lines = []
    for dist, pinned in manifest.requirements.items():
        try:
            installed = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            lines.append(f"{dist}: saved with {pinned}, not installed")
            continue
        if installed != pinned:
            lines.append(f"{dist}: saved with {pinned}, installed {installed}")
    return lines


def check_versions(manifest: Manifest, *, strict: bool) -> None:
    """Warn (or with ``strict`` refuse) when installed libraries differ from the pins."""
    differences = version_differences(manifest)
    if not differences:
        return
    message = (
        "The model was saved with other library versions than installed here, which may "
        "change its predictions: " + "; ".join(differences) + "."
    )
    if strict:
        raise InvalidInput(
            message + " Install the pinned versions (see the package's steward.yaml), or load "
            "with strict=False to accept the difference.",
            differences=differences,
        )
    warnings.warn(message, VersionMismatchWarning, stacklevel=3)


def load_package_object(folder: Path, manifest: Manifest) -> Any:
    """Return the model object of a verified package."""
    return get_flavor(manifest.flavor).load(folder, manifest.flavor_options)


def package_path(value: str | Path) -> Path:
    """Return ``value`` as the folder of a package, checking that it exists."""
    path = Path(value).expanduser()
    if not path.is_dir():
        raise InvalidInput(
            f"{str(path)!r} is not a folder; a model package is a folder with {MANIFEST}."
        )
    return path
