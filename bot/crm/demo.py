"""The `demo` provider: a believable sales org and a quarter of deals, built around today.

Deterministic: the same day gives the same org and the same deals, so a second sync that day
writes nothing. It supplies the org too (people, roles, quotas), so the demo needs no files.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.crm.base import CrmDeal, DealPage
from bot.crm.writes import Changes, read_only
from bot.models import Person
from bot.org.records import OrgPerson, QuotaRecord
from bot.periods import _add_months, period_containing

DEMO_DOMAIN = "example.com"

PRODUCT_LINES = {
    # line: (smallest, largest) deal amount
    "Core Platform": (24_000, 90_000),
    "Analytics": (9_000, 40_000),
    "Services": (4_000, 22_000),
}
OPEN_STAGES = ("Prospecting", "Qualification", "Discovery", "Demo", "Proposal", "Negotiation")
ACCOUNTS = (
    "Northwind Traders",
    "Contoso",
    "Fabrikam",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Freight",
    "Acme Foods",
    "Hooli",
    "Vandelay Imports",
    "Soylent Labs",
    "Tyrell Systems",
    "Cyberdyne Retail",
    "Wonka Confectionery",
    "Pied Piper",
    "Massive Dynamic",
    "Oscorp Energy",
    "Gringotts Finance",
    "Monarch Solutions",
    "Blue Sun",
    "Aperture Science",
    "Dunder Mifflin",
    "Prestige Worldwide",
    "Sterling Cooper",
    "Bluth Company",
    "Gekko & Co",
    "Nakatomi Trading",
)
NEXT_STEPS = (
    "Send pricing to the CFO",
    "Security review call",
    "Demo for the ops team",
    "Agree mutual close plan",
    "Legal redlines back",
    "Intro to the economic buyer",
    "Workshop with IT",
    "Reference call",
    "Send business case",
    "Procurement kickoff",
)


@dataclass(frozen=True)
class RepProfile:
    name: str
    manager: str
    timezone: str
    quota: int
    pace: float  # attainment relative to where the period says they should be
    discipline: float  # 0..1: how well they keep next steps, close dates and stages current
    lines: tuple[str, ...]
    coached: bool = False


MANAGERS = (
    ("Maya Chen", "America/Los_Angeles", ("manager", "admin")),
    ("Jordan Brooks", "America/New_York", ("manager",)),
)
COACH = ("Priya Natarajan", "America/Chicago")
REPS = (
    RepProfile("Alex Rivera", "Maya Chen", "America/Los_Angeles", 300_000, 1.35, 0.92, tuple(PRODUCT_LINES)),
    RepProfile("Sam Patel", "Maya Chen", "America/Los_Angeles", 280_000, 1.12, 0.80, ("Core Platform", "Analytics")),
    RepProfile("Taylor Kim", "Maya Chen", "America/Denver", 260_000, 0.97, 0.62, tuple(PRODUCT_LINES)),
    RepProfile("Jamie Ortiz", "Maya Chen", "America/Los_Angeles", 260_000, 0.68, 0.40, ("Core Platform",), coached=True),
    RepProfile("Casey Nguyen", "Maya Chen", "America/Phoenix", 240_000, 0.45, 0.30, ("Core Platform", "Services"), coached=True),
    RepProfile("Riley Johnson", "Maya Chen", "America/Los_Angeles", 240_000, 1.02, 0.95, ("Analytics", "Services")),
    RepProfile("Morgan Lee", "Jordan Brooks", "America/New_York", 320_000, 1.22, 0.70, tuple(PRODUCT_LINES)),
    RepProfile(
        "Drew Thompson", "Jordan Brooks", "America/New_York", 280_000, 0.55, 0.50, ("Core Platform", "Analytics"), coached=True
    ),
    RepProfile("Avery Garcia", "Jordan Brooks", "America/Chicago", 260_000, 0.90, 0.85, ("Core Platform", "Analytics")),
    RepProfile("Quinn Walsh", "Jordan Brooks", "America/New_York", 260_000, 1.05, 0.50, ("Core Platform",)),
    RepProfile("Harper Singh", "Jordan Brooks", "Europe/London", 240_000, 0.80, 0.65, tuple(PRODUCT_LINES), coached=True),
    RepProfile("Rowan Davis", "Jordan Brooks", "America/New_York", 200_000, 0.38, 0.70, ("Services",), coached=True),
)


def demo_email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@" + DEMO_DOMAIN


def demo_roster() -> frozenset[str]:
    """The emails of everyone the demo creates: its two managers, its coach and its twelve reps."""
    names = [name for name, _, _ in MANAGERS] + [COACH[0]] + [rep.name for rep in REPS]
    return frozenset(demo_email(name) for name in names)


class DemoIntoRealOrg(Exception):
    """The demo provider was pointed at a database holding people the demo did not create."""


def refuse_real_org(session: Session) -> None:
    """Raise DemoIntoRealOrg when anyone in the database is outside the demo's roster.

    Demo people are recognised by their addresses: the fixed roster above, all under example.com,
    a domain reserved for examples (RFC 2606), so no real person has one. Anyone else was imported
    from an org file or a real CRM, and the demo's 15 people and hundreds of deals must not be
    mixed in with them: nothing removes them again.
    """
    outsiders = Person.email.not_in(sorted(demo_roster()))
    count = session.scalar(select(func.count()).select_from(Person).where(outsiders)) or 0
    if not count:
        return
    example = session.scalar(select(Person.email).where(outsiders).order_by(Person.email).limit(1))
    raise DemoIntoRealOrg(
        f"CRM_PROVIDER is demo (the default), but this database holds {count} "
        f"{'person' if count == 1 else 'people'} the demo did not create (e.g. {example}): set CRM_PROVIDER "
        "to your CRM (README, CRM providers), or try coachbot with `coachbot demo`, which builds its own database"
    )


class DemoProvider:
    """Generates the demo org and its deals as of `now` (in the team time zone `timezone`)."""

    source = "demo"

    def __init__(self, now: dt.datetime, timezone: str = "UTC", currency: str = "USD", fiscal_year_start_month: int = 1):
        self.timezone = timezone
        self.currency = currency
        # Everything is generated from midnight UTC of today, so every run on one day agrees exactly.
        self.anchor = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), dt.UTC)
        self.quarter = period_containing("quarter", self.anchor, "UTC", fiscal_year_start_month)

    def fetch_org(self) -> list[OrgPerson]:
        quarters = [(_add_months(self.quarter.start, 3 * k), _add_months(self.quarter.start, 3 * (k + 1))) for k in (-1, 0, 1)]
        people = [
            OrgPerson(email=demo_email(name), name=name, roles=frozenset(roles), timezone=tz) for name, tz, roles in MANAGERS
        ]
        people.append(OrgPerson(email=demo_email(COACH[0]), name=COACH[0], roles=frozenset({"coach"}), timezone=COACH[1]))
        for rep in REPS:
            people.append(
                OrgPerson(
                    email=demo_email(rep.name),
                    name=rep.name,
                    roles=frozenset({"rep"}),
                    manager_email=demo_email(rep.manager),
                    coach_emails=(demo_email(COACH[0]),) if rep.coached else (),
                    timezone=rep.timezone,
                    quotas=tuple(QuotaRecord(start, end, Decimal(rep.quota), self.currency) for start, end in quarters),
                )
            )
        return people

    def write_fields(self) -> tuple[str, ...]:
        """None: the demo crm is read-only."""
        return ()

    def write_deal(self, crm_id: str, changes: Changes) -> None:
        """Always refused: the demo CRM is read-only."""
        raise read_only(
            "The demo CRM", "Its deals are generated; with HubSpot, Salesforce or Pipedrive connected, Update… saves to the CRM."
        )

    def read_deal(self, crm_id: str) -> CrmDeal:
        """Never asked (every write is refused), and refused the same way."""
        raise read_only(
            "The demo CRM", "Its deals are generated; with HubSpot, Salesforce or Pipedrive connected, Update… saves to the CRM."
        )

    def product_lines(self) -> list[str]:
        return list(PRODUCT_LINES)

    def expected_total(self) -> int | None:
        return sum(1 for _ in self._all_deals())

    def fetch_deals(self, cursor: str | None) -> Iterator[DealPage]:
        yield DealPage(deals=list(self._all_deals()))

    def _all_deals(self) -> Iterator[CrmDeal]:
        for index, rep in enumerate(REPS):
            yield from _RepDeals(self, rep, random.Random(f"coachbot-demo-{rep.name}"), index).deals()


class _RepDeals:
    """One rep's deals: last quarter's closed ones, this quarter's won and lost, open pipeline."""

    def __init__(self, demo: DemoProvider, rep: RepProfile, rng: random.Random, index: int):
        self.demo, self.rep, self.rng = demo, rep, rng
        self.prefix = f"DEMO-{index + 1:02d}"
        self.count = 0
        self.today = demo.anchor.date()
        quarter = demo.quarter
        self.quarter_start = quarter.start
        self.quarter_end = quarter.end
        self.elapsed = max(quarter.elapsed_share(demo.anchor), 0.05)

    def deals(self) -> Iterator[CrmDeal]:
        rep, rng = self.rep, self.rng
        win_rate = 0.22 + 0.25 * rep.discipline
        # Last quarter: a full quarter near their usual pace.
        previous_start = _add_months(self.quarter_start, -3)
        yield from self._closed(
            previous_start, self.quarter_start, rep.quota * min(rep.pace, 1.2) * rng.uniform(0.85, 1.05), win_rate
        )
        # This quarter so far.
        won_target = rep.quota * self.elapsed * rep.pace * rng.uniform(0.95, 1.05)
        yield from self._closed(self.quarter_start, min(self.today, self.quarter_end), won_target, win_rate)
        # Open pipeline: strong reps cover the rest of their quota about 3x, weak ones barely.
        remaining = max(rep.quota - won_target, rep.quota * 0.2)
        coverage = 0.8 + 2.4 * min(rep.pace, 1.3) / 1.3
        yield from self._open(remaining * coverage)

    def _next_id(self) -> str:
        self.count += 1
        return f"{self.prefix}-{self.count:03d}"

    def _amount(self, line: str) -> Decimal:
        low, high = PRODUCT_LINES[line]
        return Decimal(round(self.rng.uniform(low, high) / 500) * 500)

    def _at(self, day: dt.date, hour: int | None = None) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour if hour is not None else self.rng.randint(14, 22)), dt.UTC)

    def _closed(self, start: dt.date, end: dt.date, won_target: float, win_rate: float) -> Iterator[CrmDeal]:
        won_total = 0.0
        span = max((end - start).days, 1)
        while won_total < won_target * 0.97:
            line = self.rng.choice(self.rep.lines)
            amount = self._amount(line)
            # The last deal (or, early in a quarter, the first) is trimmed to land near the target,
            # so one big deal never decides who is ahead of pace.
            if won_total + float(amount) > won_target * 1.08:
                amount = Decimal(max(round((won_target - won_total) / 500) * 500, 500))
            won_total += float(amount)
            yield self._closed_deal(start, span, line, amount, won=True)
            # Geometric: on average (1 - win_rate) / win_rate losses for each win.
            while self.rng.random() > win_rate:
                lost_line = self.rng.choice(self.rep.lines)
                yield self._closed_deal(start, span, lost_line, self._amount(lost_line), won=False)

    def _closed_deal(self, start: dt.date, span: int, line: str, amount: Decimal, won: bool) -> CrmDeal:
        close = start + dt.timedelta(days=self.rng.randrange(span))
        cycle = self.rng.randint(25, 95)
        created = self._at(close - dt.timedelta(days=cycle))
        path = list(OPEN_STAGES[: self.rng.randint(3, 6)]) + ["Closed Won" if won else "Closed Lost"]
        history = self._history(path, created, self._at(close, 17))
        return self._deal(line, amount, path[-1], created, close, history, closed_at=history[-1][1])

    def _open(self, pipeline_target: float) -> Iterator[CrmDeal]:
        total = 0.0
        discipline = self.rep.discipline
        while total < pipeline_target:
            line = self.rng.choice(self.rep.lines)
            amount = self._amount(line)
            total += float(amount)
            stage_index = self.rng.choices(range(len(OPEN_STAGES)), weights=(3, 4, 4, 3, 3, 2))[0]
            stage = OPEN_STAGES[stage_index]
            stale = self.rng.random() < (1 - discipline) * 0.6
            in_stage_days = self.rng.randint(25, 60) if stale else self.rng.randint(1, 12)
            entered = self._at(self.today - dt.timedelta(days=in_stage_days))
            created = entered - dt.timedelta(days=self.rng.randint(3, 14) * (stage_index + 1))
            history = self._history(list(OPEN_STAGES[: stage_index + 1]), created, entered)
            # Most deals close this quarter; the rest next quarter; undisciplined reps let dates lapse.
            if self.rng.random() < (1 - discipline) * 0.5:
                close = self.today - dt.timedelta(days=self.rng.randint(2, 20))
            elif self.rng.random() < 0.75:
                close = self.today + dt.timedelta(days=self.rng.randint(3, max((self.quarter_end - self.today).days - 1, 4)))
            else:
                close = self.quarter_end + dt.timedelta(days=self.rng.randint(5, 60))
            next_step, next_step_date = None, None
            roll = self.rng.random()
            if roll < discipline:
                next_step = self.rng.choice(NEXT_STEPS)
                next_step_date = self.today + dt.timedelta(days=self.rng.randint(1, 10))
            elif roll < discipline + (1 - discipline) / 2:
                next_step = self.rng.choice(NEXT_STEPS)
                next_step_date = self.today - dt.timedelta(days=self.rng.randint(2, 15))
            yield self._deal(
                line,
                amount,
                stage,
                created,
                close,
                history,
                next_step=next_step,
                next_step_date=next_step_date,
                last_activity_at=self._at(self.today - dt.timedelta(days=self.rng.randint(0, 25 if stale else 6))),
            )

    def _history(self, path: list[str], created: dt.datetime, last_entered: dt.datetime) -> tuple[tuple[str, dt.datetime], ...]:
        if len(path) == 1:
            return ((path[0], created),)
        step = (last_entered - created) / (len(path) - 1)
        return tuple((stage, created + step * position) for position, stage in enumerate(path))

    def _deal(
        self,
        line: str,
        amount: Decimal,
        stage: str,
        created: dt.datetime,
        close: dt.date,
        history: tuple[tuple[str, dt.datetime], ...],
        **extra: object,
    ) -> CrmDeal:
        account = self.rng.choice(ACCOUNTS)
        return CrmDeal(
            crm_id=self._next_id(),
            name=f"{account} – {line}",
            owner_key=demo_email(self.rep.name),
            owner_email=demo_email(self.rep.name),
            stage=stage,
            created_at=created,
            amount=amount,
            currency=self.demo.currency,
            stage_entered_at=history[-1][1],
            close_date=close,
            product_name=line,
            product_line=line,
            account_name=account,
            crm_modified_at=max(history[-1][1], created),
            stage_history=history,
            **extra,  # type: ignore[arg-type]
        )
