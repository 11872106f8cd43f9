"""Which rules predict losses: a playbook replayed over the stored deals and their stage history.

For each rule, over a period: how many gaps it would have opened per rep per week (the noise a
rep would have received), how long they stayed open, and the win rate of deals closed in the
period that had the gap at any time while open against those that never had it.

What can be replayed is what the history stores. `deal_stage_history` keeps every stage a deal
entered and when; a deal keeps when it was created and closed (or deleted). Every other field is
kept only as it is now. So:
- stale_stage is replayed from the history: each stint in a stage, with the team's `max_days`.
- missing_field is approximated: the stage comes from the history, the field values are today's.
  Only fields that rarely change once set are judged (amount, product line, product name,
  account name); next steps, close dates and last activity are taken as present.
- the rules about next steps, close dates and activity are skipped (their past values are not
  stored), and so is single_product_line (a finding about a whole pipeline, not a deal: it has
  no closed deals to compare).

A gap opens at the moment its rule starts firing on an open deal and is resolved when it stops
(a stage change, the deal closing or being deleted): the replay follows time continuously, as a
scan running at every moment would, and counts each gap in the week (Monday to Sunday, UTC) it
opened. A rep-week is a week of the period in which the rep had an open deal; deals without an
owner count in the win rates only. Deals are read one at a time in id order and only counts are
kept (days open as a histogram of whole days), so memory does not grow with the number of deals.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Connection, or_, select
from sqlalchemy.orm import Session

from bot.coaching.gaps import Org
from bot.coaching.playbook import RULE_SPECS, Playbook
from bot.coaching.rules import evaluate_deal
from bot.models import Deal, DealStageHistory

# Fewer closed deals than this on either side of a rule: the difference is shown, marked as too
# few to go by (a handful of deals swings a win rate by tens of points).
MIN_DEALS = 20

REPLAYED, APPROXIMATED, SKIPPED, OFF = "replayed", "approximated", "skipped", "off"
_SKIPPED_BECAUSE = {
    "next_step_missing": "next steps are stored as they are now, not as of past weeks",
    "next_step_overdue": "next steps are stored as they are now, not as of past weeks",
    "close_date_missing": "expected close dates are stored as they are now, not as of past weeks",
    "close_date_past": "expected close dates are stored as they are now, not as of past weeks",
    "no_activity": "last activity is stored as it is now, not as of past weeks",
    "single_product_line": "judged on a rep's whole pipeline, not a deal: there are no closed deals to compare",
}
_NOTES = {
    "stale_stage": "from the stage history",
    "missing_field": "stages from the history; amount, product and account as they are now",
}
# The fields missing_field is judged on in the replay: set once, rarely changed.
STABLE_FIELDS = ("amount", "product_line", "product_name", "account_name")
_REPLAYABLE = ("stale_stage", "missing_field")


def replay_status(rule: str) -> tuple[str, str]:
    """(replayed | approximated | skipped, why) for a rule."""
    if rule == "stale_stage":
        return REPLAYED, _NOTES[rule]
    if rule == "missing_field":
        return APPROXIMATED, _NOTES[rule]
    return SKIPPED, _SKIPPED_BECAUSE.get(rule, "not replayable")


@dataclass(frozen=True)
class Period:
    """From `start` to `end`, both dates included (UTC)."""

    start: dt.date
    end: dt.date

    @property
    def first_monday(self) -> dt.date:
        return self.start - dt.timedelta(days=self.start.weekday())

    @property
    def weeks(self) -> int:
        """The Monday-to-Sunday weeks the period touches."""
        return self.week_of(self.end) + 1

    def week_of(self, day: dt.date) -> int:
        return (day - self.first_monday).days // 7

    @property
    def starts_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), dt.UTC)

    @property
    def ends_at(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), dt.UTC)


@dataclass(frozen=True)
class RuleFigures:
    """One rule's back-test under one playbook."""

    rule: str
    replay: str  # replayed, approximated, skipped or off
    note: str
    opened: int = 0
    rep_weeks: int = 0
    max_in_a_rep_week: int = 0
    median_days_open: float | None = None
    still_open: int = 0
    won_with: int = 0
    lost_with: int = 0
    won_without: int = 0
    lost_without: int = 0

    @property
    def judged(self) -> bool:
        return self.replay in (REPLAYED, APPROXIMATED)

    @property
    def per_rep_week(self) -> float:
        return self.opened / self.rep_weeks if self.rep_weeks else 0.0

    @property
    def closed_with(self) -> int:
        return self.won_with + self.lost_with

    @property
    def closed_without(self) -> int:
        return self.won_without + self.lost_without

    @property
    def win_rate_with(self) -> float | None:
        return self.won_with / self.closed_with if self.closed_with else None

    @property
    def win_rate_without(self) -> float | None:
        return self.won_without / self.closed_without if self.closed_without else None

    @property
    def difference(self) -> float | None:
        """Win rate with the gap minus without it (negative: deals with the gap lost more often)."""
        if self.win_rate_with is None or self.win_rate_without is None:
            return None
        return self.win_rate_with - self.win_rate_without

    @property
    def enough_deals(self) -> bool:
        """At least MIN_DEALS closed deals on each side."""
        return min(self.closed_with, self.closed_without) >= MIN_DEALS


@dataclass(frozen=True)
class Backtest:
    """A playbook's back-test over a period: per rule, in the playbook's rule order."""

    period: Period
    deals: int  # deals open at some time in the period
    closed: int  # of them, closed in the period
    won: int
    reps: int  # owners with an open deal in the period
    rep_weeks: int
    rules: tuple[RuleFigures, ...]

    def rule(self, name: str) -> RuleFigures:
        return next(figures for figures in self.rules if figures.rule == name)


class DealHistory(NamedTuple):
    """What the replay reads of a deal: its life, today's stable fields, and the stages it entered."""

    id: int
    owner_id: int | None
    created_at: dt.datetime
    ended_at: dt.datetime | None  # closed or deleted; None while open
    is_won: bool | None  # None unless it closed (a deleted deal neither won nor lost)
    amount: Decimal | None
    product_line: str | None
    product_name: str | None
    account_name: str | None
    stages: tuple[tuple[str, dt.datetime], ...]  # (stage, entered_at), oldest first


PlaybookFor = Callable[[int | None], Playbook]


class _Probe(NamedTuple):
    """A deal in a stage with the given stable fields and every changing field present."""

    name: str
    amount: Decimal | None
    stage: str
    product_line: str | None
    product_name: str | None
    account_name: str | None
    is_closed: bool = False
    close_date: dt.date = dt.date.max
    stage_entered_at: dt.datetime | None = None
    next_step: str = "present"
    next_step_date: dt.date = dt.date.max
    crm_probability: float | None = None
    last_activity_at: dt.datetime = dt.datetime.max.replace(tzinfo=dt.UTC)


_PRESENT = {"amount": Decimal(1), "product_line": "present", "product_name": "present", "account_name": "present"}


class _Team:
    """What one team's playbook says of each stage and field pattern the replay meets, asked once."""

    def __init__(self, playbook: Playbook) -> None:
        self.playbook = playbook
        enabled = {config.name for config in playbook.enabled_rules}
        self.stale_on, self.missing_on = "stale_stage" in enabled, "missing_field" in enabled
        self._stages: dict[str, tuple[bool, dt.timedelta | None]] = {}
        self._missing: dict[tuple[str, tuple[bool, ...]], bool] = {}

    def stage(self, name: str) -> tuple[bool, dt.timedelta | None]:
        """(whether the stage is closed, how long after entering it stale_stage fires, if ever)."""
        found = self._stages.get(name)
        if found is None:
            rule = self.playbook.stage(name)
            closed = rule is not None and rule.closed
            # As rules._stale_stage counts: more whole days since the stage was entered than max_days.
            limit = rule.max_days if rule is not None and not closed else None
            found = self._stages[name] = (closed, None if limit is None else dt.timedelta(days=limit + 1))
        return found

    def missing_field_fires(self, stage: str, pattern: tuple[bool, ...]) -> bool:
        """Whether missing_field fires in `stage` on a deal missing the STABLE_FIELDS marked in `pattern`.

        Asked of the rule itself, on a probe deal with those fields and every changing one present.
        """
        key = (stage, pattern)
        if key not in self._missing:
            values = {name: (None if missing else _PRESENT[name]) for name, missing in zip(STABLE_FIELDS, pattern)}
            probe = _Probe(name="probe", stage=stage, **values)  # type: ignore[arg-type]
            moment = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
            findings = evaluate_deal(probe, self.playbook, moment, moment.date())
            self._missing[key] = any(finding.rule == "missing_field" for finding in findings)
        return self._missing[key]


class _Tally:
    """One playbook's counts while the deals stream past."""

    def __init__(self, playbook_for: PlaybookFor) -> None:
        self.playbook_for = playbook_for
        self.opened: Counter[str] = Counter()
        self.by_rep_week: dict[str, Counter[tuple[int, int]]] = {rule: Counter() for rule in _REPLAYABLE}
        self.days_open: dict[str, Counter[int]] = {rule: Counter() for rule in _REPLAYABLE}
        self.still_open: Counter[str] = Counter()
        # rule -> [won with, lost with, won without, lost without]
        self.outcomes: dict[str, list[int]] = {rule: [0, 0, 0, 0] for rule in _REPLAYABLE}
        self.enabled_anywhere: set[str] = set()
        self._teams: dict[int, _Team] = {}  # by the id of a team playbook (Org keeps one per team)
        self._by_owner: dict[int | None, _Team] = {}

    def team(self, owner_id: int | None) -> _Team:
        team = self._by_owner.get(owner_id)
        if team is None:
            playbook = self.playbook_for(owner_id)
            team = self._teams.get(id(playbook))
            if team is None:
                team = self._teams[id(playbook)] = _Team(playbook)
                self.enabled_anywhere |= {name for name in _REPLAYABLE if getattr(team, _SWITCHES[name])}
            self._by_owner[owner_id] = team
        return team


_SWITCHES = {"stale_stage": "stale_on", "missing_field": "missing_on"}
_WEEK = dt.timedelta(weeks=1)


def replay(
    deals: Iterable[DealHistory], playbooks: Sequence[PlaybookFor], period: Period, now: dt.datetime
) -> tuple[Backtest, ...]:
    """Each playbook's back-test over `period` (no later than `now`), from one pass over `deals`."""
    window = _Window(period.starts_at, min(period.ends_at, now), dt.datetime.combine(period.first_monday, dt.time(), dt.UTC))
    starts_at, ends_at, monday_at = window
    tallies = [_Tally(playbook_for) for playbook_for in playbooks]
    weeks = period.weeks
    coverage: dict[int, list[int]] = {}  # owner -> +1/-1 at the weeks their deals start and stop being open
    counted = closed = won = 0
    for deal in deals:
        life_start = min(deal.created_at, deal.stages[0][1]) if deal.stages else deal.created_at
        life_end = deal.ended_at if deal.ended_at is not None and deal.ended_at < ends_at else ends_at
        if life_start >= ends_at or life_end < starts_at:
            continue
        counted += 1
        closes_in_period = deal.is_won is not None and deal.ended_at is not None and starts_at <= deal.ended_at < ends_at
        if closes_in_period:
            closed += 1
            won += bool(deal.is_won)
        if deal.owner_id is not None and life_end > starts_at:
            weeks_open = coverage.get(deal.owner_id)
            if weeks_open is None:
                weeks_open = coverage[deal.owner_id] = [0] * (weeks + 1)
            weeks_open[(max(life_start, starts_at) - monday_at) // _WEEK] += 1
            weeks_open[(life_end - _INSTANT - monday_at) // _WEEK + 1] -= 1
        for tally in tallies:
            _replay_deal(tally, deal, life_start, life_end, closes_in_period, window)
    rep_weeks = sum(sum(1 for total in itertools.accumulate(marks[:weeks]) if total > 0) for marks in coverage.values())
    return tuple(
        Backtest(period, counted, closed, won, len(coverage), rep_weeks, _figures(tally, playbook_for, rep_weeks))
        for tally, playbook_for in zip(tallies, playbooks)
    )


class _Window(NamedTuple):
    starts_at: dt.datetime
    ends_at: dt.datetime  # the period's end, or now if sooner
    monday_at: dt.datetime  # the start of the period's first week


_INSTANT = dt.timedelta(microseconds=1)


def _replay_deal(
    tally: _Tally, deal: DealHistory, life_start: dt.datetime, life_end: dt.datetime, closes_in_period: bool, window: _Window
) -> None:
    team = tally.team(deal.owner_id)
    entries = deal.stages
    stints: list[tuple[str, dt.timedelta | None, dt.datetime, dt.datetime, dt.datetime]] = []
    for position, (stage, entered_at) in enumerate(entries):
        closed, stale_after = team.stage(stage)
        if closed:
            break  # the open life ends at the first entry into a closed stage, if the close itself came later
        leaves_at = entries[position + 1][1] if position + 1 < len(entries) else life_end
        start, stop = max(entered_at, life_start), min(leaves_at, life_end)
        if start < stop:
            stints.append((stage, stale_after, entered_at, start, stop))
    if team.stale_on:
        gaps = []
        for _, stale_after, entered_at, start, stop in stints:
            if stale_after is not None and (fires_at := entered_at + stale_after) < stop:
                gaps.append((max(fires_at, start), stop))
        _record(tally, "stale_stage", deal, gaps, closes_in_period, window)
    elif closes_in_period:
        tally.outcomes["stale_stage"][2 if deal.is_won else 3] += 1
    if team.missing_on:
        pattern = (
            deal.amount is None,
            *(not (value or "").strip() for value in (deal.product_line, deal.product_name, deal.account_name)),
        )
        merged: list[list[dt.datetime]] = []
        if any(pattern):
            for stage, _, _, start, stop in stints:
                if team.missing_field_fires(stage, pattern):
                    if merged and merged[-1][1] == start:
                        merged[-1][1] = stop  # still missing in the next stage: the same gap stays open
                    else:
                        merged.append([start, stop])
        _record(tally, "missing_field", deal, [(start, stop) for start, stop in merged], closes_in_period, window)
    elif closes_in_period:
        tally.outcomes["missing_field"][2 if deal.is_won else 3] += 1


def _record(
    tally: _Tally,
    rule: str,
    deal: DealHistory,
    gaps: list[tuple[dt.datetime, dt.datetime]],
    closes_in_period: bool,
    window: _Window,
) -> None:
    starts_at, ends_at, monday_at = window
    for opened_at, resolved_at in gaps:
        if deal.owner_id is not None and starts_at <= opened_at < ends_at:
            tally.opened[rule] += 1
            tally.by_rep_week[rule][(deal.owner_id, (opened_at - monday_at) // _WEEK)] += 1
            if resolved_at < ends_at:
                tally.days_open[rule][(resolved_at - opened_at).days] += 1
            else:
                tally.still_open[rule] += 1
    if closes_in_period:
        tally.outcomes[rule][(0 if deal.is_won else 1) if gaps else (2 if deal.is_won else 3)] += 1


def _median(histogram: Counter[int]) -> float | None:
    total = sum(histogram.values())
    if not total:
        return None
    wanted = [(total - 1) // 2, total // 2]  # the middle position, or the two middle ones
    middle: list[int] = []
    seen = 0
    for days in sorted(histogram):
        seen += histogram[days]
        while wanted and wanted[0] < seen:
            middle.append(days)
            wanted.pop(0)
    return sum(middle) / 2


def _figures(tally: _Tally, playbook_for: PlaybookFor, rep_weeks: int) -> tuple[RuleFigures, ...]:
    base = playbook_for(None)
    figures = []
    for name in RULE_SPECS:
        replay, note = replay_status(name)
        config = base.rules.get(name)
        if name in _REPLAYABLE and name not in tally.enabled_anywhere and (config is None or not config.enabled):
            figures.append(RuleFigures(name, OFF, "turned off in this playbook"))
            continue
        if replay == SKIPPED:
            figures.append(RuleFigures(name, replay, note))
            continue
        won_with, lost_with, won_without, lost_without = tally.outcomes[name]
        per_rep_week = tally.by_rep_week[name]
        figures.append(
            RuleFigures(
                name, replay, note, opened=tally.opened[name], rep_weeks=rep_weeks,
                max_in_a_rep_week=max(per_rep_week.values(), default=0),
                median_days_open=_median(tally.days_open[name]), still_open=tally.still_open[name],
                won_with=won_with, lost_with=lost_with, won_without=won_without, lost_without=lost_without,
            )
        )  # fmt: skip
    return tuple(figures)


# What the replay reads of each deal, and the whole stage history in deal order: two streams
# merged by deal id, so a deal's columns are read and converted once, not once per stage entry.
_DEAL_COLUMNS = (
    Deal.id, Deal.owner_id, Deal.created_at, Deal.is_closed, Deal.is_won, Deal.closed_at, Deal.close_date, Deal.deleted_at,
    Deal.stage, Deal.stage_entered_at, Deal.amount, Deal.product_line, Deal.product_name, Deal.account_name,
)  # fmt: skip
# In the order of the unique index on (deal_id, entered_at, stage): read from it, no sort.
_HISTORY = select(DealStageHistory.deal_id, DealStageHistory.stage, DealStageHistory.entered_at).order_by(
    DealStageHistory.deal_id, DealStageHistory.entered_at
)
_STREAM = {"stream_results": True, "yield_per": 5_000}  # a server-side cursor on PostgreSQL: memory stays flat


def read_histories(connection: Connection, period: Period) -> Iterator[DealHistory]:
    """Deals created before the period ends and not closed or deleted before it starts, each with its stage entries."""
    deals = connection.execute(
        select(*_DEAL_COLUMNS)
        .where(
            Deal.created_at < period.ends_at,
            or_(Deal.closed_at.is_(None), Deal.closed_at >= period.starts_at),
            or_(Deal.deleted_at.is_(None), Deal.deleted_at >= period.starts_at),
        )
        .order_by(Deal.id),
        execution_options=_STREAM,
    )
    # Whole batches, not a fetch per row: the history has several rows a deal.
    history = itertools.chain.from_iterable(connection.execute(_HISTORY, execution_options=_STREAM).partitions())
    entry = next(history, None)
    for deal in itertools.chain.from_iterable(deals.partitions()):
        deal_id = deal[0]
        while entry is not None and entry[0] < deal_id:
            entry = next(history, None)  # a deal the period does not reach
        stages = []
        while entry is not None and entry[0] == deal_id:
            stages.append((entry[1], entry[2]))
            entry = next(history, None)
        yield _history(deal, stages)


def _history(deal: Any, stages: list[tuple[str, dt.datetime]]) -> DealHistory:
    (deal_id, owner_id, created_at, is_closed, is_won, closed_at, close_date, deleted_at, stage, stage_entered_at,
     amount, product_line, product_name, account_name) = deal  # fmt: skip
    if not stages:
        stages = [(stage, stage_entered_at or created_at)]  # no history stored (a CSV import may leave none)
    ended_at = None
    if deleted_at is not None:
        ended_at = deleted_at
    elif is_closed:
        if closed_at is not None:
            ended_at = closed_at
        elif close_date is not None:
            ended_at = dt.datetime.combine(close_date, dt.time(), dt.UTC)
        else:
            ended_at = stages[-1][1]
    outcome = bool(is_won) if is_closed and deleted_at is None else None
    return DealHistory(
        deal_id, owner_id, created_at, ended_at, outcome, amount, product_line, product_name, account_name, tuple(stages)
    )


def backtest_playbooks(
    session: Session, playbooks: Sequence[Playbook], period: Period, now: dt.datetime, *, default_timezone: str = "UTC"
) -> tuple[Backtest, ...]:
    """Each playbook's back-test over the stored deals, from one read of them and their stage history."""
    orgs = [Org(session, playbook, default_timezone) for playbook in playbooks]
    return replay(read_histories(session.connection(), period), [org.playbook for org in orgs], period, now)
