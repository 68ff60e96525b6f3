"""Equal small values are one object across the VMs of a collect (scanner.collectors.base.shared):
a status without a time (the power state, an extension handler's "Ready"), a list of only such, an
extension that carries no time, a VM's status codes, its tags. A status that says when is its VM's
alone. Sharing changes no value (the equalities below; the reports and saved files of the benchmark
inventories are byte-identical)."""
from __future__ import annotations

import copy
import json

import pytest
from shared_data import REAL_RESPONSES

from scanner import inventory as m
from scanner.collectors import compute as cmp

pytestmark = pytest.mark.shared
BODIES = REAL_RESPONSES / "bodies"


def _body(name: str) -> dict:
    return json.loads((BODIES / name).read_text(encoding="utf-8"))


def _two_views(name: str) -> tuple[m.InstanceView, m.InstanceView]:
    """One recorded instance view mapped for two VMs (two decodes: no string object in common)."""
    return cmp.map_instance_view(_body(name)), cmp.map_instance_view(_body(name))


def test_statuses_without_a_time_are_one_object_those_with_a_time_their_vms():
    a, b = _two_views("iv_CliVM2.json")
    assert a == b
    power_a = next(s for s in a.statuses if s.code == "PowerState/running")
    power_b = next(s for s in b.statuses if s.code == "PowerState/running")
    assert power_a.time is None and power_a is power_b
    handlers = [(x.handler_status, y.handler_status) for x, y in zip(a.extensions, b.extensions) if x.handler_status]
    assert handlers and all(x is y for x, y in handlers)
    timed = [(x, y) for x, y in zip(a.statuses + a.agent_statuses, b.statuses + b.agent_statuses) if x.time]
    assert timed and all(x == y and x is not y for x, y in timed)
    # A list holding a status with a time is the VM's own, so is an extension with one.
    assert a.statuses is not b.statuses and a.agent_statuses is not b.agent_statuses
    dated = [(x, y) for x, y in zip(a.extensions, b.extensions) if any(s.time for s in x.statuses)]
    assert dated and all(x is not y for x, y in dated)


def test_an_extension_without_a_time_is_shared_whole():
    raw = _body("iv_CliVM2.json")
    raw["extensions"] = []  # handler-only entries: the agent's "Ready" per handler, no time
    a, b = cmp.map_instance_view(copy.deepcopy(raw)), cmp.map_instance_view(copy.deepcopy(raw))
    assert len(a.extensions) == 3
    assert all(x is y and x.handler_status is not None for x, y in zip(a.extensions, b.extensions))
    assert a is not b  # the instance view itself is the VM's (its statuses say when)


def test_vm_status_codes_tags_and_list_extensions_are_shared():
    listed = _body("vm_list.json")["value"]
    vm = next(v for v in listed if v.get("resources") and v.get("tags"))
    twin = copy.deepcopy(vm)
    twin["id"] = vm["id"] + "-twin"
    a, b = cmp.map_vm(vm), cmp.map_vm(twin)
    assert a.tags == vm["tags"] and a.tags is b.tags
    assert list(a.tags) == list(vm["tags"])  # the order as sent (the saved file's bytes)
    assert a.extensions and a.extensions is b.extensions
    reordered = copy.deepcopy(twin)
    reordered["tags"] = dict(reversed(list(vm["tags"].items())))
    assert cmp.map_vm(reordered).tags is not a.tags
    assert cmp.map_vm({**copy.deepcopy(twin), "tags": {}}).tags == {}

    statuses = _body("vm_status_only.json")["value"]
    first = cmp.map_vm_status(statuses[0])[1]
    again = cmp.map_vm_status(copy.deepcopy(statuses[0]))[1]
    assert first and first == again and first is again
