"""Collectors replayed from recorded cassettes (record mode none, network blocked).

The cassettes in fixtures/cassettes/ were recorded by scripts/record_cassettes.py through the real
SDK clients and the scrub/pseudonymise pipeline in tests/cassettes.py; their bodies follow
../shared/azure-rest-examples and carry the traps of design.md.
"""
from __future__ import annotations

import socket

import pytest
from cassettes import FAKE_TOKEN, FROZEN_NOW, make_vcr

from scanner import inventory as m
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
from scanner.collect import CollectOptions, collect
from scanner.timeutil import parse

SUB = "00000000-0000-4000-8000-0000000000c1"
VM = f"/subscriptions/{SUB}/resourcegroups/{{rg}}/providers/microsoft.compute/virtualmachines/{{name}}"


@pytest.fixture
def no_network(monkeypatch):
    """Playback must not open a single socket."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted during cassette playback: {args}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def replay(name: str) -> m.Inventory:
    factory = ClientFactory(StaticTokenCredential(FAKE_TOKEN),
                            ArmSettings(timeout=60, max_retry_after=0, retry_total=0))
    with make_vcr().use_cassette(f"{name}.yaml") as cassette:  # vcrpy plays back one request at a time
        inv = collect(factory, [SUB], CollectOptions(workers=1, subscription_workers=1, list_workers=1), now=parse(FROZEN_NOW))
    assert cassette.all_played, f"{len(cassette.data) - cassette.play_count} recorded requests were not replayed"
    return inv


def cov(inv: m.Inventory, collector: str) -> m.Coverage:
    return inv.coverage_index[(SUB, collector)]


def test_full_collection(no_network):
    inv = replay("collect_full")
    assert all(c.status == m.OK for c in inv.coverage), [c for c in inv.coverage if c.status != m.OK]
    # every list paged (page size 2; 3 backup-job lists per vault) + 1 vault GET + 2 instance views + 2 restore
    # point counts; the vault with A2A items adds its recovery plans and container mappings (one page each); the 4 network
    # lists and 1 key vault GET
    assert inv.arm_requests == 34
    assert len(inv.virtual_machines) == 3 and len(inv.disks) == 5 and len(inv.locks) == 2


def test_network_lists_and_the_ade_key_vault(no_network):
    inv = replay("collect_full")
    web1 = inv.vm_by_id[VM.format(rg="rg-app", name="web1")]
    [nic_id] = web1.nic_ids
    nic = inv.nic_by_id[nic_id]
    assert nic.vm_id == web1.id and nic.nsg_id.endswith("/networksecuritygroups/web1-nsg")
    subnet = inv.subnet_by_id[nic.ip_configurations[0].subnet_id]
    assert subnet.nsg_id.endswith("/snet-app-nsg") and subnet.route_table_id.endswith("/routetables/rt-app")
    assert len(inv.network_interfaces) == 3 and len(inv.network_security_groups) == 2
    assert [r.next_hop_type for r in inv.route_tables[0].routes] == ["VirtualAppliance"]
    # one GET, for the one key vault an ADE disk of a backed-up VM names
    [kv] = inv.key_vaults
    assert kv.name == "kv1" and kv.network_bypass == "AzureServices" and kv.access_policies[0].secrets == ("backup", "get", "list")
    assert cov(inv, m.KEY_VAULTS).items == 1


def test_two_vms_with_the_same_name_stay_apart(no_network):
    inv = replay("collect_full")
    a, b = VM.format(rg="rg-a", name="app"), VM.format(rg="rg-b", name="app")
    assert {a, b} <= set(inv.vm_by_id)
    assert inv.is_backed_up(a) and not inv.is_backed_up(b)
    # Only the backed-up twin's collection was counted; the other was not fetched (None).
    counts = {r.source_id: r.restore_point_count for r in inv.restore_point_collections}
    assert counts[a] == 3 and counts[b] is None
    # Instance views only for running VMs that are backed up or replicated.
    assert inv.vm_by_id[a].instance_view is not None
    assert inv.vm_by_id[b].instance_view is None


def test_ids_in_different_casing_join(no_network):
    inv = replay("collect_full")
    web1 = VM.format(rg="rg-app", name="web1")
    vm = inv.vm_by_id[web1]
    assert vm.display_id.endswith("/resourceGroups/RG-App/providers/Microsoft.Compute/virtualMachines/web1")
    [item] = inv.protected_items_by_vm[web1]  # the item's sourceResourceId is all lower-case with WEB1
    assert item.source_display_id.endswith("/virtualmachines/WEB1")
    assert item.vault_id == f"/subscriptions/{SUB}/resourcegroups/rg-backup/providers/microsoft.recoveryservices/vaults/vault-weu"
    assert inv.is_replicated(web1)
    assert {d.name for d in inv.disks_by_vm[web1]} == {"web1-os", "web1-data"}


def test_protected_item_quirk_and_v2_policy_without_policy_type(no_network):
    inv = replay("collect_full")
    items = {p.friendly_name: p for p in inv.protected_items}
    assert items["web1"].protected_item_type == "Microsoft.Compute/virtualMachines"
    assert items["web1"].container_name == "iaasvmcontainerv2;rg-app;web1"
    policies = {p.name: p for p in inv.backup_policies}
    assert policies["DefaultPolicy"].is_v2 is False
    assert policies["v2-hourly"].is_v2 is True and policies["v2-hourly"].hourly_interval == 4


def test_agent_extensions_jobs_and_site_recovery(no_network):
    inv = replay("collect_full")
    view = inv.vm_by_id[VM.format(rg="rg-a", name="app")].instance_view
    assert view.agent_version == "2.7.41491.949"
    assert view.agent_statuses[0].display_status == "Not Ready"
    snap = [e for e in view.extensions if e.type.endswith("VMSnapshot")]
    assert snap and snap[0].statuses[0].code == "ProvisioningState/failed"
    jobs = {j.status: j for j in inv.backup_jobs}
    # A Cancelling job started 23 days ago, long before the 7-day window: read like an InProgress one
    # (rule-catalog-v2 A, BCDR704), so a cancel stuck for weeks is still seen.
    assert jobs["Cancelling"].start_time == "2026-10-30T00:00:00Z"
    assert inv.vm_id_for_job(jobs["Cancelling"]) == VM.format(rg="rg-a", name="app")
    assert jobs["Failed"].errors[0].code == "UserErrorGuestAgentStatusUnavailable"
    assert inv.vm_id_for_job(jobs["InProgress"]) == VM.format(rg="rg-app", name="web1")
    [rpi] = inv.replication_items
    assert (rpi.instance_type, rpi.rpo_seconds, rpi.agent_update_required) == ("A2A", 5400, True)
    assert inv.replication_jobs[0].errors[0].code == "151076"


def test_forbidden_vault_is_partial_and_the_rest_is_collected(no_network):
    inv = replay("collect_vault_forbidden")
    pi = cov(inv, m.PROTECTED_ITEMS)
    assert (pi.status, pi.error_code) == (m.PARTIAL, "AuthorizationFailed")
    assert pi.failed_scopes == (f"/subscriptions/{SUB}/resourcegroups/rg-backup/providers/microsoft.recoveryservices/vaults/vault-weu",)
    assert inv.protected_items == ()
    # Without the protected-item list we cannot tell which VMs are backed up: every running VM's
    # instance view and every collection's count is fetched rather than missing one.
    assert cov(inv, m.BACKUP_POLICIES).status == m.OK
    views = cov(inv, m.INSTANCE_VIEWS)
    assert views.status == m.PARTIAL and views.error_code == "ResourceNotFound"
    assert inv.vm_by_id[VM.format(rg="rg-a", name="app")].instance_view_error == "ResourceNotFound"
    assert inv.vm_by_id[VM.format(rg="rg-b", name="app")].instance_view is not None
    assert all(r.restore_point_count is not None for r in inv.restore_point_collections)


def test_forbidden_locks_fail_the_collector_and_rules_say_not_assessed(no_network):
    from scanner.engine import evaluate
    inv = replay("collect_locks_forbidden")
    assert (cov(inv, m.LOCKS).status, cov(inv, m.LOCKS).error_code) == (m.FAILED, "AuthorizationFailed")
    findings = [f for f in evaluate(inv, only=["BCDR401"]).findings]
    assert [(f.status, f.resource_id) for f in findings] == [("NOT_ASSESSED", f"/subscriptions/{SUB}")]


def test_cassettes_hold_no_secrets_or_real_ids():
    """Hygiene: nothing under fixtures/ looks like a token, SAS signature, key or an unscrubbed
    subscription/tenant GUID."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "fixtures"
    patterns = {
        "bearer token": re.compile(r"(?i)bearer\s+[A-Za-z0-9._-]{8,}"),
        "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
        "SAS signature": re.compile(r"(?i)[?&]sig=(?!REDACTED)[A-Za-z0-9%+/=]{8,}"),
        "account key": re.compile(r"(?i)AccountKey=(?!REDACTED)[^;\s\"']{8,}"),
        "authorization header": re.compile(r"(?im)^\s*authorization:"),
    }
    guid = re.compile(r"(?i)/subscriptions/([0-9a-f-]{36})|\"tenantId\"\s*:\s*\"([0-9a-f-]{36})\"")
    checked = 0
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        checked += 1
        for what, pattern in patterns.items():
            assert not pattern.search(text), f"{path}: {what}"
        for m_ in guid.finditer(text):
            value = (m_.group(1) or m_.group(2)).lower()
            assert value.startswith("00000000-0000-4000-8000-"), f"{path}: unscrubbed id {value}"
    assert checked >= 3


def test_scrubber_redacts_and_pseudonymises_every_occurrence():
    from cassettes import pseudonym, scrub_text
    real = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
    text = (f'{{"id": "/subscriptions/{real}/x", "other": "/Subscriptions/{real.upper()}/y", '
            f'"url": "https://a.blob.core.windows.net/c?sv=1&sig=abcDEF123%2B", "k": "AccountKey=xyz123456;", '
            f'"h": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"}}')
    out = scrub_text(text, ("127.0.0.1:1234",))
    assert real not in out.lower()
    assert out.count(pseudonym(real)) == 2  # both occurrences, whatever their casing
    assert "abcDEF123" not in out and "xyz123456" not in out and "eyJhbGci" not in out


def test_scrubber_pseudonymises_principals_and_redacts_mail_of_a_vault_get():
    from cassettes import pseudonym, scrub_text
    principal, tenant = "9b2a0c4e-1d3f-4a5b-8c7d-6e5f4a3b2c1d", "72f988bf-86f1-41af-91ab-2d7cd011db47"
    text = (f'{{"identity": {{"type": "SystemAssigned", "principalId": "{principal}", "tenantId": "{tenant}"}}, '
            f'"properties": {{"monitoringSettings": {{"classicAlertSettings": {{"emailNotificationsForSiteRecovery": '
            f'"Enabled"}}}}, "owner": "Ops.Team+backup@fabrikam.co.uk"}}}}')
    out = scrub_text(text)
    assert principal not in out and tenant not in out and "fabrikam" not in out
    assert pseudonym(principal) in out and "user@contoso.example" in out


def test_a2a_recovery_point_is_derived_from_rpo_and_initial_replication(no_network):
    from scanner.collectors.recovery import map_replication_item
    inv = replay("collect_full")
    assert inv.replication_items[0].has_recovery_point is True  # RPO reported: a recovery point exists
    base = {"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/"
                  "replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/i",
            "properties": {"protectionState": "Protected", "providerSpecificDetails": {"instanceType": "A2A"}}}
    assert map_replication_item(base).has_recovery_point is None  # nothing said either way
    # monitoringJobType keeps "InitialReplication" after the item is Protected: never a signal.
    base["properties"]["providerSpecificDetails"]["monitoringJobType"] = "InitialReplication"
    assert map_replication_item(base).has_recovery_point is None
    base["properties"]["providerSpecificDetails"]["rpoInSeconds"] = 393
    assert map_replication_item(base).has_recovery_point is True
    del base["properties"]["providerSpecificDetails"]["rpoInSeconds"]
    base["properties"]["providerSpecificDetails"]["vmProtectionStateDescription"] = "Initial replication in progress"
    assert map_replication_item(base).has_recovery_point is False


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "not a time", "", None, 5])
def test_timeutil_parse_never_raises_on_hostile_times(value):
    from scanner.timeutil import parse
    assert parse(value) is None


@pytest.mark.parametrize("rid", ["/", "///", " / "])
def test_an_id_without_segments_is_malformed(rid):
    from scanner.collectors.base import MalformedItem, require_id
    with pytest.raises(MalformedItem):
        require_id({"id": rid})


@pytest.mark.parametrize("error,expected", [
    ({"errorCode": "UserErrorGuestAgentStatusUnavailable"}, "UserErrorGuestAgentStatusUnavailable"),
    ({"errorCode": 400235, "errorTitle": "x"}, "400235"),  # the SDK declares an int
    ({"errorTitle": "UserErrorRpCollectionLimitReached"}, "UserErrorRpCollectionLimitReached"),
    ({"errorCode": True}, ""),
])
def test_backup_job_error_codes_keep_names_and_numbers(error, expected):
    from scanner.collectors.recovery import map_backup_job
    job = map_backup_job({"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/backupJobs/j",
                          "properties": {"status": "Failed", "errorDetails": [error]}})
    assert job.errors[0].code == expected
