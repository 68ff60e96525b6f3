"""Property tests: the mappers survive hostile input (issue "survive faults and hostile input").

Strings from Azure are untrusted (design.md): a mapper given anything at all either returns its
model or raises MalformedItem/ValueError, the exceptions read_list turns into a coverage record.
Anything else (TypeError, KeyError, OverflowError, RecursionError...) would escape read_list's
per-item handler and fail the whole list for one odd item. And an item with a valid id whose other
fields are garbled, missing or carry enum values this code has never seen is still mapped: a new
service value must not hide a VM from the rules.

Outcomes are tagged with hypothesis.event(): run with --hypothesis-show-statistics to see how many
inputs were mapped vs rejected.
"""
from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

import pytest
from azure.core.exceptions import DecodeError, HttpResponseError, ServiceResponseError, ServiceResponseTimeoutError
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from shared_data import REST_EXAMPLES as EXAMPLES

from scanner import ids
from scanner import inventory as m
from scanner.arm import classify
from scanner.collectors import compute as cmp
from scanner.collectors import recovery as rsv
from scanner.collectors import resources as res
from scanner.collectors.base import MalformedItem, Recorder, read_list

pytestmark = pytest.mark.shared

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _body(rel: str) -> Any:
    path = EXAMPLES / rel
    return json.loads(path.read_text(encoding="utf-8"))["responses"]["200"]["body"] if path.exists() else {}


def _first(rel: str) -> dict[str, Any]:
    b = _body(rel)
    return b["value"][0] if b else {}


def _vm_with_extension() -> dict[str, Any]:
    vm = _first("compute/VirtualMachine_ListBySubscription_ByLocation.json")
    if vm:
        vm["resources"] = _body("compute/VirtualMachineExtension_List_MaximumSet_Gen.json")["value"]
    return vm


def _status_only() -> dict[str, Any]:
    vm = _first("compute/VirtualMachine_ListBySubscription_ByLocation.json")
    view = _body("compute/VirtualMachine_Get_InstanceView.json")
    if not vm:
        return {}
    return {"id": vm["id"], "name": vm["name"], "location": vm["location"],
            "properties": {"provisioningState": "Succeeded", "instanceView": {"statuses": view["statuses"]}}}


@dataclasses.dataclass(frozen=True)
class Case:
    mapper: Callable[[Any], Any]
    example: Callable[[], dict[str, Any]]
    model: type
    sdk: Callable[[dict[str, Any]], Any] | None = None  # the SDK model the real pager yields

    def id_of(self, out: Any) -> str | None:
        if isinstance(out, tuple):  # map_vm_status: (id, codes, raw)
            return out[0]
        return getattr(out, "id", None)


def _sdk(path: str) -> Callable[[dict[str, Any]], Any]:
    def build(raw: dict[str, Any]) -> Any:
        import importlib
        module, name = path.split(":")
        cls = getattr(importlib.import_module(module), name)
        if hasattr(cls, "_attribute_map"):  # msrest generation
            return cls.deserialize(copy.deepcopy(raw))
        return cls(copy.deepcopy(raw))
    return build


RG = {"id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-app", "name": "rg-app",
      "type": "Microsoft.Resources/resourceGroups", "location": "westeurope",
      "properties": {"provisioningState": "Succeeded"}}

CASES: dict[str, Case] = {
    "map_vm": Case(cmp.map_vm, _vm_with_extension, m.VirtualMachine, _sdk("azure.mgmt.compute.models:VirtualMachine")),
    "map_vm_status": Case(cmp.map_vm_status, _status_only, tuple, _sdk("azure.mgmt.compute.models:VirtualMachine")),
    "map_instance_view": Case(cmp.map_instance_view, lambda: _body("compute/VirtualMachine_Get_InstanceView.json"),
                              m.InstanceView),
    "map_disk": Case(cmp.map_disk, lambda: _body("compute/Disk_Get.json"), m.Disk,
                     _sdk("azure.mgmt.compute.models:Disk")),
    "map_restore_point_collection": Case(
        cmp.map_restore_point_collection,
        lambda: _body("compute/RestorePointCollection_Get_WithContainedRestorePoints.json"), m.RestorePointCollection,
        _sdk("azure.mgmt.compute.models:RestorePointCollection")),
    "map_resource_group": Case(res.map_resource_group, lambda: copy.deepcopy(RG), m.ResourceGroup,
                               _sdk("azure.mgmt.resource.resources.models:ResourceGroup")),
    "map_lock": Case(res.map_lock, lambda: _first("locks/ManagementLocks_ListAtSubscriptionLevel.json"), m.Lock,
                     _sdk("azure.mgmt.resource.locks.models:ManagementLockObject")),
    "map_vault": Case(rsv.map_vault, lambda: _first("recoveryservices/ListBySubscriptionIds.json"), m.Vault,
                      _sdk("azure.mgmt.recoveryservices.models:Vault")),
    "map_protected_item": Case(rsv.map_protected_item,
                               lambda: _body("recoveryservicesbackup/Compute_ProtectedItem_Get.json"), m.ProtectedItem,
                               _sdk("azure.mgmt.recoveryservicesbackup.models:ProtectedItemResource")),
    "map_policy": Case(rsv.map_policy, lambda: _body("recoveryservicesbackup/IaaS_v2_hourly.json"), m.BackupPolicy,
                       _sdk("azure.mgmt.recoveryservicesbackup.models:ProtectionPolicyResource")),
    "map_backup_job": Case(rsv.map_backup_job, lambda: _body("recoveryservicesbackup/GetJobDetails.json"), m.BackupJob,
                           _sdk("azure.mgmt.recoveryservicesbackup.models:JobResource")),
    "map_replication_item": Case(rsv.map_replication_item,
                                 lambda: _first("siterecovery/ReplicationProtectedItems_List.json"), m.ReplicationItem,
                                 _sdk("azure.mgmt.recoveryservicessiterecovery.models:ReplicationProtectedItem")),
    "map_replication_job": Case(rsv.map_replication_job, lambda: _first("siterecovery/ReplicationJobs_List.json"),
                                m.ReplicationJob, _sdk("azure.mgmt.recoveryservicessiterecovery.models:Job")),
}
LISTED = [n for n in CASES if n != "map_instance_view"]  # instance views come from a GET, not a list


# --------------------------------------------------------------------------- strategies
def _keys(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            _keys(v, out)
    elif isinstance(value, list):
        for v in value:
            _keys(v, out)
    return out


def _read_names() -> set[str]:
    """Every quoted name in the mapper modules: the wire fields they read (healthDetails,
    errorDetails, providerErrorDetails... that no example carries) plus a few harmless extras."""
    import re
    src = "".join(Path(mod.__file__).read_text(encoding="utf-8") for mod in (cmp, rsv, res))
    return set(re.findall(r'"([A-Za-z][A-Za-z0-9]*)"', src))


# The field names the mappers read, so random dicts reach deep into their code paths.
VOCAB = sorted(_keys([c.example() for c in CASES.values()], _read_names()))

# Values chosen to break naive parsing: non-ASCII digits ('²'.isdigit() is True, int('²') fails),
# timestamps that overflow in UTC, ids that are almost ids, bidi/zero-width text.
TRICKY = [
    "", " ", "²", "١٢", "12", " 7 ", "-3", "1e3", "NaN", "true", "False", "/", "//", "/subscriptions/",
    "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2021-01-27T20:35:05.84015191234+00:00",
    "PowerState/", "ProvisioningState/failed/", "/subscriptions/x/providers/Microsoft.Authorization/locks/",
    "/subscriptions/x/providers/Microsoft.RecoveryServices/vaults/", "A2A", "InMageRcm", "InMageRcmFailback",
    "InMageAzureV2", "HyperVReplicaAzure", "SimpleSchedulePolicyV2", "V2", "Hourly",
    "=cmd|' /C calc'!A0", "\u202eevil", "\u200b", "x" * 600,
]

scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.sampled_from(TRICKY)
           | st.text(max_size=12))
keys = st.sampled_from(VOCAB) | st.text(max_size=6)
json_values = st.recursive(
    scalars, lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25)
json_objects = st.dictionaries(keys, json_values, max_size=6)


SLOT = {m.VirtualMachine: "virtual_machines", m.Disk: "disks", m.RestorePointCollection: "restore_point_collections",
        m.ResourceGroup: "resource_groups", m.Lock: "locks", m.Vault: "vaults", m.ProtectedItem: "protected_items",
        m.BackupPolicy: "backup_policies", m.BackupJob: "backup_jobs", m.ReplicationItem: "replication_items",
        m.ReplicationJob: "replication_jobs"}


def _check_result(case: Case, out: Any) -> None:
    assert isinstance(out, case.model)
    if isinstance(out, m.InstanceView):
        out = m.VirtualMachine(id="/x", display_id="/x", name="x", subscription_id="", resource_group="",
                               instance_view=out)
    if type(out) in SLOT:
        # Whatever came in, the Inventory saved with --save-inventory must load back unchanged
        # (`evaluate` re-runs the rules on it offline): strict JSON, every field of its declared type.
        inv = m.build_inventory("2026-11-22T06:00:00Z", [], **{SLOT[type(out)]: [out]})
        text = inv.to_json()
        json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
        assert m.Inventory.from_json(text) == inv


def _run(case: Case, name: str, raw: Any) -> Any:
    try:
        out = case.mapper(raw)
    except ValueError as exc:  # MalformedItem is a ValueError: read_list records both as partial
        event(f"{name}: rejected ({type(exc).__name__})")
        return None
    event(f"{name}: mapped")
    _check_result(case, out)
    return out


# --------------------------------------------------------------------------- (a) arbitrary JSON
@pytest.mark.parametrize("name", list(CASES))
@FAST
@given(value=json_values)
def test_arbitrary_json_gives_model_or_value_error(name, value):
    _run(CASES[name], name, value)


@pytest.mark.parametrize("name", list(CASES))
@FAST
@given(top=json_objects, props=json_objects | json_values)
def test_arbitrary_object_with_real_id_is_always_mapped(name, top, props):
    """Random fields (named like the real ones, so the mapper reads them) around a real id: only
    the id identifies an item, so the mapper must return its model, never reject it. A protected
    item is identified by the VM it protects too: without one it is rejected (a kept item naming no
    VM would make every VM of its vault look unprotected)."""
    case = CASES[name]
    raw = dict(top)
    example = case.example()
    if "id" in example:
        raw["id"] = example["id"]
    raw["properties"] = props
    if name == "map_protected_item":
        source = example["properties"].get("sourceResourceId") or example["properties"]["virtualMachineId"]
        if not isinstance(props, dict):
            with pytest.raises(ValueError):
                case.mapper(raw)
            return
        raw["properties"] = {**props, "sourceResourceId": source}
    out = case.mapper(raw)
    _check_result(case, out)
    if "id" in example:
        assert case.id_of(out) == ids.norm(example["id"])


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("leaf", [7, True, None, 1.5, ["x"], {"code": 3}, "x"])
def test_every_field_with_the_wrong_type(name, leaf):
    """Deterministic companion of the random tests: EVERY field name the mappers read, at every
    depth they look, set to the wrong type (a number where a string belongs, a bool where a list
    belongs...). Random generation rarely puts e.g. an int `code` inside healthDetails; this does."""
    case = CASES[name]
    inner = {k: leaf for k in VOCAB}
    as_lists = {k: [inner, leaf] for k in VOCAB}
    for props in ({k: {k2: inner for k2 in VOCAB} for k in VOCAB}, as_lists):
        raw = dict(props)
        raw["properties"] = props
        example = case.example()
        if "id" in example:
            raw["id"] = example["id"]
        if name == "map_protected_item":  # its sourceResourceId is of the wrong type too: no VM to join
            with pytest.raises(ValueError):
                case.mapper(raw)
            continue
        out = case.mapper(raw)
        _check_result(case, out)


# --------------------------------------------------------------------------- (b) damaged examples
def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        p = prefix + (k,)
        if p != ("id",):  # the id is what identifies the item; everything else may be damaged
            out.append(p)
            out.extend(_paths(v, p))
    return out


def _at(value: Any, path: tuple) -> Any:
    for k in path:
        value = value[k]
    return value


UNKNOWN_ENUMS = st.sampled_from(["SomethingNew", "UNKNOWN", "protected ", "", "Ｐｒｏｔｅｃｔｅｄ"]) | st.text(max_size=10)


@st.composite
def damaged(draw, name: str):
    raw = CASES[name].example()
    for _ in range(draw(st.integers(1, 5))):
        paths = _paths(raw)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _at(raw, path[:-1]), path[-1]
        action = draw(st.sampled_from(["replace", "remove", "enum"]))
        if action == "remove":
            del parent[key]
        elif action == "enum" and isinstance(parent[key], str):
            parent[key] = draw(UNKNOWN_ENUMS)
        else:
            parent[key] = draw(json_values)
        note(f"{action} {'/'.join(map(str, path))}")
    return raw


@pytest.mark.parametrize("name", list(CASES))
@FAST
@given(data=st.data())
def test_damaged_example_still_maps_with_same_id(name, data):
    case = CASES[name]
    original = case.example()
    raw = data.draw(damaged(name))
    props = raw.get("properties") if isinstance(raw, dict) else None
    if name == "map_protected_item" and not (isinstance(props, dict) and any(
            isinstance(props.get(k), str) and props.get(k) for k in ("sourceResourceId", "virtualMachineId"))):
        with pytest.raises(ValueError):  # the damage took the VM it protects: nothing to join on
            case.mapper(raw)
        return
    out = case.mapper(raw)  # must not raise at all: the id is intact
    _check_result(case, out)
    if "id" in original:
        assert case.id_of(out) == ids.norm(original["id"])


@pytest.mark.parametrize("name", ["map_disk", "map_policy", "map_vm", "map_replication_item"])
@pytest.mark.parametrize("bad", ["²", "١٢٣", "9" * 5000, "0001-01-01T00:00:00+01:00"])
def test_numeric_fields_with_non_ascii_or_huge_digits(name, bad):
    """Explicit regression for what random text rarely hits: '²'.isdigit() is True but int('²')
    raises, and int() of a 5,000-digit string raises (Python's int/str conversion limit)."""
    case = CASES[name]
    raw = case.example()
    props = raw["properties"]
    hit = 0
    for path in (("diskSizeGB",), ("instantRpRetentionRangeInDays",), ("schedulePolicy", "hourlySchedule", "interval"),
                 ("schedulePolicy", "hourlySchedule", "scheduleWindowDuration"),
                 ("storageProfile", "osDisk", "diskSizeGB"), ("providerSpecificDetails", "rpoInSeconds")):
        try:
            parent = _at(props, path[:-1])
        except KeyError:
            continue  # this example has no such object
        parent[path[-1]] = bad
        hit += 1
    assert hit  # the example really carries a numeric field to damage
    out = case.mapper(raw)
    _check_result(case, out)
    assert case.id_of(out) == ids.norm(raw["id"])


def test_restore_point_time_past_datetime_range_is_ignored():
    raw = CASES["map_restore_point_collection"].example()
    point = raw["properties"]["restorePoints"][0]
    odd = copy.deepcopy(point)
    odd["properties"]["timeCreated"] = "9999-12-31T23:59:59-01:00"
    raw["properties"]["restorePoints"].append(odd)
    rpc = cmp.map_restore_point_collection(raw)
    assert rpc.restore_point_count == 2
    assert rpc.latest_restore_point_time == point["properties"]["timeCreated"]


# --------------------------------------------------------------------------- read_list over a mixed pager
def _has_valid_id(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"].strip().startswith("/")


garbage = json_values.filter(lambda v: not _has_valid_id(v)) | st.builds(object)
VAULT = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v1"
FAILURES = {
    "none": None,
    "decode": lambda: DecodeError("Expecting value: line 1 column 1 (char 0)"),
    "timeout": lambda: ServiceResponseTimeoutError("Read timed out. (read timeout=60)"),
    "http": lambda: HttpResponseError(message="Operation returned an invalid status 'Bad Gateway'"),
}


# Ids that look like ARM ids but may not be what the mapper needs (a lock id without the locks
# segment, a backup item outside any vault): map_lock and vault_of raise ValueError for those.
near_ids = st.sampled_from([
    "/subscriptions/s1/resourceGroups/rg", "/subscriptions/s1", "/",
    "/subscriptions/s1/providers/Microsoft.Authorization/locks/l1",
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v9/backupJobs/j1",
]) | st.text(max_size=10).map(lambda x: "/" + x)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(LISTED),
       entries=st.lists(st.one_of(st.tuples(st.just("good"), st.booleans()), st.tuples(st.just("near"), near_ids),
                                  st.tuples(st.just("bad"), garbage)), max_size=8),
       failure=st.sampled_from(sorted(FAILURES)), scoped=st.booleans())
def test_read_list_keeps_good_items_and_records_the_rest(name, entries, failure, scoped):
    case = CASES[name]
    goods: list[dict[str, Any]] = []
    yielded: list[Any] = []
    has_bad = False
    for i, (kind, payload) in enumerate(entries):
        if kind == "good":
            raw = case.example()
            raw["id"] = f"{raw['id']}-{i}"  # distinct items, the last id segment is a name
            goods.append(raw)
            yielded.append(case.sdk(raw) if payload and case.sdk else raw)  # as the SDK pager yields, or raw
        elif kind == "near":
            raw = case.example()
            raw["id"] = payload
            try:  # whether the mapper accepts this id is the mapper's business; read_list must follow it
                case.mapper(copy.deepcopy(raw))
                goods.append(raw)
            except ValueError:
                has_bad = True
            yielded.append(raw)
        else:
            has_bad = True
            yielded.append(payload)
    make_exc = FAILURES[failure]
    exc = make_exc() if make_exc else None

    def pager():
        yield from yielded
        if exc is not None:
            raise exc

    rec = Recorder("00000000-0000-0000-0000-000000000000")
    scope = VAULT if scoped else ""
    out = read_list(rec, "things", pager, case.mapper, scope=scope)  # never raises

    assert out == [case.mapper(g) for g in goods]
    [cov] = rec.records()
    assert cov.items == len(goods)
    if exc is not None and not scoped:
        # A subscription-wide list that broke off is failed: the rest of it is unknown.
        assert (cov.status, cov.error_code) == (m.FAILED, classify(exc)[0])
    elif has_bad:
        assert (cov.status, cov.error_code) == (m.PARTIAL, "MalformedResponse")
    elif exc is not None:
        assert (cov.status, cov.error_code) == (m.PARTIAL, classify(exc)[0])
        assert cov.failed_scopes == (ids.norm(VAULT),)
    else:
        assert (cov.status, cov.error_code) == (m.OK, "")
    event(f"read_list: {cov.status}")


def test_classify_codes_used_above():
    # Pin what the property test relies on, so a change in classify() shows up here by name.
    assert classify(DecodeError("x"))[0] == "MalformedResponse"
    # A response that did not arrive whole is a dropped connection unless a timeout caused it.
    assert classify(ServiceResponseError("x"))[0] == "ConnectionDropped"
    assert classify(ServiceResponseTimeoutError("x"))[0] == "Timeout"
    assert classify(MalformedItem("x"))[0] == "MalformedResponse"
