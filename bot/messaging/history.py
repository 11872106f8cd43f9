"""Did an earlier attempt post this message? Look for it in the conversation's history.

chat.postMessage has no idempotency key, so the outbox makes its own: every post carries Slack
message metadata (`metadata` = {event_type, event_payload}) naming the row's outbox key. When an
attempt ended without Slack's answer (a timeout, a dropped connection, a sender killed mid-send),
the sender reads the conversation's history from a little before that attempt with
`include_all_metadata` and looks for the key before it posts again.

Slack's rules for metadata (docs.slack.dev/messaging/message-metadata): `event_type` may hold
letters, digits, underscores and hyphens only (anything else is ignored with an
`invalid_metadata_schema` warning, and the post goes out without metadata); `event_payload` is a
flat object of strings, numbers and booleans (or objects of those). The payload here is two short
values. Reading a DM's history needs the `im:history` scope, a channel's `channels:history` or
`groups:history`; a DM is found by conversations.open (`im:write`) unless an earlier answer
already named it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

METADATA_EVENT_TYPE = "coachbot_outbox"
# Slack recommends pages of at most 200; a DM holds a handful of coachbot's messages a day, so ten
# pages reach far back. Past that the answer is "cannot tell", never a guess.
PAGE_SIZE = 200
MAX_PAGES = 10
# Slack stamps `ts` with its own clock, the outbox with ours: search from a little earlier.
CLOCK_MARGIN = dt.timedelta(minutes=5)
# Answers that say the request itself was fine and may be tried again later.
TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"})
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"})


class HistoryUnreadable(Exception):
    """Slack will not show the history (a missing scope, a conversation gone): nobody can tell."""


@dataclass(frozen=True)
class Found:
    ts: str
    channel: str


def message_metadata(key: str, outbox_id: int) -> dict[str, Any]:
    """The metadata every outbox post carries, so a later attempt can find it."""
    return {"event_type": METADATA_EVENT_TYPE, "event_payload": {"outbox_key": key, "outbox_id": outbox_id}}


def is_outbox_message(message: dict[str, Any], key: str) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return metadata.get("event_type") == METADATA_EVENT_TYPE and payload.get("outbox_key") == key


def find_posted(client: WebClient, recipient: str, known_channel: str | None, key: str, since: dt.datetime) -> Found | None:
    """The message with outbox key `key` posted to `recipient` since `since`, or None if there is none.

    Raises HistoryUnreadable when Slack refuses to show the history, and SlackApiError (429, 5xx,
    a refused token) or a network error when it may be tried again.
    """
    channel = known_channel or conversation_of(client, recipient)
    oldest = f"{(since - CLOCK_MARGIN).timestamp():.6f}"
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        try:
            page = client.conversations_history(
                channel=channel, oldest=oldest, limit=PAGE_SIZE, include_all_metadata=True, cursor=cursor
            )
        except SlackApiError as error:
            raise _unreadable_or_retry(error, f"read the history of {channel}") from None
        for message in page.get("messages") or []:
            if is_outbox_message(message, key):
                return Found(str(message["ts"]), channel)
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not page.get("has_more") or cursor is None:
            return None
    raise HistoryUnreadable(f"more than {PAGE_SIZE * MAX_PAGES} messages in {channel} since then, too many to search")


def conversation_of(client: WebClient, recipient: str) -> str:
    """The conversation a post to `recipient` lands in: a user's DM with the app, else the channel itself."""
    if recipient[:1] not in ("U", "W"):
        return recipient
    try:
        response = client.conversations_open(users=recipient)
    except SlackApiError as error:
        raise _unreadable_or_retry(error, f"open the DM with {recipient}") from None
    return str(response["channel"]["id"])


def _unreadable_or_retry(error: SlackApiError, doing: str) -> Exception:
    data = error.response.data if isinstance(error.response.data, dict) else {}
    code = str(data.get("error") or "no error code")
    if error.response.status_code == 429 or error.response.status_code >= 500 or code in TRANSIENT | TOKEN_ERRORS:
        return error
    needed = f", needs {data['needed']}" if data.get("needed") else ""
    return HistoryUnreadable(f"could not {doing} ({code}{needed})")
