"""The audit chain: every event row carries sha256(previous row's hash + its own content).

The definition lives here, once, because three places must agree on it to the byte: the
write path that appends events (:func:`append_events`), the migration that chained the
rows written before the chain existed, and ``steward.govern``'s verification. Changing
it would break the verification of every chain ever written, so it never changes.

Appending serializes on the chain's head: SQLite's write transactions are exclusive
already (``BEGIN IMMEDIATE``); on PostgreSQL an advisory transaction lock is taken just
before the rows go in, at the end of the transaction, so it is held only from the
insert to the commit and never while the writer waits for anything else.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection

from steward.store._tables import events

if TYPE_CHECKING:
    from steward.store._store import Event

#: The ``prev_hash`` of the first row of a chain.
GENESIS = "0" * 64
#: The advisory lock that serializes appends on PostgreSQL ("audt"; the migration lock is
#: 72616, a different key).
CHAIN_LOCK = 0x61756474
REDACTED = "[redacted]"

# Keys whose values are secrets whatever they hold, and credentials inside URLs. The audit
# log is kept forever and shown to auditors: a secret that reaches it can never be removed
# (rows are append-only), so the store strips them on the way in, whichever stage wrote.
_SECRET_KEY = re.compile(
    r"(^|[_\-.])(pass(word|wd|phrase)?|secret|token|api[_\-]?key|auth(orization)?|"
    r"credentials?|private[_\-]?key|cookie|session[_\-]?key)$",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^/@:\s]*):[^/@\s]+@")


def canonical(
    time: float,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    payload: Mapping[str, Any],
) -> bytes:
    """Return the canonical JSON of an event's content: sorted keys, no spaces, ASCII."""
    content = {
        "time": time,
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "payload": payload,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def chain_hash(prev_hash: str, content: bytes) -> str:
    """Return the hash of a row: sha256 of the previous row's hash and the row's content."""
    return hashlib.sha256(prev_hash.encode("ascii") + content).hexdigest()


def row_hash(prev_hash: str, row: Any) -> str:
    """Return the hash a stored event row (with the columns of ``events``) should carry."""
    return chain_hash(
        prev_hash,
        canonical(row.time, row.actor, row.action, row.entity_type, row.entity_id, row.payload),
    )


def redact(payload: Any) -> Any:
    """Return ``payload`` with secret-named keys' values and credentials in URLs replaced."""
    if isinstance(payload, dict):
        return {
            key: REDACTED
            if _SECRET_KEY.search(str(key)) and value not in (None, "")
            else redact(value)
            for key, value in payload.items()
        }
    if isinstance(payload, list):
        return [redact(value) for value in payload]
    if isinstance(payload, str) and "://" in payload:
        return _URL_CREDENTIALS.sub(r"\g<scheme>\g<user>:" + REDACTED + "@", payload)
    return payload


_HEAD = select(events.c.hash).order_by(events.c.id.desc()).limit(1)


def head_hash(conn: Connection) -> str:
    """Return the hash of the chain's last row (GENESIS when there is none)."""
    last = conn.execute(_HEAD).scalar()
    return str(last) if last else GENESIS


def append_events(conn: Connection, emitted: Sequence[Event]) -> None:
    """Insert ``emitted`` at the head of the chain, in order, inside ``conn``'s transaction."""
    if conn.dialect.name == "postgresql":
        # Two statements, not one: under READ COMMITTED each statement reads a snapshot
        # taken when it starts, so the head must be read after the lock is granted.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    prev = head_hash(conn)
    rows = []
    for evt in emitted:
        digest = chain_hash(
            prev,
            canonical(evt.time, evt.actor, evt.action, evt.entity_type, evt.entity_id, evt.payload),
        )
        rows.append(
            {
                "time": evt.time,
                "actor": evt.actor,
                "action": evt.action,
                "entity_type": evt.entity_type,
                "entity_id": evt.entity_id,
                "payload": evt.payload,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    # One statement per row, in order (executemany): ids then follow the chain.
    conn.execute(insert(events), rows)
