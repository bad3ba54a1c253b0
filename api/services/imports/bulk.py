"""Writing in bulk: records in chunks, rows by COPY (PostgreSQL) or executemany, ids taken
in blocks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import Table, any_, bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

CHUNK = 500


def chunks(items: Iterable, size: int = CHUNK) -> Iterator[list]:
    """Consecutive lists of `size` items (the last may be shorter), the items read once."""
    items = iter(items)
    while chunk := list(islice(items, size)):
        yield chunk


def among(session: Session, column: Any, values: Iterable) -> Any:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)`, one array parameter. A chunk
    names thousands of keys: as thousands of parameters, the statement cost SQLAlchemy and the
    driver time to render, and once psycopg prepared it, PostgreSQL's generic plan for it
    scanned the whole table, testing each row against the list one by one (1.5–4 s a query at
    200,000 debtors); with one array the plan stays on the index."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT rows that all name the same columns (None is NULL, no column default applies),
    in the session's transaction: PostgreSQL by COPY, about ten times faster than a batched
    INSERT; elsewhere one executemany. The database's refusal is the usual IntegrityError or
    DataError of SQLAlchemy either way."""
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    names = list(rows[0])
    processors = [(name, table.c[name].type.bind_processor(dialect)) for name in names]
    quote = dialect.identifier_preparer.quote
    statement = (f"COPY {dialect.identifier_preparer.format_table(table)} "
                 f"({', '.join(quote(name) for name in names)}) FROM STDIN")
    driver = connection.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[name] if process is None else process(row[name])
                                for name, process in processors])
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error) from exc


def next_ids(session: Session, table: Table, n: int) -> list[int]:
    """PostgreSQL: `n` ids from the table's sequence, in one query."""
    return list(session.scalars(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": table.name, "n": n}))


def insert_numbered(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """`bulk_insert` rows that get their ids from the database, and set each row's `id`:
    PostgreSQL takes a block from the sequence first (then COPY). SQLite numbers them in order
    as one executemany inserts them, so they are then the table's last rows: the transaction
    holds SQLite's only write lock, nobody else inserts meanwhile (an INSERT ... RETURNING in
    parameter order would cost a statement per row)."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        for row, new_id in zip(rows, next_ids(session, table, len(rows)), strict=True):
            row["id"] = new_id
        bulk_insert(session, table, rows)
        return
    connection = session.connection()
    connection.execute(insert(table), rows)
    ids = connection.scalars(
        select(table.c.id).order_by(table.c.id.desc()).limit(len(rows))).all()
    for row, new_id in zip(rows, reversed(ids), strict=True):
        row["id"] = new_id
