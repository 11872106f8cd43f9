"""Writing a deal back to the CRM: the fields coachbot may change, and how a CRM's refusal is told.

A write is sent once, never retried: it runs while someone waits on a Slack modal, so a 429 says
how long to wait instead of waiting, and a write that timed out is reported rather than repeated
(it may have been applied). Each refusal is a `WriteRefused` whose `field_errors` are keyed by
coachbot's field names ("next_step", "stage", ...); `field_errors[GENERAL]` holds what belongs to
no one field (a missing permission, a rate limit).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal, Protocol

import httpx

from bot.crm.base import CrmDeal, CrmError
from bot.crm.http import CrmHttpClient, retry_after_seconds

# coachbot fields a write may change, in the order the Update modal shows them.
WRITABLE_FIELDS = ("next_step", "next_step_date", "close_date", "stage", "amount", "product_line", "product_name")
DATE_FIELDS = frozenset({"next_step_date", "close_date"})
GENERAL = "_general"
WRITE_TIMEOUT = 10.0  # seconds: the modal says "Saving…" meanwhile; longer is no better an answer

Kind = Literal["validation", "permission", "rate_limited", "read_only", "not_found", "unavailable"]
# field -> new value: str, dt.date, Decimal or None (to clear it). A stage may be given as the names
# it goes by, preferred first (the playbook's name and its aliases): each CRM writes the one it has.
Changes = Mapping[str, Any]


def stage_names(value: Any) -> tuple[str, ...]:
    """A stage change as the names to look for, preferred first."""
    return (value,) if isinstance(value, str) else tuple(str(name) for name in value)


class CrmWriter(Protocol):
    """A provider that can write a deal back (the CSV export and the demo refuse every write)."""

    @property
    def source(self) -> str: ...

    def write_fields(self) -> tuple[str, ...]:
        """The coachbot fields this CRM, as configured, can write."""

    def write_deal(self, crm_id: str, changes: Changes) -> None:
        """Write `changes` to the deal; WriteRefused when the CRM (or coachbot for it) refuses."""

    def read_deal(self, crm_id: str) -> CrmDeal:
        """The deal as the sync reads it, after a write."""


class WriteRefused(CrmError):
    """The CRM (or coachbot for it) refused a write; nothing was changed."""

    def __init__(
        self, kind: Kind, message: str, *, field_errors: Mapping[str, str] | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.field_errors = dict(field_errors or {GENERAL: message})
        self.retry_after = retry_after


def read_only(name: str, how_to_change: str) -> WriteRefused:
    """The refusal of a provider that cannot write (the CSV export, the demo)."""
    return WriteRefused("read_only", f"{name} is read-only: coachbot cannot change deals there. {how_to_change}")


def send_once(client: CrmHttpClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request outside the retry policy: whatever status comes back, for the caller to read."""
    if client.limiter is not None:
        client.limiter.acquire()
    client.requests_made += 1
    try:
        return client.http.request(method, path, timeout=WRITE_TIMEOUT, **kwargs)
    except httpx.TimeoutException:
        raise WriteRefused(
            "unavailable",
            f"{client.crm} did not answer within {WRITE_TIMEOUT:.0f} seconds. The change may or may not have been "
            "saved: check the deal in the CRM before trying again.",
        ) from None
    except (httpx.NetworkError, httpx.RemoteProtocolError):
        raise WriteRefused("unavailable", f"{client.crm} could not be reached; nothing was changed. Try again.") from None


def common_refusal(client: CrmHttpClient, response: httpx.Response, *, permission: str) -> WriteRefused | None:
    """The refusal a status alone tells (401, 403, 404, 429, 5xx); None for the CRM's own reading (400...).

    `permission` completes "… may not change this deal: ___" for a 403 the CRM gives no reason for.
    """
    status, crm = response.status_code, client.crm
    if status == 401:
        return WriteRefused("permission", f"{crm} refused coachbot's credentials (401): check {client.auth_setting}.")
    if status == 403:
        return WriteRefused("permission", f"{crm} refused the change (403): {permission.rstrip('.')}.")
    if status == 404:
        return WriteRefused("not_found", f"{crm} has no such deal any more (404): it may have been deleted or merged.")
    if status == 429:
        return rate_limited(crm, retry_after_seconds(response))
    if status >= 500:
        return WriteRefused("unavailable", f"{crm} failed to save the change ({status}); nothing was changed. Try again.")
    return None


def rate_limited(crm: str, seconds: float | None) -> WriteRefused:
    wait = math.ceil(seconds) if seconds is not None else None
    when = f"in {wait} s" if wait is not None else "in a minute"
    return WriteRefused("rate_limited", f"{crm} is rate limiting coachbot; try again {when}.", retry_after=wait)


def date_text(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def amount_text(value: Decimal | None) -> str:
    return format(value, "f") if value is not None else ""
