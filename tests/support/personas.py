"""A few named people and deals, stored the way the org import and the sync store them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from bot.database import session_scope
from bot.models import Deal, Person, ProductLine, Quota

RILEY = "riley.rep@example.com"
MIA = "mia.manager@example.com"
OUTSIDER = "olly.outsider@example.com"


def _deal(owner: Person, crm_id: str, amount: str, stage: str, **fields: object) -> Deal:
    closed = stage.startswith("Closed")
    values: dict[str, object] = {
        "crm_source": "test", "crm_id": crm_id, "owner": owner, "name": f"Deal {crm_id}", "amount": Decimal(amount),
        "currency": "USD", "stage": stage, "is_closed": closed, "is_won": stage == "Closed Won",
        "created_at": dt.datetime(2026, 10, 1, tzinfo=dt.UTC), "product_line": "Core",
    }  # fmt: skip
    values.update(fields)
    owner_id = values.pop("owner")
    deal = Deal(**values)  # type: ignore[arg-type]
    deal.owner_id = owner_id.id  # type: ignore[union-attr]
    return deal


def seed_team(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Riley (a rep, $100k Q4 quota, $40k won, two open deals, one clean and one with gaps) and Mia, Riley's manager."""
    with session_scope(session_factory) as session:
        mia = Person(email=MIA, name="Mia Manager", is_manager=True, timezone="America/New_York")
        session.add(mia)
        session.flush()
        riley = Person(email=RILEY, name="Riley Rep", is_rep=True, manager_id=mia.id, timezone="America/New_York")
        session.add(riley)
        session.flush()
        session.add(
            Quota(
                person_id=riley.id,
                period_start=dt.date(2026, 10, 1),
                period_end=dt.date(2027, 1, 1),
                amount=Decimal("100000"),
                currency="USD",
            )
        )
        session.add_all(ProductLine(name=name) for name in ("Analytics", "Core", "Services"))
        session.add_all(
            [
                _deal(riley, "W1", "40000", "Closed Won", close_date=dt.date(2026, 11, 2)),
                _deal(
                    riley, "O1", "50000", "Proposal", name="Acme <Renewal> & Co", close_date=dt.date(2026, 12, 10),
                    next_step="Send order form", next_step_date=dt.date(2026, 11, 30),
                    stage_entered_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
                ),
                _deal(
                    riley, "O2", "20000", "Negotiation", name="Globex expansion", close_date=dt.date(2026, 11, 20),
                    stage_entered_at=dt.datetime(2026, 10, 20, tzinfo=dt.UTC), product_line="Services",
                    crm_url="https://crm.example.com/deals/O2",
                ),
            ]
        )  # fmt: skip
        return {"riley": riley.id, "mia": mia.id}
