"""Choose the CRM provider the settings name."""

from __future__ import annotations

import datetime as dt
from typing import cast

import httpx

from bot.crm.base import CrmProvider
from bot.crm.writes import CrmWriter
from bot.settings import Settings


def provider_from_settings(settings: Settings, now: dt.datetime, transport: httpx.BaseTransport | None = None) -> CrmProvider:
    """The configured provider; `transport` lets tests put a stand-in under the HTTP connectors."""
    if settings.crm_provider == "demo":
        from bot.crm.demo import DemoProvider

        return DemoProvider(now, settings.timezone, settings.currency, settings.fiscal_year_start_month)
    if settings.crm_provider == "csv":
        from bot.crm.csv_export import CsvProvider

        assert settings.csv_deals_file is not None  # load_settings requires it for csv
        return CsvProvider(
            settings.csv_deals_file,
            owners_file=settings.csv_owners_file,
            products_file=settings.csv_products_file,
            default_currency=settings.currency,
            timezone=settings.timezone,
        )
    if settings.crm_provider == "hubspot":
        from bot.crm.hubspot import HubSpotProvider

        return HubSpotProvider.from_settings(settings, transport=transport)
    if settings.crm_provider == "salesforce":
        from bot.crm.salesforce import SalesforceProvider

        return SalesforceProvider.from_settings(settings, transport=transport)
    if settings.crm_provider == "pipedrive":
        from bot.crm.pipedrive import PipedriveProvider

        return PipedriveProvider.from_settings(settings, transport=transport)
    raise AssertionError(f"unhandled CRM_PROVIDER {settings.crm_provider!r}")


def writer_from_settings(settings: Settings, now: dt.datetime, transport: httpx.BaseTransport | None = None) -> CrmWriter:
    """The configured provider as a writer: every provider answers a write, the read-only ones with a refusal."""
    return cast(CrmWriter, provider_from_settings(settings, now, transport))
