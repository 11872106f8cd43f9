"""One `sync` in its own process, for bench/sync.py: prints a JSON line with what it did.

`python -m bench.sync_worker CRM CRM_URL DATABASE_URL` runs the sync; `python -m bench.sync_worker
--replay CRM_URL REQUESTS_FILE` is the fetch floor: it sends the very requests a sync sent (as the
stand-in recorded them) through coachbot's HTTP client and parses every answer as JSON, storing
nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from bot.coaching.playbook import load_playbook
from bot.crm.http import CrmHttpClient
from bot.crm.providers import provider_from_settings
from bot.crm.sync import sync
from bot.database import make_engine, make_session_factory
from bot.settings import Settings

# crm -> (build a stand-in of n deals, change k of its deals, settings for a stand-in at url)
STANDINS: dict[str, tuple[Callable[[int], Any], Callable[[Any, int], None], Callable[[str], dict[str, Any]]]] = {}


def _register() -> None:
    # The CRMs' own request limits are raised here: the benchmark measures coachbot's ingest,
    # not a vendor's quota (HubSpot's 4 searches a second would cap it at 400 deals a second).
    from tests.support import hubspot_standin, pipedrive_standin, salesforce_standin

    STANDINS["pipedrive"] = (
        lambda n: pipedrive_standin.PipedriveStandIn(n),
        lambda standin, k: standin.change(k),
        lambda url: {"crm_provider": "pipedrive", "pipedrive_api_token": pipedrive_standin.TOKEN,
                     "pipedrive_api_url": url, "pipedrive_requests_per_2s": 1000},
    )  # fmt: skip
    STANDINS["hubspot"] = (
        lambda n: hubspot_standin.HubSpotStandIn(n),
        lambda standin, k: standin.change(range(1, k * 7 + 1, 7)),  # the stand-in numbers deals from 1
        lambda url: {"crm_provider": "hubspot", "hubspot_token": hubspot_standin.TOKEN, "hubspot_api_url": url,
                     "hubspot_requests_per_second": 1000},
    )  # fmt: skip
    STANDINS["salesforce"] = (
        lambda n: salesforce_standin.SalesforceStandIn(now=dt.datetime.now(dt.UTC), opportunities=n),
        lambda standin, k: standin.change(k),
        lambda url: {"crm_provider": "salesforce", "salesforce_instance_url": url, "salesforce_client_id": "coachbot-app",
                     "salesforce_client_secret": "s3cret", "salesforce_requests_per_second": 1000},
    )  # fmt: skip


_register()


def peak_rss_kb() -> int:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries that across exec
    from the forking parent, so a worker started by a big parent would report the parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def replay(crm_url: str, requests_file: str) -> dict[str, Any]:
    """Time sending the recorded requests in order and parsing each answer, as the sync's fetch thread does."""
    with open(requests_file) as recorded:
        requests = json.load(recorded)
    client = CrmHttpClient(crm="stand-in", base_url=crm_url, auth_setting="(replay)")
    answered = 0
    started = time.perf_counter()
    for request in requests:
        body = client.json(
            request["method"], request["url"], headers=request["headers"], content=base64.b64decode(request["content"])
        )
        answered += body is not None
    seconds = time.perf_counter() - started
    client.close()
    return {"seconds": seconds, "requests": answered, "max_rss_kb": peak_rss_kb()}


def main() -> None:
    if sys.argv[1] == "--replay":
        print(json.dumps(replay(*sys.argv[2:4])))
        return
    crm, crm_url, database_url = sys.argv[1:4]
    settings = Settings(database_url=database_url, **STANDINS[crm][2](crm_url))
    now = dt.datetime.now(dt.UTC)
    session_factory = make_session_factory(make_engine(database_url))
    started = time.perf_counter()
    summary = sync(session_factory, provider_from_settings(settings, now), load_playbook(), now)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "fetched": summary.fetched,
                "created": summary.created,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
                "deleted": summary.deleted,
                "max_rss_kb": peak_rss_kb(),
            }  # fmt: skip
        )
    )


if __name__ == "__main__":
    main()
