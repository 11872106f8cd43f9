"""One question, one read model: `/myperf`, `/teamperf`, the App Home and the weekly digest show the
same figures for the same reps at the same moment, as each surface draws them."""

from __future__ import annotations

import re

from bot.blocks import to_dicts
from bot.blocks.digest import digest_blocks
from bot.blocks.format import percent
from bot.blocks.home import home_view
from bot.blocks.team import team_blocks
from bot.coaching.digest import build_digest
from bot.coaching.gaps import scan_gaps
from bot.coaching.home import home_for
from bot.coaching.service import scorecard_for
from bot.models import Person
from tests.coaching.test_team import PLAYBOOK, TIMEZONE, person, seed_org, view

SETTINGS = {"default_timezone": TIMEZONE, "default_currency": "USD"}


def table_lines(texts: list[str], name: str) -> list[str]:
    """The lines of the monospaced tables in `texts` that begin with `name`."""
    return [line for text in texts for line in text.strip("`").splitlines() if line.startswith(name)]


def percentages(line: str) -> list[str]:
    return re.findall(r"\d+%|–", line)


def texts_of(blocks: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [block["text"]["text"] for block in blocks if block.get("type") == "section"]


def test_myperf_teamperf_the_app_home_and_the_digest_show_the_same_figures(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now, default_timezone=TIMEZONE)
    with session_factory() as session:
        dana = person(session, ids["dana"])
        teamperf = view(session, ids["dana"], now)
        home = home_for(session, dana, now, PLAYBOOK, **SETTINGS).team
        digest = build_digest(session, dana, PLAYBOOK, now, **SETTINGS)
        assert home is not None
        surfaces = {
            "/teamperf": texts_of(to_dicts(team_blocks(teamperf))),
            "App Home": texts_of(home_view(home_for(session, dana, now, PLAYBOOK, **SETTINGS))["blocks"]),
            "digest": texts_of(to_dicts(digest_blocks(digest))),
        }
        reps = [session.get(Person, ids[key]) for key in ("riley", "sam", "tess")]
        for rep in reps:
            assert rep is not None
            card = scorecard_for(session, rep, "quarter", now=now, playbook=PLAYBOOK, **SETTINGS)
            mine = (card.attainment, card.pace, card.projected_attainment, card.adherence)
            for rows in (teamperf.rows, home.rows, digest.rows):
                [row] = [row for row in rows if row.person_id == rep.id]
                assert (row.attainment, row.pace, row.projected_attainment, row.adherence) == mine, rep.name
                assert row.attention == next(r for r in teamperf.rows if r.person_id == rep.id).attention
            shown = [percent(share) for share in mine]
            for surface, texts in surfaces.items():
                [line] = table_lines(texts, rep.name)
                assert percentages(line)[:4] == shown, (surface, rep.name, line)
    # Sam (EUR quota, an overdue action, an open plan) and Tess (no quota, a proposed plan) differ
    # from Riley in every way the rules care about, so the rows are worth comparing.
    assert {row.name: row.plan for row in teamperf.rows} == {"Riley Rep": None, "Sam Rep": "open", "Tess Rep": "proposed"}


def test_myperf_applies_the_reps_team_overrides_as_the_gap_scan_does(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    from bot.coaching.playbook import parse_playbook
    from tests.coaching.test_gaps import load_playbook_text
    from tests.support.personas import MIA, seed_team

    ids = seed_team(session_factory)
    # Mia's team does not count a next step's absence against a deal.
    team = parse_playbook(
        load_playbook_text().replace("teams: {}", f"teams:\n  {MIA}:\n    rules: {{next_step_missing: {{enabled: false}}}}")
    )
    scan_gaps(session_factory, team, now, default_timezone=TIMEZONE)
    with session_factory() as session:
        riley = session.get(Person, ids["riley"])
        assert riley is not None
        with_overrides = scorecard_for(session, riley, "quarter", now=now, playbook=team, **SETTINGS)
        without = scorecard_for(session, riley, "quarter", now=now, playbook=PLAYBOOK, **SETTINGS)
        stored = {row.person_id: row.adherence for row in view(session, ids["mia"], now).rows}
    assert "next_step_missing" not in {reason.code for gaps in with_overrides.deal_gaps for reason in gaps.reasons}
    assert "next_step_missing" in {reason.code for gaps in without.deal_gaps for reason in gaps.reasons}
    # The scan stored the gaps with the team's overrides, and /myperf now counts the same ones.
    assert with_overrides.adherence == stored[ids["riley"]]
