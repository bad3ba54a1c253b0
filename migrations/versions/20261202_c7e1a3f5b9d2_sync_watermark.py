"""The pull's watermark as one database function, and device documents kept in the row.

`sync_watermark()` (PostgreSQL): the oldest transaction still running in this database, or
the snapshot's xmax when none is; the snapshot is taken before the running backends are read,
in that order (docs/sync.md). It lets a pull read the device's state and the watermark in one
statement. Case and route documents are compressed before they are sealed (about a third of
their JSON), so they fit in the row: STORAGE MAIN keeps them there rather than in TOAST (a
sealed value does not compress, so PostgreSQL's own compression would gain nothing).

Revision ID: c7e1a3f5b9d2
Revises: b2d4f6a8c0e1
Create Date: 2026-12-02 07:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c7e1a3f5b9d2"
down_revision: str | None = "b2d4f6a8c0e1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATERMARK = """
CREATE OR REPLACE FUNCTION sync_watermark() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    snap pg_snapshot := pg_current_snapshot();
    oldest bigint;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_snapshot_xip(snap)) THEN
        RETURN pg_snapshot_xmax(snap)::text::bigint;
    END IF;
    -- Read the running backends now, after the snapshot (not a copy cached earlier in the
    -- transaction): a transaction that started in between is beyond the snapshot anyway.
    PERFORM pg_stat_clear_snapshot();
    SELECT min(x::text::bigint) INTO oldest FROM pg_snapshot_xip(snap) AS x
     WHERE (x::text::bigint & 4294967295) IN (
           SELECT backend_xid::text::bigint FROM pg_stat_activity
            WHERE datname = current_database() AND backend_xid IS NOT NULL);
    RETURN coalesce(oldest, pg_snapshot_xmax(snap)::text::bigint);
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(WATERMARK)
    op.execute("ALTER TABLE case_documents ALTER COLUMN sealed SET STORAGE MAIN")
    op.execute("ALTER TABLE route_documents ALTER COLUMN sealed SET STORAGE MAIN")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE route_documents ALTER COLUMN sealed SET STORAGE EXTENDED")
    op.execute("ALTER TABLE case_documents ALTER COLUMN sealed SET STORAGE EXTENDED")
    op.execute("DROP FUNCTION IF EXISTS sync_watermark()")
