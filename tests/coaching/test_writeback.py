"""Who may update a deal from Slack, and what a submission of the Update modal asks of the CRM."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.coaching.writeback import GENERAL, DealForm, FormErrors, may_write, parse_submission
from bot.database import session_scope
from bot.models import Person

TODAY = dt.date(2026, 11, 25)
FORM = DealForm(
    deal_id=1, deal_name="Globex", owner_name="Riley Rep", currency="USD",
    fields=("next_step", "next_step_date", "close_date", "stage", "amount"),
    current={"next_step": None, "next_step_date": None, "close_date": dt.date(2026, 11, 20), "stage": "Demo",
             "amount": Decimal("20000.00")},
    stages=("Prospecting", "Demo", "Negotiation"), open_gaps=("close date Nov 20 has passed",),
)  # fmt: skip


def errors_of(typed: dict[str, str | None]) -> dict[str, str]:
    with pytest.raises(FormErrors) as caught:
        parse_submission(FORM, typed, TODAY)
    return caught.value.fields


def test_only_the_fields_that_differ_are_sent_as_values() -> None:
    typed = {"next_step": " Send the MSA ", "next_step_date": "2026-11-27", "close_date": "2026-11-20", "stage": "Negotiation",
             "amount": "$20,000"}  # fmt: skip
    assert parse_submission(FORM, typed, TODAY) == {
        "next_step": "Send the MSA", "next_step_date": dt.date(2026, 11, 27), "stage": "Negotiation",
    }  # fmt: skip


def test_a_field_left_out_of_the_submission_and_an_empty_stage_change_nothing() -> None:
    assert parse_submission(FORM, {"amount": "25000.5", "stage": None}, TODAY) == {"amount": Decimal("25000.50")}


def test_bad_values_are_refused_beside_their_field_before_anything_is_written() -> None:
    assert errors_of({"next_step_date": "2026-11-24", "close_date": "soon", "amount": "-5", "stage": "Won"}) == {
        "next_step_date": "Pick today or a later date: a date in the past would leave the gap open.",
        "close_date": "Pick a date.",
        "amount": "Type an amount of zero or more.",
        "stage": "Pick one of the playbook's open stages.",
    }
    assert errors_of({"next_step_date": "2026-11-30"}) == {
        "next_step": "Say what the next step is: a date alone is not a next step."
    }
    assert errors_of({"next_step": "x" * 256}) == {"next_step": "Keep it under 255 characters."}
    assert errors_of({"stage": "Demo", "close_date": "2026-11-20"}) == {
        GENERAL: "Nothing changed: edit a field, or close the form."
    }


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_the_owner_their_manager_chain_and_admins_may_write_and_nobody_else(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        vp = Person(email="vp@example.com", name="Vic VP", is_manager=True)
        session.add(vp)
        session.flush()
        mia = Person(email="mia@example.com", name="Mia", is_manager=True, manager_id=vp.id)
        admin = Person(email="ada@example.com", name="Ada Admin", is_admin=True)
        coach = Person(email="cory@example.com", name="Cory Coach", is_coach=True)
        session.add_all([mia, admin, coach])
        session.flush()
        riley = Person(email="riley@example.com", name="Riley", is_rep=True, manager_id=mia.id)
        sam = Person(email="sam@example.com", name="Sam", is_rep=True, manager_id=mia.id)
        session.add_all([riley, sam])
        session.flush()
        allowed = {person.name: may_write(session, person, riley) for person in (riley, mia, vp, admin, coach, sam)}
        assert allowed == {"Riley": True, "Mia": True, "Vic VP": True, "Ada Admin": True, "Cory Coach": False, "Sam": False}
        assert (may_write(session, admin, None), may_write(session, mia, None)) == (True, False)
