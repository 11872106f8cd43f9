"""rows_affected: the row count a conditional UPDATE or a DELETE claims work by."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.dml import rows_affected
from bot.models import Person


def _add_people(session: Session) -> None:
    session.add_all(
        [
            Person(email="riley.rep@example.com", name="Riley Rep", is_rep=True),
            Person(email="rory.rep@example.com", name="Rory Rep", is_rep=True),
            Person(email="mia.manager@example.com", name="Mia Manager", is_manager=True),
        ]
    )
    session.flush()


def test_an_update_counts_the_rows_its_where_clause_matched_and_a_second_claim_counts_none(session: Session) -> None:
    _add_people(session)
    claim = update(Person).where(Person.is_rep.is_(True), Person.active.is_(True)).values(active=False)

    assert rows_affected(session, claim) == 2
    assert rows_affected(session, claim.execution_options(synchronize_session=False)) == 0
    assert session.scalar(select(func.count()).select_from(Person).where(Person.active.is_(True))) == 1


def test_a_delete_counts_the_rows_it_removed(session: Session) -> None:
    _add_people(session)

    assert rows_affected(session, delete(Person).where(Person.is_manager.is_(True))) == 1
    assert rows_affected(session, delete(Person).where(Person.email == "nobody@example.com")) == 0
    assert list(session.scalars(select(Person.email).order_by(Person.email))) == ["riley.rep@example.com", "rory.rep@example.com"]
