"""The shared HTTP machinery of the CRM connectors: one retry policy, a client-side rate limiter.

Each CRM module builds one `CrmHttpClient` with its base URL, auth, timeouts and limiter. The
policy: 429, 5xx, timeouts, dropped connections and what a CRM marks transient are retried with exponential backoff (with
jitter) that honours Retry-After, at most `max_retries` times; 401 and 403 stop at once with a
CrmAuthError naming the setting to fix; any other 4xx is a CrmError. Nothing here logs a token.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import httpx

from bot.crm.base import CrmError

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class CrmAuthError(CrmError):
    """The CRM refused our credentials or permissions (401/403): retrying will not help."""


class CrmUnavailableError(CrmError):
    """The CRM kept failing (429/5xx/timeouts) after every retry; the next sync tries again."""


class CrmGarbageError(CrmError):
    """The CRM answered something that is not the JSON its API documents."""


class RateLimiter:
    """At most `max_calls` calls in any sliding `window` seconds, shared by threads.

    A sliding window fits all three CRMs: HubSpot's search (about 4 a second), Pipedrive's
    token budget per 2-second window, Salesforce's concurrency-friendly pacing.
    """

    def __init__(
        self,
        max_calls: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_calls = max_calls
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._calls and now - self._calls[0] >= self.window:
                    self._calls.popleft()
                if len(self._calls) < self.max_calls:
                    self._calls.append(now)
                    return
                wait = self.window - (now - self._calls[0])
            self._sleep(max(wait, 0.001))


def retry_after_seconds(response: httpx.Response, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        # Pipedrive announces the end of its window as seconds to wait, under its own name.
        reset = response.headers.get("x-ratelimit-reset")
        try:
            return max(float(reset), 0.0) if reset else None
        except ValueError:
            return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - now(), 0.0)


class CrmHttpClient:
    """httpx with the connectors' single retry policy and a rate limiter."""

    def __init__(
        self,
        *,
        crm: str,
        base_url: str,
        auth_setting: str,
        headers: Mapping[str, str] | None = None,
        limiter: RateLimiter | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        auth: httpx.Auth | None = None,
        response_hooks: list[Callable[[httpx.Response], None]] | None = None,
        transient: Callable[[httpx.Response], str | None] | None = None,
    ) -> None:
        self.crm = crm
        self.auth_setting = auth_setting
        self.limiter = limiter
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        # A CRM's own word that an error status will pass (Salesforce's concurrency limit is a
        # 403): the reason to log and retry on, or None to let the status decide.
        self._transient = transient
        self.http = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            auth=auth,
            # Hooks see a response before the policy does: a CRM that reports a spent quota as a
            # 403 (Salesforce) can say so instead of being taken for a bad credential.
            event_hooks={"response": list(response_hooks or ())},
        )
        self.requests_made = 0
        self.retries = 0

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One logical request: retried per the policy, raised as a CrmError when it cannot succeed."""
        attempt = 0
        while True:
            if self.limiter is not None:
                self.limiter.acquire()
            self.requests_made += 1
            response: httpx.Response | None  # None when no answer came back
            try:
                response = self.http.request(method, url, **kwargs)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                reason = f"{type(exc).__name__}"
                response = None
            else:
                if response.status_code < 400:
                    return response
                if self._transient is not None and (transient := self._transient(response)):
                    reason = transient
                elif response.status_code in (401, 403):
                    self._raise_for_auth(response)
                elif response.status_code not in RETRYABLE_STATUSES:
                    raise CrmError(f"{self.crm} answered {response.status_code} to {method} {_path(url)}: {_snippet(response)}")
                else:
                    reason = f"HTTP {response.status_code}"
            attempt += 1
            if attempt > self.max_retries:
                raise CrmUnavailableError(
                    f"{self.crm} kept failing ({reason}) on {method} {_path(url)} after {self.max_retries} retries; "
                    "nothing was lost, the next sync resumes from the last stored page"
                )
            delay = self._delay(attempt, response)
            self.retries += 1
            log.info("%s: %s on %s %s, retry %d in %.2fs", self.crm, reason, method, _path(url), attempt, delay)
            self._sleep(delay)

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.request(method, url, **kwargs)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise CrmGarbageError(
                f"{self.crm} answered {method} {_path(url)} with something that is not JSON: {_snippet(response)}"
            ) from None

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None and (retry_after := retry_after_seconds(response)) is not None:
            return min(retry_after, self.backoff_cap)
        exponential = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return exponential * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security

    def _raise_for_auth(self, response: httpx.Response) -> NoReturn:
        raise CrmAuthError(
            f"{self.crm} refused the request ({response.status_code}: {_snippet(response)}): "
            f"check {self.auth_setting} and the permissions it grants",
            setting=self.auth_setting,
        )


def _path(url: str) -> str:
    # Query strings can carry secrets (a token, a SOQL literal): never show them.
    return url.split("?", 1)[0]


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("…" if len(text) > limit else "")
