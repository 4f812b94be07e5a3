"""The backend the public API talks to: the SQL store here, or a team server over HTTP.

:class:`SqlBackend` gathers every stage's operations over one store; its operations are
the protocol. :func:`get_backend` returns it, or an HTTP client generated from the same
operation table when ``STEWARD_URI`` names a team server.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from steward._operations import Operation, operations_of
from steward.artifacts import ArtifactStore
from steward.config import load_settings
from steward.develop._dataset_ops import DatasetOps
from steward.develop._project_ops import ProjectOps
from steward.develop._run_ops import RunOps
from steward.develop._search_ops import SearchOps
from steward.registry._registry_ops import RegistryOps
from steward.store import Store

if TYPE_CHECKING:
    from steward.artifacts import BlobStore


class SqlBackend(ProjectOps, RunOps, SearchOps, DatasetOps, RegistryOps):
    """Every operation, run directly against a metadata store and an artifact store."""

    blobs: BlobStore  # type: ignore[assignment]

    @classmethod
    def open(cls, store_uri: str, artifact_uri: str) -> SqlBackend:
        """Return a backend over the store and artifact locations given."""
        return cls(Store(store_uri), ArtifactStore(artifact_uri))

    @property
    def location(self) -> str:
        """Return where this backend keeps its metadata (for messages)."""
        return self.store.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release the database connections."""
        self.store.dispose()


Backend = SqlBackend
OPERATIONS: list[Operation] = operations_of(SqlBackend)

_lock = threading.Lock()
_current: SqlBackend | None = None
_current_key: tuple[str | None, str, str] | None = None


def get_backend() -> Backend:
    """Return the backend for the current settings (``STEWARD_URI`` or the local store)."""
    global _current, _current_key
    settings = load_settings()
    key = (settings.server_uri, settings.store_uri, settings.artifact_uri)
    with _lock:
        if _current is None or key != _current_key:
            if settings.server_uri:
                from steward.client import connect

                _current = connect(settings.server_uri)
            else:
                _current = SqlBackend.open(settings.store_uri, settings.artifact_uri)
            _current_key = key
        return _current


def set_backend(backend: Backend | None) -> None:
    """Use ``backend`` for the public API from now on (None: back to the settings)."""
    global _current, _current_key
    with _lock:
        _current = backend
        if backend is None:
            _current_key = None
        else:
            settings = load_settings()
            _current_key = (settings.server_uri, settings.store_uri, settings.artifact_uri)
