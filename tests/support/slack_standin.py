"""A stand-in Slack Web API on an ephemeral loopback port that records every call.

It answers the methods coachbot uses from a small directory of users, and also serves
slash-command `response_url`s (under /response/), so tests can read what a user was shown.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.doctor import REQUIRED_BOT_SCOPES


@dataclass
class SlackCall:
    path: str
    method: str  # the Web API method, or "response" for a response_url post
    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float = field(default_factory=time.perf_counter)


@dataclass
class SlackUser:
    id: str
    email: str | None
    tz: str = "America/New_York"
    name: str = "someone"


@dataclass
class SlackStandIn:
    users: dict[str, SlackUser] = field(default_factory=dict)
    calls: list[SlackCall] = field(default_factory=list)
    # Canned answers by method, for faults: {"users.info": {"ok": True}} (a malformed reply).
    overrides: dict[str, Any] = field(default_factory=dict)
    # Sent on auth.test as Slack does, in the x-oauth-scopes header.
    scopes: str = ",".join(REQUIRED_BOT_SCOPES)
    url: str = ""
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Condition = field(default_factory=threading.Condition)

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, key: str = "r1") -> str:
        return f"{self.url}/response/{key}"

    def add_user(self, user_id: str, email: str | None, tz: str = "America/New_York") -> None:
        self.users[user_id] = SlackUser(user_id, email, tz)

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[SlackCall]:
        """Block until `count` calls to `method` arrived; fail loudly after `timeout` seconds."""
        with self._lock:
            arrived = self._lock.wait_for(lambda: sum(c.method == method for c in self.calls) >= count, timeout)
            if arrived:
                return [call for call in self.calls if call.method == method]
        raise AssertionError(f"stand-in Slack got {len(self.calls_to(method))} {method} call(s), expected {count}: {self.calls}")

    # -- the server ---------------------------------------------------------------------------

    def start(self) -> SlackStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                path = urllib.parse.urlparse(self.path).path
                method = "response" if path.startswith("/response/") else path.rsplit("/", 1)[-1]
                with standin._lock:
                    standin.calls.append(SlackCall(path, method, body, dict(self.headers.items())))
                    standin._lock.notify_all()
                status, payload = standin.answer(method, body)
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                if method == "auth.test":
                    self.send_header("x-oauth-scopes", standin.scopes)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, method: str, body: dict[str, Any]) -> tuple[int, Any]:
        handler: Callable[[dict[str, Any]], Any] | None = getattr(self, "_" + method.replace(".", "_"), None)
        if method in self.overrides:
            return 200, self.overrides[method]
        if method == "response":
            return 200, "ok"
        if handler is None:
            return 200, {"ok": True}
        return 200, handler(body)

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://example.slack.com/", "team": "Example", "user": "coachbot",
                "team_id": "T0001", "user_id": "UBOT", "bot_id": "BBOT"}

    def _users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(body.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": self._user_json(user)}

    def _users_lookupByEmail(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - Slack's name
        for user in self.users.values():
            if user.email and user.email.lower() == body.get("email", "").lower():
                return {"ok": True, "user": self._user_json(user)}
        return {"ok": False, "error": "users_not_found"}

    @staticmethod
    def _user_json(user: SlackUser) -> dict[str, Any]:
        profile = {"real_name": user.name}
        if user.email:
            profile["email"] = user.email
        return {"id": user.id, "team_id": "T0001", "name": user.name, "tz": user.tz, "profile": profile}
