"""The playbook: the sales process as data.

Stages (win probabilities, days allowed), the fields each stage requires, the rules that find
process gaps and how much each matters, per-team overrides, and when nudges, digests and
recovery plans happen. `load_playbook` reads the YAML and reports every mistake with the file
and line it is on: the YAML is composed into nodes first, which keep their line, and turned
into values by `_Reader` below.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeGuard

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


class PlaybookError(Exception):
    """The playbook file is invalid; the message names the file and line of each mistake."""

    def __init__(self, message: str, errors: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.errors = tuple(errors) or (message,)


SEVERITIES = ("high", "medium", "low")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Deal columns a stage can require. Custom CRM properties are not stored on deals yet, so a
# property mapped with CRM_FIELD_MAP can be required only through the field it feeds.
REQUIRABLE_FIELDS = (
    "next_step", "next_step_date", "amount", "close_date", "product_line", "product_name", "account_name",
    "last_activity_at",
)  # fmt: skip


@dataclass(frozen=True)
class RuleSpec:
    """What a rule accepts: its default severity and its parameters (whole numbers) with defaults."""

    severity: str
    params: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


# The rules coachbot knows, in the order their findings are listed. The logic of each is in
# bot/coaching/rules.py; this is what a playbook may say about them.
RULE_SPECS: Mapping[str, RuleSpec] = MappingProxyType(
    {
        "next_step_missing": RuleSpec("high"),
        "next_step_overdue": RuleSpec("medium"),
        "close_date_missing": RuleSpec("high"),
        "close_date_past": RuleSpec("high"),
        "stale_stage": RuleSpec("medium"),
        "no_activity": RuleSpec("medium", MappingProxyType({"days": 14})),
        "missing_field": RuleSpec("low"),
        "single_product_line": RuleSpec("low", MappingProxyType({"min_deals": 3})),
    }
)


@dataclass(frozen=True)
class StageRule:
    name: str
    probability: float
    max_days: int | None
    closed: bool = False
    won: bool = False


@dataclass(frozen=True)
class RuleConfig:
    """One rule as a playbook sets it: how much it matters, whether it runs, its parameters."""

    name: str
    severity: str
    enabled: bool = True
    params: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class TeamOverride:
    """Changes for the reps under one manager (directly or further down)."""

    manager_email: str
    # rule -> {"severity"?, "enabled"?, param?...}: only what the team changes
    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    # stage name -> max_days (None: no limit)
    stage_max_days: Mapping[str, int | None] = field(default_factory=lambda: MappingProxyType({}))
    # leaderboard setting -> value: only what the team changes (see `Playbook.leaderboard_for`). Left
    # out of the repr, which fingerprints what the gap scan judges with (bot/coaching/rescan.py).
    leaderboard: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)


def clock(hhmm: str) -> dt.time:
    """ "09:30" as a time of day (playbook times are kept as "HH:MM", like people's own nudge times)."""
    hours, minutes = hhmm.split(":")
    return dt.time(int(hours), int(minutes))


@dataclass(frozen=True)
class QuietHours:
    start: str = "19:00"
    end: str = "08:00"

    def contains(self, moment: dt.time) -> bool:
        """True when a local time falls in the quiet hours (which may span midnight)."""
        start, end = clock(self.start), clock(self.end)
        if start <= end:
            return start <= moment < end
        return moment >= start or moment < end


@dataclass(frozen=True)
class NudgeSettings:
    local_time: str = "09:00"
    max_items: int = 3
    daily_budget: int = 1
    working_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    quiet_hours: QuietHours = QuietHours()
    renudge_days: int = 3

    def is_working_day(self, day: dt.date) -> bool:
        return WEEKDAYS[day.weekday()] in self.working_days


@dataclass(frozen=True)
class DigestSettings:
    weekday: str = "mon"
    local_time: str = "08:00"

    @property
    def weekday_number(self) -> int:
        """Monday 0 … Sunday 6, as `date.weekday()` counts."""
        return WEEKDAYS.index(self.weekday)


@dataclass(frozen=True)
class AttentionSettings:
    """When a rep is named as needing coaching attention (with recovery.projected_below for the projection)."""

    pace_below: float = 0.8
    process_below: float = 0.6


LEADERBOARD_PLACES = ("channel", "digest")
LEADERBOARD_MOST = 50  # lines on one board: Block Kit's 50 blocks a message bounds it anyway


@dataclass(frozen=True)
class LeaderboardSettings:
    """A team's weekly discipline leaderboard (bot/coaching/leaderboard.py): off unless a team opts in."""

    enabled: bool = False
    where: str = "digest"  # "channel": posted in `channel`; "digest": to the manager, right after their digest
    channel: str | None = None  # a Slack channel id (C…, G…) the bot is a member of
    show_money: bool = False  # attainment and closed-won shown beside each rep (never used to rank)
    top: int = 10  # reps listed on the board, best first


@dataclass(frozen=True)
class RecoverySettings:
    projected_below: float = 0.8
    min_period_left: float = 0.25
    checkin_every_days: int = 7


def default_rules() -> Mapping[str, RuleConfig]:
    return MappingProxyType({name: RuleConfig(name, spec.severity, True, spec.params) for name, spec in RULE_SPECS.items()})


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Playbook:
    stages: tuple[StageRule, ...]
    product_lines: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    # field -> the stage from which open deals must have it
    required_fields: Mapping[str, str] = field(default_factory=_empty)
    rules: Mapping[str, RuleConfig] = field(default_factory=default_rules)
    # manager email (lower case) -> what that manager's team does differently
    teams: Mapping[str, TeamOverride] = field(default_factory=_empty)
    nudges: NudgeSettings = NudgeSettings()
    digest: DigestSettings = DigestSettings()
    recovery: RecoverySettings = RecoverySettings()
    attention: AttentionSettings = AttentionSettings()
    leaderboard: LeaderboardSettings = LeaderboardSettings()

    def leaderboard_for(self, manager_email: str) -> LeaderboardSettings:
        """The leaderboard of the team under this manager: the playbook's `leaderboard`, then the
        team's own `teams.<email>.leaderboard` (a team's board is its own: not inherited from a manager above)."""
        override = self.teams.get(manager_email.strip().lower())
        if override is None or not override.leaderboard:
            return self.leaderboard
        return dataclasses.replace(self.leaderboard, **override.leaderboard)

    @property
    def has_leaderboards(self) -> bool:
        """Whether any team's leaderboard is on (the playbook's own, or a team's)."""
        return self.leaderboard.enabled or any(self.leaderboard_for(email).enabled for email in self.teams)

    def stage(self, name: str) -> StageRule | None:
        """The stage rule for a CRM stage name or alias, matched without regard to case."""
        # Asked for every deal a scan reads: answers are remembered per name as the CRM spells it.
        seen: dict[str, StageRule | None] = self._cached("_stage_by_spelling", dict)
        if name not in seen:
            seen[name] = self._index.get(name.strip().casefold())
        return seen[name]

    def required_fields_for(self, stage_name: str) -> tuple[str, ...]:
        """Fields an open deal in this stage must have: those required from this stage or an earlier one."""
        answers: dict[str, tuple[str, ...]] = self._cached("_required_by_stage", dict)
        if stage_name not in answers:
            rule = self.stage(stage_name)
            position = self._positions[rule.name] if rule is not None and not rule.closed else -1
            answers[stage_name] = tuple(
                name for name, since in self.required_fields.items() if 0 <= self._positions[since] <= position
            )
        return answers[stage_name]

    @property
    def enabled_rules(self) -> tuple[RuleConfig, ...]:
        """The rules that run, in the order their findings are listed."""
        return self._cached("_enabled_rules", lambda: tuple(rule for rule in self.rules.values() if rule.enabled))

    def for_team(self, manager_emails: Iterable[str]) -> Playbook:
        """The playbook for a rep whose managers, nearest first, are `manager_emails`.

        Overrides apply from the most senior manager down, so the nearest manager's word wins
        where two teams change the same setting.
        """
        chain = tuple(email.strip().lower() for email in manager_emails)
        applying = tuple(email for email in reversed(chain) if email in self.teams)
        if not applying:
            return self
        cache: dict[tuple[str, ...], Playbook] = self._cached("_team_cache", dict)
        if applying not in cache:
            cache[applying] = self._with_overrides([self.teams[email] for email in applying])
        return cache[applying]

    def _with_overrides(self, overrides: list[TeamOverride]) -> Playbook:
        rules = dict(self.rules)
        max_days = {stage.name: stage.max_days for stage in self.stages}
        for override in overrides:
            for name, changes in override.rules.items():
                base = rules[name]
                params = {**base.params, **{key: value for key, value in changes.items() if key in base.params}}
                rules[name] = RuleConfig(
                    name,
                    changes.get("severity", base.severity),
                    changes.get("enabled", base.enabled),
                    MappingProxyType(params),
                )
            max_days.update(override.stage_max_days)
        stages = tuple(dataclasses.replace(stage, max_days=max_days[stage.name]) for stage in self.stages)
        return dataclasses.replace(self, stages=stages, rules=MappingProxyType(rules))

    def _cached(self, key: str, build: Callable[[], Any]) -> Any:
        # Derived lookups, built lazily and kept on the frozen instance (never part of eq or repr).
        if key not in self.__dict__:
            object.__setattr__(self, key, build())
        return self.__dict__[key]

    @property
    def _index(self) -> dict[str, StageRule]:
        def build() -> dict[str, StageRule]:
            by_name = {stage.name: stage for stage in self.stages}
            index = {stage.name.casefold(): stage for stage in self.stages}
            index.update({alias.casefold(): by_name[target] for alias, target in self.aliases})
            return index

        return self._cached("_stage_index", build)

    @property
    def _positions(self) -> dict[str, int]:
        return self._cached("_stage_positions", lambda: {stage.name: position for position, stage in enumerate(self.stages)})


def load_playbook(path: Path | None = None) -> Playbook:
    """Read a playbook YAML file, or the default one shipped with coachbot."""
    if path is None:
        text = resources.files("bot.coaching").joinpath("default_playbook.yml").read_text("utf-8")
        source = "default playbook"
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise PlaybookError(f"{path}: cannot read the playbook ({exc.strerror})") from None
        source = str(path)
    return parse_playbook(text, source)


def parse_playbook(text: str, source: str = "playbook") -> Playbook:
    """A playbook from YAML text; PlaybookError lists every mistake as `<source> line <n>: …`."""
    reader = _Reader(source)
    document = reader.read(text)
    playbook = None
    if document is None:
        pass  # not YAML: nothing more to check
    elif not isinstance(document, dict) or not isinstance(document.get("stages"), list):
        reader.error((), "expected a mapping with a list of `stages`")
    else:
        playbook = _build(reader, document)
    if reader.errors or playbook is None:
        raise PlaybookError("\n".join(reader.errors), reader.errors)
    return playbook


_Path = tuple[str | int, ...]


class _Reader:
    """YAML text to plain values, remembering the line of every key and list item."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._found: list[tuple[int, str]] = []
        self.lines: dict[_Path, int] = {}
        self._loader = yaml.SafeLoader("")

    def read(self, text: str) -> Any:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None)
            self._found.append((0, f"{self.source}{where}: not valid YAML" + (f" ({problem})" if problem else "")))
            return None
        return {} if node is None else self._value(node, ())

    @property
    def errors(self) -> list[str]:
        """Every mistake found, in the order of the file."""
        return [message for _, message in sorted(self._found, key=lambda found: found[0])]

    def error(self, path: _Path, message: str) -> None:
        for length in range(len(path), -1, -1):
            if path[:length] in self.lines:
                self.error_at(self.lines[path[:length]], message)
                return
        self._found.append((0, f"{self.source}: {message}"))

    def error_at(self, line: int, message: str) -> None:
        self._found.append((line, f"{self.source} line {line}: {message}"))

    def _value(self, node: Node, path: _Path) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, MappingNode):
            self._loader.flatten_mapping(node)  # YAML merge keys (<<: *defaults)
            mapping: dict[str, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                key = self._loader.construct_object(key_node, deep=True) if isinstance(key_node, ScalarNode) else None
                if key is None or isinstance(key, list | dict):
                    self.error_at(line, "a key must be a plain word or name")
                    continue
                key = str(key)
                if key in mapping:
                    self.error_at(line, f"`{key}` appears twice (first on line {self.lines[(*path, key)]})")
                    continue
                self.lines[(*path, key)] = line
                mapping[key] = self._value(value_node, (*path, key))
            return mapping
        if isinstance(node, SequenceNode):
            return [self._value(item, (*path, position)) for position, item in enumerate(node.value)]
        return self._loader.construct_object(node, deep=True)


# TypeGuard rather than TypeIs: a bool is an int to isinstance, so a False says nothing of the type.
def _is_whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _listed(names: Iterable[str]) -> str:
    return ", ".join(names)


def _mapping(reader: _Reader, value: Any, path: _Path, what: str, example: str) -> dict[str, Any] | None:
    if value is None:
        return {}
    if not isinstance(value, dict):
        reader.error(path, f"{what} must be a mapping, like {example}")
        return None
    return value


def _known_keys(reader: _Reader, mapping: dict[str, Any], path: _Path, known: Iterable[str], what: str) -> None:
    known = tuple(known)
    for key in mapping:
        if key not in known:
            reader.error((*path, key), f"{what}`{key}` is unknown (known: {_listed(known)})")


TOP_LEVEL = (
    "stages", "product_lines", "required_fields", "rules", "teams", "nudges", "digest", "recovery", "attention", "leaderboard",
)  # fmt: skip
STAGE_KEYS = ("name", "probability", "max_days", "closed", "won", "aliases")


def _build(reader: _Reader, document: dict[str, Any]) -> Playbook:
    _known_keys(reader, document, (), TOP_LEVEL, "")
    stages, aliases = _stages(reader, document["stages"])
    shell = Playbook(stages=stages, aliases=aliases)
    lines = document.get("product_lines") or []
    if not isinstance(lines, list):
        reader.error(("product_lines",), "`product_lines` must be a list, like [Core, Analytics]")
        lines = []
    rules = {name: RuleConfig(name, spec.severity, True, spec.params) for name, spec in RULE_SPECS.items()}
    rule_settings = _mapping(reader, document.get("rules"), ("rules",), "`rules`", "{no_activity: {days: 14}}") or {}
    for name, settings in _rule_settings(reader, rule_settings, ("rules",), "").items():
        base = rules[name]
        params = {key: value for key, value in settings.items() if key in base.params}
        rules[name] = RuleConfig(
            name, settings.get("severity", base.severity), settings.get("enabled", True),
            MappingProxyType({**base.params, **params}),
        )  # fmt: skip
    playbook = Playbook(
        stages=stages,
        product_lines=tuple(str(line) for line in lines),
        aliases=aliases,
        required_fields=MappingProxyType(_required_fields(reader, document.get("required_fields"), shell)),
        rules=MappingProxyType(rules),
        teams=MappingProxyType(_teams(reader, document.get("teams"), shell)),
        nudges=_nudges(reader, document.get("nudges")),
        digest=_digest(reader, document.get("digest")),
        recovery=_recovery(reader, document.get("recovery")),
        attention=_attention(reader, document.get("attention")),
        leaderboard=_leaderboard(reader, document.get("leaderboard")),
    )
    _check_team_leaderboards(reader, playbook)
    return playbook


def _stages(reader: _Reader, entries: list[Any]) -> tuple[tuple[StageRule, ...], tuple[tuple[str, str], ...]]:
    stages: list[StageRule] = []
    aliases: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for position, entry in enumerate(entries, start=1):
        path: _Path = ("stages", position - 1)
        if not isinstance(entry, dict) or not str(entry.get("name") or "").strip():
            reader.error(path, f"stage {position}: needs a `name`")
            continue
        name = str(entry["name"]).strip()
        where = f"stage {position} ({name})"
        _known_keys(reader, entry, path, STAGE_KEYS, f"{where}: ")
        probability = entry.get("probability")
        if not _is_number(probability) or not 0 <= probability <= 1:
            reader.error((*path, "probability"), f"{where}: `probability` must be a number from 0 to 1")
            probability = 0.0
        max_days = entry.get("max_days")
        if max_days is not None and (not _is_whole(max_days) or max_days < 1):
            reader.error((*path, "max_days"), f"{where}: `max_days` must be a whole number of days, 1 or more")
            max_days = None
        flags = {flag: entry.get(flag, False) for flag in ("closed", "won")}
        for flag, value in flags.items():
            if not isinstance(value, bool):
                reader.error((*path, flag), f"{where}: `{flag}` must be true or false, not {value!r}")
                flags[flag] = False
        if flags["won"] and not flags["closed"]:
            reader.error((*path, "won"), f"{where}: a won stage must also say `closed: true`")
        stage_aliases = entry.get("aliases") or []
        if not isinstance(stage_aliases, list):
            reader.error((*path, "aliases"), f"{where}: `aliases` must be a list, like [closedwon, Won]")
            stage_aliases = []
        for offset, label in enumerate([name, *map(str, stage_aliases)]):
            key = label.strip().casefold()
            if key in seen and seen[key] != name:
                at = (*path, "aliases", offset - 1) if offset else (*path, "name")
                reader.error(at, f"{where}: `{label}` already names stage {seen[key]}")
            seen.setdefault(key, name)
        stages.append(StageRule(name=name, probability=float(probability), max_days=max_days, **flags))
        aliases.extend((str(alias), name) for alias in stage_aliases)
    return tuple(stages), tuple(aliases)


def _open_stage(reader: _Reader, shell: Playbook, label: Any, path: _Path, what: str) -> str | None:
    stage = shell.stage(str(label)) if label is not None else None
    if stage is None:
        reader.error(path, f"{what}: stage `{label}` is not in `stages`")
        return None
    if stage.closed:
        reader.error(path, f"{what}: stage `{stage.name}` is closed; only open deals are checked")
        return None
    return stage.name


def _required_fields(reader: _Reader, value: Any, shell: Playbook) -> dict[str, str]:
    path: _Path = ("required_fields",)
    mapping = _mapping(reader, value, path, "`required_fields`", "{amount: Qualification}") or {}
    required: dict[str, str] = {}
    for name, since in mapping.items():
        if name not in REQUIRABLE_FIELDS:
            reader.error(
                (*path, name),
                f"required field `{name}` is unknown (known: {_listed(REQUIRABLE_FIELDS)}; "
                "custom CRM properties are not stored on deals yet)",
            )
            continue
        stage = _open_stage(reader, shell, since, (*path, name), f"required field `{name}`")
        if stage is not None:
            required[name] = stage
    return required


def _rule_settings(reader: _Reader, mapping: dict[str, Any], path: _Path, team: str) -> dict[str, dict[str, Any]]:
    """{rule: {setting: value}} as written (checked, nothing filled in)."""
    checked: dict[str, dict[str, Any]] = {}
    for name, settings in mapping.items():
        if name not in RULE_SPECS:
            reader.error((*path, name), f"{team}rule `{name}` is unknown (known: {_listed(RULE_SPECS)})")
            continue
        spec = RULE_SPECS[name]
        where = (*path, name)
        settings = _mapping(reader, settings, where, f"{team}rule `{name}`", "{severity: high, enabled: true}")
        if settings is None:
            continue
        _known_keys(reader, settings, where, ("severity", "enabled", *spec.params), f"{team}rule `{name}`: ")
        if "severity" in settings and settings["severity"] not in SEVERITIES:
            reader.error(
                (*where, "severity"),
                f"{team}rule `{name}`: `severity` must be high, medium or low, not {settings['severity']!r}",
            )
        if "enabled" in settings and not isinstance(settings["enabled"], bool):
            reader.error(
                (*where, "enabled"), f"{team}rule `{name}`: `enabled` must be true or false, not {settings['enabled']!r}"
            )
        for param in spec.params:
            if param in settings and (not _is_whole(settings[param]) or settings[param] < 1):
                reader.error((*where, param), f"{team}rule `{name}`: `{param}` must be a whole number, 1 or more")
        checked[name] = {key: value for key, value in settings.items() if key in ("severity", "enabled", *spec.params)}
    return checked


def _teams(reader: _Reader, value: Any, shell: Playbook) -> dict[str, TeamOverride]:
    path: _Path = ("teams",)
    example = "{mia@example.com: {rules: {no_activity: {days: 7}}}}"
    teams: dict[str, TeamOverride] = {}
    for email, override in (_mapping(reader, value, path, "`teams`", example) or {}).items():
        where = (*path, email)
        team = f"team {email}: "
        if "@" not in email:
            reader.error(where, f"team `{email}`: teams are keyed by the manager's email, like mia@example.com")
            continue
        override = _mapping(reader, override, where, f"team {email}", "{rules: {...}, stages: {...}}")
        if override is None:
            continue
        _known_keys(reader, override, where, ("rules", "stages", "leaderboard"), team)
        rules = _mapping(reader, override.get("rules"), (*where, "rules"), f"{team}`rules`", "{no_activity: {days: 7}}")
        stages = _mapping(reader, override.get("stages"), (*where, "stages"), f"{team}`stages`", "{Negotiation: {max_days: 10}}")
        max_days: dict[str, int | None] = {}
        for label, stage_settings in (stages or {}).items():
            at = (*where, "stages", label)
            name = _open_stage(reader, shell, label, at, f"team {email}")
            stage_settings = _mapping(reader, stage_settings, at, f"{team}stage `{label}`", "{max_days: 10}")
            if name is None or stage_settings is None:
                continue
            _known_keys(reader, stage_settings, at, ("max_days",), f"{team}stage `{label}`: ")
            days = stage_settings.get("max_days")
            if days is not None and (not _is_whole(days) or days < 1):
                reader.error((*at, "max_days"), f"{team}stage `{label}`: `max_days` must be a whole number of days, 1 or more")
            elif "max_days" in stage_settings:
                max_days[name] = days
        teams[email.strip().lower()] = TeamOverride(
            manager_email=email.strip().lower(),
            rules=MappingProxyType(
                {name: MappingProxyType(s) for name, s in _rule_settings(reader, rules or {}, (*where, "rules"), team).items()}
            ),
            stage_max_days=MappingProxyType(max_days),
            leaderboard=MappingProxyType(
                _leaderboard_changes(reader, override.get("leaderboard"), (*where, "leaderboard"), team)
            ),
        )
    return teams


def _time(reader: _Reader, settings: dict[str, Any], key: str, path: _Path, what: str, default: str) -> str:
    """A time of day, kept as zero-padded "HH:MM"."""
    if key not in settings:
        return default
    value = settings[key]
    if _is_whole(value):
        # YAML 1.1 reads an unquoted 9:30 as a base-60 number (570).
        reader.error((*path, key), f'{what}`{key}` must be a time in quotes, like "09:00" (unquoted, YAML reads it as a number)')
        return default
    try:
        hours, minutes = str(value).split(":")
        if len(minutes) != 2:
            raise ValueError
        return f"{clock(str(value)):%H:%M}"
    except ValueError:
        reader.error((*path, key), f'{what}`{key}` must be a time of day like "09:00", not {value!r}')
        return default


def _whole(reader: _Reader, settings: dict[str, Any], key: str, path: _Path, what: str, default: int, least: int) -> int:
    value = settings.get(key, default)
    if not _is_whole(value) or value < least:
        reader.error((*path, key), f"{what}`{key}` must be a whole number, {least} or more")
        return default
    return value


def _weekday(reader: _Reader, value: Any, path: _Path, what: str) -> str | None:
    """mon … sun (or the full name, any case)."""
    word = str(value).strip().lower()
    for short, full in zip(WEEKDAYS, _FULL_DAYS, strict=True):
        if word in (short, full):
            return short
    reader.error(path, f"{what} `{value}` is not a weekday (known: {_listed(WEEKDAYS)})")
    return None


_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _nudges(reader: _Reader, value: Any) -> NudgeSettings:
    path: _Path = ("nudges",)
    settings = _mapping(reader, value, path, "`nudges`", '{local_time: "09:00"}') or {}
    keys = ("local_time", "max_items", "daily_budget", "working_days", "quiet_hours", "renudge_days")
    _known_keys(reader, settings, path, keys, "nudges: ")
    default = NudgeSettings()
    days = settings.get("working_days", list(default.working_days))
    working: list[str] = []
    if not isinstance(days, list) or not days:
        reader.error((*path, "working_days"), "nudges: `working_days` must be a list of weekdays, like [mon, tue, wed, thu, fri]")
        days = []
    for position, day in enumerate(days):
        name = _weekday(reader, day, (*path, "working_days", position), "nudges: `working_days`:")
        if name is not None and name not in working:
            working.append(name)
    quiet_path = (*path, "quiet_hours")
    quiet = (
        _mapping(reader, settings.get("quiet_hours"), quiet_path, "nudges: `quiet_hours`", '{start: "19:00", end: "08:00"}') or {}
    )
    _known_keys(reader, quiet, quiet_path, ("start", "end"), "nudges: quiet_hours: ")
    return NudgeSettings(
        local_time=_time(reader, settings, "local_time", path, "nudges: ", default.local_time),
        max_items=_whole(reader, settings, "max_items", path, "nudges: ", default.max_items, 1),
        daily_budget=_whole(reader, settings, "daily_budget", path, "nudges: ", default.daily_budget, 0),
        working_days=tuple(sorted(working, key=WEEKDAYS.index)),
        quiet_hours=QuietHours(
            _time(reader, quiet, "start", quiet_path, "nudges: quiet_hours: ", default.quiet_hours.start),
            _time(reader, quiet, "end", quiet_path, "nudges: quiet_hours: ", default.quiet_hours.end),
        ),
        renudge_days=_whole(reader, settings, "renudge_days", path, "nudges: ", default.renudge_days, 1),
    )


def _digest(reader: _Reader, value: Any) -> DigestSettings:
    path: _Path = ("digest",)
    settings = _mapping(reader, value, path, "`digest`", '{weekday: mon, local_time: "08:00"}') or {}
    _known_keys(reader, settings, path, ("weekday", "local_time"), "digest: ")
    default = DigestSettings()
    weekday = _weekday(reader, settings.get("weekday", default.weekday), (*path, "weekday"), "digest: `weekday`:")
    return DigestSettings(
        weekday=weekday or default.weekday,
        local_time=_time(reader, settings, "local_time", path, "digest: ", default.local_time),
    )


def _recovery(reader: _Reader, value: Any) -> RecoverySettings:
    path: _Path = ("recovery",)
    settings = _mapping(reader, value, path, "`recovery`", "{projected_below: 0.8}") or {}
    _known_keys(reader, settings, path, ("projected_below", "min_period_left", "checkin_every_days"), "recovery: ")
    default = RecoverySettings()
    shares = {}
    for key, low_open in (("projected_below", True), ("min_period_left", False)):
        share = settings.get(key, getattr(default, key))
        if not _is_number(share) or not (0 < share <= 1 if low_open else 0 <= share < 1):
            bounds = "above 0 and at most 1" if low_open else "from 0 up to (not including) 1"
            reader.error((*path, key), f"recovery: `{key}` must be a share {bounds}, like 0.8")
            share = getattr(default, key)
        shares[key] = float(share)
    return RecoverySettings(
        **shares,
        checkin_every_days=_whole(reader, settings, "checkin_every_days", path, "recovery: ", default.checkin_every_days, 1),
    )


def _attention(reader: _Reader, value: Any) -> AttentionSettings:
    path: _Path = ("attention",)
    settings = _mapping(reader, value, path, "`attention`", "{pace_below: 0.8, process_below: 0.6}") or {}
    _known_keys(reader, settings, path, ("pace_below", "process_below"), "attention: ")
    default = AttentionSettings()
    shares = {}
    for key in ("pace_below", "process_below"):
        share = settings.get(key, getattr(default, key))
        # Pace can run far ahead of 100%: a threshold up to 2 (twice the expected pace) is allowed.
        upper = 2 if key == "pace_below" else 1
        if not _is_number(share) or not 0 < share <= upper:
            reader.error(
                (*path, key), f"attention: `{key}` must be a share above 0 and at most {upper}, like {getattr(default, key)}"
            )
            share = getattr(default, key)
        shares[key] = float(share)
    return AttentionSettings(**shares)


# A channel id, never a name: resolving "#sales" needs the channels:read scope coachbot does not ask for.
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")
LEADERBOARD_KEYS = ("enabled", "where", "channel", "show_money", "top")


def _leaderboard_changes(reader: _Reader, value: Any, path: _Path, team: str) -> dict[str, Any]:
    """The leaderboard settings as written (checked; a mistake leaves that setting out)."""
    what = f"{team}leaderboard: "
    example = "{enabled: true, where: channel, channel: C0123456789}"
    settings = _mapping(reader, value, path, f"{team}`leaderboard`", example) or {}
    _known_keys(reader, settings, path, LEADERBOARD_KEYS, what)
    checked: dict[str, Any] = {}
    for key in ("enabled", "show_money"):
        if key in settings:
            if isinstance(settings[key], bool):
                checked[key] = settings[key]
            else:
                reader.error((*path, key), f"{what}`{key}` must be true or false, not {settings[key]!r}")
    if "where" in settings:
        if settings["where"] in LEADERBOARD_PLACES:
            checked["where"] = settings["where"]
        else:
            reader.error((*path, "where"), f"{what}`where` must be channel or digest, not {settings['where']!r}")
    if "channel" in settings:
        channel = settings["channel"]
        if isinstance(channel, str) and _CHANNEL_ID.fullmatch(channel.strip()):
            checked["channel"] = channel.strip()
        else:
            reader.error((*path, "channel"), (
                f"{what}`channel` must be a Slack channel id like C0123456789 (the channel's details show it at the "
                f"bottom), not {channel!r}; invite coachbot to the channel too"
            ))  # fmt: skip
    if "top" in settings:
        top = settings["top"]
        if _is_whole(top) and 1 <= top <= LEADERBOARD_MOST:
            checked["top"] = top
        else:
            reader.error((*path, "top"), f"{what}`top` must be a whole number from 1 to {LEADERBOARD_MOST}")
    return checked


def _leaderboard(reader: _Reader, value: Any) -> LeaderboardSettings:
    path: _Path = ("leaderboard",)
    board = dataclasses.replace(LeaderboardSettings(), **_leaderboard_changes(reader, value, path, ""))
    _needs_channel(reader, board, path, "")
    return board


def _needs_channel(reader: _Reader, board: LeaderboardSettings, path: _Path, team: str) -> None:
    if board.enabled and board.where == "channel" and board.channel is None:
        reader.error(path, f"{team}leaderboard: `where: channel` needs a `channel`, like C0123456789")


def _check_team_leaderboards(reader: _Reader, playbook: Playbook) -> None:
    """A team posting to a channel needs one, of its own or the playbook's."""
    for email, override in playbook.teams.items():
        if override.leaderboard:
            _needs_channel(reader, playbook.leaderboard_for(email), ("teams", email, "leaderboard"), f"team {email}: ")
