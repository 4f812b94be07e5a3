"""What a run executed in: Python, platform, installed distributions, git state, command, seed."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import random
import socket
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from steward.develop._models import Environment

_seed: int | None = None


@lru_cache(maxsize=1)
def capture_environment() -> Environment:
    """Return this interpreter's environment, identified by the hash of its content."""
    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name] = dist.version
    packages = dict(sorted(packages.items(), key=lambda kv: kv[0].lower()))
    python = f"{platform.python_implementation()} {platform.python_version()}"
    plat = platform.platform()
    digest = hashlib.sha256(
        json.dumps(
            {"python": python, "platform": plat, "packages": packages}, sort_keys=True
        ).encode()
    ).hexdigest()
    return Environment(id=digest, python=python, platform=plat, packages=packages)


def capture_context() -> tuple[dict[str, Any], bytes | None]:
    """Return the run context (command, git, seed...) and the uncommitted diff, if any."""
    git, diff = git_state(_code_folder())
    context: dict[str, Any] = {
        "command": [sys.executable, *sys.argv],
        "cwd": os.getcwd(),
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "seed": _seed,
        "git": git,
    }
    return context, diff


def _code_folder() -> Path:
    """Return the folder of the script being run, or the working folder for tools and REPLs."""
    main = sys.argv[0] if sys.argv and sys.argv[0] else ""
    path = Path(main)
    if (
        main
        and path.is_file()
        and not {"site-packages", "dist-packages"} & set(path.resolve().parts)
    ):
        return path.resolve().parent
    return Path.cwd()


def _git(folder: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, timeout=20, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.decode("utf-8", "replace")


def git_state(folder: Path) -> tuple[dict[str, Any] | None, bytes | None]:
    """Return (commit, branch, dirty flag, remote...) of the repository holding ``folder``."""
    root = _git(folder, "rev-parse", "--show-toplevel")
    if root is None:
        return None, None
    top = Path(root.strip())
    commit = (_git(top, "rev-parse", "HEAD") or "").strip() or None
    status = _git(top, "status", "--porcelain") or ""
    untracked = [line[3:] for line in status.splitlines() if line.startswith("??")]
    dirty = bool(status.strip())
    diff: bytes | None = None
    if dirty and commit:
        try:
            diff = subprocess.run(
                ["git", "diff", "HEAD", "--binary"],
                cwd=top,
                capture_output=True,
                timeout=60,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            diff = None
    state = {
        "commit": commit,
        "branch": (_git(top, "rev-parse", "--abbrev-ref", "HEAD") or "").strip() or None,
        "dirty": dirty,
        "untracked": untracked[:200],
        "remote": _safe_url((_git(top, "config", "--get", "remote.origin.url") or "").strip()),
        "root": str(top),
        "diff_sha256": hashlib.sha256(diff).hexdigest() if diff else None,
    }
    return state, diff


def _safe_url(url: str) -> str | None:
    """Return a remote URL without any user name or token in it."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def seed_everything(seed: int) -> int:
    """Seed random, numpy and (when installed) torch with ``seed``; return the seed.

    The seed is recorded in the context of runs started afterwards, and as the tag
    ``steward.seed`` of the active run.
    """
    global _seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        from steward.errors import InvalidInput

        raise InvalidInput(f"The seed must be an integer between 0 and 2**32 - 1; got {seed!r}.")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import numpy as np

    np.random.seed(seed)
    if "torch" in sys.modules or importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(seed)
    _seed = seed
    return seed


def current_seed() -> int | None:
    """Return the seed set by seed_everything in this process, if any."""
    return _seed
