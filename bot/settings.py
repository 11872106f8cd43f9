"""Settings: read once, strictly, from the environment and an optional `.env` file.

The environment variable names are a public contract (see README, "Settings").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.periods import is_timezone

CrmProviderName = Literal["demo", "csv", "hubspot", "salesforce", "pipedrive"]


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it."""


# Settings that may be read from a file instead, named by <NAME>_FILE (Docker and Kubernetes
# secrets are files, e.g. SLACK_BOT_TOKEN_FILE=/run/secrets/slack_bot_token).
SECRET_FILE_SETTINGS = (
    "DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "HUBSPOT_TOKEN",
    "SALESFORCE_ACCESS_TOKEN", "SALESFORCE_CLIENT_SECRET", "PIPEDRIVE_API_TOKEN",
)  # fmt: skip


class _SecretFiles(PydanticBaseSettingsSource):
    """NAME from the file NAME_FILE names: its content, less the trailing newline editors add."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads every file at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in SECRET_FILE_SETTINGS:
            path = os.environ.get(f"{name}_FILE")
            if not path:
                continue
            if os.environ.get(name):
                raise SettingsError(f"both {name} and {name}_FILE are set: keep one")
            try:
                value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
                raise SettingsError(f"{name}_FILE: cannot read {path} ({reason})") from None
            if not value.strip():
                raise SettingsError(f"{name}_FILE: {path} is empty")
            values[name] = value
        return values


class Settings(BaseSettings):
    """Everything coachbot reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        frozen=True,
        populate_by_name=True,
    )

    # repr=False: a PostgreSQL URL may carry a password.
    database_url: str = Field("sqlite:///coachbot.db", alias="DATABASE_URL", repr=False)

    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    # The workspace (T…) and app (A…) ids: with both, a nudge's "…and N more" links to the App Home.
    slack_team_id: str | None = Field(None, alias="SLACK_TEAM_ID")
    slack_app_id: str | None = Field(None, alias="SLACK_APP_ID")
    # chat.postMessage: about 1 a second per channel, "several hundred a minute" per workspace.
    slack_post_per_channel_per_second: float = Field(1.0, gt=0, alias="SLACK_POST_PER_CHANNEL_PER_SECOND")
    slack_post_global_per_minute: int = Field(300, ge=1, alias="SLACK_POST_GLOBAL_PER_MINUTE")

    crm_provider: CrmProviderName = Field("demo", alias="CRM_PROVIDER")
    csv_deals_file: Path | None = Field(None, alias="CSV_DEALS_FILE")
    csv_owners_file: Path | None = Field(None, alias="CSV_OWNERS_FILE")
    csv_products_file: Path | None = Field(None, alias="CSV_PRODUCTS_FILE")

    hubspot_token: SecretStr | None = Field(None, alias="HUBSPOT_TOKEN")
    hubspot_api_url: str = Field("https://api.hubapi.com", alias="HUBSPOT_API_URL")
    # HubSpot's search endpoint allows about 4 requests a second per account.
    hubspot_requests_per_second: int = Field(4, ge=1, alias="HUBSPOT_REQUESTS_PER_SECOND")
    # The account's portal (Hub) id, shown in HubSpot's own URLs: with it, each deal links to its record.
    hubspot_portal_id: str | None = Field(None, alias="HUBSPOT_PORTAL_ID", pattern=r"^[0-9]{1,20}$")
    salesforce_instance_url: str | None = Field(None, alias="SALESFORCE_INSTANCE_URL")
    salesforce_access_token: SecretStr | None = Field(None, alias="SALESFORCE_ACCESS_TOKEN")
    salesforce_client_id: str | None = Field(None, alias="SALESFORCE_CLIENT_ID")
    salesforce_client_secret: SecretStr | None = Field(None, alias="SALESFORCE_CLIENT_SECRET")
    salesforce_token_url: str | None = Field(None, alias="SALESFORCE_TOKEN_URL")
    salesforce_api_version: str = Field("v60.0", alias="SALESFORCE_API_VERSION")
    # Salesforce counts calls per day; this only keeps a big first sync polite.
    salesforce_requests_per_second: int = Field(20, ge=1, alias="SALESFORCE_REQUESTS_PER_SECOND")
    pipedrive_api_token: SecretStr | None = Field(None, alias="PIPEDRIVE_API_TOKEN")
    pipedrive_api_url: str = Field("https://api.pipedrive.com", alias="PIPEDRIVE_API_URL")
    # Pipedrive budgets requests per token in 2-second windows; the lowest plan allows 20.
    pipedrive_requests_per_2s: int = Field(18, ge=1, alias="PIPEDRIVE_REQUESTS_PER_2S")
    # "field=crm_property,..." overrides of which CRM property feeds which deal field.
    crm_field_map: str = Field("", alias="CRM_FIELD_MAP")
    # Incremental syncs re-read this much before the stored cursor, so records sharing the
    # boundary timestamp (or indexed late by the CRM) are never missed.
    crm_sync_overlap_seconds: int = Field(60, ge=0, alias="CRM_SYNC_OVERLAP_SECONDS")

    timezone: str = Field("UTC", alias="COACHBOT_TIMEZONE")
    currency: str = Field("USD", alias="COACHBOT_CURRENCY")
    fiscal_year_start_month: int = Field(1, ge=1, le=12, alias="COACHBOT_FISCAL_YEAR_START_MONTH")
    playbook_path: Path | None = Field(None, alias="COACHBOT_PLAYBOOK")
    log_level: str = Field("INFO", alias="COACHBOT_LOG_LEVEL")
    # "json": one JSON object a line (for log collectors); "text": for people.
    log_format: Literal["text", "json"] = Field("text", alias="COACHBOT_LOG_FORMAT")

    # The schedule (see README, "Schedule").
    sync_every_minutes: int = Field(10, ge=0, alias="COACHBOT_SYNC_EVERY_MINUTES")
    tick_seconds: int = Field(60, ge=1, alias="COACHBOT_TICK_SECONDS")
    missed_run_grace_minutes: int = Field(180, ge=0, alias="COACHBOT_MISSED_RUN_GRACE_MINUTES")
    scheduler_enabled: bool = Field(True, alias="COACHBOT_SCHEDULER")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # A *_FILE secret counts as set in the environment: above .env, below explicit values.
        return init_settings, env_settings, _SecretFiles(settings_cls), dotenv_settings, file_secret_settings

    def secret_values(self) -> list[str]:
        """Every secret this process holds, for the log formatter to blank out."""
        secrets = [
            value.get_secret_value()
            for value in self.__dict__.values()
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]
        from sqlalchemy.engine import make_url

        try:
            password = make_url(self.database_url).password
        except Exception:  # noqa: BLE001 - an unparsable URL fails later, with its own message
            password = None
        return secrets + ([str(password)] if password else [])

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if not is_timezone(value):
            raise ValueError(f"unknown IANA time zone {value[:60]!r}")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {value[:20]!r}")
        return level

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValueError(f"expected a three-letter ISO 4217 code, got {value!r}")
        return code

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # slack_sdk joins method names onto base_url as-is.
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _sqlalchemy_url(cls, value: str) -> str:
        # Hosted PostgreSQL often hands out postgres:// URLs; SQLAlchemy needs a driver name.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    def require(self, *names: str) -> None:
        """Stop with a message naming every required setting in `names` that is unset."""
        missing = [name for name in names if getattr(self, _FIELD_BY_ENV[name]) in (None, "")]
        if missing:
            raise SettingsError(
                "missing required setting"
                + ("s " if len(missing) > 1 else " ")
                + ", ".join(missing)
                + " (set it in the environment or in .env; see README, Settings)"
            )

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None


_FIELD_BY_ENV = {field.alias: name for name, field in Settings.model_fields.items()}


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once; raise SettingsError naming each bad setting."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
    if settings.crm_provider == "csv":
        settings.require("CSV_DEALS_FILE")
    elif settings.crm_provider == "hubspot":
        settings.require("HUBSPOT_TOKEN")
    elif settings.crm_provider == "pipedrive":
        settings.require("PIPEDRIVE_API_TOKEN")
    elif settings.crm_provider == "salesforce":
        settings.require("SALESFORCE_INSTANCE_URL")
        if settings.salesforce_access_token is None:
            settings.require("SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET")
    return settings
