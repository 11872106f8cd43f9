"""The App Home tab: the person's number first, then what to do (actions, gaps), goals, plan, team.

Slack allows 100 blocks in a Home view and 3,000 characters in a section's text. Every list is
cut to a few items, each one a section with its button (Done, Snooze…; a gap also has "Update…" in
an actions block under it), followed by a line saying how many more there are; long texts are
clipped, and a list written into one section stops adding lines before its limit. The worst case
(hundreds of actions, gaps and goals, a plan and a team of hundreds) is 66 blocks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks.agenda import one_on_one_button
from bot.blocks.format import clip, escape, money, percent, short_date
from bot.blocks.messages import not_linked_blocks
from bot.blocks.preferences import preferences_blocks
from bot.blocks.scorecard import (
    SECTION_LIMIT,
    footnote,
    number_blocks,
    pace_label,
    pipeline_blocks,
)
from bot.blocks.writeback import update_button
from bot.slack_ids import (
    ACTION_DONE,
    MYPERF_COMMAND,
    NUDGE_GAP_SNOOZE,
    TEAMPERF_COMMAND,
)

if TYPE_CHECKING:
    from bot.coaching.gaps import SnoozedGap
    from bot.coaching.home import HomeAction, HomeData, HomeGap
    from bot.coaching.scorecard import GoalFacts, PlanFacts
    from bot.coaching.team import TeamPerformance, TeamRow

MAX_ACTIONS_SHOWN = 10
MAX_GAPS_SHOWN = 15
MAX_GOALS_SHOWN = 10
MAX_ATTENTION_SHOWN = 10
MAX_SNOOZES_SHOWN = 15
MAX_TEAM_ROWS = 100
TEAM_ROWS_PER_SECTION = 20  # a monospaced table of 20 rows stays well under 3,000 characters
ROOM_FOR_MORE = 80  # kept free in a list section for its "…and N more" line
NOTHING_YET = (
    "*Nothing here for you yet.* coachbot shows reps their number, actions, goals and process gaps here, "
    "and managers and coaches their team."
)


def home_view(data: HomeData) -> dict[str, Any]:
    """The Home view of a linked person (slack_sdk checks the block count and shapes)."""
    return View(type="home", blocks=home_blocks(data)).to_dict()


def not_linked_home_view(email: str | None) -> dict[str, Any]:
    """The Home of someone coachbot does not know: how to be linked."""
    blocks: list[Block] = [
        HeaderBlock(text="Welcome to coachbot"),
        not_linked_blocks(email)[0],
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Once you are added, this tab shows your scorecard, actions, goals and process gaps, and `{MYPERF_COMMAND}` works."
                )
            ]
        ),
    ]
    return View(type="home", blocks=blocks).to_dict()


def home_blocks(data: HomeData) -> list[Block]:
    parts: list[list[Block]] = []
    card = data.scorecard
    if card is not None:
        parts.append(
            [
                HeaderBlock(text=clip(f"{card.period.label} · {data.person_name}", 150)),
                *number_blocks(card),
                *pipeline_blocks(card),
                ContextBlock(elements=[MarkdownTextObject(text=footnote(card, data.now))]),
            ]
        )
    # A rep always sees their lists (an empty one says so); anyone else only what they have.
    rep = card is not None
    if rep or data.actions:
        parts.append(action_blocks(data.actions))
    if rep or data.gaps:
        parts.append(gap_blocks(data.gaps, data.open_deal_count, data.deals_with_gaps))
    if rep or data.goals:
        parts.append([goal_block(data.goals)])
    if data.plan is not None:
        parts.append([plan_block(data.plan)])
    if data.team is not None:
        local = data.now.astimezone(ZoneInfo(data.timezone))
        parts.append(team_blocks(data.team, f"as of {short_date(local.date())}, {local:%H:%M} ({data.timezone})", data.snoozes))
    if not parts:
        parts.append([_section(NOTHING_YET)])
    if data.preferences is not None and (rep or data.team is not None):
        parts.append(preferences_blocks(data.preferences, data.timezone))
    blocks: list[Block] = []
    for part in parts:
        blocks += [DividerBlock(), *part] if blocks else part
    return blocks


def action_blocks(actions: Sequence[HomeAction]) -> list[Block]:
    if not actions:
        return [_section("*Your open actions*\nNothing open: nobody has asked anything of you.")]
    blocks: list[Block] = [_section(f"*Your open actions* ({len(actions)})")]
    for action in actions[:MAX_ACTIONS_SHOWN]:
        due = ""
        if action.due_date is not None:
            due = f"overdue since {short_date(action.due_date)}" if action.overdue else f"due {short_date(action.due_date)}"
        who = f"from {escape(action.assigned_by)}" if action.assigned_by else ""
        detail = " · ".join(part for part in (due, who) if part)
        text = f"{':warning: ' if action.overdue else ''}{escape(clip(action.text, 500))}" + (f"\n_{detail}_" if detail else "")
        button = ButtonElement(text="Done", action_id=ACTION_DONE, value=str(action.id), style="primary")
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text), accessory=button))
    if (rest := len(actions) - MAX_ACTIONS_SHOWN) > 0:
        blocks.append(_more(f"…and {rest} more open action{_s(rest)}: they show here as you mark these done."))
    return blocks


def gap_blocks(gaps: Sequence[HomeGap], open_deals: int, deals_with_gaps: int) -> list[Block]:
    if open_deals == 0:
        return [_section("*Process gaps on your deals*\nNo open deals: time to build pipeline.")]
    clean = open_deals - deals_with_gaps
    process = f"{clean} of {open_deals} open deals follow the process ({percent(clean / open_deals)})"
    if not gaps:
        return [_section(f"*Process gaps on your deals*\nNone open: {process}. :white_check_mark:")]
    snoozed = sum(1 for gap in gaps if gap.snoozed_until is not None)
    resting = f", {snoozed} snoozed" if snoozed else ""
    blocks: list[Block] = [_section(f"*Process gaps on your deals* ({len(gaps)} open{resting}) · {process}")]
    for gap in gaps[:MAX_GAPS_SHOWN]:
        name = escape(clip(gap.deal_name, 80))
        title = f"<{gap.crm_url}|{name}>" if gap.crm_url else f"*{name}*"
        what = escape(clip(gap.detail or gap.rule.replace("_", " "), 300))
        if gap.snoozed_until is not None:
            text = f"{title}: {what}\n:zzz: _Snoozed until {short_date(gap.snoozed_until)}_"
            # No snooze to offer while it lasts: the accessory is free for "Update…".
            blocks.append(SectionBlock(text=MarkdownTextObject(text=text), accessory=update_button(gap.deal_id)))
            continue
        text = f"{title}: {what}\n_Do:_ {escape(clip(gap.todo, 300))}"
        button = ButtonElement(text="Snooze…", action_id=NUDGE_GAP_SNOOZE, value=str(gap.id))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text), accessory=button))
        blocks.append(ActionsBlock(elements=[update_button(gap.deal_id)]))
    if (rest := len(gaps) - MAX_GAPS_SHOWN) > 0:
        blocks.append(_more(f"…and {rest} more gap{_s(rest)}, smaller or snoozed: they show here as you fix or snooze these."))
    return blocks


def progress_bar(share: float) -> str:
    filled = round(min(max(share, 0.0), 1.0) * 10)
    return "`" + "█" * filled + "░" * (10 - filled) + "`"


def goal_block(goals: Sequence[GoalFacts]) -> Block:
    if not goals:
        return _section("*Your development goals*\nNo goals yet: ask your coach or manager to set one.")
    lines = [f"*Your development goals* ({len(goals)})"]
    for goal in goals[:MAX_GOALS_SHOWN]:
        due = f" · due {short_date(goal.due_date)}" if goal.due_date else ""
        lines.append(
            f"• *{escape(clip(goal.competency, 100))}*: {escape(clip(goal.description, 200))}\n"
            f"   {progress_bar(goal.progress)} {percent(goal.progress)}{due}"
        )
    return _section(_within_limit(lines, len(goals), "goal"))


def plan_block(plan: PlanFacts) -> Block:
    return _section(
        f"*Your recovery plan* (in progress)\nClose {money(plan.gap_amount, plan.currency)} and add "
        f"{money(plan.pipeline_to_add, plan.currency)} of pipeline by {short_date(plan.period_end)}. "
        "Your manager checks in with you as agreed."
    )


def _row(row: TeamRow) -> str:
    flag = "!" * min(len(row.attention), 3)
    return (
        f"{clip(row.name, 20):<20} {percent(row.attainment):>5} {percent(row.pace):>5} {percent(row.projected_attainment):>5} "
        f"{percent(row.adherence):>7} {flag}"
    )


TEAM_HEADER = f"{'rep':<20} {'won':>5} {'pace':>5} {'proj':>5} {'process':>7}"


def snooze_lines(snoozes: Sequence[SnoozedGap], *, with_rep: bool = True) -> list[str]:
    """One line a snooze: (the rep,) the deal and gap, until when, and the rep's own reason."""
    lines = []
    for snooze in snoozes:
        what = escape(clip(snooze.detail or snooze.rule.replace("_", " "), 80))
        why = f": “{escape(clip(' '.join((snooze.reason or '').split()), 200))}”" if snooze.reason else ""
        rep = f"*{escape(clip(snooze.rep_name, 60))}* · " if with_rep else ""
        lines.append(f"• {rep}{escape(clip(snooze.deal_name, 60))}, {what} · until {short_date(snooze.snoozed_until)}{why}")
    return lines


def snoozes_block(snoozes: Sequence[SnoozedGap], title: str, *, with_rep: bool = True) -> Block:
    """The active snoozes, soonest back first, cut to Slack's section limit with "…and N more"."""
    lines = [f"*{title}* ({len(snoozes)})", *snooze_lines(snoozes[:MAX_SNOOZES_SHOWN], with_rep=with_rep)]
    return _section(_within_limit(lines, len(snoozes), "snooze"))


def team_blocks(team: TeamPerformance, as_of: str, snoozes: Sequence[SnoozedGap] = ()) -> list[Block]:
    reps = len(team.rows)
    blocks: list[Block] = [HeaderBlock(text=clip(f"Your team · {team.period.label}", 150))]
    if not reps:
        blocks.append(_section("No active reps report to you or are coached by you yet."))
        return blocks
    totals = team.totals
    if totals is None:
        currency = Counter(row.currency for row in team.rows).most_common(1)[0][0]
        won = sum((row.won_amount for row in team.rows if row.currency == currency), Decimal(0))
        number = f"*The team's number*\n*{money(won, currency)}* closed-won by {reps} rep{_s(reps)}; no quotas set."
    else:
        number = (
            f"*The team's number*\n*{money(totals.won_amount, totals.currency)}* closed-won of *{money(totals.quota, totals.currency)}* "
            f"quota: *{percent(totals.attainment)}* · pace {percent(team.pace)} ({pace_label(team.pace)}) · "
            f"projected {percent(totals.projected_attainment)} · {reps} rep{_s(reps)}, {percent(team.elapsed_share)} of the quarter gone"
        )
        if totals.left_out:
            number += f"\n_{totals.left_out} rep(s) without a quota in {totals.currency} left out of these sums._"
    blocks.append(_section(number))
    attention = [(row.name, row.attention) for row in team.needing_attention]
    if attention:
        lines = ["*Who needs coaching attention*"]
        lines += [f"• *{escape(name)}*: {escape('; '.join(reasons))}" for name, reasons in attention[:MAX_ATTENTION_SHOWN]]
        blocks.append(_section(_within_limit(lines, len(attention), "rep", first_items=1)))
        # Their 1:1 agendas, one click away (in the order above; at most 10 buttons, within a block's 25).
        shown = team.needing_attention[:MAX_ATTENTION_SHOWN]
        blocks.append(ActionsBlock(elements=[one_on_one_button(row.person_id, row.name) for row in shown]))
    else:
        blocks.append(_section("*Nobody needs special attention.* :tada:"))
    if snoozes:
        # Grouped by rep: each rep's snoozes together, as on their card in the table below.
        by_rep = sorted(snoozes, key=lambda snooze: (snooze.rep_name, snooze.rep_id, snooze.snoozed_until))
        blocks.append(snoozes_block(by_rep, "Snoozed by your reps"))
    by_name = sorted(team.rows, key=lambda row: (row.name, row.person_id))
    rows = [_row(row) for row in by_name[:MAX_TEAM_ROWS]]
    for start in range(0, len(rows), TEAM_ROWS_PER_SECTION):
        chunk = rows[start : start + TEAM_ROWS_PER_SECTION]
        table = "\n".join([TEAM_HEADER, *chunk] if start == 0 else chunk)
        blocks.append(_section(f"```{escape(table)}```"))
    if reps > MAX_TEAM_ROWS:
        blocks.append(_more(f"{reps - MAX_TEAM_ROWS} more reps not shown: `{TEAMPERF_COMMAND}` has everyone."))
    legend = "won, pace, proj: of quota this quarter · process: open deals with no gap · !: reasons for attention"
    blocks.append(_more(f"{legend} · {as_of}"))
    return blocks


def _within_limit(lines: list[str], total: int, noun: str, first_items: int = 1) -> str:
    """`lines` (a title, then one line per item) up to Slack's section limit, with "…and N more"."""
    kept = lines[:first_items]
    size = sum(len(line) + 1 for line in kept)
    for line in lines[first_items:]:
        if size + len(line) + 1 > SECTION_LIMIT - ROOM_FOR_MORE:
            break
        kept.append(line)
        size += len(line) + 1
    if (rest := total - (len(kept) - first_items)) > 0:
        kept.append(f"…and {rest} more {noun}{_s(rest)}.")
    return "\n".join(kept)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_LIMIT)))


def _more(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _s(count: int) -> str:
    return "s" if count != 1 else ""
