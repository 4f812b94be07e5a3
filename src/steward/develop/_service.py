"""What every SQL service mixin of a stage holds: the store and the blob store."""

from __future__ import annotations

from steward.artifacts import ArtifactStore
from steward.store import Store


class Service:
    """Base of the SQL implementations of stage operations."""

    def __init__(self, store: Store, blobs: ArtifactStore) -> None:
        self.store = store
        self.blobs = blobs
