"""audit chain, PII scans, dataset retention

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:11:14.869959

The events recorded before this revision are chained here, oldest first, with the same
hash the write path uses (steward/store/_chain.py), so `steward audit verify` passes on
an upgraded store. On PostgreSQL a trigger then refuses UPDATE, DELETE and TRUNCATE on
events: the audit log is append-only for every role that cannot drop the trigger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from steward.store._chain import GENESIS, row_hash

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PAGE = 5000
_events = sa.table(
    "events",
    sa.column("id", sa.BigInteger()),
    sa.column("time", sa.Float()),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("entity_type", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)
_versions = sa.table("dataset_versions", sa.column("retention", sa.Text()))

APPEND_ONLY = """
CREATE FUNCTION steward_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The audit log is append-only: % on table events is refused.', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit rows are never changed or removed; record a new event instead.';
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention", sa.Text(), nullable=True))
    op.execute(_versions.update().values(retention=""))
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.alter_column("retention", existing_type=sa.Text(), nullable=False)

    op.create_table(
        "pii_scans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_version_id", sa.Integer(), nullable=False),
        sa.Column("scanner", sa.String(length=200), nullable=False),
        sa.Column("sample_rows", sa.Integer(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pii_scans", schema=None) as batch_op:
        batch_op.create_index("ix_pii_scans_version", ["dataset_version_id"], unique=False)

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _chain_existing_events(op.get_bind())
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION steward_events_append_only()"
        )
        op.execute(
            "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
            "FOR EACH STATEMENT EXECUTE FUNCTION steward_events_append_only()"
        )


def _chain_existing_events(conn: sa.Connection) -> None:
    """Chain the rows already there, in id order, a page at a time."""
    prev, last_id = GENESIS, 0
    columns = [c for c in _events.c if c.name not in {"prev_hash", "hash"}]
    while True:
        rows = conn.execute(
            sa.select(*columns).where(_events.c.id > last_id).order_by(_events.c.id).limit(PAGE)
        ).all()
        if not rows:
            return
        updates = []
        for row in rows:
            digest = row_hash(prev, row)
            updates.append({"row_id": row.id, "prev": prev, "digest": digest})
            prev, last_id = digest, row.id
        conn.execute(
            _events.update()
            .where(_events.c.id == sa.bindparam("row_id"))
            .values(prev_hash=sa.bindparam("prev"), hash=sa.bindparam("digest")),
            updates,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_no_truncate ON events")
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS steward_events_append_only()")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")

    with op.batch_alter_table("pii_scans", schema=None) as batch_op:
        batch_op.drop_index("ix_pii_scans_version")

    op.drop_table("pii_scans")
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.drop_column("retention")
