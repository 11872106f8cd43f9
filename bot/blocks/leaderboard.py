"""The discipline leaderboard: the team's board (a channel post, or after the manager's digest) and
a rep's own place in `/myperf`, which names nobody else."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks.coaching import Message
from bot.blocks.format import clip, escape, money, percent, short_date
from bot.coaching.leaderboard import Leaderboard, MyRank, RepDiscipline, Standing

SECTION_LIMIT = 3000  # Slack's limit on a section's text
RANKED_BY = "ranked by process adherence, time to fix and goals moved (the average of the three places)"


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def hours(value: float) -> str:
    """Under two days in hours ("5h"), else in days ("2.5 days")."""
    return f"{value:.0f}h" if value < 48 else f"{value / 24:.1f} days"


def figures(rep: RepDiscipline) -> str:
    """A rep's three measures, in words (and their number, only when the board carries it)."""
    adherence = "no open deals" if rep.adherence is None else f"adherence {percent(rep.adherence)}"
    if rep.median_hours_to_fix is None:
        fixing = "no gap fixed"
    else:
        fixing = f"{rep.gaps_fixed} gap{'s' if rep.gaps_fixed != 1 else ''} fixed, median {hours(rep.median_hours_to_fix)}"
    goals = "no goals" if rep.goals_moved is None else f"goals {round(rep.goals_moved * 100):+d} pts"
    parts = [adherence, fixing, goals]
    if rep.money is not None:
        won = f"{money(rep.money.won_amount, rep.money.currency)} won"
        parts.append(
            f"{percent(rep.money.attainment)} of quota ({won})" if rep.money.attainment is not None else f"{won} (no quota)"
        )
    return " · ".join(parts)


def _place(standing: Standing) -> str:
    assert standing.rank is not None
    return f"{'=' if standing.tied else ''}{standing.rank}."


def _sections(lines: list[str]) -> list[Block]:
    """Lines in as few sections as Slack's text limit allows."""
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if chunk and sum(len(part) + 1 for part in chunk) + len(line) > SECTION_LIMIT:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
            chunk = []
        chunk.append(clip(line, SECTION_LIMIT))
    if chunk:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
    return blocks


def leaderboard_message(board: Leaderboard) -> Message:
    """The team's board: the top `board.top` reps, best first, each with their figures."""
    ranked = board.ranked
    lines = [f"*{_place(standing)}* {escape(standing.rep.name)} · {figures(standing.rep)}" for standing in ranked[: board.top]]
    if not ranked:
        lines = ["Nobody to rank yet: no open deals, no gap fixed and no goal this week."]
    if (more := len(ranked) - board.top) > 0:
        lines.append(f"…and {more} more ranked")
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Discipline leaderboard · {board.team_name}'s team", 150)),
        ContextBlock(
            elements=[MarkdownTextObject(text=f"The 7 days to {board.until_day:%a}, {short_date(board.until_day)} · {RANKED_BY}")]
        ),
        *_sections(lines),
    ]
    if board.unranked:
        names = ", ".join(escape(standing.rep.name) for standing in board.unranked)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(f"Nothing to rank yet: {names}", 2000))]))
    leaders = ", ".join(f"{_place(standing)} {standing.rep.name}" for standing in ranked[:3])
    text = f"Discipline leaderboard, {board.team_name}'s team, the 7 days to {short_date(board.until_day)}"
    return Message(blocks, f"{text}: {leaders}" if leaders else f"{text}: nobody to rank yet.")


def my_rank_sentence(rank: MyRank) -> str:
    standing = rank.standing
    if standing.rank is None:
        return "Nothing to rank you on this week yet: no open deals, no gap fixed and no goal."
    tied = " (tied)" if standing.tied else ""
    return f"You rank {ordinal(standing.rank)} of {rank.of} on process discipline this week{tied}."


def my_rank_blocks(rank: MyRank | None) -> list[Block]:
    """The rep's own place for /myperf (nothing when their team has no leaderboard): their figures, nobody else's."""
    if rank is None:
        return []
    text = f"*Process discipline*\n{my_rank_sentence(rank)}\n{figures(rank.standing.rep)}"
    return [SectionBlock(text=MarkdownTextObject(text=text))]
