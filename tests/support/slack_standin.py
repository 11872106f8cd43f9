"""A stand-in Slack Web API on an ephemeral loopback port that records every call.

It answers the methods coachbot uses from a small directory of users, and also serves
slash-command `response_url`s (under /response/), so tests can read what a user was shown.

For the outbox sender it also:
- answers chat.postMessage with a `ts` and records each accepted message (`messages`);
- optionally enforces Slack-like limits on chat.postMessage (`limits`): a token bucket per
  channel and one for the workspace, answering HTTP 429 with Retry-After when either is empty
  and counting those answers (`rate_limited`);
- serves the three steps of slack_sdk's files_upload_v2: files.getUploadURLExternal, a POST of
  the bytes to the upload URL it hands out (under /upload/), files.completeUploadExternal;
  completed uploads land in `files`;
- fails on request (`fail(...)`): an error code or HTTP status per method, optionally for one
  channel only and a number of times, or a slow answer; or accepts the call (a post is stored)
  and then drops the connection or holds the answer (`accept=True`), as when a network fails
  after Slack has the request;
- keeps each conversation's history as Slack does: a post to a user id lands in their DM with
  the app ("D…", which conversations.open also gives), and conversations.history answers with
  the messages newest first, `oldest`/`latest` exclusive, `limit` and cursor pages
  (response_metadata.next_cursor while has_more), each message's `metadata` only with
  include_all_metadata; reading a DM needs `im:history` and opening one `im:write` among
  `scopes` (else missing_scope with `needed`, as Slack answers).
"""

from __future__ import annotations

import base64
import json
import math
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


@dataclass(frozen=True)
class SlackLimits:
    """chat.postMessage limits: a token bucket per channel and one for the workspace.

    Slack documents "1 message per second to a specific channel" with short bursts, and a
    workspace-wide limit of "several hundred messages per minute" with generous bursts
    (docs.slack.dev/reference/methods/chat.postMessage, "Rate limiting"); the defaults take the
    low end of that, 300 a minute. The algorithm Slack uses is not documented: buckets model
    "a rate, with bursts" and are strict about the long-run average.
    """

    per_channel_per_second: float = 1.0
    per_channel_burst: int = 3
    global_per_minute: float = 300.0
    global_burst: int = 10


class _Bucket:
    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = float(burst), now

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self) -> float:
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass
class SlackFault:
    """A failure the stand-in serves instead of the normal answer (see SlackStandIn.fail)."""

    method: str
    error: str = "internal_error"
    status: int = 200
    channel: str | None = None
    times: int | None = None  # None: every matching call
    retry_after: int | None = None
    delay: float = 0.0
    accept: bool = False  # do the call, then drop the connection (or answer after `delay`)
    drop: bool = False
    served: int = 0


@dataclass
class PostedMessage:
    channel: str  # as asked: a channel id, or a user id for their DM
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    metadata: dict[str, Any] | None = None
    conversation: str = ""  # where it landed: the channel, or the "D…" DM


# What _respond returns for a call whose connection is dropped without an answer.
DROP_CONNECTION = object()


def dm_of(user_id: str) -> str:
    """The app's DM with a user, as this stand-in numbers them."""
    return "D" + user_id[1:]


@dataclass
class UploadedFile:
    file_id: str
    filename: str
    title: str | None
    content: bytes
    channel_id: str | None
    initial_comment: str | None


@dataclass
class SlackStandIn:
    users: dict[str, SlackUser] = field(default_factory=dict)
    calls: list[SlackCall] = field(default_factory=list)
    # Canned answers by method, for faults: {"users.info": {"ok": True}} (a malformed reply).
    overrides: dict[str, Any] = field(default_factory=dict)
    # Sent on auth.test as Slack does, in the x-oauth-scopes header.
    scopes: str = ",".join(REQUIRED_BOT_SCOPES)
    url: str = ""
    # chat.postMessage limits; None: unlimited.
    limits: SlackLimits | None = None
    messages: list[PostedMessage] = field(default_factory=list)
    files: list[UploadedFile] = field(default_factory=list)
    faults: list[SlackFault] = field(default_factory=list)
    rate_limited: int = 0  # 429 answers given by `limits`
    latency: float = 0.0  # seconds every Web API answer takes, like a real network round trip
    # Slack's clock, which stamps each message's ts: a test with a fixed `now` sets it to match.
    clock: Callable[[], float] = time.time
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _channel_buckets: dict[str, _Bucket] = field(default_factory=dict)
    _global_bucket: _Bucket | None = None
    _pending_uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Each conversation's messages as conversations.history returns them (oldest first here).
    _history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _counter: int = 0
    _last_micros: int = 0

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, key: str = "r1") -> str:
        return f"{self.url}/response/{key}"

    def add_user(self, user_id: str, email: str | None, tz: str = "America/New_York") -> None:
        self.users[user_id] = SlackUser(user_id, email, tz)

    def fail(
        self,
        method: str,
        error: str = "internal_error",
        *,
        status: int = 200,
        channel: str | None = None,
        times: int | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        accept: bool = False,
        drop: bool = False,
    ) -> SlackFault:
        """Answer `method` (for `channel` only, if given) with `error` at HTTP `status`, `times` times.

        `method` is a Web API method or "upload" (the upload URL); `retry_after` adds the header
        (with status 429 this is a rate limit); `delay` holds the answer that many seconds, so a
        client with a shorter timeout gives up. A faulted call never posts or stores anything,
        unless `accept`: then the call is done as usual (a post is stored) and afterwards the
        connection is closed without an answer (`drop`) or the normal answer waits `delay` seconds.
        """
        fault = SlackFault(method, error, status, channel, times, retry_after, delay, accept, drop)
        with self._lock:
            self.faults.append(fault)
        return fault

    def messages_to(self, channel: str) -> list[PostedMessage]:
        with self._lock:
            return [message for message in self.messages if message.channel == channel]

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
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw_bytes = self.rfile.read(length)
                path = urllib.parse.urlparse(self.path).path
                if path.startswith("/upload/"):
                    # The file's own bytes (an image), not a form: never decoded as text.
                    method = "upload"
                    body: dict[str, Any] = {"file_id": path.rsplit("/", 1)[-1], "size": len(raw_bytes)}
                else:
                    raw = raw_bytes.decode()
                    if "json" in (self.headers.get("Content-Type") or ""):
                        body = json.loads(raw or "{}")
                    else:
                        body = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                    # GET methods (conversations.history) carry their arguments in the query string.
                    query = urllib.parse.urlparse(self.path).query
                    body.update({k: v[0] for k, v in urllib.parse.parse_qs(query).items() if k not in body})
                    method = "response" if path.startswith("/response/") else path.rsplit("/", 1)[-1]
                with standin._lock:
                    standin.calls.append(SlackCall(path, method, body, dict(self.headers.items())))
                    standin._lock.notify_all()
                answer = standin._respond(method, body, raw_bytes)
                if answer is DROP_CONNECTION:
                    self.close_connection = True
                    return
                status, payload, headers = answer
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                if method == "auth.test":
                    self.send_header("x-oauth-scopes", standin.scopes)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a test of timeouts): as Slack, carry on

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

    def _respond(self, method: str, body: dict[str, Any], raw: bytes) -> Any:
        """Faults first, then limits, then the method's answer; with any extra headers."""
        if self.latency and method != "response":
            time.sleep(self.latency)
        fault = self._take_fault(method, body)
        if fault is not None and fault.accept:
            answer = self._respond_normally(method, body, raw)
            if fault.delay:
                time.sleep(fault.delay)
            return DROP_CONNECTION if fault.drop else answer
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return fault.status, {"ok": False, "error": fault.error}, headers
        if method == "chat.postMessage" and self.limits is not None:
            wait = self._spend_post_budget(str(body.get("channel", "")))
            if wait is not None:
                # Slack answers a rate limit with HTTP 429 and whole seconds in Retry-After.
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(max(1, math.ceil(wait)))}
        return self._respond_normally(method, body, raw)

    def _respond_normally(self, method: str, body: dict[str, Any], raw: bytes) -> tuple[int, Any, dict[str, str]]:
        if method == "upload":
            return 200, self._upload(body["file_id"], raw), {}
        status, payload = self.answer(method, body)
        return status, payload, {}

    def _take_fault(self, method: str, body: dict[str, Any]) -> SlackFault | None:
        channel = body.get("channel") or body.get("channel_id")
        with self._lock:
            for fault in self.faults:
                if fault.method != method or (fault.channel is not None and fault.channel != channel):
                    continue
                if fault.times is not None and fault.served >= fault.times:
                    continue
                fault.served += 1
                return fault
        return None

    def _spend_post_budget(self, channel: str) -> float | None:
        """Take a token from the channel's and the workspace's bucket; the wait when either is empty."""
        limits = self.limits
        assert limits is not None
        now = time.monotonic()
        with self._lock:
            if self._global_bucket is None:
                self._global_bucket = _Bucket(limits.global_per_minute / 60, limits.global_burst, now)
            channel_bucket = self._channel_buckets.setdefault(
                channel, _Bucket(limits.per_channel_per_second, limits.per_channel_burst, now)
            )
            channel_bucket.refill(now)
            self._global_bucket.refill(now)
            wait = max(channel_bucket.wait(), self._global_bucket.wait())
            if wait > 0:
                self.rate_limited += 1
                return wait
            channel_bucket.tokens -= 1
            self._global_bucket.tokens -= 1
            return None

    def _next_ts(self) -> str:
        """Slack's ts, "0123456789.012345": its clock in microseconds, unique and rising per workspace."""
        with self._lock:
            self._last_micros = max(self._last_micros + 1, int(self.clock() * 1_000_000))
            return f"{self._last_micros // 1_000_000}.{self._last_micros % 1_000_000:06d}"

    def _next_number(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - Slack's name
        channel = str(body.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("text") and not body.get("blocks"):
            return {"ok": False, "error": "no_text"}
        metadata = body.get("metadata")
        if isinstance(metadata, str):  # form-encoded posts carry it as a JSON string
            metadata = json.loads(metadata)
        blocks = body.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        ts = self._next_ts()
        # Posting to a user id posts in the app's DM with them, a "D…" conversation.
        conversation = dm_of(channel) if channel[:1] in ("U", "W") else channel
        message: dict[str, Any] = {"type": "message", "text": body.get("text") or "", "ts": ts, "user": "UBOT",
                                   "bot_id": "BBOT", "team": "T0001"}  # fmt: skip
        if blocks:
            message["blocks"] = blocks
        if _valid_metadata(metadata):
            message["metadata"] = metadata
        with self._lock:
            self.messages.append(PostedMessage(channel, ts, body.get("text"), body.get("blocks"), metadata, conversation))
            self._history.setdefault(conversation, []).append(message)
        answer = {key: value for key, value in message.items() if key != "metadata"}
        return {"ok": True, "channel": conversation, "ts": ts, "message": answer}

    def _conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if "im:write" not in self.scopes.split(","):
            return {"ok": False, "error": "missing_scope", "needed": "im:write", "provided": self.scopes}
        users = [user for user in str(body.get("users", "")).split(",") if user]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        if len(users) > 1 or users[0][:1] not in ("U", "W"):
            return {"ok": False, "error": "user_not_found"}
        with self._lock:
            already = dm_of(users[0]) in self._history
        return {"ok": True, "no_op": already, "already_open": already, "channel": {"id": dm_of(users[0])}}

    def _conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel", ""))
        needed = {"D": "im:history", "C": "channels:history", "G": "groups:history"}.get(channel[:1])
        if needed is None:
            return {"ok": False, "error": "channel_not_found"}
        if needed not in self.scopes.split(","):
            return {"ok": False, "error": "missing_scope", "needed": needed, "provided": self.scopes}
        oldest, latest = float(body.get("oldest") or 0), float(body.get("latest") or math.inf)
        inclusive = str(body.get("inclusive", "")).lower() in ("1", "true")
        with_metadata = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        limit = min(max(int(body.get("limit") or 100), 1), 999)
        skip = int(base64.b64decode(body["cursor"]).decode().split(":")[1]) if body.get("cursor") else 0
        with self._lock:
            stored = list(self._history.get(channel, []))
        in_range = [
            message for message in reversed(stored)
            if (oldest <= float(message["ts"]) <= latest if inclusive else oldest < float(message["ts"]) < latest)
        ]  # fmt: skip
        page = in_range[skip : skip + limit]
        messages = [message if with_metadata else {k: v for k, v in message.items() if k != "metadata"} for message in page]
        has_more = skip + limit < len(in_range)
        answer: dict[str, Any] = {"ok": True, "messages": messages, "has_more": has_more, "pin_count": 0,
                                  "channel_actions_ts": None, "channel_actions_count": 0}  # fmt: skip
        if has_more:
            answer["response_metadata"] = {"next_cursor": base64.b64encode(f"next:{skip + limit}".encode()).decode()}
        return answer

    def _files_getUploadURLExternal(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - Slack's name
        if not body.get("filename") or not str(body.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{self._next_number():08d}"
        with self._lock:
            self._pending_uploads[file_id] = {"filename": body["filename"], "length": int(body["length"]), "content": None}
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _upload(self, file_id: str, content: bytes) -> str:
        with self._lock:
            if file_id in self._pending_uploads:
                self._pending_uploads[file_id]["content"] = content
        # What files.slack.com answers to an upload: plain text.
        return f"OK - {len(content)}"

    def _files_completeUploadExternal(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - Slack's name
        try:
            requested = json.loads(body.get("files", "[]"))
        except json.JSONDecodeError:
            return {"ok": False, "error": "invalid_arguments"}
        completed = []
        with self._lock:
            for item in requested:
                pending = self._pending_uploads.get(item.get("id", ""))
                if pending is None or pending["content"] is None:
                    return {"ok": False, "error": "file_not_found"}
            for item in requested:
                pending = self._pending_uploads.pop(item["id"])
                uploaded = UploadedFile(item["id"], pending["filename"], item.get("title"), pending["content"],
                                        body.get("channel_id"), body.get("initial_comment"))  # fmt: skip
                self.files.append(uploaded)
                completed.append({"id": uploaded.file_id, "name": uploaded.filename, "title": uploaded.title})
        return {"ok": True, "files": completed}

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://example.slack.com/",
            "team": "Example",
            "user": "coachbot",
            "team_id": "T0001",
            "user_id": "UBOT",
            "bot_id": "BBOT",
        }

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

    def history_of(self, conversation: str) -> list[dict[str, Any]]:
        """A conversation's messages, oldest first, as stored (with metadata)."""
        with self._lock:
            return list(self._history.get(conversation, []))

    @staticmethod
    def _user_json(user: SlackUser) -> dict[str, Any]:
        profile = {"real_name": user.name}
        if user.email:
            profile["email"] = user.email
        return {"id": user.id, "team_id": "T0001", "name": user.name, "tz": user.tz, "profile": profile}


def _valid_metadata(metadata: Any) -> bool:
    """Slack keeps metadata whose event_type is letters, digits, _ and - and whose payload is an object."""
    if not isinstance(metadata, dict) or not isinstance(metadata.get("event_payload"), dict):
        return False
    event_type = metadata.get("event_type")
    return isinstance(event_type, str) and bool(event_type) and all(c.isalnum() or c in "_-" for c in event_type)
