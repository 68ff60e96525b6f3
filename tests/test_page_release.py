"""A list's pages do not outlive their mapping (the collect-phase memory peak, issue 13).

azure-core's pager (PageIterator) keeps the last page's response (its body bytes, the decoded text
and the decoded JSON tree) until the next page's response is in: while a page is fetched, the one
before it is alive too. At 10,000 VMs eight lists page at once with pages of 1,000 items, so that
was a page per list in flight on top of the one being read. read_list lets the pager drop a page's
response as soon as the page is handed out (its items stay until they are mapped). Real SDK clients
against the loopback simulator, pages of two VMs.
"""
from __future__ import annotations

import gc
import weakref
from typing import Any

from scanner import inventory as m
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
from scanner.collectors import compute as cmp
from scanner.collectors.base import Recorder, read_list
from scanner.simulator import Simulator

SUB = "00000000-0000-4000-8000-0000000000d7"
VMS = [{"id": f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm{i}",
        "name": f"vm{i}", "location": "westeurope", "properties": {"vmId": f"id-{i}", "provisioningState": "Succeeded"}}
       for i in range(7)]


def _read() -> tuple[list[str], m.Coverage, list[int], list[bool]]:
    """The VMs read, the coverage, for each page's response how many earlier pages' responses were
    still alive when it came in, and for each item whether its page's response was alive while it
    was mapped (gc off: what frees a page must be its last reference going)."""
    responses: list[weakref.ref[Any]] = []
    alive_at: list[int] = []
    mapped_alive: list[bool] = []

    def hook(pipeline_response: Any) -> None:
        alive_at.append(sum(1 for r in responses if r() is not None))
        responses.append(weakref.ref(pipeline_response.http_response))

    def mapper(raw: dict[str, Any]) -> m.VirtualMachine:
        mapped_alive.append(responses[-1]() is not None)
        return cmp.map_vm(raw)

    with Simulator({"subscriptions": [SUB], "virtualMachines": VMS}, page_size=2) as sim:
        factory = ClientFactory(StaticTokenCredential("page-release-test-token"),
                                ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=30))
        compute = factory.compute(SUB)
        rec = Recorder(SUB)
        gc.collect()
        gc.disable()
        try:
            vms = read_list(rec, m.VMS, lambda: compute.virtual_machines.list_all(raw_response_hook=hook), mapper)
        finally:
            gc.enable()
    cov = rec.get(m.VMS)
    assert cov is not None
    return [vm.name for vm in vms], cov, alive_at, mapped_alive


def test_no_page_response_is_alive_while_its_items_are_mapped_or_the_next_page_is_fetched():
    names, cov, alive_at, mapped_alive = _read()
    assert names == [f"vm{i}" for i in range(7)]  # every item of the four pages, in order
    assert (cov.status, cov.items) == (m.OK, 7)
    assert alive_at == [0, 0, 0, 0]  # (azure-core alone: [0, 1, 1, 1])
    assert mapped_alive == [False] * 7  # the items themselves are kept until mapped (azure-core alone: all True)
