"""The `/teamperf` team view: a summary, who needs attention and why, then a compact table.

Slack's limits shape it: at most 50 blocks a message, 3,000 characters a section, 150 a header.
The table is monospaced, in sections of at most 20 rows (ROWS_PER_SECTION, as in the digest),
each checked against the section limit; after MAX_TABLE_ROWS rows, or when the blocks run out,
the rest is one line ("…and N more reps"). Rows come sorted with who needs attention first, so
what is left out is what needs attention least.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks.digest import MAX_TABLE_ROWS, ROWS_PER_SECTION
from bot.blocks.format import clip, escape, money, percent, short_date
from bot.coaching.team import TeamPerformance, TeamRow
from bot.slack_ids import TEAMPERF_COMMAND

MAX_BLOCKS = 50  # Slack's limit per message
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
ATTENTION_NAMED = 10  # reps listed by name with their reasons; the table has the rest
NAME_WIDTH = 18

TABLE_HEADER = f"{'rep':<{NAME_WIDTH}} {'won':>5} {'pace':>5} {'proj':>5} {'process':>7} {'gaps':>4} {'od':>3} plan"
LEGEND = (
    "won, pace, proj: closed-won, pace and projection against quota · process: open deals with no process gap "
    "(as of the last gap scan) · gaps: open deals with gaps · od: overdue actions · plan: recovery plan open, "
    f"or plan? when proposed · paused: the rep paused coachbot (nothing is sent to them) · `{TEAMPERF_COMMAND} @rep` for one rep's scorecard"
)

TEAMPERF_HELP = (
    f"*{TEAMPERF_COMMAND}* shows the reps you manage or coach, privately: each one's number and process side "
    "by side, who needs attention first.\n"
    f"• `{TEAMPERF_COMMAND}`: this quarter\n"
    f"• `{TEAMPERF_COMMAND} week`, `month`, `quarter`, `year`: another period\n"
    f"• `{TEAMPERF_COMMAND} @rep` (or their email), with a period if you like: that rep's full scorecard\n"
    f"• `{TEAMPERF_COMMAND} help`: this message"
)


def team_row_line(row: TeamRow) -> str:
    """One rep as a line of the monospaced table (escaped for mrkdwn; a backtick would end the code
    block and a line break would break the row)."""
    name = clip(" ".join(row.name.replace("`", "'").split()), NAME_WIDTH)
    plan = {"open": "plan", "proposed": "plan?"}.get(row.plan or "", "")
    gaps = row.deals_with_gaps if row.open_deals else "–"
    line = (
        f"{name:<{NAME_WIDTH}} {percent(row.attainment):>5} {percent(row.pace):>5} {percent(row.projected_attainment):>5} "
        f"{percent(row.adherence):>7} {gaps:>4} {row.overdue_actions or '':>3} {plan}"
    )
    if row.paused_until:
        line += f" paused to {short_date(row.paused_until)}"
    return escape(line.rstrip())


def summary_text(team: TeamPerformance) -> str:
    reps = len(team.rows)
    attention = len(team.needing_attention)
    headline = (
        f"*{escape(team.period.label)}*, {percent(team.elapsed_share)} gone · *{reps} rep{'s' if reps != 1 else ''}*, "
        f"{attention} need{'s' if attention == 1 else ''} attention"
    )
    lines = [headline]
    if (totals := team.totals) is not None:
        whose = f" (the {totals.reps} of {reps} reps with a quota in {totals.currency})" if totals.left_out else ""
        lines.append(
            f"Team{whose}: *{money(totals.won_amount, totals.currency)}* won of {money(totals.quota, totals.currency)} "
            f"quota (*{percent(totals.attainment)}*), projected *{percent(totals.projected_attainment)}*"
        )
    if team.open_deals:
        lines.append(f"Process: {percent(team.adherence)} of {team.open_deals:,} open deals have no gap")
    return clip("\n".join(lines), SECTION_LIMIT)


def attention_text(team: TeamPerformance) -> str:
    needing = team.needing_attention
    if not needing:
        return "*Nobody needs special attention.* :tada:"
    lines = ["*Who needs attention*"]
    for row in needing[:ATTENTION_NAMED]:
        lines.append(f"• *{escape(clip(row.name, 80))}*: {escape('; '.join(row.attention))}")
    if len(needing) > ATTENTION_NAMED:
        lines.append(f"…and {len(needing) - ATTENTION_NAMED} more (see the table).")
    return clip("\n".join(lines), SECTION_LIMIT)


def _code(lines: list[str]) -> str:
    return "```" + "\n".join(lines) + "```"


def table_sections(lines: list[str], budget: int) -> tuple[list[str], int]:
    """Code-block section texts holding as many table lines as fit in `budget` sections, and how many fit."""
    sections: list[str] = []
    chunk = [escape(TABLE_HEADER)]
    rows_in_chunk = shown = 0
    for line in lines[:MAX_TABLE_ROWS]:
        if rows_in_chunk == ROWS_PER_SECTION or len(_code([*chunk, line])) > SECTION_LIMIT:
            sections.append(_code(chunk))
            chunk, rows_in_chunk = [], 0
            if len(sections) == budget:
                break
        chunk.append(line)
        rows_in_chunk += 1
        shown += 1
    else:
        if rows_in_chunk:
            sections.append(_code(chunk))
    return sections, shown


def team_blocks(team: TeamPerformance) -> list[Block]:
    """The whole team message, within Slack's limits however big the team."""
    header = HeaderBlock(text=clip(f"{team.period.label} team · {team.viewer_name}", HEADER_LIMIT))
    if not team.rows:
        return [
            header,
            SectionBlock(
                text=MarkdownTextObject(
                    text="No reps on your team in coachbot yet. Once your admin imports the org file with you as "
                    "their manager or coach, they show here."
                )
            ),
        ]
    blocks: list[Block] = [
        header,
        SectionBlock(text=MarkdownTextObject(text=summary_text(team))),
        SectionBlock(text=MarkdownTextObject(text=attention_text(team))),
        DividerBlock(),
    ]
    # Two context blocks follow the table: "…and N more" and the legend.
    sections, shown = table_sections([team_row_line(row) for row in team.rows], MAX_BLOCKS - len(blocks) - 2)
    blocks.extend(SectionBlock(text=MarkdownTextObject(text=text)) for text in sections)
    if (rest := len(team.rows) - shown) > 0:
        hidden_attention = sum(1 for row in team.rows[shown:] if row.attention)
        why = f", {hidden_attention} of them needing attention" if hidden_attention else ", none needing attention"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {rest} more rep{'s' if rest != 1 else ''}{why}.")]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=LEGEND)]))
    return blocks


def team_text(team: TeamPerformance) -> str:
    """The plain-text fallback."""
    reps = len(team.rows)
    attention = len(team.needing_attention)
    return f"{team.period.label}, your team: {reps} rep{'s' if reps != 1 else ''}, {attention} need{'s' if attention == 1 else ''} attention."


def teamperf_help_blocks() -> list[Block]:
    return [SectionBlock(text=MarkdownTextObject(text=TEAMPERF_HELP))]


def teamperf_unknown_blocks(argument: str) -> list[Block]:
    shown = escape(clip(argument, 40))
    return [
        SectionBlock(
            text=MarkdownTextObject(
                text=f"I don't understand “{shown}”. Try a period (`week`, `month`, `quarter`, `year`), "
                "a rep (`@name` or their email), or both."
            )
        ),
        *teamperf_help_blocks(),
    ]


def teamperf_unknown_text(argument: str) -> str:
    return f"I don't understand “{escape(clip(argument, 40))}”. Try a period (week, month, quarter, year), a rep (@name or email), or both."
