"""The metadata store: the only package that talks SQL."""

from steward.store import _tables as tables
from steward.store._chain import GENESIS, canonical, chain_hash, redact, row_hash
from steward.store._sql import bulk_insert, greatest, least, upsert
from steward.store._store import (
    Event,
    Store,
    Transaction,
    actor,
    add_event_listener,
    current_actor,
)
from steward.store._tables import metadata

__all__ = [
    "GENESIS",
    "Event",
    "Store",
    "Transaction",
    "actor",
    "add_event_listener",
    "bulk_insert",
    "canonical",
    "chain_hash",
    "current_actor",
    "greatest",
    "least",
    "metadata",
    "redact",
    "row_hash",
    "tables",
    "upsert",
]
