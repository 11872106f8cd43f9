"""Set-based reads and writes for the sync: a page of deals costs a few statements, whatever its size.

On PostgreSQL every list travels as one array parameter (`= ANY(:ids)`, `INSERT ... SELECT
unnest(:column), ...`), so a statement's text is the same for every page. psycopg then parses it
once and prepares it on the server; a statement with a parameter per value (an IN list, a
multi-row VALUES) differs with each page's size, costs psycopg a fresh parse of a text of a few
hundred kilobytes each time, and is kept in its prepared-statement bookkeeping, which grows the
process by megabytes over a long sync. SQLite has no arrays: IN lists and multi-row VALUES
there, in chunks under its bound-parameter limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# SQLite allows 32,766 bound parameters a statement; IN lists well under it.
_SQLITE_IN_CHUNK = 500


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def among(session: Session, column: Any, values: Sequence[Any]) -> Iterator[ColumnElement[bool]]:
    """Conditions `column IN values`, as few as the database takes (one on PostgreSQL); none for no values."""
    if not values:
        return
    if is_postgresql(session):
        yield column == any_(bindparam(f"{column.key}_values", list(values), type_=postgresql.ARRAY(column.type)))
        return
    for start in range(0, len(values), _SQLITE_IN_CHUNK):
        yield column.in_(values[start : start + _SQLITE_IN_CHUNK])


def insert_new(
    session: Session, model: Any, rows: list[dict[str, Any]], conflict_columns: list[str], returning: Sequence[Any] = ()
) -> list[Row[Any]]:
    """INSERT rows of `model` (all with the same keys), skipping any whose `conflict_columns` are taken.

    Returns the `returning` columns of the rows that went in, so a caller learns which did: a
    row another run stored meanwhile is not returned.
    """
    if not rows:
        return []
    table: Table = model.__table__
    if is_postgresql(session):
        names = list(rows[0])
        columns = [table.c[name] for name in names]
        arrays = [
            func.unnest(bindparam(f"{name}_values", [row[name] for row in rows], type_=postgresql.ARRAY(column.type)))
            for name, column in zip(names, columns)
        ]
        # Set-returning functions side by side in a select list run in step: row n of each array together.
        from_arrays = postgresql.insert(table).from_select(columns, select(*arrays))
        from_arrays = from_arrays.on_conflict_do_nothing(index_elements=conflict_columns)
        if returning:
            return list(session.execute(from_arrays.returning(*returning)))
        session.execute(from_arrays)
        return []
    values = sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    if returning:
        # One multi-row INSERT ... RETURNING per batch of rows (SQLAlchemy's "insertmanyvalues").
        return list(session.execute(values.returning(*returning), rows))
    session.execute(values, rows)
    return []
