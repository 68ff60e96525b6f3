"""`scripts/record_cassettes.py --live` captures the shapes the scanner depends on (the vault GET,
the job GET of failed jobs) and writes them scrubbed (issue 7).

A "live" subscription here is the loopback simulator serving recorded bodies from
../shared/real-responses: the vault list, the vault GET, and a failed Backup job that the list gives
without errorDetails while its job GET has them (the recorded Backup job with status Failed, and
the errorDetails of probe_job_workload_failed.json). The recorder runs its real code path: the
scanner's collection under vcrpy, the scrub pipeline of tests/cassettes.py, the extra job GETs.
"""
from __future__ import annotations

import copy
import importlib.util
import socket

import pytest
import yaml
from cassettes import PUBLIC_HOST, make_vcr, pseudonym
from recorded_arm import get_route, list_route, real_body, serving
from shared_data import ROOT

from scanner import ids
from scanner import inventory as m
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
from scanner.collect import CollectOptions, collect
from scanner.timeutil import parse

pytestmark = pytest.mark.shared

NOW = "2023-12-21T06:00:00Z"
TOKEN = "live-recording-token-7c1d"


def _recorder():
    spec = importlib.util.spec_from_file_location("record_cassettes", ROOT / "scripts" / "record_cassettes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _subscription() -> tuple[str, dict]:
    vault = real_body("vault_get.json")
    sub = ids.subscription_of(vault["id"])
    [job] = [copy.deepcopy(j) for j in real_body("backup_jobs.json")["value"] if j["properties"]["operation"] == "Backup"]
    job["properties"]["status"] = "Failed"
    detail = copy.deepcopy(job)
    detail["properties"]["errorDetails"] = real_body("probe_job_workload_failed.json")["properties"]["errorDetails"]
    listed = {"id": vault["id"], "name": vault["name"], "type": vault["type"], "location": vault["location"],
              "properties": {"provisioningState": "Succeeded"}}
    routes = [list_route(f"/subscriptions/{sub}/providers/Microsoft.RecoveryServices/vaults", [listed]),
              get_route(vault["id"], vault),
              list_route(f"{vault['id']}/backupJobs", [job]), get_route(job["id"], detail),
              list_route(f"{vault['id']}/backupProtectedItems", real_body("protected_items.json")["value"])]
    routes += [list_route(f"{vault['id']}/{child}", []) for child in ("backupPolicies", "replicationProtectedItems",
                                                                         "replicationJobs")]
    return sub, {"subscriptions": [sub], "recorded": routes}


def test_live_recording_holds_the_vault_get_and_failed_job_details_scrubbed(tmp_path, monkeypatch, capsys):
    sub, scenario = _subscription()
    with serving(scenario) as (_factory, sim):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_path)
        _recorder().live(sub, sim.endpoint, tmp_path, credential=StaticTokenCredential(TOKEN), now=parse(NOW))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")  # the simulator's CA is gone with it
    printed = capsys.readouterr().out
    assert "vault GETs read 1" in printed and "listed without errorDetails (job GET by the collector) 1" in printed

    name = f"live_{pseudonym(sub)[-12:]}"
    collection, details = (tmp_path / f"{name}.yaml", tmp_path / f"{name}_job_details.yaml")
    text = collection.read_text() + details.read_text()
    assert TOKEN not in text and sub not in text.lower() and "127.0.0.1" not in text
    interactions = yaml.safe_load(collection.read_text())["interactions"]
    assert not [k for i in interactions for k in i["request"]["headers"] if k.lower() == "authorization"]
    uris = [i["request"]["uri"] for i in interactions]
    vault_path = ids.norm(real_body("vault_get.json")["id"]).replace(sub, pseudonym(sub))
    assert all(u.startswith(f"https://{PUBLIC_HOST}/") for u in uris)
    assert any(u.lower().split("?")[0].endswith(vault_path) for u in uris)  # the vault GET
    assert sum("/backupjobs/" in u.lower() for u in uris) == 1  # the collector's job GET
    [extra] = yaml.safe_load(details.read_text())["interactions"]
    assert "/backupjobs/" in extra["request"]["uri"].lower() and "UserErrorIncompatibleSrcTargetSystemsForRestore" in \
        extra["response"]["body"]["string"]

    # The recording replays (network blocked) into the same inventory shapes.
    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: pytest.fail("network during playback"))
    factory = ClientFactory(StaticTokenCredential("playback"), ArmSettings(timeout=60, max_retry_after=0, retry_total=0))
    with make_vcr(library=tmp_path).use_cassette(collection.name) as cassette:
        inv = collect(factory, [pseudonym(sub)], CollectOptions(workers=1, subscription_workers=1, list_workers=1), now=parse(NOW))
    assert cassette.all_played
    [vault] = inv.vaults
    assert (vault.soft_delete_state, vault.immutability_state) == ("Enabled", m.IMMUTABILITY_NOT_CONFIGURED)
    [job] = inv.backup_jobs
    assert [(e.code, e.title) for e in job.errors] == [("520512", "UserErrorIncompatibleSrcTargetSystemsForRestore")]
