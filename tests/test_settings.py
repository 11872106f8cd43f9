import pytest

from bot.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL",
                 "CRM_PROVIDER", "CSV_DEALS_FILE", "COACHBOT_TIMEZONE", "COACHBOT_CURRENCY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_need_nothing_set() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///coachbot.db"
    assert settings.crm_provider == "demo"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.timezone == "UTC"
    assert not settings.socket_mode


def test_settings_come_from_a_dotenv_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("COACHBOT_TIMEZONE=Europe/Paris\nSLACK_API_URL=http://127.0.0.1:9/api\n")
    settings = load_settings()
    assert settings.timezone == "Europe/Paris"
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"


def test_the_environment_beats_the_dotenv_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("COACHBOT_TIMEZONE=Europe/Paris\n")
    monkeypatch.setenv("COACHBOT_TIMEZONE", "Asia/Tokyo")
    assert load_settings().timezone == "Asia/Tokyo"


def test_an_invalid_value_names_the_setting(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COACHBOT_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError, match="COACHBOT_TIMEZONE: .*unknown IANA time zone 'Mars/Olympus'"):
        load_settings()


def test_an_unknown_provider_names_the_setting(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CRM_PROVIDER", "excel")
    with pytest.raises(SettingsError, match="CRM_PROVIDER"):
        load_settings()


def test_the_csv_provider_requires_its_file(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CRM_PROVIDER", "csv")
    with pytest.raises(SettingsError, match="missing required setting CSV_DEALS_FILE"):
        load_settings()


def test_require_names_every_missing_setting() -> None:
    with pytest.raises(SettingsError, match="missing required settings SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET"):
        load_settings().require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")


def test_secrets_never_appear_in_the_repr(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-a-real-token-1234")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "shh-signing-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://coach:hunter2@db.internal/coachbot")
    settings = load_settings()
    shown = repr(settings) + str(settings)
    for secret in ("xoxb-not-a-real-token-1234", "shh-signing-secret", "hunter2"):
        assert secret not in shown
    assert settings.database_url == "postgresql+psycopg://coach:hunter2@db.internal/coachbot"


@pytest.fixture
def no_secret_files(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN_FILE", "DATABASE_URL_FILE", "HUBSPOT_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_a_secret_is_read_from_the_file_its_file_setting_names(tmp_path, monkeypatch, no_secret_files) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "token").write_text("xoxb-from-file-1234\n")
    (tmp_path / "db").write_text("postgres://coachbot:s3cret@db:5432/coachbot")
    monkeypatch.setenv("SLACK_BOT_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("DATABASE_URL_FILE", str(tmp_path / "db"))

    settings = load_settings()

    assert settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value() == "xoxb-from-file-1234"
    assert settings.database_url == "postgresql+psycopg://coachbot:s3cret@db:5432/coachbot"
    assert "s3cret" not in repr(settings) and "xoxb-from-file" not in repr(settings)
    assert sorted(settings.secret_values()) == ["s3cret", "xoxb-from-file-1234"]


def test_a_secret_file_beats_the_dotenv_file(tmp_path, monkeypatch, no_secret_files) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv\n")
    (tmp_path / "token").write_text("xoxb-from-file")
    monkeypatch.setenv("SLACK_BOT_TOKEN_FILE", str(tmp_path / "token"))
    token = load_settings().slack_bot_token
    assert token is not None and token.get_secret_value() == "xoxb-from-file"


@pytest.mark.parametrize(
    ("content", "also_set", "message"),
    [
        (None, False, "SLACK_BOT_TOKEN_FILE: cannot read {path} (No such file or directory)"),
        ("\n", False, "SLACK_BOT_TOKEN_FILE: {path} is empty"),
        ("xoxb-1", True, "both SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE are set: keep one"),
    ],
)
def test_a_secret_file_that_cannot_be_used_stops_with_a_message(
    tmp_path, monkeypatch, no_secret_files, content, also_set, message
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("SLACK_BOT_TOKEN_FILE", str(path))
    if also_set:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-2")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == message.format(path=path)


def test_the_log_format_is_text_or_json(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert load_settings().log_format == "text"
    monkeypatch.setenv("COACHBOT_LOG_FORMAT", "json")
    assert load_settings().log_format == "json"
    monkeypatch.setenv("COACHBOT_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="COACHBOT_LOG_FORMAT"):
        load_settings()
