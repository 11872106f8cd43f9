"""`coachbot org import`: read an org file (CSV or YAML) whole, check it, then store it at once.

CSV columns: email, name, roles, manager, coach, timezone, currency, and one `quota <period>`
column per quota period (e.g. `quota 2026-Q4`). YAML: a list under `people:` with the same keys,
`coach` may be a list and `quotas` a mapping of period to amount. See README, "Org file".
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.crm.values import MAX_AMOUNT
from bot.models import CoachAssignment, Person, Quota
from bot.models.org import ROLES
from bot.org.quota_periods import parse_quota_period
from bot.org.records import OrgPerson, QuotaRecord
from bot.periods import is_timezone

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LIST_SPLIT = re.compile(r"[;|,/\s]+")
_QUOTA_COLUMN = re.compile(r"^quota[\s:_-]+(.+)$", re.IGNORECASE)


class OrgFileError(Exception):
    """The org file has problems; nothing was imported. `problems` are 'line N: ...' strings."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        super().__init__(f"{source}: nothing imported, {len(problems)} problem(s):\n" + "\n".join(problems))
        self.problems = list(problems)


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quotas_written: int = 0
    coach_links_changed: int = 0
    deactivated: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.quotas_written or self.coach_links_changed or self.deactivated)


def read_org_file(path: Path, default_currency: str, fiscal_year_start_month: int = 1) -> list[OrgPerson]:
    """Parse and check an org file; raise OrgFileError listing every bad line."""
    try:
        text = path.read_text("utf-8-sig")
    except OSError as exc:
        raise OrgFileError(str(path), [f"cannot read the file ({exc.strerror})"]) from None
    if path.suffix.lower() in (".yml", ".yaml"):
        entries = _yaml_entries(text, str(path))
    else:
        entries = _csv_entries(text)
    return check_org(entries, str(path), default_currency, fiscal_year_start_month)


def _csv_entries(text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    entries = []
    for row in reader:
        entry: dict[str, Any] = {"quotas": {}}
        for column, value in row.items():
            if column is None:
                entry["_extra"] = value
                continue
            column = column.strip()
            if match := _QUOTA_COLUMN.match(column):
                if (value or "").strip():
                    entry["quotas"][match[1].strip()] = value.strip()
            else:
                entry[column.lower()] = (value or "").strip()
        entries.append((reader.line_num, entry))
    return entries


def _yaml_entries(text: str, source: str) -> list[tuple[int, dict[str, Any]]]:
    class LineLoader(yaml.SafeLoader):
        pass

    # YAML keys need not be strings: a quota period such as 2025 reads as a number.
    def mapping_with_line(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
        mapping = loader.construct_mapping(node, deep=True)
        # Only people entries carry their line; a `quotas:` mapping must stay period -> amount.
        if any(getattr(key, "value", None) == "email" for key, _ in node.value):
            mapping["_line"] = node.start_mark.line + 1
        return mapping

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping_with_line)
    try:
        document = yaml.load(text, Loader=LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise OrgFileError(source, [f"line {mark.line + 1 if mark else '?'}: not valid YAML"]) from None
    people = document.get("people") if isinstance(document, dict) else None
    if not isinstance(people, list):
        raise OrgFileError(source, ["line 1: expected a `people:` list"])
    entries = []
    for entry in people:
        if not isinstance(entry, dict):
            raise OrgFileError(source, ["a `people:` entry is not a mapping"])
        entries.append((entry.pop("_line", 0), entry))
    return entries


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    return [part for part in _LIST_SPLIT.split(str(value).strip()) if part]


def check_org(
    entries: Iterable[tuple[int, dict[str, Any]]],
    source: str,
    default_currency: str,
    fiscal_year_start_month: int = 1,
) -> list[OrgPerson]:
    """Turn raw entries into OrgPerson records, collecting every problem with its line."""
    problems: list[str] = []
    people: list[OrgPerson] = []
    seen: dict[str, int] = {}
    for line, entry in entries:
        where = f"line {line}"
        before = len(problems)
        if entry.get("_extra"):
            problems.append(f"{where}: more values than columns (is a comma missing its quotes?)")
        email = str(entry.get("email") or "").strip().lower()
        name = str(entry.get("name") or "").strip()
        if not _EMAIL.match(email) or len(email) > 320:
            problems.append(f"{where}: {email[:80] or 'empty'!s} is not an email address")
        elif email in seen:
            problems.append(f"{where}: {email} already appears on line {seen[email]}")
        if not name:
            problems.append(f"{where}: name is empty")
        elif len(name) > 200:
            problems.append(f"{where}: name is longer than 200 characters")
        roles = {role.lower() for role in _as_list(entry.get("roles") or "rep")}
        if unknown := roles - set(ROLES):
            problems.append(f"{where}: unknown role {', '.join(sorted(unknown))} (use {', '.join(ROLES)})")
        timezone = str(entry.get("timezone") or "").strip() or None
        if timezone:
            if not is_timezone(timezone):
                problems.append(f"{where}: unknown time zone {timezone[:60]!r} (use an IANA name like Europe/Paris)")
        currency = str(entry.get("currency") or default_currency).strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            problems.append(f"{where}: currency {currency!r} is not a three-letter code")
        quotas = _check_quotas(entry.get("quotas") or {}, currency, fiscal_year_start_month, where, problems)
        if len(problems) > before:
            continue
        seen[email] = line
        manager = str(entry.get("manager") or "").strip().lower() or None
        people.append(
            OrgPerson(
                email=email,
                name=name,
                roles=frozenset(roles),
                manager_email=manager,
                coach_emails=tuple(coach.lower() for coach in _as_list(entry.get("coach"))),
                timezone=timezone,
                quotas=quotas,
                line=line,
            )
        )
    if problems:
        raise OrgFileError(source, problems)
    return people


def _check_quotas(raw: Any, currency: str, fiscal_start: int, where: str, problems: list[str]) -> tuple[QuotaRecord, ...]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: quotas must map a period to an amount")
        return ()
    quotas: list[QuotaRecord] = []
    for key, value in raw.items():
        try:
            start, end = parse_quota_period(str(key), fiscal_start)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        try:
            amount = Decimal(str(value).replace(",", "").replace("_", "").strip())
        except InvalidOperation:
            problems.append(f"{where}: quota {key} {str(value)[:40]!r} is not an amount")
            continue
        # Compared before rounding to cents: rounding 1e30 fails, and .995 could round past the column.
        if not amount.is_finite() or not 0 <= amount < MAX_AMOUNT + Decimal("0.005"):
            problems.append(f"{where}: quota {key} must be from 0 to {MAX_AMOUNT:,}")
            continue
        quotas.append(QuotaRecord(start, end, amount.quantize(Decimal("0.01")), currency))
    quotas.sort(key=lambda quota: quota.start)
    for earlier, later in zip(quotas, quotas[1:]):
        # Overlapping spans would count the same days twice when a period's quota is prorated.
        if later.start < earlier.end:
            problems.append(f"{where}: quota periods overlap ({earlier.start}..{earlier.end} and {later.start}..{later.end})")
    return tuple(quotas)


def store_org(session: Session, people: Sequence[OrgPerson], *, deactivate_missing: bool = False) -> ImportSummary:
    """Upsert people by email, then managers, coaches and quotas; an unchanged file writes nothing.

    Everyone in the file is active. With `deactivate_missing`, active people the file leaves out
    are deactivated: they get no messages and leave team views and digests, and their history
    (deals, gaps, goals, audit) is kept; a later file that names them again brings them back.
    The caller commits; on any error it rolls back, so a file is stored whole or not at all.
    """
    summary = ImportSummary()
    emails = {person.email for person in people}
    references = {p.manager_email for p in people if p.manager_email} | {c for p in people for c in p.coach_emails}
    existing = {person.email: person for person in session.scalars(select(Person).where(Person.email.in_(emails | references)))}
    missing = sorted(references - emails - existing.keys())
    if missing:
        lines = {p.email: p.line for p in people}
        problems = [
            f"line {lines.get(p.email, '?')}: {ref} is not in the file nor already imported"
            for p in people
            for ref in (p.manager_email, *p.coach_emails)
            if ref in missing
        ]
        raise OrgFileError("org", problems)

    created: set[str] = set()
    for record in people:
        person = existing.get(record.email)
        values = {
            "name": record.name,
            "timezone": _timezone(record, person),
            "active": True,
            **{f"is_{role}": role in record.roles for role in ROLES},
        }
        if record.crm_owner_id:
            values["crm_owner_id"] = record.crm_owner_id
        if person is None:
            person = Person(email=record.email, **values)
            session.add(person)
            existing[record.email] = person
            created.add(record.email)
            summary.created += 1
        elif _assign_changed(person, values):
            summary.updated += 1
        else:
            summary.unchanged += 1
    session.flush()

    for record in people:
        person = existing[record.email]
        manager_id = existing[record.manager_email].id if record.manager_email else None
        if person.manager_id != manager_id:
            person.manager_id = manager_id
            if record.email not in created:
                summary.updated += 1
        summary.coach_links_changed += _store_coaches(session, person, [existing[c].id for c in record.coach_emails])
        summary.quotas_written += _store_quotas(session, person, record.quotas)
    if deactivate_missing:
        leavers = session.scalars(select(Person).where(Person.active.is_(True), Person.email.not_in(emails))).all()
        for leaver in leavers:
            leaver.active = False
        summary.deactivated = len(leavers)
    session.flush()
    return summary


def _timezone(record: OrgPerson, person: Person | None) -> str | None:
    # Once linked, a person's Slack time zone is the one they live by; the file only fills a gap.
    if person is not None and (person.slack_user_id or not record.timezone):
        return person.timezone or record.timezone
    return record.timezone


def _assign_changed(person: Person, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(person, key) != value:
            setattr(person, key, value)
            changed = True
    return changed


def _store_coaches(session: Session, rep: Person, coach_ids: list[int]) -> int:
    """Make the file's coaches the rep's coaches; returns how many links were added or removed."""
    current = set(session.scalars(select(CoachAssignment.coach_id).where(CoachAssignment.rep_id == rep.id)))
    wanted = set(coach_ids)
    added = [coach_id for coach_id in dict.fromkeys(coach_ids) if coach_id not in current]
    session.add_all(CoachAssignment(coach_id=coach_id, rep_id=rep.id) for coach_id in added)
    if removed := current - wanted:
        session.execute(delete(CoachAssignment).where(CoachAssignment.rep_id == rep.id, CoachAssignment.coach_id.in_(removed)))
    return len(added) + len(removed)


def _store_quotas(session: Session, person: Person, quotas: Sequence[QuotaRecord]) -> int:
    """Make the file's quotas the person's quotas for the spans the file names."""
    written = 0
    current = {(q.period_start, q.period_end): q for q in session.scalars(select(Quota).where(Quota.person_id == person.id))}
    for record in quotas:
        row = current.get((record.start, record.end))
        if row is not None and row.amount == record.amount and row.currency == record.currency:
            continue
        # Drop spans the new one overlaps, so prorating never counts a day twice.
        session.execute(
            delete(Quota).where(
                Quota.person_id == person.id,
                Quota.period_start < record.end,
                Quota.period_end > record.start,
            )
        )
        session.add(
            Quota(
                person_id=person.id,
                period_start=record.start,
                period_end=record.end,
                amount=record.amount,
                currency=record.currency,
            )
        )
        session.flush()
        written += 1
    return written
