"""An HTTP backend generated from the operation table: one method per store operation."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from steward._operations import Operation
from steward._version import __version__
from steward.artifacts import check_sha256, sha256_file
from steward.config import default_user
from steward.errors import (
    ERRORS_BY_CODE,
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ServerUnavailable,
    StewardError,
)

if TYPE_CHECKING:
    from steward._backend import Backend

API = "/api/v1"


class HttpBackend:
    """Calls a team server; has exactly the operations of the SQL backend."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.Client | None = None,
        user: str | None = None,
        token: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.http = client or httpx.Client(
            base_url=self.url, timeout=httpx.Timeout(60.0, connect=5.0)
        )
        self.user = user or default_user()
        # A user token (STEWARD_TOKEN) once the server has users; never logged or stored.
        self.token = token if token is not None else os.environ.get("STEWARD_TOKEN") or None
        self.blobs = HttpBlobs(self)

    @property
    def location(self) -> str:
        """Return the server URL."""
        return self.url

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request to the server and return the response, raising mapped errors."""
        headers = {"X-Steward-User": self.user, "User-Agent": f"steward/{__version__}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(kwargs.pop("headers", {}))
        try:
            response = self.http.request(method, API + path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnavailable(
                f"Cannot reach the Steward server at {self.url}: {exc}. Start it with "
                "`steward server`, or check STEWARD_URI."
            ) from exc
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    def call(self, op: Operation, values: dict[str, Any]) -> Any:
        """Perform ``op`` on the server with the given argument values and return its result."""
        path = op.path.format(**{k: quote(str(values.pop(k)), safe="") for k in op.path_params})
        if op.method == "GET":
            params = {k: v for k, v in values.items() if v is not None}
            response = self.request(op.method, path, params=params)
        else:
            # Each argument is serialized by pydantic's JSON encoder (in Rust) straight to
            # bytes: a 100k-point metric batch costs milliseconds, not a pass through json.
            parts = [
                json.dumps(k).encode() + b":" + op.adapter(k).dump_json(_checked(op, k, v))
                for k, v in values.items()
            ]
            response = self.request(
                op.method,
                path,
                content=b"{" + b",".join(parts) + b"}",
                headers={"Content-Type": "application/json"},
            )
        return op.result.validate_python(response.json())


def _checked(op: Operation, name: str, value: Any) -> Any:
    """Return ``value`` validated against the parameter's type (model instances pass as is)."""
    if isinstance(value, BaseModel):
        return value
    return op.adapter(name).validate_python(value)


def _error_from(response: httpx.Response) -> StewardError:
    try:
        body = response.json()["error"]
        cls = ERRORS_BY_CODE.get(body.get("code", ""), StewardError)
        return cls(body.get("message", response.text), **body.get("details", {}))
    except Exception:
        by_status = {
            404: NotFound,
            409: Conflict,
            403: PermissionDenied,
            400: InvalidInput,
            422: InvalidInput,
        }
        if response.status_code in by_status:
            return by_status[response.status_code](
                f"The server answered {response.status_code} to {response.request.method} "
                f"{response.request.url.path}. {response.text[:300]}".strip()
            )
        if response.status_code >= 500:
            return ServerUnavailable(
                f"The Steward server answered {response.status_code}: {response.text[:300]}"
            )
        return StewardError(f"The server answered {response.status_code}: {response.text[:300]}")


def _method(op: Operation) -> Any:
    signature = inspect.signature(op.func)

    def method(self: HttpBackend, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        values.pop("self")
        return self.call(op, values)

    method.__name__ = op.name
    method.__doc__ = op.func.__doc__
    method.__signature__ = signature  # type: ignore[attr-defined]
    return method


def install_operations(operations: list[Operation]) -> None:
    """Give :class:`HttpBackend` one method per operation (the composition root calls this)."""
    for op in operations:
        setattr(HttpBackend, op.name, _method(op))


class HttpBlobs:
    """Blob transfer through the server, checked by hash on both ends."""

    def __init__(self, backend: HttpBackend) -> None:
        self.backend = backend

    def exists(self, sha256: str) -> bool:
        """Return True when the server holds the blob."""
        check_sha256(sha256)
        try:
            self.backend.request("HEAD", f"/blobs/{sha256}")
            return True
        except StewardError as exc:
            if exc.code == "not_found":
                return False
            raise

    def put_file(self, path: str | Path) -> tuple[str, int]:
        """Upload a local file (unless the server has it) and return its sha256 and size."""
        sha, size = sha256_file(path)
        if not self.exists(sha):
            with open(path, "rb") as fh:
                self.backend.request("PUT", f"/blobs/{sha}", content=fh)
        return sha, size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Upload bytes (unless the server has them) and return their sha256 and size."""
        sha = hashlib.sha256(data).hexdigest()
        if not self.exists(sha):
            self.backend.request("PUT", f"/blobs/{sha}", content=data)
        return sha, len(data)

    def read_bytes(self, sha256: str) -> bytes:
        """Return the blob's content, checked against its hash."""
        data = self.backend.request("GET", f"/blobs/{check_sha256(sha256)}").content
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise IntegrityError(f"Blob {sha256} arrived with hash {actual}: it is corrupted.")
        return data

    def download(self, sha256: str, dest: str | Path) -> Path:
        """Download the blob to ``dest`` after checking its hash, and return ``dest``."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f"{dest.name}.{uuid.uuid4().hex}.partial")
        partial.write_bytes(self.read_bytes(sha256))
        os.replace(partial, dest)
        return dest


def connect(
    url: str,
    *,
    client: httpx.Client | None = None,
    user: str | None = None,
    token: str | None = None,
) -> Backend:
    """Return a backend that performs every operation on the team server at ``url``
    (authenticating with ``token``, default ``STEWARD_TOKEN``, when given)."""
    return cast("Backend", HttpBackend(url, client=client, user=user, token=token))
