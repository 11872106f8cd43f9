"""Short replies: help, not-linked, a period the command does not know."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.blocks.format import clip, escape
from bot.slack_ids import MYPERF_COMMAND

MYPERF_HELP = (
    f"*{MYPERF_COMMAND}* shows your scorecard, privately: the number (closed-won against quota, pace, "
    "projection, gap) and how you are building it (pipeline coverage, win rate, deal size, cycle, "
    "velocity, product lines, process gaps on your open deals, your goals, actions and plan).\n"
    f"• `{MYPERF_COMMAND}`: this quarter\n"
    f"• `{MYPERF_COMMAND} week`, `month`, `quarter`, `year`: another period\n"
    f"• `{MYPERF_COMMAND} help`: this message"
)


def help_blocks() -> list[Block]:
    return [SectionBlock(text=MarkdownTextObject(text=MYPERF_HELP))]


def unknown_argument_blocks(argument: str) -> list[Block]:
    shown = escape(clip(argument, 40))
    return [
        SectionBlock(
            text=MarkdownTextObject(text=f"I don't know the period “{shown}”. Try `week`, `month`, `quarter` or `year`.")
        ),
        *help_blocks(),
    ]


def unknown_argument_text(argument: str) -> str:
    # The fallback is mrkdwn too: unescaped, `<!channel>` would ping everyone.
    return f"I don't know the period “{escape(clip(argument, 40))}”. Try week, month, quarter or year."


def not_linked_blocks(email: str | None) -> list[Block]:
    if email:
        detail = (
            f"Your Slack account ({escape(email)}) is not in coachbot's org yet. Ask your coachbot admin "
            "to add that email to the org file and run `coachbot org import`; use the same email as in the CRM."
        )
    else:
        detail = (
            "I could not read an email address for your Slack account, and coachbot links people by email. "
            "Ask your coachbot admin to check the app has the `users:read.email` scope."
        )
    return [
        SectionBlock(text=MarkdownTextObject(text=":wave: I don't know you yet. " + detail)),
        ContextBlock(elements=[MarkdownTextObject(text=f"Once you are added, `{MYPERF_COMMAND}` works right away.")]),
    ]


NOT_LINKED_TEXT = "coachbot does not know you yet: ask your admin to add your Slack email to the org file."


def error_blocks(reference: str) -> list[Block]:
    return [
        SectionBlock(
            text=MarkdownTextObject(
                text=f":warning: Something went wrong on my side. Please try again in a minute; if it keeps happening, give your admin this reference: `{reference}`"
            )
        )
    ]
