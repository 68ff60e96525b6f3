"""--management-group ID: every subscription under a management group (nested groups included),
resolved through the real azure-mgmt-managementgroups client against the loopback simulator
(GET /providers/Microsoft.Management/managementGroups/{id}/descendants, paged), then preflighted
and scanned like named subscriptions."""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import pytest
from simfaults import Fault, FaultySimulator

from scanner.api import ScanOptions, scan
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
from scanner.cli import EXIT_FINDINGS, EXIT_USAGE
from scanner.inventory import Inventory
from scanner.scope import ALL_VISIBLE, MANAGEMENT_GROUP, ScopeError, ScopeRequest, establish, parse_management_group
from scanner.simulator import Simulator, load_scenario

TOKEN = "mg-test-token-0c4f"
DEMO = load_scenario("demo")
SUB = DEMO["subscriptions"][0].lower()
S2, S3, OFF, GONE = (f"00000000-0000-4000-8000-0000000002{n:02d}" for n in range(4))
MG = "/providers/Microsoft.Management/managementGroups/"
DESCENDANTS = r"/managementgroups/[^/]+/descendants$"


def group(name: str, *children: str) -> dict[str, Any]:
    """A group body as GET ...?$expand=children returns it: direct children, groups or subscriptions."""
    kids = [{"id": MG + c, "type": "Microsoft.Management/managementGroups", "name": c, "displayName": c}
            if not c.startswith("00000000") else {"id": f"/subscriptions/{c}", "type": "/subscriptions", "name": c,
                                                  "displayName": c} for c in children]
    return {"id": MG + name, "type": "Microsoft.Management/managementGroups", "name": name,
            "properties": {"displayName": name, "children": kids}}


def scenario() -> dict[str, Any]:
    """The demo subscription two levels down, two empty ones, a disabled one and one the
    hierarchy still lists but GET /subscriptions/{id} no longer knows."""
    data = copy.deepcopy(DEMO)
    data["subscriptions"] = [SUB, S2, S3, OFF]
    data["subscriptionDetails"] = {**data.get("subscriptionDetails", {}), OFF: {"state": "Disabled"}}
    data["managementGroups"] = [group("mg-root", "mg-a", S2), group("mg-a", "mg-b", SUB), group("mg-b", S3, OFF, GONE),
                                group("mg-empty"), group("mg-off", OFF)]
    return data


SCENARIO = scenario()


@pytest.fixture
def cli(run_cli):
    return functools.partial(run_cli, token=TOKEN)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def args(*extra: str) -> list[str]:
    return ["--max-retry-after", "1", "--timeout", "60", "--format", "json", "--fail-on", "none", *extra]


def descendant_calls(sim: Simulator) -> list[Any]:
    return [e for e in sim.ledger if e.path.lower().endswith("/descendants")]


# --------------------------------------------------------------------------- pass
def test_nested_groups_paged_descendants_and_disabled_or_gone_subscriptions_left_out(tmp_path, cli):
    out, inv = tmp_path / "r.json", tmp_path / "inv.json"
    with Simulator(SCENARIO, page_size=2, token=TOKEN) as sim:
        code, _, err = cli(*args("--management-group", "mg-root", "-o", str(out), "--save-inventory", str(inv)), sim=sim)
        assert code == 0, err
        ledger = sim.ledger.snapshot()
        calls = descendant_calls(sim)
    report = load(out)
    # mg-root > mg-a > mg-b: every subscription of the subtree, the disabled and the vanished one left out.
    assert report["scan"]["subscriptions"] == sorted([SUB, S2, S3])
    assert OFF in err and "Disabled" in err and GONE in err
    # 7 descendants (2 groups, 5 subscriptions) at 2 a page: the SDK followed every nextLink.
    assert len(calls) == 4 and all(c.status == 200 for c in calls)
    assert all("$skiptoken=" in c.query for c in calls[1:]) and all("api-version=" in c.query for c in calls)
    # Read-only: only GETs; the only Microsoft.Management request is the descendants list.
    assert {e.method for e in ledger} == {"GET"}
    assert [e for e in ledger if "microsoft.management" in e.path.lower() and not e.path.lower().endswith("/descendants")] == []
    # Every listed subscription was preflighted, the scanned ones scanned; nothing of the left-out ones.
    preflighted = {e.path.lower() for e in ledger if e.path.lower().count("/") == 2 and e.path.lower().startswith("/subscriptions/")}
    assert preflighted == {f"/subscriptions/{s}" for s in (SUB, S2, S3, OFF, GONE)}
    assert not [e for e in ledger if e.path.lower().startswith((f"/subscriptions/{OFF}/", f"/subscriptions/{GONE}/"))]
    assert load(inv)["scope"] == MANAGEMENT_GROUP


def test_named_subscriptions_and_groups_are_deduplicated_and_bcdr801_says_the_scope(tmp_path, cli):
    out, inv = tmp_path / "r.json", tmp_path / "inv.json"
    with Simulator(SCENARIO, token=TOKEN) as sim:
        code, _, err = cli(*args("-s", SUB, "-m", "mg-a", "-m", "MG-A", "-m", MG + "mg-b", "-o", str(out),
                                 "--save-inventory", str(inv)), sim=sim)
        assert code == 0, err
        calls = descendant_calls(sim)
    report = load(out)
    assert report["scan"]["subscriptions"] == sorted([SUB, S3])  # mg-a holds SUB and mg-b; given twice, read once
    assert sorted(c.path.rsplit("/", 2)[1] for c in calls) == ["mg-a", "mg-b"]
    assert load(inv)["scope"] == MANAGEMENT_GROUP
    # The report says so too: the kind and each group once, as parsed (a full group id becomes its name).
    assert report["scan"]["scope"] == {"kind": MANAGEMENT_GROUP, "management_groups": ["mg-a", "mg-b"]}
    # BCDR801 (VM without backup) tells the reader that vaults outside the group were not looked at.
    bcdr801 = [f for f in report["findings"] if f["rule_id"] == "BCDR801" and f["status"] == "FAIL"]
    assert bcdr801 and all("management group" in f["evidence"]["vault_elsewhere"] for f in bcdr801)


def test_shards_split_the_groups_subscriptions_and_preflight_only_their_own(tmp_path, cli):
    seen: list[list[str]] = []
    with Simulator(SCENARIO, token=TOKEN) as sim:
        for k in (1, 2):
            sim.ledger.clear()
            out = tmp_path / f"r{k}.json"
            code, _, err = cli(*args("-m", "mg-root", "--shard", f"{k}/2", "-o", str(out)), sim=sim)
            assert code in (0, EXIT_USAGE), err
            if code == 0:
                seen.append(load(out)["scan"]["subscriptions"])
                preflighted = {e.path.lower().rsplit("/", 1)[1] for e in sim.ledger
                               if e.path.lower().count("/") == 2 and e.path.lower().startswith("/subscriptions/")}
                assert set(seen[-1]) <= preflighted and not preflighted & (set(sum(seen[:-1], [])))
            else:  # a shard whose only subscriptions are the disabled/vanished ones has nothing to scan
                assert "nothing to scan" in err
    assert sorted(sum(seen, [])) == sorted([SUB, S2, S3])


def test_scan_api_with_a_group_records_the_scope_kind():
    with Simulator(SCENARIO, token=TOKEN) as sim:
        seen: list[Inventory] = []
        report = scan(ScanOptions(management_groups=("mg-b",), endpoint=sim.endpoint, verify=sim.ca_path,
                                  credential=StaticTokenCredential(TOKEN), max_retry_after=1, timeout=60),
                      on_inventory=seen.append)
    assert report.scan.subscriptions == (S3,) and seen[0].scope == MANAGEMENT_GROUP


def test_with_all_subscriptions_the_scope_is_every_visible_one_and_the_groups_extras_are_checked():
    with Simulator(SCENARIO, token=TOKEN) as sim:
        factory = ClientFactory(StaticTokenCredential(TOKEN), ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=30))
        scope = establish(factory, ScopeRequest(all_subscriptions=True, management_groups=("mg-b",)))
    # Visible (GET /subscriptions leaves the disabled one out) plus mg-b's; the one gone is left out.
    assert scope.subscriptions == tuple(sorted((SUB, S2, S3))) and scope.kind == ALL_VISIBLE


def test_with_all_subscriptions_the_report_says_every_visible_one_and_names_the_groups(tmp_path, cli):
    out = tmp_path / "r.json"
    with Simulator(SCENARIO, token=TOKEN) as sim:
        code, _, err = cli(*args("--all-subscriptions", "-m", "mg-b", "-o", str(out)), sim=sim)
    assert code == 0, err
    assert load(out)["scan"]["scope"] == {"kind": ALL_VISIBLE, "management_groups": ["mg-b"]}


def test_demo_management_group(tmp_path, cli):
    out = tmp_path / "demo.json"
    code, _, err = cli("--demo", "--management-group", "contoso", "--format", "json", "-o", str(out))
    assert code == EXIT_FINDINGS, err
    assert load(out)["scan"]["subscriptions"] == [SUB]
    code, _, err = cli("--demo", "--management-group", "contoso-sandbox", "--format", "json", "-o", str(out))
    assert code == EXIT_USAGE and "no subscription under it" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- bad input and failures
@pytest.mark.parametrize("value", ["a/b", "mg?x=1", "ends.", "", " ", "x" * 91, "mg#1", "mg%2f", "name with space"])
def test_malformed_group_id_is_one_line_exit_2_before_any_request(cli, value):
    code, _, err = cli("--management-group", value, "--arm-endpoint", "https://127.0.0.1:9")
    assert code == EXIT_USAGE and "is not a management group id" in err and len(err.strip().splitlines()) == 1


def test_group_ids_accepted():
    assert parse_management_group("mg-Corp_1.(eu)") == "mg-Corp_1.(eu)"
    assert parse_management_group(MG.upper() + "contoso") == "contoso"
    assert parse_management_group("x" * 90) == "x" * 90


@pytest.mark.parametrize("fault,needle", [
    (None, "management group mg-nope not found or not readable by this identity (AuthorizationFailed)"),
    (Fault.error(404, DESCENDANTS, code="NotFound"), "management group mg-nope not found or not readable by this identity (NotFound)"),
    (Fault.authorization_failed(DESCENDANTS), "Management Group Reader or Reader on the group"),
    (Fault.repeat_next_link(DESCENDANTS), "RepeatedNextLink"),
    (Fault.foreign_next_link(DESCENDANTS), "ForeignNextLink"),
    (Fault.html(DESCENDANTS), "cannot list the subscriptions under management group mg-nope"),
    (Fault.body(DESCENDANTS, transform=lambda b: {**b, "value": [{"id": "/subscriptions/../../providers/x", "type": "/subscriptions"}]}),
     "not a subscription GUID"),
    (Fault.server_error(DESCENDANTS, status=503), "cannot list the subscriptions under management group mg-nope: "),
])
def test_group_that_cannot_be_resolved_stops_the_scan_even_with_named_subscriptions(cli, fault, needle):
    data = copy.deepcopy(SCENARIO)
    if fault is not None:  # the group exists; the fault answers instead
        data["managementGroups"].append(group("mg-nope", S2, "mg-b"))
    with FaultySimulator(data, [fault] if fault is not None else [], page_size=2, token=TOKEN) as sim:
        code, out, err = cli("-s", SUB, "-m", "mg-nope", "--max-retry-after", "1", "--timeout", "60",
                             "--format", "json", sim=sim)
        ledger = sim.ledger.snapshot()
    assert code == EXIT_USAGE and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1, err
    # Nothing was scanned, not even the named subscription: the scope is resolved before any preflight.
    assert [e for e in ledger if e.path.lower().startswith("/subscriptions")] == []
    assert {e.method for e in ledger} <= {"GET"} and not [e for e in ledger if e.host.startswith("localhost") and e.auth_present]


def test_descendants_call_goes_through_the_guarded_transport():
    """The factory's management-group client has the read-only guard: the descendants call is a
    GET in the factory's ledger, and the same client refuses a POST before it is sent."""
    from azure.core.rest import HttpRequest

    from scanner.arm import ReadOnlyViolation
    with Simulator(SCENARIO, token=TOKEN) as sim:
        factory = ClientFactory(StaticTokenCredential(TOKEN), ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=30))
        scope = establish(factory, ScopeRequest(management_groups=("mg-a",)))
        assert scope.subscriptions == tuple(sorted((SUB, S3))) and scope.kind == MANAGEMENT_GROUP
        assert factory.ledger.sent[0] == ("GET", "/providers/Microsoft.Management/managementGroups/mg-a/descendants")
        assert {method for method, _ in factory.ledger.sent} == {"GET"}
        client = factory.management_groups()
        with pytest.raises(ReadOnlyViolation):
            client.send_request(HttpRequest("POST", f"{sim.endpoint}/providers/Microsoft.Management/getEntities?api-version=2023-04-01"))
        assert factory.ledger.blocked == [("POST", "/providers/Microsoft.Management/getEntities")]
        assert sim.writes() == []


def test_every_group_subscription_disabled_is_exit_2():
    with Simulator(SCENARIO, token=TOKEN) as sim:
        factory = ClientFactory(StaticTokenCredential(TOKEN), ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=30))
        with pytest.raises(ScopeError, match="disabled, deleted or gone: nothing to scan"):
            establish(factory, ScopeRequest(management_groups=("mg-off",)))
        # A disabled subscription named by the user is scanned as before (its collectors say what they cannot read).
        assert establish(factory, ScopeRequest(subscriptions=(OFF,))).subscriptions == (OFF,)
