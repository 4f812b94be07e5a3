"""Browser tests' shared machinery: Debian's Chromium driven by Playwright, and a page
that records JavaScript errors and every request it makes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

NO_BROWSER = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
    reason="Chromium is not installed (`.ci/run` installs Debian's chromium package)",
)


def run_demo(home: Path) -> subprocess.CompletedProcess[str]:
    """Run the README's first command on ``home``, as a new user would (whoever runs it, on
    the embedded default store); return what it printed."""
    env = {**os.environ, "STEWARD_HOME": str(home), "COLUMNS": "160"}
    for var in ("STEWARD_USER", "STEWARD_URI", "STEWARD_STORE_URI", "STEWARD_ARTIFACT_URI"):
        env.pop(var, None)
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> tuple[Path, str]:
    """The README's first command, run once on a fresh home: (home, what it printed).

    One run (about 2 minutes) serves every test over the demo's store, whichever xdist
    worker they land on: the first worker to ask runs it under a file lock in the session's
    shared temporary folder; the others wait for it and read what it left.
    """
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if worker_id != "master" else base
    folder, home = shared / "demo", shared / "demo" / "home"
    printed, failed = folder / "stdout.txt", folder / "stderr.txt"
    with FileLock(str(shared / "demo.lock")):
        if not printed.is_file() and not failed.is_file():
            folder.mkdir(exist_ok=True)
            out = run_demo(home)
            (printed if out.returncode == 0 else failed).write_text(out.stdout + out.stderr)
    assert not failed.is_file(), failed.read_text()
    return home, printed.read_text()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield chromium
        chromium.close()


class Visit:
    """A browser page that records JavaScript errors and every request it makes."""

    def __init__(self, browser: object, base: str) -> None:
        self.base = base
        self.page = browser.new_page(viewport={"width": 1366, "height": 768})  # type: ignore[attr-defined]
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None
        )
        self.page.on("request", lambda req: self.requests.append(req.url))

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.wait_for_load_state("networkidle")
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def check(self) -> None:
        assert self.errors == [], self.errors
        host = urlparse(self.base).netloc
        outside = [
            u
            for u in self.requests
            if not u.startswith(("data:", "blob:")) and urlparse(u).netloc != host
        ]
        assert outside == [], f"requests left the server: {outside}"
