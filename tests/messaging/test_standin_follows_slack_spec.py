"""The stand-in Slack answers chat.postMessage, conversations.open and conversations.history in the
shapes of Slack's Web API spec (../shared/data/vendor-specs/slack), so what the sender is tested
against is what Slack sends.

The spec (slackapi/slack-api-specs, last changed 2021) predates message metadata; `metadata` on a
message and the `response_metadata` cursor are taken from docs.slack.dev (message-metadata,
conversations.history "Pagination") and allowed on top of it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from bot.slack_client import make_web_client

SPEC = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "vendor-specs"
    / "slack"
    / "slack_web_openapi_v2_without_examples.json"
)
USER = "U0123ABCDE"  # an id shaped as Slack's, so its DM id is too


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.exists():
        reason = f"{SPEC} not found: the vendor specs come with ../shared"
        if os.environ.get("COACHBOT_TEST_REQUIRE_SHARED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return json.loads(SPEC.read_text())


def success_schema(spec: dict[str, Any], method: str) -> dict[str, Any]:
    operation = spec["paths"][f"/{method}"]
    return next(iter(operation.values()))["responses"]["200"]["schema"]


def pattern(spec: dict[str, Any], definition: str) -> re.Pattern[str]:
    return re.compile(spec["definitions"][definition]["pattern"])


def assert_message_object(spec: dict[str, Any], message: dict[str, Any], extra: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    schema = spec["definitions"]["objs_message"]
    assert set(schema["required"]) <= set(message)
    assert set(message) <= set(schema["properties"]) | extra, set(message) - set(schema["properties"])
    assert pattern(spec, "defs_ts").fullmatch(message["ts"])


def test_post_open_and_history_answers_have_the_specs_shape(spec, slack) -> None:  # type: ignore[no-untyped-def]
    client = make_web_client(Settings(slack_bot_token="xoxb-spec", slack_api_url=slack.api_url))
    metadata = {"event_type": "coachbot_outbox", "event_payload": {"outbox_key": "nudge:1", "outbox_id": 1}}

    posted = client.chat_postMessage(channel=USER, text="hello", metadata=metadata).data
    opened = client.conversations_open(users=USER).data
    history = client.conversations_history(channel=opened["channel"]["id"], include_all_metadata=True).data
    without = client.conversations_history(channel=opened["channel"]["id"]).data

    post_schema = success_schema(spec, "chat.postMessage")
    assert set(post_schema["required"]) <= set(posted) <= set(post_schema["properties"])
    assert pattern(spec, "defs_channel").fullmatch(posted["channel"])
    assert_message_object(spec, posted["message"])

    open_schema = success_schema(spec, "conversations.open")
    assert set(open_schema["required"]) <= set(opened) <= set(open_schema["properties"])
    assert pattern(spec, "defs_dm_id").fullmatch(opened["channel"]["id"]) and opened["channel"]["id"] == posted["channel"]

    history_schema = success_schema(spec, "conversations.history")
    for answer in (history, without):
        assert set(history_schema["required"]) <= set(answer) <= set(history_schema["properties"]) | {"response_metadata"}
    [message] = history["messages"]
    assert_message_object(spec, message, extra={"metadata"})
    assert (message["ts"], message["metadata"]) == (posted["ts"], metadata)
    assert "metadata" not in without["messages"][0]


def test_history_errors_are_ones_the_spec_lists(spec, slack) -> None:  # type: ignore[no-untyped-def]
    client = make_web_client(Settings(slack_bot_token="xoxb-spec", slack_api_url=slack.api_url))
    slack.scopes = "chat:write"
    operation = spec["paths"]["/conversations.history"]["get"]
    listed = set(operation["responses"]["default"]["schema"]["properties"]["error"]["enum"])
    answers = []
    for channel in ("D0123ABCDE", "X0123ABCDE"):
        try:
            client.conversations_history(channel=channel)
        except Exception as error:  # noqa: BLE001 - slack_sdk raises SlackApiError with the answer
            answers.append(error.response.data)  # type: ignore[attr-defined]
    assert [answer["error"] for answer in answers] == ["missing_scope", "channel_not_found"]
    assert {answer["error"] for answer in answers} <= listed
    assert answers[0]["needed"] == "im:history" and "im:history" in operation["security"][0]["slackAuth"]
