"""Start Steward's team server as a real subprocess on 127.0.0.1, and always stop it."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

SRC = Path(__file__).resolve().parent.parent / "src"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(port: int) -> list[str]:
    """Return the command that runs the server: `steward server` if the CLI has it, else uvicorn."""
    if importlib.util.find_spec("steward.cli._server") is not None:
        return [
            sys.executable,
            "-m",
            "steward.cli",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "steward.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


@contextmanager
def steward_server(home: Path, log_path: Path, timeout: float = 60.0) -> Iterator[str]:
    """Yield the URL of a Steward server over a store in ``home``; stop it on leaving."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    env["STEWARD_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            server_command(port),
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(proc, url, timeout, log_path)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"The Steward server exited with code {proc.returncode}:\n{_tail(log)}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"The Steward server did not answer /health within {timeout}s:\n{_tail(log)}"
    )


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
