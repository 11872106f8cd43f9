"""`coachbot doctor`: one cheap call to each thing coachbot depends on, and what is wrong with it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from slack_sdk import WebClient
from sqlalchemy import Engine, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from bot.coaching.playbook import PlaybookError, load_playbook
from bot.crm.base import CrmError
from bot.crm.demo import DemoIntoRealOrg, refuse_real_org
from bot.crm.providers import provider_from_settings
from bot.database import DatabaseUnavailable, NoDatabaseYet, open_database
from bot.delivery.leaderboards import channel_problems
from bot.messaging.sender import UNCERTAIN
from bot.migrate import SchemaNotCurrent, require_current_schema
from bot.models import OutboxMessage, Person, Quota
from bot.periods import period_containing
from bot.settings import Settings
from bot.slack_client import REQUIRED_BOT_SCOPES, SlackTokenError, verify_bot_token

__all__ = ["REQUIRED_BOT_SCOPES", "Check", "run_checks"]
EXAMPLES = 3  # emails named per warning; the count says how many more


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool  # False: coachbot cannot work as configured (FAIL, exit 1)
    detail: str
    warning: bool = False  # works, but something deserves a look (WARN)

    @property
    def status(self) -> str:
        return "FAIL" if not self.ok else "WARN" if self.warning else "OK"


def run_checks(
    settings: Settings,
    *,
    slack_client: WebClient | None = None,
    crm_transport: httpx.BaseTransport | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> list[Check]:
    checks = [check_playbook(settings)]
    engine, database = _database(settings)
    checks.insert(0, database)
    crm = None
    if engine is not None:
        try:
            checks += check_org(settings, engine, now()) + [check_outbox(engine)] + check_leaderboards(engine)
            crm = check_demo_target(settings, engine)
        finally:
            engine.dispose()
    crm = crm or check_crm(settings, crm_transport, now())
    checks += [check_slack(settings, slack_client), crm]
    # Writes are checked only where reads work: a refused token is already the CRM check's FAIL.
    return checks + ([check_crm_writes(settings, crm_transport, now())] if crm.ok else [])


def require_safe_sync(settings: Settings, engine: Engine, now: dt.datetime) -> None:
    """Before a sync writes anything: the demo only into a database of its own, a CRM only with credentials it takes.

    Raises DemoIntoRealOrg, or the connector's CrmAuthError (its cheap credential check), so a
    refused sync records no start and stores no org.
    """
    if settings.crm_provider == "demo":
        with Session(engine) as session:
            refuse_real_org(session)
        return
    check_credentials = getattr(provider_from_settings(settings, now), "doctor", None)
    if check_credentials is not None:
        check_credentials()


def check_demo_target(settings: Settings, engine: Engine) -> Check | None:
    """A FAIL when the demo provider would sync into a real org (as `coachbot sync` refuses to)."""
    if settings.crm_provider != "demo":
        return None
    try:
        with Session(engine) as session:
            refuse_real_org(session)
    except DemoIntoRealOrg as exc:
        return Check("crm (demo)", False, str(exc))
    return None


def check_database(settings: Settings) -> Check:
    engine, check = _database(settings)
    if engine is not None:
        engine.dispose()
    return check


def _database(settings: Settings) -> tuple[Engine | None, Check]:
    """The database check, and an engine on it when it passed (the org and outbox checks read it)."""
    try:
        engine = open_database(settings.database_url)
    except (DatabaseUnavailable, NoDatabaseYet) as exc:
        return None, Check("database", False, str(exc))
    try:
        revision = require_current_schema(engine)
    except SchemaNotCurrent as exc:
        engine.dispose()
        return None, Check("database", False, str(exc))
    return engine, Check("database", True, f"connected, schema at {revision} (latest)")


def check_playbook(settings: Settings) -> Check:
    try:
        playbook = load_playbook(settings.playbook_path)
    except PlaybookError as exc:
        more = f" (and {len(exc.errors) - 1} more: `coachbot playbook check` lists them)" if len(exc.errors) > 1 else ""
        return Check("playbook", False, exc.errors[0] + more)
    enabled = sum(1 for rule in playbook.rules.values() if rule.enabled)
    source = settings.playbook_path or "the built-in playbook"
    return Check("playbook", True, f"{source}: {len(playbook.stages)} stages, {enabled} of {len(playbook.rules)} rules on")


def _emails(emails: list[str]) -> str:
    shown = ", ".join(emails[:EXAMPLES])
    return shown + (f" and {len(emails) - EXAMPLES} more" if len(emails) > EXAMPLES else "")


def check_org(settings: Settings, engine: Engine, now: dt.datetime) -> list[Check]:
    """People Slack cannot reach, managers with nobody to manage, reps with no quota this quarter."""
    active = Person.active.is_(True)
    with engine.connect() as connection:
        people = connection.scalar(select(func.count()).select_from(Person).where(active)) or 0
        if not people:
            return [Check("org", True, "no people yet: run `coachbot org import FILE`", warning=True)]
        unlinked = list(
            connection.scalars(select(Person.email).where(active, Person.slack_user_id.is_(None)).order_by(Person.email))
        )
        report = aliased(Person)
        has_reps = exists().where(report.manager_id == Person.id, report.active.is_(True))
        idle_managers = list(
            connection.scalars(select(Person.email).where(active, Person.is_manager, ~has_reps).order_by(Person.email))
        )
        quarter = period_containing("quarter", now, settings.timezone, settings.fiscal_year_start_month)
        has_quota = exists().where(
            and_(Quota.person_id == Person.id, Quota.period_start < quarter.end, Quota.period_end > quarter.start)
        )
        no_quota = list(connection.scalars(select(Person.email).where(active, Person.is_rep, ~has_quota).order_by(Person.email)))
    checks = []
    if unlinked:
        checks.append(Check("org (Slack links)", True, (
            f"{len(unlinked)} of {people} people not linked to Slack ({_emails(unlinked)}): they cannot be nudged until "
            "their first command, or `coachbot org import` with SLACK_BOT_TOKEN set (their Slack email must match)"
        ), warning=True))  # fmt: skip
    else:
        checks.append(Check("org (Slack links)", True, f"all {people} people linked to Slack"))
    if idle_managers:
        checks.append(Check("org (managers)", True, (
            f"{len(idle_managers)} manager(s) with no reps ({_emails(idle_managers)}): "
            "name them as `manager` of their reps in the org file"
        ), warning=True))  # fmt: skip
    else:
        checks.append(Check("org (managers)", True, "every manager has reps"))
    if no_quota:
        checks.append(Check("org (quotas)", True, (
            f"{len(no_quota)} rep(s) with no quota for {quarter.label} ({_emails(no_quota)}): "
            "their scorecards show no pace or gap; add a `quota` column for the period to the org file"
        ), warning=True))  # fmt: skip
    else:
        checks.append(Check("org (quotas)", True, f"every rep has a quota for {quarter.label}"))
    return checks


def check_outbox(engine: Engine) -> Check:
    """Messages the sender gave up on: parked (a permanent error) and uncertain (possibly sent once)."""
    with engine.connect() as connection:
        counts = dict(connection.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
        uncertain = (
            connection.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "parked", OutboxMessage.last_error.startswith(UNCERTAIN))
            )
            or 0
        )
        example = connection.scalar(
            select(OutboxMessage.last_error)
            .where(OutboxMessage.status == "parked", ~OutboxMessage.last_error.startswith(UNCERTAIN))
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    parked = counts.get("parked", 0) - uncertain
    waiting = f"{counts.get('pending', 0)} waiting to be sent"
    if not parked and not uncertain:
        return Check("outbox", True, f"{waiting}, none parked")
    problems = []
    if parked:
        problems.append(f"{parked} parked after a permanent error (latest: {(example or 'no reason stored')[:120]})")
    if uncertain:
        problems.append(f"{uncertain} uncertain (the sender stopped mid-send; each was possibly sent, never re-sent)")
    return Check("outbox", True, f"{waiting}; " + "; ".join(problems), warning=True)


def check_leaderboards(engine: Engine) -> list[Check]:
    """A WARN per channel whose latest leaderboard post Slack refused (not_in_channel…), saying what to fix; none otherwise."""
    with Session(engine) as session:
        return [Check("leaderboard", True, problem, warning=True) for problem in channel_problems(session)]


def check_slack(settings: Settings, client: WebClient | None) -> Check:
    if settings.slack_bot_token is None:
        return Check("slack", False, "SLACK_BOT_TOKEN is not set")
    if client is None:
        from bot.slack_client import make_web_client

        client = make_web_client(settings, quiet=True)
    try:
        who = verify_bot_token(client, settings.slack_api_url)
    except SlackTokenError as exc:
        return Check("slack", False, str(exc))
    return Check("slack", True, f"token accepted ({who})")


def check_crm(settings: Settings, transport: httpx.BaseTransport | None, now: dt.datetime) -> Check:
    name = f"crm ({settings.crm_provider})"
    try:
        provider = provider_from_settings(settings, now, transport=transport)
        doctor = getattr(provider, "doctor", None)
        if doctor is not None:
            return Check(name, True, doctor())
        total = provider.expected_total()
        return Check(name, True, f"readable, {total:,} deals" if total is not None else "readable")
    except CrmError as exc:
        return Check(name, False, str(exc))


def check_crm_writes(settings: Settings, transport: httpx.BaseTransport | None, now: dt.datetime) -> Check:
    """Whether "Update…" can save to the CRM: the write scope or field permissions, as far as the CRM tells.

    A WARN, never a FAIL: without write access coachbot still reads and coaches; the modal then
    shows the CRM's refusal.
    """
    name = f"crm writes ({settings.crm_provider})"
    try:
        provider = provider_from_settings(settings, now, transport=transport)
        write_check = getattr(provider, "write_check", None)
        if write_check is None:
            return Check(name, True, "read-only: Update… shows what it would change and says the deals cannot be written here")
        return Check(name, True, write_check())
    except CrmError as exc:
        return Check(name, True, str(exc), warning=True)
