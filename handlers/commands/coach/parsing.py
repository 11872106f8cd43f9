"""Reading `/coach` text: people by mention or email, the words, and a due date after the last "by".

People are named by mention or email. Mentions arrive as `<@U123|name>` only when the command's
manifest entry has `should_escape: true`. The due date is whatever follows the last word "by",
read in the caller's time zone (bot/coaching/dates.py); words there that are not a date are an
error rather than part of the text, so a typo never sends a rep an undated action.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bot.coaching.dates import DateNotUnderstood, parse_date
from bot.coaching.errors import InvalidInput
from bot.coaching.words import clip
from bot.slack_ids import COACH_COMMAND

_UNSEEN = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")  # zero-width and bidi controls
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MENTION = re.compile(r"<@(?P<user>[UW][A-Z0-9]{1,20})(?:\|[^<>]*)?>")
_MAILTO = re.compile(r"<mailto:(?P<email>[^|<>\s]+)(?:\|[^<>]*)?>")
_EMAIL = re.compile(r"(?P<email>[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)(?=\s|$)")
_MARKUP = re.compile(r"<(?P<target>[^<>|]*)(?:\|(?P<label>[^<>]*))?>")
_DUE = re.compile(r"^(?:(?P<text>.*\S)\s+)?by\s+(?P<due>\S.*)$", re.IGNORECASE | re.DOTALL)
_MEASURE = re.compile(
    r"^(?P<text>.*\S)\s+measure\s+(?P<name>[a-z_]+)(?::(?P<arg>\S+))?\s+(?P<target>\d[\d,]*(?:\.\d+)?%?)$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class PersonRef:
    """Someone named in a command: by Slack user id (a mention) or by email."""

    slack_user_id: str | None = None
    email: str | None = None


def clean(text: str | None) -> str:
    """Slack text without control characters or invisible direction marks."""
    return _CONTROL.sub(" ", _UNSEEN.sub("", text or "")).strip()


def split_word(text: str) -> tuple[str, str]:
    """(first word in lower case, the rest)."""
    parts = text.strip().split(maxsplit=1)
    return (parts[0].lower() if parts else "", parts[1] if len(parts) > 1 else "")


def take_person(text: str, usage: str) -> tuple[PersonRef, str]:
    """The person named first in `text` (mention, mailto link or bare email) and the rest."""
    text = text.lstrip()
    for pattern, field in ((_MENTION, "slack_user_id"), (_MAILTO, "email"), (_EMAIL, "email")):
        if match := pattern.match(text):
            value = match["user"] if field == "slack_user_id" else match["email"]
            return PersonRef(**{field: value}), text[match.end() :]
    word, _ = split_word(text)
    if not word:
        raise InvalidInput(f"Say who: {usage}.")
    raise InvalidInput(
        f"I couldn't tell who “{clip(plain_text(word), 40)}” is: mention them (@name, picked from Slack's list) or give their email."
    )


def plain_text(text: str) -> str:
    """Slack's escaped text as the words people read: mentions and links unwrapped, &lt; &gt; &amp; decoded."""

    def unwrap(match: re.Match[str]) -> str:
        target, label = match["target"], match["label"]
        if target[:1] in ("@", "#"):
            return target[0] + (label or target[1:]).lstrip("@#")
        if target.startswith("!"):
            return "@" + (label or target[1:]).split("^")[0].lstrip("@")  # <!channel> pings nobody as "@channel"
        return target.removeprefix("mailto:")

    unwrapped = _MARKUP.sub(unwrap, text)
    decoded = unwrapped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(decoded.split())


def split_due(text: str) -> tuple[str, str | None]:
    """(the text, the words after its last "by") or (the text, None)."""
    if match := _DUE.match(text):
        return (match["text"] or "").strip(), match["due"].strip()
    return text.strip(), None


def due_date(due_words: str | None, *, now: dt.datetime, timezone: str) -> dt.date | None:
    """The date the words after "by" name, on the caller's calendar; DateNotUnderstood says how to fix it."""
    if due_words is None:
        return None
    try:
        return parse_date(due_words, now=now, timezone=timezone)
    except DateNotUnderstood as error:
        raise DateNotUnderstood(
            f"{error} I read what follows the last “by” as the due date; to keep “by” in the text, "
            f"end it with a date, or use the form ({COACH_COMMAND})."
        ) from None


@dataclass(frozen=True)
class MeasureWords:
    """`measure win_rate 30%` at the end of a goal: the measure, what it is measured on, the target."""

    name: str
    argument: str | None
    target: float


def split_measure(text: str) -> tuple[str, MeasureWords | None]:
    """(the goal's text, its measure) from “Discovery: … measure pipeline_in_line:Analytics 50,000”."""
    match = _MEASURE.match(text)
    if match is None:
        return text, None
    written = match["target"].replace(",", "")
    target = float(written.rstrip("%")) / 100 if written.endswith("%") else float(written)
    return match["text"].strip(), MeasureWords(match["name"].lower(), match["arg"], target)
