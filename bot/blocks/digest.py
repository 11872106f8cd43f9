"""The weekly digest message: a compact team table, what changed, who needs attention."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks.format import clip, escape, percent, short_date

if TYPE_CHECKING:
    from bot.coaching.digest import Digest
    from bot.coaching.team import TeamRow

ROWS_PER_SECTION = 20  # a monospaced table of 20 rows stays well under 3,000 characters
MAX_TABLE_ROWS = 200  # Slack allows 50 blocks: 10 table sections, then a summary line


def _row(row: TeamRow) -> str:
    goals = f"{row.goals_open} ({percent(row.goals_progress)})" if row.goals_open else "–"
    plan = {"open": "plan", "proposed": "plan?"}.get(row.plan or "", "")
    paused = f" paused to {short_date(row.paused_until)}" if row.paused_until else ""
    return (
        f"{clip(row.name, 18):<18} {percent(row.attainment):>5} {percent(row.pace):>5} {percent(row.projected_attainment):>5} "
        f"{percent(row.adherence):>6} {goals:>9} {row.overdue_actions or '':>3} {plan}{paused}"
    )


HEADER = f"{'rep':<18} {'won':>5} {'pace':>5} {'proj':>5} {'process':>6} {'goals':>9} {'od':>3} plan"


def digest_text(digest: Digest) -> str:
    behind = sum(1 for row in digest.rows if row.attention)
    return f"Your team, week of {digest.week_of:%b} {digest.week_of.day}: {len(digest.rows)} reps, {behind} need attention."


SNOOZES_NAMED = 10


def snoozes_text(digest: Digest) -> str:
    """The gaps the team snoozed and why, in the rep's own words: a snooze is a promise to look again."""
    snoozes = digest.snoozes
    lines = [f"*Snoozed by your reps* ({len(snoozes)})"]
    for snooze in snoozes[:SNOOZES_NAMED]:
        what = escape(clip(snooze.detail or snooze.rule.replace("_", " "), 80))
        why = f": “{escape(clip(' '.join((snooze.reason or '').split()), 200))}”" if snooze.reason else ""
        lines.append(
            f"• *{escape(snooze.rep_name)}* · {escape(clip(snooze.deal_name, 60))}, {what} · until {short_date(snooze.snoozed_until)}{why}"
        )
    if len(snoozes) > SNOOZES_NAMED:
        lines.append(f"…and {len(snoozes) - SNOOZES_NAMED} more.")
    return clip("\n".join(lines), 3000)


def digest_blocks(digest: Digest) -> list[Block]:
    changes = digest.changes
    fix_time = f", median {changes.median_hours_to_fix:.0f} h to fix" if changes.median_hours_to_fix is not None else ""
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Your team, week of {digest.week_of:%b} {digest.week_of.day}", 150)),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*{digest.team.period.label}*, {percent(digest.team.elapsed_share)} gone. *Since last week:* "
                f"{changes.gaps_fixed} process gaps fixed{fix_time}, {changes.gaps_opened} opened; "
                f"{changes.nudged_then_fixed} fixed after a nudge."
            )
        ),
    ]
    if digest.attention:
        lines = ["*Who needs coaching attention*"]
        for name, reasons in digest.attention[:10]:
            lines.append(f"• *{escape(name)}*: {escape('; '.join(reasons))}")
        if len(digest.attention) > 10:
            lines.append(f"…and {len(digest.attention) - 10} more (see the table).")
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), 3000))))
    else:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="*Nobody needs special attention this week.* :tada:")))
    if digest.snoozes:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=snoozes_text(digest))))
    blocks.append(DividerBlock())
    rows = list(digest.rows[:MAX_TABLE_ROWS])
    for start in range(0, len(rows), ROWS_PER_SECTION):
        chunk = [_row(row) for row in rows[start : start + ROWS_PER_SECTION]]
        table = "\n".join([HEADER, *chunk] if start == 0 else chunk)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"```{escape(table)}```")))
    if len(digest.rows) > MAX_TABLE_ROWS:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=f"{len(digest.rows) - MAX_TABLE_ROWS} more reps not shown.")])
        )
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="won, pace, proj: of quota this quarter · process: open deals with no gap · od: overdue actions"
                )
            ]
        )
    )
    return blocks
