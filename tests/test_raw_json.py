"""Inside `raw_json()` the real SDK clients (URL building, pipeline, paging) hand back the JSON the
service sent instead of models (scanner.collectors.base): what makes a request cheap in CPU. Outside
it the SDK behaves as shipped, for programs that embed the scanner."""
from __future__ import annotations

from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
from scanner.collectors.base import raw_json, wire
from scanner.simulator import Simulator, load_scenario


def _factory(sim: Simulator) -> ClientFactory:
    return ClientFactory(StaticTokenCredential("raw-json-test"), ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path))


def test_sdk_calls_return_the_service_json_inside_raw_json_and_models_outside():
    scenario = load_scenario("demo")
    sub = scenario["subscriptions"][0].lower()
    with Simulator(scenario, page_size=2) as sim:
        compute = _factory(sim).compute(sub)
        with raw_json():
            listed = list(compute.virtual_machines.list_all())
            rg, name = listed[0]["id"].split("/")[4], listed[0]["name"]
            view = compute.virtual_machines.instance_view(rg, name)
        modelled = list(compute.virtual_machines.list_all())
        model_view = compute.virtual_machines.instance_view(rg, name)
        served = [e for e in sim.ledger.snapshot() if e.path.lower().endswith("/virtualmachines")]
    # The raw items are the simulator's own JSON, every page of them (paging is the SDK's).
    assert all(type(item) is dict for item in listed) and type(view) is dict
    mine = [i["id"] for i in scenario["virtualMachines"] if i["id"].lower().startswith(f"/subscriptions/{sub}/")]
    assert [i["id"] for i in listed] == mine
    assert len(served) >= 2 * max(1, len(listed) // 2)
    # Outside the block: SDK models, whose wire format is the same JSON.
    assert all(type(item) is not dict for item in modelled) and type(model_view) is not dict
    assert [wire(i)["id"] for i in modelled] == [i["id"] for i in listed]
    assert wire(model_view).get("statuses") == view.get("statuses")
