"""A team for the leaderboard: Mia manages Nora, Leo and Pat; their week of gaps fixed and goals moved.

Over the 7 days up to `until`:
- Nora: 2 open deals, one with an open gap (adherence 50%); 2 gaps fixed, in 4h and 10h (median 7h);
  a goal that went from 20% (in force when the week began) to 50%: +30 points. $40,000 won of a $100,000 quota.
- Leo: 1 open deal, no gap (100%); 1 gap fixed in 30h; a goal set during the week at 0% and moved to 10%
  (+10 points), and one achieved before the week began (not counted). $12,500 won, no quota.
- Pat: nothing to rank (no deals, no gaps, no goals).
Places: adherence Leo 1, Nora 2; time to fix Nora 1, Leo 2; goals Nora 1, Leo 2: Nora first (1.33), Leo second (1.67).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.goals import set_goal, update_progress
from bot.database import session_scope
from bot.models import Deal, Goal, GoalProgress, Person, ProcessGap, Quota

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def _deal(owner: Person, crm_id: str, until: dt.datetime, **fields: object) -> Deal:
    values: dict[str, object] = {
        "crm_source": "test", "crm_id": crm_id, "owner_id": owner.id, "name": f"Deal {crm_id}", "amount": Decimal(10000),
        "currency": "USD", "stage": "Proposal", "is_closed": False, "is_won": False, "created_at": until - 40 * D,
        "close_date": (until + 20 * D).date(), "next_step": "Call", "next_step_date": (until + 2 * D).date(),
        "stage_entered_at": until - 3 * D, "product_line": "Core",
    }  # fmt: skip
    values.update(fields)
    return Deal(**values)  # type: ignore[arg-type]


def _gap(deal: Deal, opened_at: dt.datetime, resolved_at: dt.datetime | None) -> ProcessGap:
    return ProcessGap(deal_id=deal.id, rule="next_step_missing", severity="high", detail="no next step",
                      opened_at=opened_at, resolved_at=resolved_at)  # fmt: skip


def seed_leaderboard_team(session_factory: sessionmaker[Session], until: dt.datetime) -> dict[str, int]:
    with session_scope(session_factory) as session:
        mia = Person(
            email="mia@example.com", name="Mia Manager", is_manager=True, slack_user_id="UMIA", timezone="America/New_York"
        )
        session.add(mia)
        session.flush()
        people = {"mia": mia}
        for key, name in (("nora", "Nora Rep"), ("leo", "Leo Rep"), ("pat", "Pat Rep")):
            rep = Person(email=f"{key}@example.com", name=name, is_rep=True, slack_user_id=f"U{key.upper()}",
                         timezone="America/New_York", manager_id=mia.id)  # fmt: skip
            session.add(rep)
            people[key] = rep
        session.flush()
        nora, leo = people["nora"], people["leo"]
        session.add(Quota(person_id=nora.id, period_start=dt.date(2026, 10, 1), period_end=dt.date(2027, 1, 1),
                          amount=Decimal(100000), currency="USD"))  # fmt: skip
        deals = [
            _deal(nora, "N1", until), _deal(nora, "N2", until),
            _deal(nora, "NW", until, stage="Closed Won", is_closed=True, is_won=True, amount=Decimal(40000),
                  close_date=(until - 20 * D).date()),
            _deal(leo, "L1", until),
            _deal(leo, "LW", until, stage="Closed Won", is_closed=True, is_won=True, amount=Decimal(12500),
                  close_date=(until - 10 * D).date()),
        ]  # fmt: skip
        session.add_all(deals)
        session.flush()
        n1, n2, _, l1, _ = deals
        session.add_all([
            _gap(n1, until - 30 * D, None),  # still open: N1 does not follow the process
            _gap(n2, until - 2 * D - 4 * H, until - 2 * D),  # fixed in 4h
            _gap(n2, until - 3 * D - 10 * H, until - 3 * D),  # fixed in 10h
            _gap(n2, until - 9 * D, until - 8 * D),  # fixed before the week: not counted
            _gap(l1, until - 5 * D - 30 * H, until - 5 * D),  # fixed in 30h
        ])  # fmt: skip
        goal = set_goal(session, rep=nora, set_by=mia, competency="Discovery", description="Three pain questions",
                        due_date=None, now=until - 30 * D)  # fmt: skip
        update_progress(session, goal, nora, 0.2, None, until - 20 * D)
        update_progress(session, goal, nora, 0.5, None, until - 2 * D)
        goal = set_goal(session, rep=leo, set_by=mia, competency="Cross-sell", description="Pitch Analytics",
                        due_date=None, now=until - 3 * D)  # fmt: skip
        update_progress(session, goal, leo, 0.1, None, until - 1 * D)
        done = Goal(person_id=leo.id, set_by_id=mia.id, competency="Old", description="Done", progress=1.0, status="achieved",
                    created_at=until - 40 * D, closed_at=until - 10 * D)  # fmt: skip
        session.add(done)
        session.flush()
        session.add_all([GoalProgress(goal_id=done.id, recorded_at=until - 40 * D, progress=0.0),
                         GoalProgress(goal_id=done.id, recorded_at=until - 10 * D, progress=1.0)])  # fmt: skip
        return {key: person.id for key, person in people.items()}
