"""What the HTTP connectors (HubSpot, Pipedrive, Salesforce) share: how each is built from the settings.

Every connector takes the same keyword arguments besides its own: `field_map` (CRM_FIELD_MAP,
parsed), `overlap_seconds` (CRM_SYNC_OVERLAP_SECONDS), `page_size`, and three seams tests and
benchmarks use: `transport` (a stand-in under httpx), `sleep` (the retry policy's and the rate
limiter's) and `clock` (the rate limiter's monotonic clock).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, Self

import httpx

from bot.crm import values
from bot.crm.base import CrmError
from bot.crm.http import CrmHttpClient
from bot.settings import Settings


class HttpConnector:
    """A CRM read over HTTP: built from the settings one way, the org left to `coachbot org import`."""

    source: ClassVar[str]
    client: CrmHttpClient

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        **options: Any,
    ) -> None:
        """The seams every connector takes (see the module docstring), besides its own settings."""
        raise NotImplementedError

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        **options: Any,
    ) -> Self:
        """The connector the settings describe; a CrmError names the setting to fix. `options` override settings."""
        return cls(
            **{
                "field_map": values.parse_field_map(settings.crm_field_map),
                "overlap_seconds": settings.crm_sync_overlap_seconds,
                **cls.settings_options(settings),
                **options,
            },
            transport=transport,
            sleep=sleep,
            clock=clock,
        )

    @classmethod
    def settings_options(cls, settings: Settings) -> dict[str, Any]:
        """This CRM's own settings as constructor arguments; a CrmError when a required one is missing."""
        raise NotImplementedError

    def close(self) -> None:
        self.client.close()

    def fetch_org(self) -> None:
        """None: the org comes from `coachbot org import`; owners only lend deals their id or email."""
        return None

    def expected_total(self) -> None:
        """None: how many deals a fetch yields depends on the cursor, which only fetch_deals is given."""
        return None


def required(value: Any, setting: str, hint: str = "") -> Any:
    """`value`, or a CrmError saying `setting` is not set (and what to do about it)."""
    if value is None or value == "":
        raise CrmError(f"{setting} is not set" + (f": {hint}" if hint else ""), setting=setting)
    return value
