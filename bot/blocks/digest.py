"""The weekly digest message, within Block Kit's limits (50 blocks, 3,000 characters a section)
whatever the team's size: a manager gets the team table and each rep's week; a leader over
several managers gets each team's roll-up first, then the people who need attention across the org.
What does not fit is counted ("…and 12 more") with where to see it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk.models.blocks import (
    Block,
    BlockElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks.agenda import one_on_one_button
from bot.blocks.format import clip, escape, percent, short_date

if TYPE_CHECKING:
    from bot.coaching.digest import Digest, GoalMove, RepWeek
    from bot.coaching.discipline import Discipline
    from bot.coaching.gaps import SnoozedGap
    from bot.coaching.rollup import TeamRollup
    from bot.coaching.team import TeamRow

MAX_BLOCKS = 50  # Slack's limit for one message
SECTION_CHARS = 3000  # Slack's limit for a section's text
ROWS_PER_SECTION = 20  # a monospaced table of 20 rows stays well under 3,000 characters
MAX_TABLE_ROWS = 200  # 10 table sections, then a summary line
MAX_TEAM_ROWS = 60  # a leader's roll-up: 3 table sections
SNOOZES_NAMED = 10
PAUSED_NAMED = 20
REP_SNOOZES_NAMED = 3
REP_GOALS_NAMED = 3
SEE_EVERYONE = "`/teamperf` lists everyone; `/teamperf @rep` shows one rep's full scorecard"

ANSWER_WORDS = {"on_track": ":large_green_circle: on track", "at_risk": ":large_yellow_circle: at risk",
                "need_help": ":red_circle: needs help"}  # fmt: skip


def _section(text: str, accessory: BlockElement | None = None) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_CHARS)), accessory=accessory)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, SECTION_CHARS))])


def _hours(hours: float | None) -> str:
    return "–" if hours is None else f"{hours:.0f} h"


def _row(row: TeamRow) -> str:
    goals = f"{row.goals_open} ({percent(row.goals_progress)})" if row.goals_open else "–"
    plan = {"open": "plan", "proposed": "plan?"}.get(row.plan or "", "")
    paused = f" paused to {short_date(row.paused_until)}" if row.paused_until else ""
    return (
        f"{clip(row.name, 18):<18} {percent(row.attainment):>5} {percent(row.pace):>5} {percent(row.projected_attainment):>5} "
        f"{percent(row.adherence):>6} {goals:>9} {row.overdue_actions or '':>3} {plan}{paused}"
    )


HEADER = f"{'rep':<18} {'won':>5} {'pace':>5} {'proj':>5} {'process':>6} {'goals':>9} {'od':>3} plan"
TEAM_HEADER = (
    f"{'team':<16} {'won':>5} {'pace':>5} {'proj':>5} {'win':>5} {'cycle':>5} {'cover':>5} | "
    f"{'process':>7} {'fix':>5} {'acted':>5}"
)


def _team_row(team: TeamRollup) -> str:
    cycle = "–" if team.sales_cycle_days is None else f"{team.sales_cycle_days:.0f} d"
    cover = "–" if team.coverage is None else f"{team.coverage:.1f}x"
    week = team.discipline
    return (
        f"{clip(team.name, 16):<16} {percent(team.attainment):>5} {percent(team.pace):>5} {percent(team.projected_attainment):>5} "
        f"{percent(team.win_rate):>5} {cycle:>5} {cover:>5} | {percent(team.adherence):>7} "
        f"{_hours(week.median_hours_to_fix):>5} {percent(week.nudged_fixed_share):>5}"
    )


def _week_of(digest: Digest) -> str:
    return f"{digest.week_of:%b} {digest.week_of.day}"


def digest_text(digest: Digest) -> str:
    behind = sum(1 for row in digest.rows if row.attention)
    if digest.is_leader:
        return (
            f"Your org, week of {_week_of(digest)}: {len(digest.rows)} reps in {len(digest.teams)} teams, "
            f"{behind} need attention."
        )
    return f"Your team, week of {_week_of(digest)}: {len(digest.rows)} reps, {behind} need attention."


def week_line(week: Discipline) -> str:
    """Gaps fixed and opened, the median time to fix and the nudges acted on, in one line."""
    if week.gaps_fixed:
        fixed = f"{week.gaps_fixed} process gap{'s' if week.gaps_fixed != 1 else ''} fixed (median {_hours(week.median_hours_to_fix)} to fix)"
    else:
        fixed = "no process gaps fixed"
    line = f"{fixed}, {week.gaps_opened} opened"
    if week.nudged:
        line += (
            f"; {week.nudged_fixed_in_two_days} of {week.nudged} nudged "
            f"fixed within two days ({percent(week.nudged_fixed_share)})"
        )
    return line


def _snooze_line(snooze: SnoozedGap, *, with_rep: bool) -> str:
    what = escape(clip(snooze.detail or snooze.rule.replace("_", " "), 80))
    why = f": “{escape(clip(' '.join((snooze.reason or '').split()), 200))}”" if snooze.reason else ""
    rep = f"*{escape(snooze.rep_name)}* · " if with_rep else ""
    return f"{rep}{escape(clip(snooze.deal_name, 60))}, {what} · until {short_date(snooze.snoozed_until)}{why}"


def _listed(head: str, lines: list[str], more: str, *, named: int, separator: str = "\n", end: str = "") -> str:
    """`head` and up to `named` of `lines`, as many as fit in a section with the "…and N more" line
    that counts the rest (`more` formatted with the count), so clipping never hides how many are left."""
    text = head
    for shown, line in enumerate(lines[:named]):
        rest = len(lines) - shown
        candidate = text + (separator if shown else "") + line
        # Room for this line, and for the count of those after it should the next one not fit.
        if len(candidate) + len(more.format(rest - 1)) + len(end) + 2 > SECTION_CHARS:
            return text + (separator if shown else "") + more.format(rest) + end
        text = candidate
    if len(lines) > named:
        text += (separator if named else "") + more.format(len(lines) - named)
    return text + end


def snoozes_text(digest: Digest) -> str:
    """The gaps the team snoozed and why, in the rep's own words: a snooze is a promise to look again."""
    snoozes = digest.snoozes
    lines = [f"• {_snooze_line(snooze, with_rep=True)}" for snooze in snoozes]
    return _listed(f"*Snoozed by your reps* ({len(snoozes)})\n", lines, "…and {} more (each rep's Home lists theirs).",
                   named=SNOOZES_NAMED)  # fmt: skip


def paused_text(digest: Digest) -> str:
    paused = digest.paused
    names = [f"{escape(row.name)} (to {short_date(row.paused_until)})" for row in paused if row.paused_until]
    return _listed(f"*Paused* ({len(paused)}): ", names, "and {} more", named=PAUSED_NAMED, separator=", ",
                   end=". They get no nudges until then.")  # fmt: skip


def _goal_move(move: GoalMove) -> str:
    goal = f"“{escape(clip(f'{move.competency}: {move.description}', 80))}”"
    if move.status == "moved" and move.progress_before is not None:
        return f"{goal} {percent(move.progress_before)} → {percent(move.progress)}"
    return f"{move.status} {goal} ({percent(move.progress)})"


def rep_week_text(week: RepWeek, *, team: str | None = None, reasons: bool = False) -> str:
    """One rep's week: what changed in their process, their goals, check-ins and snoozes."""
    row = week.row
    head = f"*{escape(row.name)}*"
    if team:
        head += f" ({escape(team)})"
    if reasons and row.attention:
        head += f": {escape('; '.join(row.attention))}"
    if row.paused_until:
        head += f" · paused to {short_date(row.paused_until)}"
    lines = [head, f"Since last week: {week_line(week.discipline)} · process now {percent(week.discipline.adherence)}"]
    if week.goals:
        moves = [_goal_move(move) for move in week.goals[:REP_GOALS_NAMED]]
        more = f", and {len(week.goals) - REP_GOALS_NAMED} more" if len(week.goals) > REP_GOALS_NAMED else ""
        lines.append(f"Goals: {'; '.join(moves)}{more}")
    for checkin in week.checkins[-2:]:
        note = f": “{escape(clip(' '.join(checkin.note.split()), 200))}”" if checkin.note and checkin.note.strip() else ""
        lines.append(f"Plan check-in: {ANSWER_WORDS.get(checkin.answer, checkin.answer)}{note}")
    for snooze in week.snoozes[:REP_SNOOZES_NAMED]:
        lines.append(f"Snoozed: {_snooze_line(snooze, with_rep=False)}")
    if len(week.snoozes) > REP_SNOOZES_NAMED:
        lines.append(f"…and {len(week.snoozes) - REP_SNOOZES_NAMED} more snoozed.")
    return clip("\n".join(lines), SECTION_CHARS)


def rep_week_section(
    week: RepWeek, *, team: str | None = None, reasons: bool = False, accessory: BlockElement | None = None
) -> SectionBlock:
    """One rep's week as a section, which may carry an accessory (a button beside the rep)."""
    return _section(rep_week_text(week, team=team, reasons=reasons), accessory)


def _summary(digest: Digest) -> SectionBlock:
    return _section(
        f"*{digest.team.period.label}*, {percent(digest.team.elapsed_share)} gone. "
        f"*Since last week:* {week_line(digest.changes)}."
    )


def _rep_weeks(
    blocks: list[Block], weeks: tuple[RepWeek, ...], tail: list[Block], digest: Digest, *, more: str, reasons: bool
) -> None:
    """Each rep's week, as many as fit under Slack's 50 blocks beside `tail`, then how many more."""
    room = MAX_BLOCKS - len(blocks) - len(tail)
    shown = weeks if len(weeks) <= room else weeks[: max(room - 1, 0)]
    for week in shown:
        # Beside each rep, their 1:1 agenda one click away (privately, for whoever clicks).
        button = one_on_one_button(week.person_id, week.name)
        blocks.append(rep_week_section(week, team=digest.team_of(week.person_id), reasons=reasons, accessory=button))
    if len(shown) < len(weeks):
        blocks.append(_context(f"…and {len(weeks) - len(shown)} more {more}: {SEE_EVERYONE}."))


def digest_blocks(digest: Digest) -> list[Block]:
    return leader_blocks(digest) if digest.is_leader else team_digest_blocks(digest)


def team_digest_blocks(digest: Digest) -> list[Block]:
    """A manager's digest: the team, who needs attention, snoozes, the table, then each rep's week."""
    blocks: list[Block] = [HeaderBlock(text=clip(f"Your team, week of {_week_of(digest)}", 150)), _summary(digest)]
    if digest.attention:
        lines = [f"• *{escape(name)}*: {escape('; '.join(reasons))}" for name, reasons in digest.attention]
        blocks.append(_section(_listed("*Who needs coaching attention*\n", lines, "…and {} more (see the table).", named=10)))
    else:
        blocks.append(_section("*Nobody needs special attention this week.* :tada:"))
    if digest.snoozes:
        blocks.append(_section(snoozes_text(digest)))
    blocks.append(DividerBlock())
    rows = list(digest.rows[:MAX_TABLE_ROWS])
    for start in range(0, len(rows), ROWS_PER_SECTION):
        chunk = [_row(row) for row in rows[start : start + ROWS_PER_SECTION]]
        table = "\n".join([HEADER, *chunk] if start == 0 else chunk)
        blocks.append(_section(f"```{escape(table)}```"))
    if len(digest.rows) > MAX_TABLE_ROWS:
        blocks.append(_context(f"{len(digest.rows) - MAX_TABLE_ROWS} more reps not shown: {SEE_EVERYONE}."))
    blocks.append(_context("won, pace, proj: of quota this quarter · process: open deals with no gap · od: overdue actions"))
    blocks.append(DividerBlock())
    _rep_weeks(blocks, digest.weeks, [], digest, more="reps", reasons=False)
    return blocks


def leader_blocks(digest: Digest) -> list[Block]:
    """A leader's digest: each team's roll-up first, then who needs attention across the org."""
    teams = digest.teams
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Your org, week of {_week_of(digest)}", 150)),
        _section(
            f"*{digest.team.period.label}*, {percent(digest.team.elapsed_share)} gone. {len(digest.rows)} reps in "
            f"{len(teams)} teams. *Since last week:* {week_line(digest.changes)}."
        ),
    ]
    shown = teams[:MAX_TEAM_ROWS]
    for start in range(0, len(shown), ROWS_PER_SECTION):
        chunk = [_team_row(team) for team in shown[start : start + ROWS_PER_SECTION]]
        table = "\n".join([TEAM_HEADER, *chunk] if start == 0 else chunk)
        title = "*By team*: the number | the process\n" if start == 0 else ""
        blocks.append(_section(f"{title}```{escape(table)}```"))
    if len(teams) > MAX_TEAM_ROWS:
        blocks.append(_context(f"…and {len(teams) - MAX_TEAM_ROWS} more teams: each manager's own digest has theirs."))
    blocks.append(
        _context(
            "won, pace, proj: of quota this quarter · win: deals won of closed · cycle: days to win · "
            "cover: pipeline closing this quarter ÷ gap to quota · process: open deals with no gap · "
            "fix: median time to fix this week · acted: nudged gaps fixed within two days"
        )
    )
    tail: list[Block] = []
    if digest.snoozes:
        tail.append(_section(snoozes_text(digest)))
    if digest.paused:
        tail.append(_section(paused_text(digest)))
    blocks.append(DividerBlock())
    attention = tuple(week for week in digest.weeks if week.row.attention)
    if attention:
        blocks.append(_section(f"*Who needs coaching attention across the org* ({len(attention)})"))
        _rep_weeks(blocks, attention, tail, digest, more="need attention", reasons=True)
    else:
        blocks.append(_section("*Nobody needs special attention this week.* :tada:"))
    return blocks + tail
