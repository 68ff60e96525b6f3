"""The loopback ARM simulator, driven by the REAL Azure SDK clients (and by plain HTTP where the
exact wire bytes matter): routes and URL shapes, paging, the statusOnly shape, ARM errors, every
fault kind, the ledger, TLS, robustness, and the bundled demo scenario."""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import DecodeError, HttpResponseError, ResourceNotFoundError, ServiceRequestError, ServiceResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.recoveryservices import RecoveryServicesClient
from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.resource.locks import ManagementLockClient
from azure.mgmt.resource.resources import ResourceManagementClient
from simfaults import Fault, FaultySimulator, drop_fields, set_fields

from scanner.simulator import ScenarioError, Simulator, load_scenario
from scanner.simulator.scenario import relative_time

SUB = "00000000-0000-4000-8000-0000000051a1"
P = f"/subscriptions/{SUB}"
VAULT = f"{P}/resourceGroups/rg-backup/providers/Microsoft.RecoveryServices/vaults/rsv-test"
NOW = datetime(2030, 1, 15, 12, 0, 0, tzinfo=timezone.utc)
API = "api-version=2026-04-01"


class StaticToken:
    """The smallest TokenCredential: a fixed bearer token."""

    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        self.calls += 1
        return AccessToken(self.token, int(time.time()) + 3600)


# --------------------------------------------------------------------------- scenario used here
def _vm(i: int, rg: str = "rg-app", power: str = "running") -> dict:
    name = f"vm-{i:02d}"
    return {
        "id": f"{P}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}", "name": name,
        "type": "Microsoft.Compute/virtualMachines", "location": "westeurope", "tags": {"n": str(i)},
        "properties": {
            "vmId": f"00000000-0000-4000-8000-{i:012d}", "provisioningState": "Succeeded",
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "storageProfile": {"osDisk": {"osType": "Linux", "name": f"{name}-os", "createOption": "FromImage",
                                          "managedDisk": {
                                              "id": f"{P}/resourceGroups/{rg.upper()}/providers/Microsoft.Compute/disks/{name}-os"}}},
            "osProfile": {"computerName": name, "linuxConfiguration": {"provisionVMAgent": True}},
            "instanceView": {"statuses": [{"code": "ShouldNotBeListed"}]},
        },
    }


def _view(power: str) -> dict:
    return {"computerName": "x", "platformFaultDomain": 1,
            "vmAgent": {"vmAgentVersion": "2.9.1.1", "statuses": [{"code": "ProvisioningState/succeeded", "displayStatus": "Ready"}]},
            "extensions": [{"name": "VMSnapshotLinux", "type": "Microsoft.Azure.RecoveryServices.VMSnapshotLinux"}],
            "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info"}, {"code": f"PowerState/{power}", "level": "Info"}]}


def _job(n: int, status: str, hours_ago: float) -> dict:
    return {"id": f"{VAULT}/backupJobs/job-{n}", "name": f"job-{n}", "type": "Microsoft.RecoveryServices/vaults/backupJobs",
            "properties": {"jobType": "AzureIaaSVMJob", "operation": "Backup", "status": status,
                           "backupManagementType": "AzureIaasVM", "entityFriendlyName": "vm-01",
                           "startTime": f"@now-{hours_ago}h", "containerName": "iaasvmcontainerv2;rg-app;vm-01"}}


def scenario() -> dict:
    vms = [_vm(i) for i in range(7)]
    return {
        "subscriptions": [SUB],
        "subscriptionDetails": {SUB: {"displayName": "sim-test"}},
        "resourceGroups": [{"id": f"{P}/resourceGroups/{n}", "name": n, "location": "westeurope"}
                           for n in ("rg-app", "rg-backup", "AzureBackupRG_westeurope_1")],
        "virtualMachines": vms,
        "instanceViews": {vms[0]["id"].upper(): _view("running"), vms[1]["id"]: _view("deallocated")},
        "disks": [{"id": f"{P}/resourceGroups/RG-APP/providers/Microsoft.Compute/disks/vm-00-os", "name": "vm-00-os",
                   "type": "Microsoft.Compute/disks", "location": "westeurope", "managedBy": vms[0]["id"],
                   "properties": {"diskSizeGB": 30}}],
        "restorePointCollections": [{
            "id": f"{P}/resourceGroups/AzureBackupRG_westeurope_1/providers/Microsoft.Compute/restorePointCollections/rpc-00",
            "name": "rpc-00", "type": "Microsoft.Compute/restorePointCollections", "location": "westeurope",
            "properties": {"source": {"id": vms[0]["id"]}, "provisioningState": "Succeeded",
                           "restorePoints": [{"name": f"rp{i}", "id": f"rp{i}", "properties": {"timeCreated": f"@now-{i}d"}}
                                             for i in range(3)]}}],
        "locks": [
            {"id": f"{P}/resourceGroups/AzureBackupRG_westeurope_1/providers/Microsoft.Authorization/locks/l1",
             "name": "l1", "type": "Microsoft.Authorization/locks", "properties": {"level": "CanNotDelete"}},
            {"id": f"{vms[2]['id']}/providers/Microsoft.Authorization/locks/l2", "name": "l2",
             "type": "Microsoft.Authorization/locks", "properties": {"level": "ReadOnly"}},
            {"id": "/subscriptions/00000000-0000-4000-8000-0000000051a2/providers/Microsoft.Authorization/locks/other",
             "name": "other", "type": "Microsoft.Authorization/locks", "properties": {"level": "ReadOnly"}},
        ],
        "vaults": [{"id": VAULT, "name": "rsv-test", "type": "Microsoft.RecoveryServices/vaults", "location": "westeurope",
                    "sku": {"name": "RS0", "tier": "Standard"},
                    "properties": {"redundancySettings": {"standardTierStorageRedundancy": "GeoRedundant",
                                                          "crossRegionRestore": "Disabled"}}}],
        "backupProtectedItems": [
            {"id": f"/Subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.RecoveryServices/vaults/rsv-test/"
                   f"backupFabrics/Azure/protectionContainers/IaasVMContainer;iaasvmcontainerv2;rg-app;vm-0{i}/"
                   f"protectedItems/VM;iaasvmcontainerv2;rg-app;vm-0{i}",
             "name": f"VM;iaasvmcontainerv2;rg-app;vm-0{i}",
             "properties": {"protectedItemType": "Microsoft.Compute/virtualMachines", "backupManagementType": mgmt,
                            "workloadType": "VM", "sourceResourceId": vms[i]["id"].lower(), "protectionState": "Protected"}}
            for i, mgmt in ((0, "AzureIaasVM"), (1, "AzureIaasVM"), (2, "AzureWorkload"))],
        "backupPolicies": [
            {"id": f"{VAULT}/backupPolicies/DefaultPolicy", "name": "DefaultPolicy",
             "properties": {"backupManagementType": "AzureIaasVM", "schedulePolicy": {"schedulePolicyType": "SimpleSchedulePolicy"}}},
            {"id": f"{VAULT}/backupPolicies/Enhanced", "name": "Enhanced",
             "properties": {"backupManagementType": "AzureIaasVM", "schedulePolicy": {"schedulePolicyType": "SimpleSchedulePolicyV2"}}},
        ],
        "backupJobs": [_job(1, "InProgress", 30), _job(2, "InProgress", 2), _job(3, "Completed", 20),
                       _job(4, "InProgress", 24 * 10), _job(5, "Failed", 5), _job(6, "InProgress", 1)],
        "replicationProtectedItems": [
            {"id": f"{VAULT}/replicationFabrics/f1/replicationProtectionContainers/c1/replicationProtectedItems/item-{i}",
             "name": f"item-{i}", "properties": {"friendlyName": f"vm-0{i}", "replicationHealth": "Normal",
                                                  "providerSpecificDetails": {"instanceType": "A2A", "fabricObjectId": vms[i]["id"],
                                                                              "rpoInSeconds": 30}}}
            for i in range(3)],
        "replicationJobs": [{"id": f"{VAULT}/replicationJobs/rj-1", "name": "rj-1",
                             "properties": {"scenarioName": "EnableDr", "state": "Failed",
                                            "errors": [{"providerErrorDetails": {"errorCode": 151076}}]}}],
    }


@pytest.fixture
def sim():
    with FaultySimulator(scenario(), page_size=3) as s:
        yield s


def kw(sim: Simulator, **extra) -> dict:
    """Client options: the simulator's endpoint and CA, and retries tuned down so tests stay fast."""
    opts = dict(base_url=sim.endpoint, credential_scopes=[sim.endpoint + "/.default"], connection_verify=sim.ca_path,
                retry_total=0, retry_backoff_factor=0.01, retry_backoff_max=0.05)
    opts.update(extra)
    return opts


def compute(sim: Simulator, **extra) -> ComputeManagementClient:
    return ComputeManagementClient(StaticToken(), SUB, **kw(sim, **extra))


def backup(sim: Simulator, **extra) -> RecoveryServicesBackupClient:
    return RecoveryServicesBackupClient(StaticToken(), SUB, **kw(sim, **extra))


def raw(sim: Simulator, path: str, *, method: str = "GET", token: str | None = "test-token", base: str | None = None,
        **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.request(method, (base or sim.endpoint) + path, headers=headers, verify=sim.ca_path, timeout=10, **kwargs)


def gets(sim: Simulator, needle: str) -> list:
    return [e for e in sim.ledger if e.method == "GET" and needle.lower() in e.path.lower()]


# --------------------------------------------------------------------------- scenarios and times
def test_relative_times_resolve_against_the_given_clock():
    assert relative_time("@now-30h", NOW) == NOW - timedelta(hours=30)
    assert relative_time("@now-2d-3h", NOW) == NOW - timedelta(days=2, hours=3)
    assert relative_time("@now+15m", NOW) == NOW + timedelta(minutes=15)
    assert relative_time("@now", NOW) == NOW
    assert relative_time("@nowhere", NOW) is None
    assert relative_time("@now-3x", NOW) is None


def test_demo_scenario_loads_with_every_relative_time_resolved():
    data = load_scenario("demo", now=NOW)
    text = json.dumps({k: v for k, v in data.items() if not k.startswith("_")})
    assert "@now" not in text
    jobs = [j for j in data["backupJobs"] if j["properties"]["status"] == "InProgress"]
    started = sorted(datetime.fromisoformat(j["properties"]["startTime"].replace("Z", "+00:00")) for j in jobs)
    assert NOW - timedelta(hours=30) in started  # the ~30 h stuck job, pinned to the given clock


def test_load_scenario_from_a_path_and_rejects_bad_ones(tmp_path):
    good = tmp_path / "s.json"
    good.write_text(json.dumps({"subscriptions": [SUB], "locks": [], "_note": "comments are allowed"}))
    assert load_scenario(str(good))["subscriptions"] == [SUB]
    for bad, why in (({"locks": []}, "subscriptions"),
                     ({"subscriptions": [SUB], "virtualMachine": []}, "unknown key"),
                     ({"subscriptions": [SUB], "disks": [{"name": "no-id"}]}, "id")):
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(ScenarioError, match=why):
            load_scenario(str(path))
    with pytest.raises(ScenarioError):
        load_scenario("no-such-bundled-scenario")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ScenarioError):
        load_scenario(str(tmp_path / "broken.json"))


# --------------------------------------------------------------------------- routes with the real SDKs
def test_vm_list_pages_like_arm(sim):
    names = [vm.name for vm in compute(sim).virtual_machines.list_all()]
    assert names == [f"vm-{i:02d}" for i in range(7)]
    pages = gets(sim, "/providers/Microsoft.Compute/virtualMachines")
    assert len(pages) == 3  # 3 + 3 + 1
    assert "skiptoken" not in pages[0].query.lower()
    assert all("$skiptoken=" in p.query and "api-version=" in p.query for p in pages[1:])


def test_next_link_is_absolute_keeps_the_query_and_stops_on_the_last_page(sim):
    first = raw(sim, f"{P}/providers/Microsoft.Compute/virtualMachines?{API}&statusOnly=true").json()
    assert len(first["value"]) == 3
    link = urlsplit(first["nextLink"])
    assert f"{link.scheme}://{link.netloc}" == sim.endpoint
    q = parse_qs(link.query)
    assert q["api-version"] == ["2026-04-01"] and q["statusOnly"] == ["true"] and q["$skiptoken"]
    second = requests.get(first["nextLink"], headers={"Authorization": "Bearer t"}, verify=sim.ca_path, timeout=10).json()
    third = requests.get(second["nextLink"], headers={"Authorization": "Bearer t"}, verify=sim.ca_path, timeout=10).json()
    assert [v["name"] for v in third["value"]] == ["vm-06"] and "nextLink" not in third


def test_full_vm_list_carries_no_instance_view(sim):
    body = raw(sim, f"{P}/providers/Microsoft.Compute/virtualMachines?{API}").json()
    assert all("instanceView" not in vm["properties"] for vm in body["value"])
    assert body["value"][0]["properties"]["storageProfile"]["osDisk"]["name"] == "vm-00-os"


def test_status_only_list_has_the_real_shape_and_no_agent(sim):
    body = raw(sim, f"{P}/providers/Microsoft.Compute/virtualMachines?{API}&statusOnly=true").json()
    items = body["value"]
    while body.get("nextLink"):
        body = requests.get(body["nextLink"], headers={"Authorization": "Bearer t"}, verify=sim.ca_path, timeout=10).json()
        items += body["value"]
    assert len(items) == 7
    for item in items:
        assert set(item) == {"id", "name", "type", "location", "properties"}
        assert set(item["properties"]) == {"provisioningState", "vmId", "instanceView"}
        assert set(item["properties"]["instanceView"]) <= {"platformFaultDomain", "statuses"}
    codes = {i["name"]: [s["code"] for s in i["properties"]["instanceView"]["statuses"]] for i in items}
    assert codes["vm-00"] == ["ProvisioningState/succeeded", "PowerState/running"]  # view keyed by an upper-cased id
    assert codes["vm-01"][-1] == "PowerState/deallocated"
    assert codes["vm-05"] == ["ProvisioningState/succeeded"]  # no instance view in the scenario: no power state
    # and the SDK reads it
    sdk = {vm.name: vm for vm in compute(sim).virtual_machines.list_all(status_only="true")}
    assert sdk["vm-00"].properties.instance_view.statuses[1].code == "PowerState/running"
    assert sdk["vm-00"].properties.storage_profile is None


def test_instance_view_get_is_case_insensitive_and_404s_like_arm(sim):
    c = compute(sim)
    view = c.virtual_machines.instance_view("RG-APP", "VM-00")
    assert view.vm_agent.vm_agent_version == "2.9.1.1"
    assert view.extensions[0].type == "Microsoft.Azure.RecoveryServices.VMSnapshotLinux"
    with pytest.raises(ResourceNotFoundError) as exc:
        c.virtual_machines.instance_view("rg-app", "vm-99")
    assert exc.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as exc:
        c.virtual_machines.instance_view("rg-nope", "vm-00")
    assert exc.value.error.code == "ResourceGroupNotFound"


def test_restore_points_only_with_expand(sim):
    c = compute(sim)
    listed = list(c.restore_point_collections.list_all())
    assert [r.name for r in listed] == ["rpc-00"] and listed[0].properties.restore_points is None
    plain = c.restore_point_collections.get("azurebackuprg_westeurope_1", "rpc-00")
    assert plain.properties.restore_points is None
    full = c.restore_point_collections.get("AzureBackupRG_westeurope_1", "rpc-00", expand="restorePoints")
    assert len(full.properties.restore_points) == 3
    assert [e.query for e in gets(sim, "/restorePointCollections/rpc-00")][-1].endswith("$expand=restorePoints")


def test_disks_resource_groups_locks_and_vaults(sim):
    assert [d.name for d in compute(sim).disks.list()] == ["vm-00-os"]
    rgs = ResourceManagementClient(StaticToken(), SUB, **kw(sim)).resource_groups.list()
    assert [g.name for g in rgs] == ["rg-app", "rg-backup", "AzureBackupRG_westeurope_1"]
    locks = list(ManagementLockClient(StaticToken(), SUB, **kw(sim)).management_locks.list_at_subscription_level())
    # the subscription list returns resource-group and resource scoped locks, and nothing of another subscription
    assert sorted(lk.name for lk in locks) == ["l1", "l2"]
    client = RecoveryServicesClient(StaticToken(), SUB, **kw(sim))
    vaults = list(client.vaults.list_by_subscription_id())
    assert [v.name for v in vaults] == ["rsv-test"]
    # Like the real service, the list carries no settings; the vault GET does.
    assert vaults[0].properties.redundancy_settings is None and vaults[0].properties.security_settings is None
    got = client.vaults.get("RG-Backup", "RSV-TEST")
    assert got.properties.redundancy_settings.cross_region_restore == "Disabled"
    with pytest.raises(ResourceNotFoundError):
        client.vaults.get("rg-backup", "no-such-vault")


def test_backup_job_get_returns_the_job(sim):
    b = backup(sim)
    got = b.job_details.get("RSV-TEST", "rg-backup", "JOB-5")
    assert (got.name, got.properties.status) == ("job-5", "Failed")
    with pytest.raises(ResourceNotFoundError):
        b.job_details.get("rsv-test", "rg-backup", "00000000-0000-0000-0000-000000000000")


def test_backup_items_and_policies_honour_the_management_type_filter(sim):
    b = backup(sim)
    items = list(b.backup_protected_items.list("rsv-test", "rg-backup",
                                               filter="backupManagementType eq 'AzureIaasVM' and itemType eq 'VM'"))
    assert len(items) == 2  # the AzureWorkload item is filtered out
    vm_ids = {f"{P}/resourcegroups/rg-app/providers/microsoft.compute/virtualmachines/vm-0{i}".lower() for i in (0, 1)}
    assert {i.properties.as_dict()["sourceResourceId"] for i in items} == vm_ids
    assert len(list(b.backup_protected_items.list("rsv-test", "rg-backup"))) == 3
    policies = list(b.backup_policies.list("rsv-test", "rg-backup", filter="backupManagementType eq 'AzureIaasVM'"))
    assert [p.name for p in policies] == ["DefaultPolicy", "Enhanced"]


def _filter_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %I:%M:%S %p")


def test_backup_jobs_filter_on_status_and_start_window_across_pages():
    now = datetime.now(timezone.utc)
    with Simulator(scenario(), page_size=1) as s:  # one job a page: the filter must survive every nextLink
        b = backup(s)
        in_progress = list(b.backup_jobs.list("rsv-test", "rg-backup",
                                              filter="status eq 'InProgress' and backupManagementType eq 'AzureIaasVM'"))
        assert sorted(j.name for j in in_progress) == ["job-1", "job-2", "job-4", "job-6"]
        window = (f"backupManagementType eq 'AzureIaasVM' and startTime eq '{_filter_time(now - timedelta(days=7))}' "
                  f"and endTime eq '{_filter_time(now)}'")
        recent = list(b.backup_jobs.list("rsv-test", "rg-backup", filter=window))
        assert sorted(j.name for j in recent) == ["job-1", "job-2", "job-3", "job-5", "job-6"]  # job-4 is 10 days old
        both = list(b.backup_jobs.list("rsv-test", "rg-backup", filter=f"status eq 'InProgress' and {window}"))
        assert sorted(j.name for j in both) == ["job-1", "job-2", "job-6"]
        assert len(gets(s, "/backupJobs")) == 4 + 5 + 3
        assert all("$filter=" in e.query for e in gets(s, "/backupJobs"))


def test_backup_jobs_reject_a_malformed_filter_time(sim):
    r = raw(sim, f"{VAULT}/backupJobs?{API}&$filter=startTime eq '15/01/2030'")
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidFilter"
    ok = raw(sim, f"{VAULT}/backupJobs?{API}&$filter=startTime eq '2016-01-01 00:00:00 AM'")  # as in the official example
    assert ok.status_code == 200


def test_site_recovery_lists_per_vault(sim):
    asr = SiteRecoveryManagementClient(StaticToken(), SUB, **kw(sim))
    items = list(asr.replication_protected_items.list("rg-backup", "rsv-test"))
    assert [i.name for i in items] == ["item-0", "item-1", "item-2"]
    assert items[0].properties.provider_specific_details.instance_type == "A2A"
    jobs = list(asr.replication_jobs.list("rg-backup", "rsv-test"))
    assert jobs[0].properties.errors[0].provider_error_details.error_code == 151076
    with pytest.raises(ResourceNotFoundError):
        list(asr.replication_jobs.list("rg-backup", "rsv-missing"))


def test_subscription_preflight_and_unknown_subscription(sim):
    body = raw(sim, f"{P}?api-version=2022-12-01").json()
    assert body["subscriptionId"] == SUB and body["displayName"] == "sim-test" and body["state"] == "Enabled"
    assert [s["subscriptionId"] for s in raw(sim, "/subscriptions?api-version=2022-12-01").json()["value"]] == [SUB]
    other = "00000000-0000-4000-8000-0000000051a9"
    with pytest.raises(ResourceNotFoundError) as exc:
        list(ComputeManagementClient(StaticToken(), other, **kw(sim)).virtual_machines.list_all())
    assert exc.value.error.code == "SubscriptionNotFound"


def test_api_version_is_required(sim):
    r = raw(sim, f"{P}/providers/Microsoft.Compute/virtualMachines")
    assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"


def test_missing_or_empty_authorization_is_401_and_recorded(sim):
    for token in (None, ""):
        r = raw(sim, f"{P}?{API}", token=token)
        assert r.status_code == 401 and r.json()["error"]["code"] == "AuthenticationFailed"
    entries = sim.ledger.snapshot()
    assert [e.status for e in entries] == [401, 401] and entries[0].auth_present is False


def test_a_configured_token_must_match():
    with Simulator(scenario(), token="the-right-one") as s:
        assert raw(s, f"{P}?{API}", token="the-right-one").status_code == 200
        wrong = raw(s, f"{P}?{API}", token="another")
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert all(e.auth_present for e in s.ledger)


def test_unknown_paths_get_an_arm_404(sim):
    r = raw(sim, f"{P}/providers/Microsoft.Storage/storageAccounts?{API}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "InvalidResourceType"
    r = raw(sim, f"/nothing/here?{API}")
    assert r.status_code == 404 and r.json()["error"]["code"]


@pytest.mark.simulator_writes  # sends writes on purpose (conftest's suite-wide write check)
def test_every_non_get_is_recorded_and_refused(sim):
    for method in ("POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
        r = raw(sim, f"{P}/providers/Microsoft.Compute/register?{API}", method=method, json={"x": 1} if method != "HEAD" else None)
        assert r.status_code == 405
    assert [e.method for e in sim.writes()] == ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]  # HEAD is a read
    assert len(sim.ledger) == 6
    assert raw(sim, f"{P}?{API}").status_code == 200  # the connection survived the refused bodies


# --------------------------------------------------------------------------- faults
def test_throttle_answers_429_with_retry_after_once(sim):
    fault = sim.add_fault(Fault.throttle("/virtualMachines$", retry_after=1200, times=1))
    r = raw(sim, f"{P}/providers/Microsoft.Compute/virtualMachines?{API}")
    assert r.status_code == 429 and r.headers["Retry-After"] == "1200"
    assert r.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    assert raw(sim, f"{P}/providers/Microsoft.Compute/virtualMachines?{API}").status_code == 200
    assert (fault.seen, fault.hits) == (2, 1)
    sim.clear_faults()
    sim.add_fault(Fault.throttle("/virtualMachines$", retry_after=1200))
    with pytest.raises(HttpResponseError) as exc:  # the SDK with retries off surfaces it as an ARM error
        list(compute(sim).virtual_machines.list_all())
    assert exc.value.status_code == 429 and exc.value.response.headers["Retry-After"] == "1200"


def test_5xx_burst_then_recovery_through_sdk_retries(sim):
    fault = sim.add_fault(Fault.server_error("/disks$", status=503, times=2))
    disks = list(compute(sim, retry_total=3).disks.list())
    assert [d.name for d in disks] == ["vm-00-os"]
    assert [e.status for e in gets(sim, "/disks")] == [503, 503, 200]
    assert (fault.seen, fault.hits) == (3, 2)


def test_500_every_time_exhausts_retries(sim):
    sim.add_fault(Fault.server_error("/disks$"))
    with pytest.raises(HttpResponseError) as exc:
        list(compute(sim, retry_total=2).disks.list())
    assert exc.value.status_code == 500 and exc.value.error.code == "InternalServerError"
    assert len(gets(sim, "/disks")) == 3


@pytest.mark.parametrize("make, status, code, error_type", [
    (Fault.authorization_failed, 403, "AuthorizationFailed", HttpResponseError),
    (Fault.subscription_not_found, 404, "SubscriptionNotFound", ResourceNotFoundError),
    (Fault.resource_not_found, 404, "ResourceNotFound", ResourceNotFoundError),
])
def test_arm_error_faults(sim, make, status, code, error_type):
    fault = sim.add_fault(make("/instanceView$"))
    with pytest.raises(error_type) as exc:
        compute(sim).virtual_machines.instance_view("rg-app", "vm-00")
    assert exc.value.status_code == status and exc.value.error.code == code
    assert fault.hits == 1
    if code == "AuthorizationFailed":
        assert "Microsoft.Compute/virtualMachines/instanceView/read" in exc.value.error.message


@pytest.mark.simulator_writes  # sends writes on purpose (conftest's suite-wide write check)
def test_missing_registration_409_triggers_the_sdk_auto_registration_write(sim):
    """Without the scanner's read-only guard, azure-mgmt-core answers a 409
    MissingSubscriptionRegistration by POSTing .../providers/<rp>/register: the ledger catches it."""
    sim.add_fault(Fault.not_registered("/restorePointCollections$"))
    body = raw(sim, f"{P}/providers/Microsoft.Compute/restorePointCollections?{API}").json()
    assert body["error"]["code"] == "MissingSubscriptionRegistration"
    assert "'Microsoft.Compute'" in body["error"]["message"]
    sim.ledger.clear()
    with pytest.raises(HttpResponseError) as exc:
        list(compute(sim).restore_point_collections.list_all())
    assert exc.value.status_code == 409
    writes = sim.writes()
    assert [(w.method, w.path, w.status) for w in writes] == [("POST", f"{P}/providers/Microsoft.Compute/register", 405)]


def test_stall_delays_the_answer_and_a_client_timeout_does_not_hurt_the_server(sim):
    fault = sim.add_fault(Fault.stall("/disks$", seconds=0.4, times=1))
    started = time.monotonic()
    assert len(list(compute(sim).disks.list())) == 1
    assert time.monotonic() - started >= 0.4
    sim.add_fault(Fault.stall("/resourcegroups$", seconds=1.0))
    rm = ResourceManagementClient(StaticToken(), SUB, **kw(sim, read_timeout=0.2))
    with pytest.raises(ServiceResponseError):
        list(rm.resource_groups.list())
    assert fault.hits == 1
    assert [d.name for d in compute(sim).disks.list()] == ["vm-00-os"]  # still serving


def test_stall_is_bounded_by_max_stall():
    with FaultySimulator(scenario(), faults=[Fault.stall(seconds=600)], max_stall=0.2) as s:
        started = time.monotonic()
        assert raw(s, f"{P}?{API}").status_code == 200
        assert time.monotonic() - started < 30  # max_stall 0.2 s, not the fault's 600 s


def test_html_body_breaks_json_decoding(sim):
    sim.add_fault(Fault.html("/disks$"))
    r = raw(sim, f"{P}/providers/Microsoft.Compute/disks?{API}")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html") and r.text.lstrip().startswith("<!DOCTYPE html>")
    with pytest.raises((DecodeError, ValueError)):
        list(compute(sim).disks.list())


def test_truncated_json_body(sim):
    full = raw(sim, f"{P}/providers/Microsoft.Compute/virtualMachines?{API}").content
    sim.add_fault(Fault.truncated("/virtualMachines$"))
    r = raw(sim, f"{P}/providers/Microsoft.Compute/virtualMachines?{API}")
    assert r.status_code == 200 and 0 < len(r.content) < len(full) and full.startswith(r.content)
    with pytest.raises(ValueError):
        json.loads(r.content)
    with pytest.raises((DecodeError, ValueError)):
        list(compute(sim).virtual_machines.list_all())


def test_foreign_next_link(sim):
    sim.add_fault(Fault.foreign_next_link("/locks$"))
    body = raw(sim, f"{P}/providers/Microsoft.Authorization/locks?{API}").json()
    assert urlsplit(body["nextLink"]).netloc == "evil.example"  # added although everything fit on one page
    # Pointed at the simulator under another host name, a client that follows it shows up in the
    # ledger with that host and its bearer token: what the scanner's guard must prevent.
    sim.clear_faults()
    sim.ledger.clear()
    alias = urlsplit(sim.alias_endpoint).netloc
    sim.add_fault(Fault.foreign_next_link("/locks$", host=alias, times=1))
    locks = list(ManagementLockClient(StaticToken(), SUB, **kw(sim)).management_locks.list_at_subscription_level())
    assert len(locks) == 2
    hosts = [(e.host, e.auth_present) for e in gets(sim, "/locks")]
    assert hosts == [(urlsplit(sim.endpoint).netloc, True), (alias, True)]


def test_body_transforms_unknown_enum_and_missing_fields(sim):
    sim.add_fault(Fault.body("/backupProtectedItems$", transform=set_fields({"properties.protectionState": "SomethingNew"})))
    sim.add_fault(Fault.body("/instanceView$", transform=drop_fields("vmAgent", "extensions")))
    items = list(backup(sim).backup_protected_items.list("rsv-test", "rg-backup"))
    # (the SDK deserialises these items as the base ProtectedItem: read the wire format)
    assert {i.properties.as_dict()["protectionState"] for i in items} == {"SomethingNew"}
    view = compute(sim).virtual_machines.instance_view("rg-app", "vm-00")
    assert view.vm_agent is None and view.extensions is None and view.statuses
    # the transforms work on copies: the scenario (and the simulator's computed lists) stay untouched
    sim.clear_faults()
    items = list(backup(sim).backup_protected_items.list("rsv-test", "rg-backup"))
    assert {i.properties.as_dict()["protectionState"] for i in items} == {"Protected"}
    assert compute(sim).virtual_machines.instance_view("rg-app", "vm-00").vm_agent is not None


def test_fault_window_and_counters(sim):
    fault = sim.add_fault(Fault.server_error(r"^/subscriptions/[^/]+$", status=500, first=2, times=2))
    statuses = [raw(sim, f"{P}?{API}").status_code for _ in range(5)]
    assert statuses == [200, 500, 500, 200, 200]
    assert (fault.seen, fault.hits) == (5, 2)
    other = sim.add_fault(Fault.server_error(r"^/subscriptions/[^/]+$", method="POST"))
    assert raw(sim, f"{P}?{API}").status_code == 200 and other.seen == 0
    with pytest.raises(ValueError):
        Fault("nonsense")
    with pytest.raises(ValueError):
        Fault.error(200)


# --------------------------------------------------------------------------- TLS and robustness
def test_tls_verification_with_the_test_ca_only(sim):
    assert requests.get(f"{sim.endpoint}{P}?{API}", headers={"Authorization": "Bearer t"}, verify=sim.ca_path, timeout=10).ok
    assert requests.get(f"{sim.alias_endpoint}{P}?{API}", headers={"Authorization": "Bearer t"}, verify=sim.ca_path, timeout=10).ok
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{sim.endpoint}{P}?{API}", timeout=10)  # system trust store: the test CA is not in it
    with pytest.raises(ServiceRequestError):
        list(ComputeManagementClient(StaticToken(), SUB, base_url=sim.endpoint,
                                     credential_scopes=[sim.endpoint + "/.default"], retry_total=0).disks.list())


def test_plain_http_is_refused(sim):
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    with pytest.raises((http.client.HTTPException, OSError)):
        conn.request("GET", f"{P}?{API}", headers={"Authorization": "Bearer t"})
        conn.getresponse().read()
    conn.close()
    assert len(sim.ledger) == 0
    assert raw(sim, f"{P}?{API}").status_code == 200


def test_broken_clients_do_not_kill_the_server(sim):
    # connect and vanish; connect and send garbage; TLS then a half request then close
    socket.create_connection(("127.0.0.1", sim.port), timeout=2).close()
    with socket.create_connection(("127.0.0.1", sim.port), timeout=2) as s:
        s.sendall(b"\x16\x03\x01garbage-that-is-not-a-handshake")
    ctx = ssl.create_default_context(cafile=sim.ca_path)
    with socket.create_connection(("127.0.0.1", sim.port), timeout=2) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /subscriptions HTTP/1.1\r\nHost: x\r\n")
    # a client that gives up during a stall
    sim.add_fault(Fault.stall("/disks$", seconds=0.5, times=1))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{sim.endpoint}{P}/providers/Microsoft.Compute/disks?{API}",
                     headers={"Authorization": "Bearer t"}, verify=sim.ca_path, timeout=(2, 0.1))
    time.sleep(0.6)
    # concurrent clients still get answers
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(raw(sim, f"{P}?{API}").status_code)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [200] * 8


def test_stop_is_prompt_with_idle_keep_alive_connections():
    sim = FaultySimulator(scenario()).start()
    session = requests.Session()
    assert session.get(f"{sim.endpoint}{P}?{API}", headers={"Authorization": "Bearer t"}, verify=sim.ca_path, timeout=5).ok
    stalled = threading.Thread(target=lambda: _ignore(lambda: raw(sim, f"{P}/providers/Microsoft.Compute/disks?{API}")))
    sim.add_fault(Fault.stall("/disks$", seconds=20))
    stalled.start()
    time.sleep(0.2)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 10  # prompt: the stalled request would hold it for 20 s
    stalled.join(5)
    assert not stalled.is_alive()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{sim.endpoint}{P}?{API}", verify=False, timeout=2)
    sim.stop()  # idempotent


def _ignore(fn):
    try:
        fn()
    except Exception:  # noqa: BLE001 - the server went away under it, which is the point
        pass


# --------------------------------------------------------------------------- the bundled demo
@pytest.fixture(scope="module")
def demo():
    return load_scenario("demo")


def _ids(items):
    return {i["id"].lower() for i in items}


def test_demo_is_internally_consistent(demo):
    vm_ids = _ids(demo["virtualMachines"])
    assert len(demo["subscriptions"]) == 1 and 12 <= len(vm_ids) <= 30
    assert {v["location"] for v in demo["virtualMachines"]} == {"westeurope", "northeurope"}
    names = [v["name"] for v in demo["virtualMachines"]]
    assert any(names.count(n) > 1 for n in names)  # same name, another resource group
    assert {k.lower() for k in demo["instanceViews"]} == vm_ids
    vaults = _ids(demo["vaults"])
    for kind in ("backupProtectedItems", "backupPolicies", "backupJobs", "replicationProtectedItems", "replicationJobs"):
        for item in demo[kind]:
            rid = item["id"].lower()
            assert any(rid.startswith(v + "/") for v in vaults), f"{kind} {item['id']} has no vault"
    rgs = {g["name"].lower() for g in demo["resourceGroups"]}
    for kind in ("virtualMachines", "disks", "restorePointCollections"):
        for item in demo[kind]:
            assert item["id"].split("/")[4].lower() in rgs
    # ids differ in casing between APIs, as they do in Azure
    sources = {i["properties"]["sourceResourceId"] for i in demo["backupProtectedItems"]}
    assert sources - {v["id"] for v in demo["virtualMachines"]} and {s.lower() for s in sources} & vm_ids
    # V2 policies listed without policyType, next to V1 ones
    types = [(p["properties"]["schedulePolicy"]["schedulePolicyType"], p["properties"].get("policyType")) for p in demo["backupPolicies"]]
    assert ("SimpleSchedulePolicyV2", None) in types and ("SimpleSchedulePolicy", None) in types


def test_demo_carries_a_sas_url_in_extension_settings_for_the_redaction_tests(demo):
    settings = [r["properties"].get("settings", {}) for v in demo["virtualMachines"] for r in v.get("resources", [])]
    sas = [u for s in settings for u in s.get("fileUris", []) if "sig=" in u]
    assert len(sas) == 1 and "SIMULATOR-CANARY" in sas[0]


def _scan_demo(demo_data):
    from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
    from scanner.collect import collect
    from scanner.engine import evaluate
    with Simulator(demo_data) as s:
        factory = ClientFactory(StaticTokenCredential("demo"), ArmSettings(endpoint=s.endpoint, verify=s.ca_path, retry_total=0))
        inv = collect(factory, [sub.lower() for sub in demo_data["subscriptions"]])
        writes = s.writes()
    return inv, evaluate(inv), writes


@pytest.fixture(scope="module")
def demo_scan(demo):
    return _scan_demo(demo)


DEMO_CANNOT_FAIL = {"BCDR006", "BCDR007"}


def test_demo_scan_through_the_real_stack_fails_every_rule_category(demo_scan):
    inv, ev, writes = demo_scan
    assert writes == []
    assert all(c.status == "ok" for c in inv.coverage), [c for c in inv.coverage if c.status != "ok"]
    failed = {f.rule_id for f in ev.findings if f.status == "FAIL"}
    assert {code[4] for code in failed} == set("0123456789")
    assert sum(ev.passed.values()) > len(failed)  # plenty of healthy resources too
    # every rule of the catalog fails on at least one resource, but the two that need a vault with more
    # than 1,000 VMs (BCDR006) or a subscription with 950 resource groups (BCDR007): their rule tests
    # build those sizes; the demo would have to hold them.
    assert set(ev.rules_run) - failed == DEMO_CANNOT_FAIL
    assert not {f.rule_id for f in ev.findings if f.status == "NOT_ASSESSED"} & DEMO_CANNOT_FAIL


def test_demo_scan_never_copies_the_sas_url(demo_scan):
    inv, _ev, _writes = demo_scan
    text = inv.to_json()
    assert "SIMULATOR-CANARY" not in text and "sig=" not in text


def test_a_failing_transform_hook_answers_500_and_the_server_lives_on(sim):
    def boom(body):
        raise RuntimeError("hook bug")
    sim.add_fault(Fault.body("/disks$", transform=boom, times=1))
    assert raw(sim, f"{P}/providers/Microsoft.Compute/disks?{API}").status_code == 500
    assert sim.ledger.snapshot()[-1].status == 500
    assert raw(sim, f"{P}/providers/Microsoft.Compute/disks?{API}").status_code == 200


@pytest.mark.simulator_writes  # sends writes on purpose (conftest's suite-wide write check)
def test_error_faults_can_shape_the_answer_to_a_write(sim):
    sim.add_fault(Fault.error(409, "/register$", method="POST", code="Conflict"))
    r = raw(sim, f"{P}/providers/Microsoft.Compute/register?{API}", method="POST")
    assert r.status_code == 409 and [w.status for w in sim.writes()] == [409]


# --------------------------------------------------------------------------- issue 10 fault kinds
VM_LIST_API = f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01"


def test_token_bucket_throttles_after_the_burst_with_arms_retry_after_scaled(sim):
    # 0.1 token/s of ARM's clock: after the burst the next token is ~10 ARM seconds away, 2 s real at x5.
    bucket = sim.add_fault(Fault.token_bucket(burst=3, rate=0.1, time_scale=5.0))
    got = [raw(sim, VM_LIST_API) for _ in range(4)]
    assert [r.status_code for r in got] == [200, 200, 200, 429]
    assert got[3].json()["error"]["code"] == "SubscriptionRequestsThrottled"
    wait = float(got[3].headers["Retry-After"])
    assert 0.2 <= wait <= 2.0 and (wait * 5).is_integer()  # whole ARM seconds, scaled
    assert bucket.hits == 1
    time.sleep(wait)
    assert raw(sim, VM_LIST_API).status_code == 200  # the token ARM promised is there


def test_repeat_and_endless_next_links(sim):
    sim.add_fault(Fault.repeat_next_link(r"/virtualMachines$", query="api-version"))
    body = raw(sim, VM_LIST_API).json()
    assert body["nextLink"] == sim.endpoint + VM_LIST_API and body["value"]
    sim.clear_faults()
    sim.add_fault(Fault.endless_pages(r"/virtualMachines$"))
    first = raw(sim, VM_LIST_API).json()
    second = raw(sim, first["nextLink"][len(sim.endpoint):]).json()
    assert first["value"] == second["value"] == [] and first["nextLink"] != second["nextLink"]


def test_drop_hangs_up_and_trickle_sends_slowly(sim):
    sim.add_fault(Fault.drop(r"/virtualMachines$", times=1))
    with pytest.raises(requests.ConnectionError):
        raw(sim, VM_LIST_API)
    sim.clear_faults()
    sim.add_fault(Fault.trickle(r"/virtualMachines$", seconds=0.3))
    # each byte arrives, but not within 0.1 s (requests reports a read timeout in the body as ConnectionError)
    with pytest.raises(requests.ConnectionError, match="Read timed out"):
        requests.get(sim.endpoint + VM_LIST_API, headers={"Authorization": "Bearer t"}, verify=sim.ca_path,
                     timeout=(5, 0.1), stream=False)


def test_echo_auth_error_quotes_the_authorization_header(sim):
    sim.add_fault(Fault.error(403, r"/virtualMachines$", echo_auth=True))
    message = raw(sim, VM_LIST_API, token="tok-echo-123").json()["error"]["message"]
    assert "Authorization: Bearer tok-echo-123" in message
