"""The recorded environment of a run: here (differences listed) or a fresh virtual environment."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from steward._version import __version__
from steward.config import load_settings
from steward.context import get_backend
from steward.develop._environment import capture_environment
from steward.develop._models import Environment, Run
from steward.develop._reproduce_code import relocate
from steward.develop._reproduction_report import EnvironmentCheck, PackageChange, ProgressCallback
from steward.errors import InvalidInput, NotFound, StewardError

NOT_PINNED = frozenset({"steward", "pip", "setuptools", "wheel"})
STEWARD_PACKAGE = Path(__file__).resolve().parents[1]  # the steward package folder


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _editable_dists(root: Path) -> set[str]:
    """Return the distributions installed here in editable mode from inside ``root``."""
    from urllib.parse import unquote, urlsplit

    found = set()
    for dist in importlib.metadata.distributions():
        text = dist.read_text("direct_url.json")
        if not text or not dist.metadata["Name"]:
            continue
        info = json.loads(text)
        url = str(info.get("url", ""))
        editable = info.get("dir_info", {}).get("editable") and url.startswith("file:")
        if editable and relocate(Path(unquote(urlsplit(url).path)), root, root):
            found.add(_canonical(dist.metadata["Name"]))
    return found


def _differences(
    recorded: dict[str, str], used: dict[str, str], skip: set[str]
) -> list[PackageChange]:
    """Return the distributions added, removed or changed between two {name: version} maps."""
    old = {_canonical(k): (k, v) for k, v in recorded.items()}
    new = {_canonical(k): (k, v) for k, v in used.items()}
    changes = []
    for key in sorted(set(old) | set(new)):
        if key in NOT_PINNED or key in skip:
            continue
        before, after = old.get(key, (None, None))[1], new.get(key, (None, None))[1]
        if before != after:
            name = (old.get(key) or new[key])[0]
            changes.append(PackageChange(name=name, recorded=before, installed=after))
    return changes


def _python_text() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def recorded_environment(
    run: Run, here: bool, old_root: Path, venv: Path, warns: list[str], say: ProgressCallback
) -> tuple[Path, EnvironmentCheck]:
    """Return the Python to re-run with, and how its libraries differ from the record."""
    backend = get_backend()
    recorded = backend.get_environment(run.environment_id) if run.environment_id else None
    editable = _editable_dists(old_root)  # the project itself: its code is the worktree's
    if not here:
        return _fresh_environment(recorded, editable, venv, say)
    if recorded is None:
        warns.append("No environment was recorded with the run; library versions unchecked.")
    return Path(sys.executable), EnvironmentCheck(
        mode="here",
        python_recorded=recorded.python if recorded else None,
        python_used=_python_text(),
        packages_recorded=len(recorded.packages) if recorded else 0,
        differences=_differences(recorded.packages, capture_environment().packages, editable)
        if recorded
        else [],
    )


def _fresh_environment(
    recorded: Environment | None, editable: set[str], venv: Path, say: ProgressCallback
) -> tuple[Path, EnvironmentCheck]:
    """Return the Python of a new virtual environment holding the recorded versions."""
    if recorded is None:
        raise InvalidInput(
            "The run recorded no environment, so there are no library versions to install. "
            "Reproduce it in the current environment with --here (here=True)."
        )
    pins = {
        k: v for k, v in recorded.packages.items() if _canonical(k) not in NOT_PINNED | editable
    }
    python = build_venv(venv, pins, base_python=_interpreter_for(recorded.python), progress=say)
    probe = "import importlib.metadata as m, json, platform as p; print(json.dumps([p.python_implementation() + ' ' + p.python_version(), {d.metadata['Name']: d.version for d in m.distributions() if d.metadata['Name']}]))"
    used_python, used = json.loads(_check_output([str(python), "-c", probe]))
    check = EnvironmentCheck(
        mode="venv",
        python_recorded=recorded.python,
        python_used=used_python,
        packages_recorded=len(recorded.packages),
        differences=_differences(recorded.packages, used, editable),
    )
    return python, check


def _interpreter_for(recorded: str | None) -> str:
    """Return a Python of the recorded minor version when one is on PATH, else this one."""
    found = re.search(r"(\d+)\.(\d+)", recorded or "")
    if found and (int(found[1]), int(found[2])) != sys.version_info[:2]:
        return shutil.which(f"python{found[1]}.{found[2]}") or sys.executable
    return sys.executable


def _check_output(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise StewardError(f"{' '.join(args[:3])} failed: {done.stderr.strip()[-1000:]}")
    return done.stdout


def build_venv(
    folder: Path,
    pins: dict[str, str],
    *,
    base_python: str | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Return the Python of a virtual environment in ``folder`` with ``pins`` and this Steward.

    Reuses ``folder`` when a previous call completed it with the same pins. pip follows
    the machine's configuration (index, find-links, proxy), so it works offline when that
    points at local wheels.
    """
    say = progress or (lambda _message, _done, _total: None)
    bindir = "Scripts" if os.name == "nt" else "bin"
    python = folder / bindir / ("python.exe" if os.name == "nt" else "python")
    stamp = folder / ".steward-pins.json"
    wanted = json.dumps(pins, sort_keys=True)
    if not (stamp.is_file() and stamp.read_text() == wanted and python.exists()):
        shutil.rmtree(folder, ignore_errors=True)
        say("Creating a virtual environment", None, None)
        _check_output([base_python or sys.executable, "-m", "venv", str(folder)])
        if pins:
            _pip_install(python, pins, folder / "requirements.txt", say)
        stamp.write_text(wanted)
    purelib = Path(
        _check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).strip()
    )
    _copy_steward(purelib)
    return python


def _pip_install(
    python: Path, pins: dict[str, str], requirements: Path, say: ProgressCallback
) -> None:
    requirements.write_text(
        "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
    )
    say(f"Installing {len(pins)} pinned packages", 0, len(pins))
    args = [
        str(python),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "-r",
        str(requirements),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    done = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith(("Collecting ", "Processing ", "Requirement already satisfied")):
            done = min(done + 1, len(pins))
            say(f"Installing {len(pins)} pinned packages", done, len(pins))
        elif line.startswith("Installing collected packages"):
            say(f"Installing {len(pins)} pinned packages (unpacking)", len(pins), len(pins))
    if proc.wait() != 0:
        raise pip_failure("\n".join(lines), pins)


def pip_failure(output: str, pins: dict[str, str]) -> StewardError:
    """Return the error for a failed ``pip install`` of pinned versions, naming the culprit."""
    canonical = {_canonical(k): (k, v) for k, v in pins.items()}
    named = re.search(
        r"(?:No matching distribution found for|Could not find a version that satisfies the "
        r"requirement|Failed to build|Failed building wheel for) ([A-Za-z0-9_.\-]+)",
        output,
    )
    errors = [line for line in output.splitlines() if line.startswith(("ERROR", "error", "\u00d7"))]
    detail = " ".join(errors[-3:])[:800] or output.strip()[-800:]
    hint = (
        "Check that it is available from your package index (pip config list), or reproduce "
        "in the current environment with --here (here=True)."
    )
    if named is None:
        return StewardError(f"pip could not install the recorded library versions: {detail} {hint}")
    name, version = canonical.get(_canonical(named[1]), (named[1], "?"))
    cls = (
        NotFound
        if "No matching distribution" in output or "Could not find" in output
        else StewardError
    )
    return cls(
        f"Cannot install the recorded version of {name!r} ({name}=={version}) into a fresh "
        f"virtual environment: {detail} {hint}"
    )


def _copy_steward(purelib: Path) -> None:
    """Install the running Steward into ``purelib`` as a plain copy (fast, offline)."""
    source = STEWARD_PACKAGE
    shutil.rmtree(purelib / "steward", ignore_errors=True)
    shutil.copytree(source, purelib / "steward", ignore=shutil.ignore_patterns("__pycache__"))
    meta = purelib / f"steward-{__version__}.dist-info"
    meta.mkdir(exist_ok=True)
    (meta / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: steward\nVersion: {__version__}\n"
    )


def child_environment(
    run: Run, python: Path, here: bool, old_root: Path, tree: Path
) -> dict[str, str]:
    """Return the environment variables of the re-run: same store, seed, project, experiment."""
    env = dict(os.environ)
    settings = load_settings()
    env["STEWARD_HOME"] = str(settings.home.resolve())
    env.update(
        STEWARD_PROJECT=run.project, STEWARD_EXPERIMENT=run.experiment, STEWARD_REPRODUCING=run.id
    )
    seed = run.context.get("seed")
    if seed is not None:
        env["PYTHONHASHSEED"] = str(seed)
    own = STEWARD_PACKAGE.resolve().parent
    paths = [
        str(moved)
        for entry in sys.path
        if entry
        and Path(entry).resolve() != own
        and (moved := relocate(Path(entry).resolve(), old_root, tree)) is not None
        and moved.exists()
    ]
    if not here:
        env["VIRTUAL_ENV"] = str(python.parent.parent)
        env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])
        env["PYTHONNOUSERSITE"] = "1"
        for leak in ("PYTHONHOME", "PYTHONPATH"):  # would bring this environment's libraries
            env.pop(leak, None)
    if paths:
        env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH")])])
    return env
