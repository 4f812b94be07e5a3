"""The composition root: every stage's operations gathered into one backend.

:class:`SqlBackend` gathers the operations of every stage over one store; its operations
are the protocol, and :data:`OPERATIONS` is their table. The HTTP client gets the same
table, so a team server and the local store answer the same calls. Importing this module
(the package's ``__init__`` does) tells :mod:`steward.context` how to build the backend
the settings ask for; stages reach it through ``steward.get_backend()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward import context
from steward._operations import Operation, operations_of
from steward.artifacts import ArtifactStore
from steward.client import connect, install_operations
from steward.config import Settings
from steward.develop import DatasetOps, ProjectOps, RunOps, SearchOps
from steward.govern import GovernDataOps, ReviewOps, UserOps
from steward.iterate import IterateOps
from steward.monitor import MonitorOps
from steward.registry import RegistryOps
from steward.serve import DeployOps
from steward.store import Store

if TYPE_CHECKING:
    from steward.artifacts import BlobStore


class SqlBackend(
    ProjectOps,
    RunOps,
    SearchOps,
    DatasetOps,
    RegistryOps,
    DeployOps,
    MonitorOps,
    GovernDataOps,
    UserOps,
    ReviewOps,
    IterateOps,
):
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
install_operations(OPERATIONS)


def open_backend(settings: Settings) -> Backend:
    """Return the backend the settings name: a team server's client, or the local store."""
    if settings.server_uri:
        return connect(settings.server_uri)
    return SqlBackend.open(settings.store_uri, settings.artifact_uri)


context.set_backend_factory(open_backend)
get_backend = context.get_backend
set_backend = context.set_backend
