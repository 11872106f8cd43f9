"""The rules that find process gaps: one definition of each, as pure functions over plain values.

The scorecard, the gap scan and the nudges all ask this module, so a rule means the same thing
wherever it shows. What a playbook may say about each rule (severity, on/off, parameters) is
declared in `bot.coaching.playbook.RULE_SPECS`.

Findings are ranked by `impact` = severity weight (high 3, medium 2, low 1) × the deal's amount ×
its stage's win probability (the playbook's, else the CRM's): the expected money a gap puts at
risk, so a high-severity gap on a big late-stage deal comes first. A deal with no amount, or in a
stage with no known probability, has impact 0 and ranks after deals with money at stake, by
severity. Amounts are compared as they are, whatever their currency: ranking is within one
rep's deals, which rarely mix currencies, and a rate nobody can check would not improve it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from bot.coaching.playbook import RULE_SPECS, Playbook, RuleConfig, StageRule

SEVERITY_WEIGHT = {"high": 3, "medium": 2, "low": 1}
_RULE_ORDER = {name: position for position, name in enumerate(RULE_SPECS)}
# Fields that have a rule of their own: missing_field leaves them to it rather than saying it twice.
_FIELDS_WITH_OWN_RULE = {
    "next_step": "next_step_missing",
    "next_step_date": "next_step_missing",
    "close_date": "close_date_missing",
}
_CATALOGUE_NAMED = 3  # lines named in a single_product_line detail before "and N more"


class DealLike(Protocol):
    """What the rules read of a deal (`DealFacts`, or a row with the same names)."""

    @property
    def name(self) -> str: ...
    @property
    def amount(self) -> Decimal | None: ...
    @property
    def stage(self) -> str: ...
    @property
    def is_closed(self) -> bool: ...
    @property
    def close_date(self) -> dt.date | None: ...
    @property
    def stage_entered_at(self) -> dt.datetime | None: ...
    @property
    def next_step(self) -> str | None: ...
    @property
    def next_step_date(self) -> dt.date | None: ...
    @property
    def product_line(self) -> str | None: ...
    @property
    def crm_probability(self) -> float | None: ...

    # Also read when present: last_activity_at, product_name, account_name.


@dataclass(frozen=True)
class Finding:
    """A rule firing: which, how much it matters, why (human text), and its rank (see module doc)."""

    rule: str
    severity: str
    detail: str
    impact: float

    @property
    def rank(self) -> tuple[float, int, int]:
        return rank_key(self.rule, self.severity, self.impact)


def rank_key(rule: str, severity: str, impact: float) -> tuple[float, int, int]:
    """Sort key: biggest impact first, then the more severe, then the playbook's rule order."""
    return (-impact, -SEVERITY_WEIGHT[severity], _RULE_ORDER.get(rule, len(_RULE_ORDER)))


def money_at_stake(deal: DealLike, playbook: Playbook) -> float:
    """amount × win probability of the deal's stage; 0 when either is unknown."""
    return _stake(deal, playbook.stage(deal.stage))


def _stake(deal: DealLike, stage: StageRule | None) -> float:
    probability = stage.probability if stage is not None else deal.crm_probability
    return float(deal.amount or 0) * float(probability or 0)


def impact(severity: str, stake: float) -> float:
    """severity weight × money at stake."""
    return SEVERITY_WEIGHT[severity] * stake


def evaluate_deal(deal: DealLike, playbook: Playbook, now: dt.datetime, today: dt.date) -> list[Finding]:
    """Every enabled rule that fires on an open deal, in the playbook's rule order.

    `today` is the date in the deal owner's time zone: a next step due today is not yet overdue.
    """
    if deal.is_closed:
        return []
    stage = playbook.stage(deal.stage)
    stake = _stake(deal, stage)
    findings = []
    for config in playbook.enabled_rules:
        check = _DEAL_CHECKS.get(config.name)
        detail = check(deal, stage, playbook, config, now, today) if check is not None else None
        if detail is not None:
            findings.append(Finding(config.name, config.severity, detail, SEVERITY_WEIGHT[config.severity] * stake))
    return findings


@dataclass
class PipelineShape:
    """Just enough of a rep's open pipeline for person-level rules, gathered one deal at a time."""

    lined_deals: int = 0
    stake: float = 0.0
    # At most two lines are kept: "one line" or "more than one" is all the rules ask.
    lines: set[str] = field(default_factory=set)

    def add(self, deal: DealLike, playbook: Playbook) -> None:
        if deal.is_closed or not deal.product_line:
            return
        self.lined_deals += 1
        self.stake += money_at_stake(deal, playbook)
        if len(self.lines) < 2:
            self.lines.add(deal.product_line)


def evaluate_person(open_deals: Iterable[DealLike], catalogue: Sequence[str], playbook: Playbook) -> list[Finding]:
    """Rules about a rep's open pipeline as a whole (today: single_product_line)."""
    shape = PipelineShape()
    for deal in open_deals:
        shape.add(deal, playbook)
    return evaluate_pipeline(shape, catalogue, playbook)


def evaluate_pipeline(shape: PipelineShape, catalogue: Sequence[str], playbook: Playbook) -> list[Finding]:
    """single_product_line: every open deal with a product line (at least `min_deals`) is in one
    line while the catalogue has others. Deals without a line are left out, not counted against."""
    config = playbook.rules.get("single_product_line")
    if config is None or not config.enabled:
        return []
    if shape.lined_deals < config.params["min_deals"] or len(shape.lines) != 1:
        return []
    [line] = shape.lines
    others = [other for other in catalogue if other != line]
    if not others:
        return []
    named = " or ".join(others) if len(others) <= _CATALOGUE_NAMED else (
        f"{', '.join(others[:_CATALOGUE_NAMED])} or {len(others) - _CATALOGUE_NAMED} more lines"
    )  # fmt: skip
    detail = f"all {shape.lined_deals} open deals are in {line}; none in {named}"
    return [Finding("single_product_line", config.severity, detail, impact(config.severity, shape.stake))]


def ranked(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda finding: finding.rank)


def _day(date: dt.date) -> str:
    return f"{date:%b} {date.day}"


# (deal, its stage in the playbook or None, playbook, the rule's settings, now, today) -> detail when it fires
_Check = Callable[[DealLike, StageRule | None, Playbook, RuleConfig, dt.datetime, dt.date], str | None]


def _next_step_missing(
    deal: DealLike, stage: StageRule | None, playbook: Playbook, config: RuleConfig, now: dt.datetime, today: dt.date
) -> str | None:
    if not (deal.next_step or "").strip() or deal.next_step_date is None:
        return "no dated next step"
    return None


def _next_step_overdue(
    deal: DealLike, stage: StageRule | None, playbook: Playbook, config: RuleConfig, now: dt.datetime, today: dt.date
) -> str | None:
    # A next step without text is "missing", not "overdue": one gap, one reason.
    if (deal.next_step or "").strip() and deal.next_step_date is not None and deal.next_step_date < today:
        return f"next step was due {_day(deal.next_step_date)}"
    return None


def _close_date_missing(
    deal: DealLike, stage: StageRule | None, playbook: Playbook, config: RuleConfig, now: dt.datetime, today: dt.date
) -> str | None:
    return "no close date" if deal.close_date is None else None


def _close_date_past(
    deal: DealLike, stage: StageRule | None, playbook: Playbook, config: RuleConfig, now: dt.datetime, today: dt.date
) -> str | None:
    if deal.close_date is not None and deal.close_date < today:
        return f"close date {_day(deal.close_date)} has passed"
    return None


def _stale_stage(
    deal: DealLike, stage: StageRule | None, playbook: Playbook, config: RuleConfig, now: dt.datetime, today: dt.date
) -> str | None:
    if stage is None or stage.max_days is None or deal.stage_entered_at is None:
        return None
    age = (now - deal.stage_entered_at).days
    return f"{age} days in {stage.name} (limit {stage.max_days})" if age > stage.max_days else None


def _no_activity(
    deal: DealLike, stage: StageRule | None, playbook: Playbook, config: RuleConfig, now: dt.datetime, today: dt.date
) -> str | None:
    # Many CRMs (and CSV exports) report no last activity at all; silence is not inactivity.
    last_activity_at = getattr(deal, "last_activity_at", None)
    if last_activity_at is None:
        return None
    idle = (now - last_activity_at).days
    limit = config.params["days"]
    return f"no activity for {idle} days (limit {limit})" if idle > limit else None


_UNKNOWN = object()


def _missing_field(
    deal: DealLike, stage: StageRule | None, playbook: Playbook, config: RuleConfig, now: dt.datetime, today: dt.date
) -> str | None:
    if stage is None:
        return None
    missing = []
    for field_name in playbook.required_fields_for(stage.name):
        own_rule = playbook.rules.get(_FIELDS_WITH_OWN_RULE.get(field_name, ""))
        if own_rule is not None and own_rule.enabled:
            continue
        value = getattr(deal, field_name, _UNKNOWN)
        if value is None or (isinstance(value, str) and not value.strip()):
            missing.append(field_name.replace("_", " "))
    if not missing:
        return None
    listed = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"
    return f"missing {listed}"


_DEAL_CHECKS: dict[str, _Check] = {
    "next_step_missing": _next_step_missing,
    "next_step_overdue": _next_step_overdue,
    "close_date_missing": _close_date_missing,
    "close_date_past": _close_date_past,
    "stale_stage": _stale_stage,
    "no_activity": _no_activity,
    "missing_field": _missing_field,
}
DEAL_RULES = tuple(_DEAL_CHECKS)
PERSON_RULES = ("single_product_line",)


# Passing time changes a finding in only two ways: a date or a day limit is crossed and a rule
# starts firing (no rule stops firing as time passes), or a firing rule's day count moves on.
# The gap scan uses these to re-judge only the deals that time changed (bot/coaching/rescan.py).


@dataclass(frozen=True)
class TimeLimits:
    """What passing time alone can start firing under a playbook: the day limits of stale_stage
    (each stage's `max_days`) and no_activity, and whether overdue next steps and passed close
    dates are judged at all."""

    stage_days: frozenset[int] = frozenset()
    idle_days: frozenset[int] = frozenset()
    next_step_dates: bool = False
    close_dates: bool = False

    def __or__(self, other: TimeLimits) -> TimeLimits:
        return TimeLimits(
            self.stage_days | other.stage_days, self.idle_days | other.idle_days,
            self.next_step_dates or other.next_step_dates, self.close_dates or other.close_dates,
        )  # fmt: skip


def time_limits(playbook: Playbook) -> TimeLimits:
    """The limits of the playbook's enabled time-driven rules."""
    enabled = {config.name: config for config in playbook.enabled_rules}
    stage_days = frozenset(
        stage.max_days for stage in playbook.stages if stage.max_days is not None
    ) if "stale_stage" in enabled else frozenset()  # fmt: skip
    idle_days = frozenset({enabled["no_activity"].params["days"]}) if "no_activity" in enabled else frozenset()
    return TimeLimits(stage_days, idle_days, "next_step_overdue" in enabled, "close_date_past" in enabled)


def detail_changes_at(rule: str, deal: DealLike, now: dt.datetime) -> dt.datetime | None:
    """When passing time alone next changes the detail of `rule`, firing on `deal` as of `now`:
    the next whole day of its day count. None for rules whose detail only the deal's data changes."""
    if rule == "stale_stage":
        since = deal.stage_entered_at
    elif rule == "no_activity":
        since = getattr(deal, "last_activity_at", None)
    else:
        return None
    if since is None:
        return None
    return since + dt.timedelta(days=(now - since).days + 1)
