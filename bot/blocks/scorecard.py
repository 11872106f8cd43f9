"""The `/myperf` scorecard: the number first, then pipeline, process and development."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks.format import clip, escape, money, percent, short_date
from bot.blocks.writeback import update_button
from bot.coaching.scorecard import DealGaps, Development, Scorecard

SECTION_LIMIT = 3000  # Slack's limit on a section's text
FIELD_LIMIT = 2000  # ... and on each of its fields (slack_sdk does not check this one)
MAX_LINES_NAMED = 6
MAX_DEALS_LISTED = 8


def pace_label(pace: float | None) -> str:
    if pace is None:
        return "too early to tell"
    if pace >= 1.05:
        return ":large_green_circle: ahead of pace"
    if pace >= 0.95:
        return ":large_green_circle: on pace"
    if pace >= 0.8:
        return ":large_yellow_circle: a little behind pace"
    return ":red_circle: behind pace"


def _fields(*pairs: tuple[str, str]) -> list[MarkdownTextObject]:
    return [MarkdownTextObject(text=clip(f"*{title}*\n{value}", FIELD_LIMIT)) for title, value in pairs]


def number_blocks(card: Scorecard) -> list[Block]:
    period_word = card.period.kind
    if card.quota is None:
        headline = (
            f"*The number*\n*{money(card.won_amount, card.currency)}* closed-won this {period_word}. "
            "No quota is set for it, so there is no pace or gap: ask your admin to import one."
        )
        return [SectionBlock(text=MarkdownTextObject(text=headline))]
    headline = (
        f"*The number*\n*{money(card.won_amount, card.currency)}* closed-won of "
        f"*{money(card.quota, card.currency)}* quota: *{percent(card.attainment)}*"
    )
    coverage = "quota made :tada:" if card.coverage is None else f"{card.coverage:.1f}× the gap"
    return [
        SectionBlock(
            text=MarkdownTextObject(text=headline),
            fields=_fields(
                (
                    "Pace",
                    f"{percent(card.pace)}: {pace_label(card.pace)}\n{percent(card.elapsed_share)} of the {period_word} gone",
                ),
                (
                    "Projected",
                    f"{percent(card.projected_attainment)} ({money(card.projected_amount, card.currency)})\nwon + stage-weighted pipeline",
                ),
                ("Gap to quota", money(card.gap_to_quota, card.currency)),
                ("Pipeline coverage", f"{coverage}\n{money(card.pipeline_in_period, card.currency)} closing this {period_word}"),
            ),
        )
    ]


def pipeline_blocks(card: Scorecard) -> list[Block]:
    win_rate = f"{percent(card.win_rate_by_count)} by count · {percent(card.win_rate_by_value)} by value"
    cycle = "–" if card.sales_cycle_days is None else f"{card.sales_cycle_days:.0f} days"
    velocity = "–" if card.velocity_per_day is None else f"{money(card.velocity_per_day, card.currency)} a day"
    breadth = f"{len(card.lines_in_catalogue)} of {len(card.catalogue)}" if card.catalogue else "no catalogue yet"
    if missing := card.lines_missing:
        named = ", ".join(missing[:MAX_LINES_NAMED])
        more = f" and {len(missing) - MAX_LINES_NAMED} more" if len(missing) > MAX_LINES_NAMED else ""
        breadth += f"\nnot yet: {escape(named)}{more}"
    return [
        SectionBlock(
            text=MarkdownTextObject(text="*How you are building it*"),
            fields=_fields(
                ("Win rate", win_rate),
                ("Average deal", money(card.average_deal_size, card.currency)),
                ("Sales cycle", cycle),
                ("Sales velocity", velocity),
                ("Product lines", breadth),
            ),
        )
    ]


def _deal_line(gaps: DealGaps) -> str:
    deal = gaps.deal
    name = escape(clip(deal.name, 80))
    title = f"<{deal.crm_url}|{name}>" if deal.crm_url else f"*{name}*"
    amount = money(deal.amount, deal.currency) if deal.amount is not None else "no amount"
    reasons = "; ".join(reason.text for reason in gaps.reasons)
    return f"• {title} ({amount}, {escape(deal.stage)}): {reasons}"


def process_blocks(card: Scorecard) -> list[Block]:
    if card.open_deal_count == 0:
        return [SectionBlock(text=MarkdownTextObject(text="*Process*\nNo open deals: time to build pipeline."))]
    clean = card.open_deal_count - len(card.deal_gaps)
    summary = f"*Process*: {clean} of {card.open_deal_count} open deals follow the process ({percent(card.adherence)})"
    if not card.deal_gaps:
        return [SectionBlock(text=MarkdownTextObject(text=summary + " :white_check_mark:"))]
    lines = [summary]
    listed = 0
    for gaps in card.deal_gaps[:MAX_DEALS_LISTED]:
        line = _deal_line(gaps)
        if sum(len(part) + 1 for part in lines) + len(line) > SECTION_LIMIT - 60:
            break
        lines.append(line)
        listed += 1
    if (rest := len(card.deal_gaps) - listed) > 0:
        lines.append(f"…and {rest} more deal{'s' if rest != 1 else ''} with gaps.")
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text="\n".join(lines)))]
    # One "Update…" per listed deal: it opens the modal that writes the fix to the CRM.
    updates = [
        update_button(gaps.deal.deal_id, f"Update {clip(gaps.deal.name, 60)}…")
        for gaps in card.deal_gaps[:listed]
        if gaps.deal.deal_id is not None
    ]
    if updates:
        blocks.append(ActionsBlock(elements=updates))
    return blocks


def development_blocks(development: Development) -> list[Block]:
    lines = ["*Development*"]
    if development.goals:
        for goal in development.goals[:5]:
            due = f", due {short_date(goal.due_date)}" if goal.due_date else ""
            lines.append(
                f"• Goal: *{escape(goal.competency)}*: {escape(clip(goal.description, 150))} ({percent(goal.progress)}{due})"
            )
    else:
        lines.append("• No development goals yet: ask your coach or manager to set one.")
    if development.actions:
        for action in development.actions[:5]:
            due = ""
            if action.due_date:
                due = (
                    f" (overdue since {short_date(action.due_date)})"
                    if action.overdue
                    else f" (due {short_date(action.due_date)})"
                )
            lines.append(f"• Action: {escape(clip(action.text, 150))}{due}")
        if len(development.actions) > 5:
            lines.append(f"• …and {len(development.actions) - 5} more open actions")
    else:
        lines.append("• No open actions.")
    if development.plan:
        plan = development.plan
        status = "proposed" if plan.status == "proposed" else "in progress"
        lines.append(
            f"• Recovery plan ({status}): close {money(plan.gap_amount, plan.currency)}, "
            f"add {money(plan.pipeline_to_add, plan.currency)} of pipeline by {short_date(plan.period_end)}"
        )
    return [SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), SECTION_LIMIT)))]


def footnote(card: Scorecard, now: dt.datetime) -> str:
    local = now.astimezone(ZoneInfo(card.period.tz))
    notes = [f"Figures in {card.currency}", f"as of {short_date(local.date())}, {local:%H:%M} ({card.period.tz})"]
    if card.other_currency_deals:
        notes.append(f"{card.other_currency_deals} deal(s) in other currencies left out of money figures")
    if card.unknown_stages:
        notes.append("stages the playbook does not know (weighted 0): " + escape(", ".join(card.unknown_stages)))
    return clip(" · ".join(notes), 2000)


def scorecard_blocks(card: Scorecard, now: dt.datetime) -> list[Block]:
    """The whole scorecard message."""
    return [
        HeaderBlock(text=clip(f"{card.period.label} scorecard · {card.person_name}", 150)),
        *number_blocks(card),
        DividerBlock(),
        *pipeline_blocks(card),
        DividerBlock(),
        *process_blocks(card),
        DividerBlock(),
        *development_blocks(card.development),
        ContextBlock(elements=[MarkdownTextObject(text=footnote(card, now))]),
    ]


def scorecard_text(card: Scorecard) -> str:
    """The plain-text fallback (notifications, screen readers)."""
    if card.quota is None:
        return f"{card.period.label}: {money(card.won_amount, card.currency)} closed-won (no quota set)."
    return (
        f"{card.period.label}: {money(card.won_amount, card.currency)} of {money(card.quota, card.currency)} "
        f"({percent(card.attainment)}), pace {percent(card.pace)}, projected {percent(card.projected_attainment)}, "
        f"{len(card.deal_gaps)} deal(s) with process gaps."
    )
