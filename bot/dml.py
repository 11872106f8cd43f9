"""Bulk UPDATE and DELETE statements that report how many rows they touched."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Delete, Update
from sqlalchemy.orm import Session


def rows_affected(session: Session, statement: Update | Delete) -> int:
    """Execute `statement` in `session`; the number of rows its WHERE clause matched.

    A conditional UPDATE whose count is 1 is how a claim is won (see STYLE.md).
    """
    # Session.execute is typed as returning a Result whatever the statement; for an UPDATE or
    # DELETE it is a CursorResult, the one that carries the driver's row count.
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount
