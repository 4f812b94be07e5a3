"""The recorded code of a run: its repository, a worktree at its commit, its diff, its command."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from steward.context import get_backend
from steward.develop._models import Run
from steward.develop._reproduction_report import CodeCheck, ProgressCallback
from steward.errors import Conflict, IntegrityError, NotFound, StewardError

DIFF_ARTIFACT = "environment/git.diff"
_APPLY_ERROR = re.compile(
    r"^error: (?:patch failed: (?P<a>.+):\d+|(?P<b>.+?): (?:patch does not apply|No such file"
    r" or directory|already exists in working directory|does not exist in index))$",
    re.MULTILINE,
)


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def check_repository(run: Run, root: Path, git: dict[str, Any]) -> None:
    commit, remote = git["commit"], git.get("remote")
    where = f" (cloned from {remote})" if remote else ""
    if not root.is_dir() or _git(root, "rev-parse", "--git-dir").returncode != 0:
        raise NotFound(
            f"Run {run.id} was started from the git repository at {str(root)!r}{where}, commit "
            f"{commit[:12]}, and there is no repository there now. Clone it and pass its "
            "folder with --repo (repo=...)."
        )
    if _git(root, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        raise NotFound(
            f"The repository at {str(root)!r} does not have commit {commit}, which run {run.id} "
            "was started from. Fetch it (git fetch --all), or pass another clone with --repo."
        )


@contextlib.contextmanager
def worktree(root: Path, commit: str, folder: Path, say: ProgressCallback) -> Iterator[Path]:
    """Yield a detached worktree of ``commit``; remove it afterwards, also on failure."""
    say(f"Checking out commit {commit[:12]}", None, None)
    added = _git(root, "worktree", "add", "--detach", "--quiet", str(folder), commit)
    if added.returncode != 0:
        raise StewardError(
            f"git could not check out commit {commit[:12]} of {root} into {folder}: "
            f"{added.stderr.strip()}"
        )
    try:
        yield folder
    finally:
        _git(root, "worktree", "remove", "--force", str(folder))
        shutil.rmtree(folder, ignore_errors=True)
        _git(root, "worktree", "prune")


def apply_diff(
    run: Run,
    git: dict[str, Any],
    root: Path,
    tree: Path,
    allow_mismatch: bool,
    warns: list[str],
    say: ProgressCallback,
) -> CodeCheck:
    """Return the code check after applying the run's uncommitted diff in the worktree."""
    untracked = [str(u) for u in git.get("untracked") or []]
    code = CodeCheck(
        repository=str(root),
        commit=git["commit"],
        branch=git.get("branch"),
        dirty=bool(git.get("dirty")),
        untracked=untracked,
    )
    if untracked:
        shown = ", ".join(untracked[:5]) + (", ..." if len(untracked) > 5 else "")
        warns.append(
            f"{len(untracked)} file(s) were untracked when the run started and were not "
            f"recorded ({shown}); if the run read them, the reproduction cannot."
        )
    if not git.get("diff_sha256"):
        return code
    backend = get_backend()
    stored = [a for a in backend.list_artifacts(run.id, DIFF_ARTIFACT) if a.path == DIFF_ARTIFACT]
    problem = f"its diff ({DIFF_ARTIFACT}) is not stored with the run"
    if stored:
        diff = backend.blobs.read_bytes(stored[0].sha256)
        if hashlib.sha256(diff).hexdigest() != git["diff_sha256"]:
            raise IntegrityError(
                f"The uncommitted diff stored with run {run.id} hashes to "
                f"{hashlib.sha256(diff).hexdigest()}, not the recorded {git['diff_sha256']}: "
                "it was altered. Steward will not apply it."
            )
        code.diff_files = list(
            dict.fromkeys(
                re.findall(r"^diff --git a/(.+?) b/", diff.decode("utf-8", "replace"), re.MULTILINE)
            )
        )
        patch = tree.parent / "uncommitted.diff"
        patch.write_bytes(diff)
        say(f"Applying the uncommitted diff ({len(code.diff_files)} files)", None, None)
        checked = _git(tree, "apply", "--check", "--binary", "--whitespace=nowarn", str(patch))
        if checked.returncode == 0:
            applied = _git(tree, "apply", "--binary", "--whitespace=nowarn", str(patch))
            if applied.returncode == 0:
                code.diff_applied = True
                return code
            checked = applied
        code.failed_files = list(
            dict.fromkeys(m["a"] or m["b"] for m in _APPLY_ERROR.finditer(checked.stderr))
        )
        problem = (
            "its diff does not apply to that commit"
            + (f" (failed: {', '.join(code.failed_files)})" if code.failed_files else "")
            + f": {checked.stderr.strip()[:500]}"
        )
    if not allow_mismatch:
        raise Conflict(
            f"Run {run.id} was started with uncommitted changes to commit {git['commit'][:12]}, "
            f"and {problem}. Pass --allow-dirty-mismatch (allow_dirty_mismatch=True) to "
            "reproduce without them, knowing the code differs from what ran."
        )
    code.diff_applied = False
    warns.append(f"The run had uncommitted changes and {problem}; reproduced without them.")
    return code


def relocate(path: Path, old_root: Path, new_root: Path) -> Path | None:
    """Return ``path`` moved from under ``old_root`` to under ``new_root`` (None if outside)."""
    try:
        return new_root / Path(os.path.normpath(path)).relative_to(os.path.normpath(old_root))
    except ValueError:
        return None


def relocate_command(
    run: Run, command: list[str], old_root: Path, tree: Path, git: dict[str, Any]
) -> tuple[Path, list[str]]:
    """Return the working folder and arguments of the recorded command, moved into the worktree."""
    old_cwd = Path(run.context.get("cwd") or old_root)
    moved_cwd = relocate(old_cwd, old_root, tree)
    cwd = moved_cwd if moved_cwd is not None else old_cwd
    args = []
    for arg in command[1:]:
        path = Path(arg)
        moved = (
            None
            if arg.startswith("-")
            else relocate(path if path.is_absolute() else old_cwd / path, old_root, tree)
        )
        keep = (
            moved is None
            or not moved.exists()
            or (moved_cwd is not None and not path.is_absolute())
        )
        args.append(arg if keep else str(moved))
    script = Path(args[0]) if Path(args[0]).is_absolute() else cwd / args[0]
    if not script.exists():
        inside = relocate(old_cwd / command[1], old_root, Path("."))
        rel = inside.as_posix() if inside is not None else command[1]
        untracked = [str(u) for u in git.get("untracked") or []]
        why = (
            "it was untracked when the run started, so no copy of it was recorded"
            if any(rel == u or (u.endswith("/") and rel.startswith(u)) for u in untracked)
            else f"it is not in commit {git['commit'][:12]}"
        )
        raise NotFound(
            f"Cannot re-run {command[1]!r} of run {run.id}: {why}. Commit the script and "
            "start a new run from it."
        )
    if not cwd.is_dir():
        raise NotFound(f"The working folder {str(old_cwd)!r} of run {run.id} no longer exists.")
    return cwd, args
