"""A wheel of the running Steward, built from its source, for images to install.

Steward is not on a package index, so an image installs it from a wheel in its build
context. The wheel is built by pip from a copy of the source folder (so that setuptools'
``build/`` and ``*.egg-info`` never land in the working tree, and no stale ``build/lib``
file slips into the wheel): first with the build tools of the running environment, which
needs no network, then, when those are missing or too old, in pip's isolated build
environment, which fetches what ``pyproject.toml`` asks for from the package index.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from urllib.parse import unquote, urlparse

from steward._version import __version__
from steward.errors import StewardError

PACKAGE = Path(__file__).resolve().parents[1]  # the folder of the running `steward`
_BUILD_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in")
_DOC_FILES = ("README", "LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS")
TIMEOUT = 600
_FRAME = " \u2502\u2570\u2500>\u00d7"  # the frame pip draws around a build's error


def build_steward_wheel(into: Path) -> Path:
    """Return the path of a wheel of the running Steward, built into folder ``into``."""
    source = steward_source()
    failures = []
    with tempfile.TemporaryDirectory(prefix="steward-wheel-") as tmp:
        for isolated in (False, True):
            attempt = "isolated" if isolated else "local"
            copy = Path(tmp) / attempt / "source"  # a fresh copy: nothing left by a failure
            built = Path(tmp) / attempt / "wheels"
            _copy_source(source, copy)
            command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
            command += [] if isolated else ["--no-build-isolation"]
            command += ["--wheel-dir", str(built), str(copy)]
            try:
                result = subprocess.run(
                    command, capture_output=True, text=True, timeout=TIMEOUT, check=False
                )
            except subprocess.TimeoutExpired:
                failures.append(f"pip wheel took more than {TIMEOUT} s")
                continue
            wheels = sorted(built.glob("steward-*.whl"))
            if result.returncode == 0 and wheels:
                into.mkdir(parents=True, exist_ok=True)
                return Path(shutil.copy2(wheels[0], into / wheels[0].name))
            failures.append(_reason(result.stderr + result.stdout))
    raise StewardError(
        f"Cannot build a wheel of Steward from its source {str(source)!r} for the image. "
        f"With this environment's build tools: {failures[0]} In an isolated build "
        f"environment: {failures[-1]} Install the build requirements of its pyproject.toml "
        f"(pip install {_build_requires(source / 'pyproject.toml')}), or build a wheel yourself "
        "(pip wheel --no-deps <source>) and pass it with steward_wheel= (--steward-wheel)."
    )


def _build_requires(pyproject: Path) -> str:
    """Return the build requirements a ``pyproject.toml`` declares, quoted for a shell."""
    try:
        system = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("build-system", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        system = {}
    return " ".join(f"'{r}'" for r in system.get("requires", ["setuptools"])) or "setuptools"


def steward_source() -> Path:
    """Return the source folder (with ``pyproject.toml``) of the running Steward.

    That is the folder of an editable or local install (``direct_url.json``), or a
    folder above the package with Steward's ``pyproject.toml``, as in a checkout on
    ``PYTHONPATH``. A folder whose package is not the running one must declare the
    running version.
    """
    candidates: list[Path] = []
    try:
        text = importlib.metadata.distribution("steward").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        text = None
    if text:
        info = json.loads(text)
        url = urlparse(str(info.get("url", "")))
        if url.scheme == "file" and "dir_info" in info:
            candidates.append(Path(unquote(url.path)))
    candidates.extend(PACKAGE.parents)
    for root in (c.resolve() for c in candidates):
        version = _project_version(root / "pyproject.toml")
        if version is None:
            continue
        if PACKAGE.is_relative_to(root) or version == __version__:
            return root
    raise StewardError(
        f"Cannot find the source of the running Steward (its package is {str(PACKAGE)!r}, "
        "not inside a folder with Steward's pyproject.toml), so no wheel of it can be built "
        "for the image. Install Steward from its source folder (pip install -e <source>), or "
        "build a wheel of it and pass it with steward_wheel= (--steward-wheel)."
    )


def _project_version(pyproject: Path) -> str | None:
    """Return the version a ``pyproject.toml`` of Steward declares ('' when dynamic)."""
    if not pyproject.is_file():
        return None
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    if project.get("name") != "steward":
        return None
    return str(project.get("version", ""))


def _copy_source(root: Path, dst: Path) -> None:
    """Copy what a build reads: the build and doc files at the top, and the package's tree."""
    dst.mkdir(parents=True)
    for item in root.iterdir():
        if item.is_file() and (item.name in _BUILD_FILES or item.name.startswith(_DOC_FILES)):
            shutil.copy2(item, dst / item.name)
    if PACKAGE.is_relative_to(root):
        tree = root / PACKAGE.relative_to(root).parts[0]  # src/ (or steward/, flat layout)
    else:
        tree = root / "src" if (root / "src" / "steward").is_dir() else root / "steward"
    if not (tree if tree.name == "steward" else tree / "steward").is_dir():
        raise StewardError(
            f"The source folder {str(root)!r} has no src/steward (nor steward/) package to "
            "build a wheel of; pass a built wheel of Steward with steward_wheel= "
            "(--steward-wheel)."
        )
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*")
    shutil.copytree(tree, dst / tree.name, ignore=ignore)


def _reason(output: str) -> str:
    """Return the lines of pip's output that say why a build failed (the exceptions)."""
    lines = [line.strip(_FRAME) for line in output.splitlines() if line.strip(_FRAME)]
    found = [line for line in lines if re.search(r"\w+Error\b", line)]
    chosen = list(dict.fromkeys(found))[-2:] or lines[-3:]
    return " | ".join(chosen).rstrip(".") + "." if chosen else "pip failed and printed nothing."
