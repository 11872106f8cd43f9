"""The deployment files the README's production section uses: the Dockerfile, docker-compose.yml and
the systemd unit. No Docker engine runs here, so the image is not built; what can be checked without
one is: that they say what the README says, that they start the commands coachbot has, that each
secret file setting names a real setting, that the image's health check passes against a healthy
`coachbot run` and fails against a stopped one, and that systemd accepts the unit."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from bot.settings import Settings
from tests.conftest import REPO_ROOT
from tests.support.servers import COACHBOT, running_server
from tests.support.signing import SIGNING_SECRET

SETTING_NAMES = {field.alias for field in Settings.model_fields.values()}


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, (KEYWORD, arguments), one list per stage."""
    text = (REPO_ROOT / "Dockerfile").read_text()
    logical = re.sub(r"\\\n\s*", " ", text)
    stages: list[list[tuple[str, str]]] = []
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword.upper(), arguments.strip()))
    return stages


def instruction(stage: list[tuple[str, str]], keyword: str) -> str:
    [arguments] = [arguments for name, arguments in stage if name == keyword]
    return arguments


def healthcheck_command() -> list[str]:
    arguments = instruction(dockerfile_stages()[-1], "HEALTHCHECK")
    return json.loads(arguments[arguments.index("CMD") + len("CMD") :])


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def unit_lines() -> list[tuple[str, str]]:
    """(key, value) of every setting line in the systemd unit, in order (keys repeat)."""
    lines = []
    for line in (REPO_ROOT / "deploy" / "coachbot.service").read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            lines.append((key, value))
    return lines


def test_the_image_is_built_in_one_stage_and_runs_coachbot_run_as_a_non_root_user_in_a_slim_one() -> None:
    build, runtime = dockerfile_stages()
    assert re.fullmatch(r"python:\$\{PYTHON_VERSION\}-slim AS build", instruction(build, "FROM"))
    assert instruction(runtime, "FROM") == "python:${PYTHON_VERSION}-slim"
    assert "--from=build /opt/coachbot /opt/coachbot" in [arguments for name, arguments in runtime if name == "COPY"]
    assert instruction(runtime, "USER") == "coachbot"
    assert "--uid 10001" in instruction(runtime, "RUN")
    assert json.loads(instruction(runtime, "CMD")) == ["coachbot", "run", "--port", "3000"]
    assert instruction(runtime, "EXPOSE") == "3000"


def test_the_image_is_built_from_every_package_the_wheel_needs_with_the_pinned_versions() -> None:
    build, _ = dockerfile_stages()
    copied = {arguments.split()[0] for name, arguments in build if name == "COPY"} | {
        source for name, arguments in build if name == "COPY" for source in arguments.split()[:-1]
    }
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied
    assert {"pyproject.toml", project["project"]["readme"], "constraints.txt"} <= copied
    assert "-c constraints.txt" in instruction(build, "RUN")


def test_the_image_health_check_passes_on_a_healthy_server_and_fails_on_a_stopped_one(
    migrated_sqlite_url, slack, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    assert "'http://127.0.0.1:3000/healthz'" in command[2]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "CRM_", "COACHBOT_", "DATABASE_"))}
    env.update(
        DATABASE_URL=migrated_sqlite_url,
        SLACK_BOT_TOKEN="xoxb-deploy",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        COACHBOT_SCHEDULER="false",
    )
    with running_server(env, tmp_path) as url:
        probe = [sys.executable, "-c", command[2].replace("http://127.0.0.1:3000", url)]
        healthy = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    stopped = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    assert healthy.returncode == 0, healthy.stderr
    assert stopped.returncode != 0


def test_compose_migrates_once_before_two_bot_replicas_start_on_postgresql() -> None:
    services = compose()["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["coachbot", "migrate"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["bot"]["command"] == json.loads(instruction(dockerfile_stages()[-1], "CMD"))
    assert services["bot"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert services["bot"]["deploy"]["replicas"] == 2
    assert services["migrate"]["image"] == services["bot"]["image"]


def test_every_secret_file_setting_in_compose_names_a_setting_and_a_secret_the_service_mounts() -> None:
    document = compose()
    seen = set()
    for name in ("migrate", "bot"):
        service = document["services"][name]
        for key, value in service["environment"].items():
            if key.endswith("_FILE"):
                assert key.removesuffix("_FILE") in SETTING_NAMES
                secret = value.removeprefix("/run/secrets/")
                assert secret in service["secrets"] and secret in document["secrets"]
                seen.add(key)
    assert seen == {"DATABASE_URL_FILE", "SLACK_BOT_TOKEN_FILE", "SLACK_SIGNING_SECRET_FILE"}
    # The Slack tokens and the database password never sit in the compose file itself.
    assert not {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DATABASE_URL"} & set(document["services"]["bot"]["environment"])


def test_the_systemd_unit_runs_coachbot_as_its_own_user_with_secrets_as_credentials() -> None:
    lines = unit_lines()
    settings = dict(lines)
    assert settings["User"] == "coachbot"
    assert settings["ExecStart"].split()[:2] == ["/opt/coachbot/bin/coachbot", "run"]
    credentials = {value.split(":")[0] for key, value in lines if key == "LoadCredential"}
    files = {value.split("=")[0]: value.split("=")[1] for key, value in lines if key == "Environment"}
    assert files == {f"{name.upper()}_FILE": f"%d/{name}" for name in credentials}
    assert {name.removesuffix("_FILE") for name in files} <= SETTING_NAMES


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    # Pointed at this checkout's coachbot, since verify also checks that ExecStart exists.
    unit = tmp_path / "coachbot.service"
    unit.write_text((REPO_ROOT / "deploy" / "coachbot.service").read_text().replace("/opt/coachbot/bin/coachbot", str(COACHBOT)))
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None
    verified = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")
