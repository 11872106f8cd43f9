"""The playbook as data: what the default says, what a team changes, and mistakes named by line."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from bot.coaching.playbook import RULE_SPECS, Playbook, PlaybookError, StageRule, load_playbook, parse_playbook

KNOWN_RULES = ", ".join(RULE_SPECS)
STAGES = """\
stages:
  - {name: Discovery, probability: 0.25, max_days: 21}
  - {name: Negotiation, probability: 0.8, max_days: 14, aliases: [Contract Sent]}
  - {name: Closed Won, probability: 1, closed: true, won: true}
"""


def test_the_default_playbook_knows_common_crm_stage_names() -> None:
    playbook = load_playbook()
    assert playbook.stage("closedwon").name == "Closed Won"  # type: ignore[union-attr]
    assert playbook.stage(" WON ").won  # type: ignore[union-attr]
    assert playbook.stage("Engaging").name == "Qualification"  # type: ignore[union-attr]
    assert playbook.stage("Legal review") is None


def test_the_default_playbook_sets_every_knob() -> None:
    playbook = load_playbook()
    assert {name: (rule.severity, rule.enabled, dict(rule.params)) for name, rule in playbook.rules.items()} == {
        "next_step_missing": ("high", True, {}),
        "next_step_overdue": ("medium", True, {}),
        "close_date_missing": ("high", True, {}),
        "close_date_past": ("high", True, {}),
        "stale_stage": ("medium", True, {}),
        "no_activity": ("medium", True, {"days": 14}),
        "missing_field": ("low", True, {}),
        "single_product_line": ("low", True, {"min_deals": 3}),
    }
    assert dict(playbook.required_fields) == {"amount": "Qualification", "product_line": "Proposal"}
    assert playbook.required_fields_for("Prospecting") == ()
    assert playbook.required_fields_for("Demo") == ("amount",)
    assert playbook.required_fields_for("contractsent") == ("amount", "product_line")
    assert playbook.required_fields_for("Closed Won") == ()
    nudges = playbook.nudges
    assert (nudges.local_time, nudges.max_items, nudges.daily_budget, nudges.renudge_days) == ("09:00", 3, 1, 3)
    assert nudges.working_days == ("mon", "tue", "wed", "thu", "fri")
    assert (nudges.quiet_hours.start, nudges.quiet_hours.end) == ("19:00", "08:00")
    assert nudges.quiet_hours.contains(dt.time(22, 30)) and nudges.quiet_hours.contains(dt.time(7, 59))
    assert not nudges.quiet_hours.contains(dt.time(8, 0))
    assert nudges.is_working_day(dt.date(2026, 11, 27)) and not nudges.is_working_day(dt.date(2026, 11, 28))
    assert (playbook.digest.weekday, playbook.digest.weekday_number, playbook.digest.local_time) == ("mon", 0, "08:00")
    assert (playbook.recovery.projected_below, playbook.recovery.min_period_left, playbook.recovery.checkin_every_days) == (
        0.8,
        0.25,
        7,
    )
    assert dict(playbook.teams) == {}


def test_a_playbook_with_only_stages_runs_every_rule_with_its_defaults() -> None:
    playbook = parse_playbook(STAGES, "old.yml")
    assert [rule.name for rule in playbook.rules.values() if rule.enabled] == list(RULE_SPECS)
    assert playbook.rules["no_activity"].params["days"] == 14
    assert dict(playbook.required_fields) == {}
    assert playbook.nudges.local_time == "09:00"


def test_rules_settings_and_schedules_are_read_from_the_file() -> None:
    playbook = parse_playbook(
        STAGES
        + textwrap.dedent("""\
            required_fields: {account_name: Discovery, amount: contract sent}
            rules:
              no_activity: {days: 7, severity: high}
              single_product_line: {enabled: false}
            nudges:
              local_time: "8:30"
              working_days: [Monday, tue]
              quiet_hours: {start: "20:00", end: "07:00"}
              daily_budget: 2
              renudge_days: 5
            digest: {weekday: fri, local_time: "16:00"}
            recovery: {projected_below: 0.7, min_period_left: 0, checkin_every_days: 14}
        """),
        "team.yml",
    )
    assert dict(playbook.required_fields) == {"account_name": "Discovery", "amount": "Negotiation"}
    assert (playbook.rules["no_activity"].severity, playbook.rules["no_activity"].params["days"]) == ("high", 7)
    assert playbook.rules["single_product_line"].enabled is False
    assert playbook.rules["stale_stage"].severity == "medium"
    assert (playbook.nudges.local_time, playbook.nudges.working_days) == ("08:30", ("mon", "tue"))  # quoted 8:30 is fine
    assert playbook.nudges.quiet_hours.end == "07:00"
    assert (playbook.nudges.daily_budget, playbook.nudges.renudge_days) == (2, 5)
    assert (playbook.digest.weekday_number, playbook.digest.local_time) == (4, "16:00")
    assert (playbook.recovery.projected_below, playbook.recovery.min_period_left, playbook.recovery.checkin_every_days) == (
        0.7,
        0.0,
        14,
    )


TEAMS = STAGES + textwrap.dedent("""\
    rules:
      no_activity: {days: 14, severity: medium}
    teams:
      VP@example.com:
        rules: {no_activity: {days: 10}, missing_field: {enabled: false}}
        stages: {Negotiation: {max_days: 30}}
      mia@example.com:
        rules: {no_activity: {days: 7, severity: high}}
        stages: {contract sent: {max_days: 10}}
""")


def test_a_team_override_applies_to_reps_under_that_manager_and_the_nearest_manager_wins() -> None:
    playbook = parse_playbook(TEAMS, "teams.yml")
    # Riley reports to Mia, who reports to the VP.
    riley = playbook.for_team(["Mia@Example.com", "vp@example.com"])
    assert (riley.rules["no_activity"].params["days"], riley.rules["no_activity"].severity) == (7, "high")
    assert riley.rules["missing_field"].enabled is False  # from the VP, whom Mia did not contradict
    assert riley.stage("Negotiation").max_days == 10  # type: ignore[union-attr]
    assert riley.stage("Discovery").max_days == 21  # type: ignore[union-attr]
    # Sam reports straight to the VP.
    sam = playbook.for_team(["vp@example.com"])
    assert (sam.rules["no_activity"].params["days"], sam.rules["no_activity"].severity) == (10, "medium")
    assert sam.stage("Contract Sent").max_days == 30  # type: ignore[union-attr]
    # Olly's manager has no override: the playbook as written.
    assert playbook.for_team(["other@example.com"]) is playbook
    assert playbook.for_team([]).rules["no_activity"].params["days"] == 14
    assert playbook.stage("Negotiation").max_days == 14  # type: ignore[union-attr]


def test_a_playbook_built_in_code_still_works() -> None:
    playbook = Playbook(stages=(StageRule("Demo", 0.4, 14),))
    assert playbook.stage("demo").max_days == 14  # type: ignore[union-attr]
    assert playbook.rules["next_step_missing"].severity == "high"


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ("{name: Won, probability: 1, closed: true, won: 'false'}", "`won` must be true or false, not 'false'"),
        ("{name: Won, probability: 1, aliases: closedwon}", "`aliases` must be a list, like [closedwon, Won]"),
        ("{name: Demo, probability: 40}", "`probability` must be a number from 0 to 1"),
        ("{name: Demo, probability: 0.4, max_days: 0}", "`max_days` must be a whole number of days, 1 or more"),
        ("{probability: 0.4}", "stage 1: needs a `name`"),
    ],
)
def test_a_playbook_value_that_would_silently_change_results_is_refused(stage: str, message: str) -> None:
    with pytest.raises(PlaybookError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_playbook(f"stages:\n  - {stage}\n", "team.yml")


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(PlaybookError, match="team.yml line 3: not valid YAML"):
        parse_playbook("stages:\n  - name: Demo\n\tprobability: 0.4\n", "team.yml")


# Each mistake follows STAGES (4 lines), so it starts on line 5.
@pytest.mark.parametrize(
    ("mistake", "error"),
    [
        ("rules:\n  no_activty: {days: 3}", f"team.yml line 6: rule `no_activty` is unknown (known: {KNOWN_RULES})"),
        (
            "rules:\n  no_activity:\n    severity: urgent",
            "team.yml line 7: rule `no_activity`: `severity` must be high, medium or low, not 'urgent'",
        ),
        (
            "rules:\n  stale_stage: {enabled: 'no'}",
            "team.yml line 6: rule `stale_stage`: `enabled` must be true or false, not 'no'",
        ),
        ("rules:\n  no_activity: {days: 2.5}", "team.yml line 6: rule `no_activity`: `days` must be a whole number, 1 or more"),
        ("rules:\n  stale_stage: {days: 3}", "team.yml line 6: rule `stale_stage`: `days` is unknown (known: severity, enabled)"),
        ("rules: [no_activity]", "team.yml line 5: `rules` must be a mapping, like {no_activity: {days: 14}}"),
        (
            "rule:\n  no_activity: {}",
            "team.yml line 5: `rule` is unknown (known: stages, product_lines, required_fields, rules, teams, nudges, digest, recovery, attention, leaderboard)",
        ),
        ("rules: {}\nrules: {}", "team.yml line 6: `rules` appears twice (first on line 5)"),
        (
            "required_fields:\n  amonut: Discovery",
            "team.yml line 6: required field `amonut` is unknown (known: next_step, next_step_date, amount, close_date, product_line, "
            "product_name, account_name, last_activity_at; custom CRM properties are not stored on deals yet)",
        ),
        ("required_fields:\n  amount: Legal", "team.yml line 6: required field `amount`: stage `Legal` is not in `stages`"),
        (
            "required_fields:\n  amount: Closed Won",
            "team.yml line 6: required field `amount`: stage `Closed Won` is closed; only open deals are checked",
        ),
        ("teams:\n  mia: {}", "team.yml line 6: team `mia`: teams are keyed by the manager's email, like mia@example.com"),
        (
            "teams:\n  mia@example.com:\n    rules: {no_activty: {}}",
            f"team.yml line 7: team mia@example.com: rule `no_activty` is unknown (known: {KNOWN_RULES})",
        ),
        (
            "teams:\n  mia@example.com:\n    stages:\n      Legal: {max_days: 3}",
            "team.yml line 8: team mia@example.com: stage `Legal` is not in `stages`",
        ),
        (
            "teams:\n  mia@example.com:\n    stages:\n      Discovery: {max_days: -1}",
            "team.yml line 8: team mia@example.com: stage `Discovery`: `max_days` must be a whole number of days, 1 or more",
        ),
        (
            "teams:\n  mia@example.com:\n    nudges: {}",
            "team.yml line 7: team mia@example.com: `nudges` is unknown (known: rules, stages, leaderboard)",
        ),
        (
            "nudges:\n  local_time: 9:30",
            'team.yml line 6: nudges: `local_time` must be a time in quotes, like "09:00" (unquoted, YAML reads it as a number)',
        ),
        ("nudges:\n  local_time: 9am", "team.yml line 6: nudges: `local_time` must be a time of day like \"09:00\", not '9am'"),
        (
            "nudges:\n  working_days: [mon, funday]",
            "team.yml line 6: nudges: `working_days`: `funday` is not a weekday (known: mon, tue, wed, thu, fri, sat, sun)",
        ),
        ("nudges:\n  max_items: 0", "team.yml line 6: nudges: `max_items` must be a whole number, 1 or more"),
        ("nudges:\n  daily_budget: -1", "team.yml line 6: nudges: `daily_budget` must be a whole number, 0 or more"),
        ("nudges:\n  renudge_days: 0", "team.yml line 6: nudges: `renudge_days` must be a whole number, 1 or more"),
        (
            'nudges:\n  quiet_hours: {start: "19:00", stop: "08:00"}',
            "team.yml line 6: nudges: quiet_hours: `stop` is unknown (known: start, end)",
        ),
        (
            "digest:\n  weekday: someday",
            "team.yml line 6: digest: `weekday`: `someday` is not a weekday (known: mon, tue, wed, thu, fri, sat, sun)",
        ),
        (
            "recovery:\n  projected_below: 80",
            "team.yml line 6: recovery: `projected_below` must be a share above 0 and at most 1, like 0.8",
        ),
        ("product_lines: Core", "team.yml line 5: `product_lines` must be a list, like [Core, Analytics]"),
    ],
)
def test_each_kind_of_mistake_is_named_with_its_file_and_line(mistake: str, error: str) -> None:
    with pytest.raises(PlaybookError) as raised:
        parse_playbook(STAGES + mistake + "\n", "team.yml")
    assert raised.value.errors == (error,)


def test_stage_mistakes_name_their_line_too() -> None:
    text = textwrap.dedent("""\
        stages:
          - {name: Demo, probability: 0.4, max_days: 10}
          - name: Proposal
            probability: 0.6
            max_day: 21
          - {name: Won, probability: 1, won: true, aliases: [demo]}
    """)
    with pytest.raises(PlaybookError) as raised:
        parse_playbook(text, "team.yml")
    assert raised.value.errors == (
        "team.yml line 5: stage 2 (Proposal): `max_day` is unknown (known: name, probability, max_days, closed, won, aliases)",
        "team.yml line 6: stage 3 (Won): a won stage must also say `closed: true`",
        "team.yml line 6: stage 3 (Won): `demo` already names stage Demo",
    )


def test_every_mistake_in_a_file_is_reported_at_once_in_file_order() -> None:
    text = STAGES + "nudges: {max_items: 0}\nrules:\n  no_activty: {}\nextra: 1\n"
    with pytest.raises(PlaybookError) as raised:
        parse_playbook(text, "team.yml")
    assert [error.split(":")[0] for error in raised.value.errors] == ["team.yml line 5", "team.yml line 7", "team.yml line 8"]
    assert str(raised.value) == "\n".join(raised.value.errors)
