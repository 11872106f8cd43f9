"""A stand-in for Slack's Socket Mode WebSocket endpoint on an ephemeral loopback port.

The app asks the Web API (the stand-in Slack, `apps.connections.open`) for a WebSocket URL and
connects to it; this server then does what Slack does on that socket: it says `hello`, sends
envelopes (`slash_commands`, `interactive`, `events_api`) and reads the acknowledgements, each of
which must echo its envelope's `envelope_id` (Slack's "Socket Mode" and "Socket Mode implementation"
pages, api.slack.com/apis/socket-mode and /apis/connections/socket-implement). Every message the app
sends is recorded.

Served with the `websockets` library's threaded server, so tests stay synchronous.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

APP_ID = "A0001"
TEAM_ID = "T0001"


@dataclass
class SocketModeStandIn:
    ticket: str = field(default_factory=lambda: uuid.uuid4().hex)
    connections: list[str] = field(default_factory=list)  # the path each connection asked for
    received: list[dict[str, Any]] = field(default_factory=list)  # every message from the app, in order
    _server: Server | None = None
    _current: ServerConnection | None = None
    _lock: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0

    @property
    def url(self) -> str:
        """What `apps.connections.open` hands out: like Slack's `wss://…/link/?ticket=…&app_id=…`, on loopback."""
        return f"ws://127.0.0.1:{self.port}/link/?ticket={self.ticket}&app_id={APP_ID}"

    def start(self) -> SocketModeStandIn:
        # No compression: Slack's endpoint does not need it and slack_sdk's built-in client does not offer it.
        self._server = serve(self._serve, "127.0.0.1", 0, compression=None)
        self.port = self._server.socket.getsockname()[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()

    def _serve(self, connection: ServerConnection) -> None:
        with self._lock:
            self.connections.append(connection.request.path if connection.request else "")
            self._current = connection
            self._lock.notify_all()
        connection.send(json.dumps({
            "type": "hello", "num_connections": 1,
            "debug_info": {"host": "applink-standin", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID},
        }))  # fmt: skip
        try:
            for message in connection:
                with self._lock:
                    self.received.append(json.loads(message))
                    self._lock.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if self._current is connection:
                    self._current = None
                self._lock.notify_all()

    def wait_connected(self, timeout: float = 30.0) -> str:
        """The path of the connection the app opened; fail loudly if it does not connect in time."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._current is not None, timeout):
                raise AssertionError(f"nothing connected to the stand-in Socket Mode endpoint in {timeout} s")
            return self.connections[-1]

    def send(self, envelope_type: str, payload: dict[str, Any], *, accepts_response_payload: bool, **extra: Any) -> str:
        """Send one envelope the way Slack wraps a payload; its envelope_id."""
        envelope_id = str(uuid.uuid4())
        envelope = {"envelope_id": envelope_id, "payload": payload, "type": envelope_type,
                    "accepts_response_payload": accepts_response_payload, **extra}  # fmt: skip
        with self._lock:
            connection = self._current
        if connection is None:
            raise AssertionError("the app is not connected to the stand-in Socket Mode endpoint")
        connection.send(json.dumps(envelope))
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The app's acknowledgement of `envelope_id`; fail loudly if none arrives in time."""

        def ack() -> dict[str, Any] | None:
            return next((message for message in self.received if message.get("envelope_id") == envelope_id), None)

        with self._lock:
            if self._lock.wait_for(lambda: ack() is not None, timeout):
                return ack()  # type: ignore[return-value]
        raise AssertionError(f"no acknowledgement of envelope {envelope_id} in {timeout} s; the app sent {self.received}")


def slash_command_payload(command: str, text: str, user_id: str, response_url: str) -> dict[str, Any]:
    """A slash command as Socket Mode carries it: the fields of the HTTP form, as a JSON object."""
    return {
        "token": "legacy-verification-token", "team_id": TEAM_ID, "team_domain": "example", "channel_id": "D0001",
        "channel_name": "directmessage", "user_id": user_id, "user_name": "someone", "command": command, "text": text,
        "api_app_id": APP_ID, "is_enterprise_install": "false", "response_url": response_url, "trigger_id": "1.2.3",
    }  # fmt: skip


def button_click_payload(
    user_id: str, action_id: str, value: str, message_blocks: list[dict[str, Any]], response_url: str
) -> dict[str, Any]:
    """A `block_actions` payload: one button clicked on a message in the app's DM."""
    return {
        "type": "block_actions", "user": {"id": user_id, "team_id": TEAM_ID}, "api_app_id": APP_ID,
        "token": "legacy-verification-token", "container": {"type": "message", "channel_id": "D0001", "message_ts": "1.000001"},
        "trigger_id": "1.2.4", "team": {"id": TEAM_ID, "domain": "example"}, "channel": {"id": "D0001", "name": "directmessage"},
        "message": {"type": "message", "ts": "1.000001", "text": "the original", "blocks": message_blocks},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "b1", "type": "button", "value": value, "action_ts": "1.000002"}],
    }  # fmt: skip


def app_home_opened_payload(user_id: str) -> dict[str, Any]:
    """An Events API `event_callback` carrying `app_home_opened` for the Home tab."""
    return {
        "token": "legacy-verification-token", "team_id": TEAM_ID, "api_app_id": APP_ID, "type": "event_callback",
        "event": {"type": "app_home_opened", "user": user_id, "channel": "D0001", "tab": "home", "event_ts": "1.000003"},
        "event_id": "Ev0001", "event_time": 1764082800, "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
    }  # fmt: skip
