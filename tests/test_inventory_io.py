"""The saved inventory (--save-inventory / `evaluate FILE`) and the compact in-memory inventory.

- `Inventory.write_json` streams, item by item, exactly the text the whole-document serialisation
  gives (the file format `evaluate` and earlier versions read), redacted when the CLI writes it;
- `Inventory.from_json` reads any layout of that document item by item, with the same errors;
- a scan's inventory saved through the CLI's writer and loaded back evaluates to the same findings;
- mappers and the loader share repeated strings, and the models keep no per-instance __dict__.
"""
from __future__ import annotations

import dataclasses
import io
import json
from datetime import datetime, timezone

import factories as f
import pytest
import report_scenarios as rs

from benchmarks.synthetic import synthetic
from scanner import ids
from scanner import inventory as m
from scanner.api import evaluate_inventory
from scanner.collectors import compute as cmp
from scanner.collectors import network as netc
from scanner.collectors import recovery as rsv
from scanner.collectors import resources as res
from scanner.emit import emit_inventory
from scanner.redact import scrub
from scanner.simulator.scenario import resolve_times

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=timezone.utc)


def synthetic_inventory(n_vms: int) -> m.Inventory:
    """The benchmark's synthetic subscription (benchmarks/synthetic.py) through the real mappers."""
    sc = resolve_times(synthetic(n_vms), NOW)
    sub = sc["subscriptions"][0]
    vms = []
    for raw in sc["virtual_machines"] if "virtual_machines" in sc else sc["virtualMachines"]:
        view = sc["instanceViews"][raw["id"]]
        vm = cmp.with_status(cmp.map_vm(raw), tuple(s["code"] for s in view["statuses"]))
        vms.append(dataclasses.replace(vm, instance_view=cmp.map_instance_view(view)))
    return m.build_inventory(
        "2026-11-22T06:00:00Z", [sub], virtual_machines=vms,
        resource_groups=[res.map_resource_group(x) for x in sc["resourceGroups"]],
        disks=[cmp.map_disk(x) for x in sc["disks"]],
        restore_point_collections=[cmp.map_restore_point_collection(x) for x in sc["restorePointCollections"]],
        vaults=[rsv.map_vault(x) for x in sc["vaults"]],
        protected_items=[rsv.map_protected_item(x) for x in sc["backupProtectedItems"]],
        backup_policies=[rsv.map_policy(x) for x in sc["backupPolicies"]],
        backup_jobs=[rsv.map_backup_job(x) for x in sc["backupJobs"]],
        replication_items=[rsv.map_replication_item(x) for x in sc["replicationProtectedItems"]],
        network_interfaces=[netc.map_network_interface(x) for x in sc["networkInterfaces"]],
        network_security_groups=[netc.map_network_security_group(x) for x in sc["networkSecurityGroups"]],
        route_tables=[netc.map_route_table(x) for x in sc["routeTables"]],
        virtual_networks=[netc.map_virtual_network(x) for x in sc["virtualNetworks"]],
        coverage=f.coverage(sub))


def findings(inv: m.Inventory) -> list[tuple[str, str, str]]:
    """(fingerprint, rule, status) of every finding, and (resource, rule, PASS) of every pass."""
    report = evaluate_inventory(inv)
    return sorted([(x.fingerprint, x.rule_id, x.status) for x in report.findings]
                  + [(rid, rule, "PASS") for rule, passed in report.passed_resources.items() for rid in passed])


@pytest.fixture(scope="module")
def synthetic_200() -> m.Inventory:
    return synthetic_inventory(200)


@pytest.mark.parametrize("make", [lambda: rs.scenario(hostile=True), lambda: m.Inventory(collected_at="x"),
                                  lambda: synthetic_inventory(60)], ids=["scenario", "empty", "synthetic"])
def test_streamed_writer_gives_the_whole_document_text(make):
    inv = make()
    plain, redacted = io.StringIO(), io.StringIO()
    inv.write_json(plain)
    inv.write_json(redacted, scrub)
    assert plain.getvalue() == inv.to_json()
    assert redacted.getvalue() == json.dumps(scrub(inv.to_dict()), indent=2)  # what --save-inventory wrote before
    json.loads(redacted.getvalue())


def test_saved_inventory_evaluates_to_the_same_findings(tmp_path, synthetic_200):
    path = tmp_path / "inventory.json"
    emit_inventory(synthetic_200, str(path))  # the CLI's --save-inventory writer
    loaded = m.Inventory.from_json(path.read_text(encoding="utf-8"))
    assert loaded == synthetic_200
    got = findings(loaded)
    assert got == findings(synthetic_200)
    assert {status for _, _, status in got} >= {"PASS", "FAIL"}


def test_evaluate_command_reads_the_streamed_file(tmp_path, synthetic_200):
    from click.testing import CliRunner

    from scanner.cli import cli
    path = tmp_path / "inventory.json"
    emit_inventory(synthetic_200, str(path))
    result = CliRunner().invoke(cli, ["evaluate", str(path), "--format", "json"])
    doc = json.loads(result.stdout)
    got = sorted([(x["fingerprint"], x["rule_id"], x["status"]) for x in doc["findings"]]
                 + [(rid, rule, "PASS") for rule, passed in doc["passed"].items() for rid in passed])
    assert got == findings(synthetic_200)


@pytest.mark.parametrize("layout", [lambda d: json.dumps(d), lambda d: json.dumps(d, indent=7),
                                    lambda d: " \n" + json.dumps(d, separators=(",", ":")) + "\n\t "])
def test_loader_reads_any_layout(layout):
    inv = rs.scenario()
    assert m.Inventory.from_json(layout(inv.to_dict())) == inv


@pytest.mark.parametrize("text,needle", [
    ('{"schema_version": "2", "virtual_machines": [{"id": 5}], "collected_at": "x"}', "schema_version '2'"),
    ('{"virtual_machines": [{"id": 5}], "schema_version": "1", "collected_at": "x"}', "virtual_machines[0]"),
    ('{"schema_version": "1", "collected_at": "x", "virtual_machines": 5}', "virtual_machines: expected a list"),
    ('{"schema_version": "1", "collected_at": "x"} {}', "not valid JSON"),
    ('{"schema_version": "1", "collected_at": "x", "virtual_machines": [{}, ]}', "not valid JSON"),
    ('{"schema_version": "1" "collected_at": "x"}', "not valid JSON"),
    ('{"schema_version": "1", "collected_at": "x", "disks": [', "not valid JSON"),
    ('[]', "not a JSON object"),
    ('{"schema_version": "1"}', "collected_at"),
])
def test_loader_errors_are_those_of_the_whole_document_reader(text, needle):
    with pytest.raises(m.InventoryFormatError) as err:
        m.Inventory.from_json(text)
    assert needle in str(err.value)


def test_loaded_inventory_shares_repeated_strings(synthetic_200):
    loaded = m.Inventory.from_json(synthetic_200.to_json())
    a, b = loaded.backup_jobs[0], loaded.backup_jobs[-1]
    assert a.status == b.status and a.status is b.status
    assert a.vault_id is next(v.id for v in loaded.vaults if v.id == a.vault_id)
    assert {id(vm.location) for vm in loaded.virtual_machines} == {id(loaded.virtual_machines[0].location)}


def test_mappers_share_repeated_strings():
    sc = synthetic(20)
    # Each item from its own decoded JSON, as from separate pages: equal strings are separate objects there.
    jobs = [rsv.map_backup_job(json.loads(json.dumps(x))) for x in sc["backupJobs"]]
    items = [rsv.map_protected_item(json.loads(json.dumps(x))) for x in sc["backupProtectedItems"]]
    vms = {vm.id: vm for vm in (cmp.map_vm(json.loads(json.dumps(x))) for x in sc["virtualMachines"])}
    assert jobs[0].status is jobs[-1].status and jobs[0].operation is jobs[-1].operation
    vaults = {v.id: v for v in (rsv.map_vault(json.loads(json.dumps(x))) for x in sc["vaults"])}
    assert all(j.vault_id is vaults[j.vault_id].id for j in jobs)
    assert jobs[0].subscription_id is items[0].subscription_id is next(iter(vms.values())).subscription_id
    by_container = {p.container_name: p for p in items}
    assert all(j.container_name is by_container[j.container_name].container_name for j in jobs)
    assert all(p.source_resource_id is vms[p.source_resource_id].id for p in items)


def test_models_have_no_instance_dict(synthetic_200):
    for name in ("virtual_machines", "backup_jobs", "protected_items", "disks", "network_interfaces", "coverage"):
        item = getattr(synthetic_200, name)[0]
        assert not hasattr(item, "__dict__"), name
    assert not hasattr(synthetic_200.virtual_machines[0].instance_view, "__dict__")


def test_backup_jobs_derive_their_name_and_save_as_before(synthetic_200):
    job = synthetic_200.backup_jobs[0]
    fields = {f.name for f in dataclasses.fields(m.BackupJob)}
    assert not {"name", "display_id", "id"} & fields
    assert job.display_id.endswith("/" + job.name) and job.name == job.display_id.rsplit("/", 1)[1]
    saved = json.loads(synthetic_200.to_json())["backup_jobs"][0]
    # The keys (and their order) of the file the previous versions wrote and read.
    assert list(saved) == ["id", "display_id", "name", "subscription_id", "vault_id", "operation", "status",
                           "start_time", "end_time", "entity_friendly_name", "container_name",
                           "backup_management_type", "is_user_triggered", "errors"]
    assert (saved["id"], saved["display_id"], saved["name"]) == (job.id, job.display_id, job.name)
    assert set(m.BackupJob.SAVED_AS) == fields - {"where", "rest", "id_where", "id_rest"} | {"id", "display_id", "name"}
    assert m.Inventory.from_json(synthetic_200.to_json()).backup_jobs == synthetic_200.backup_jobs
    with io.StringIO(synthetic_200.to_json()) as fh:
        assert m.Inventory.read_json(fh).backup_jobs == synthetic_200.backup_jobs


def test_backup_jobs_keep_one_prefix_per_vault_their_name_once_and_any_id_exactly(synthetic_200):
    jobs = synthetic_200.backup_jobs
    by_vault = {j.vault_id: (j.where, j.id_where) for j in jobs}
    # One string per vault for each prefix, and the GUID kept once for both ids.
    assert by_vault and all((j.where, j.id_where) == by_vault[j.vault_id] and j.where is by_vault[j.vault_id][0]
                            and j.id_where is by_vault[j.vault_id][1] for j in jobs)
    assert all(j.id_rest is None and j.display_id.lower() == j.id and j.id_parts == m.split_last(j.id)
               for j in jobs)
    vault = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.RecoveryServices/vaults/V"
    for display, rid in ((f"{vault}/backupJobs/ABC-Def", None),  # the name in another casing than the id's
                         (f"{vault}/backupJobs/abc/", None),  # a trailing slash (the id has none)
                         (f"{vault}/backupJobs/abc", "/hand/edited"),  # an id that is not the display id's
                         ("/İx/backupJobs/İ", None),  # lower() that changes the length
                         ("abc", None), ("", "")):
        rid = ids.norm(display) if rid is None else rid
        job = m.BackupJob.of(rid, display, subscription_id="s", vault_id="v")
        assert (job.id, job.display_id, job.name) == (rid, display, ids.name_of(display))
        assert job.id_parts == m.split_last(rid) == m.id_parts(job)
        inv = m.Inventory(collected_at="2026-11-22T06:00:00Z", backup_jobs=(job,))
        text = inv.to_json()
        assert json.loads(text)["backup_jobs"][0]["display_id"] == display
        assert json.loads(text)["backup_jobs"][0]["id"] == rid
        with io.StringIO(text) as fh:
            assert m.Inventory.read_json(fh).backup_jobs == (job,)
        assert m.Inventory.from_json(text).backup_jobs == (job,)


def test_build_inventory_drops_a_backup_job_listed_twice_by_its_id_whatever_the_display_casing():
    vault = f.vault()
    first = f.job(vault, name="j1")
    again = m.BackupJob.of(first.id, first.display_id.upper(), subscription_id=first.subscription_id,
                           vault_id=first.vault_id)
    other = f.job(vault, name="j2")
    inv = m.build_inventory("2026-11-22T06:00:00Z", [vault.subscription_id], backup_jobs=[first, again, other],
                            virtual_machines=[f.vm("a"), f.vm("a")])
    assert inv.backup_jobs == (first, other)
    assert len(inv.virtual_machines) == 1


def test_a_saved_backup_job_with_a_bad_display_id_is_refused_with_its_place():
    text = json.dumps({"schema_version": m.SCHEMA_VERSION, "collected_at": "2026-11-22T06:00:00Z",
                       "backup_jobs": [{"id": "/a", "display_id": 7, "subscription_id": "s", "vault_id": "v"}]})
    with pytest.raises(m.InventoryFormatError, match=r"inventory\.backup_jobs\[0\]\.display_id: expected a string"):
        m.Inventory.from_json(text)
    missing = text.replace('"display_id": 7, ', "")
    with pytest.raises(m.InventoryFormatError, match=r"inventory\.backup_jobs\[0\]: .*display_id"):
        m.Inventory.from_json(missing)


# The disks and network interfaces keep their display id as one prefix per resource group plus, only
# when it is not their name, their own last segment (the keys and order of the file the previous
# versions wrote and read are those below).
SAVED_KEYS = {
    "disks": (m.Disk, ["id", "display_id", "name", "subscription_id", "resource_group", "location", "size_gb",
                       "managed_by", "disk_state", "ade_enabled", "ade_has_bek", "ade_has_kek", "sse_type", "sku",
                       "ade_secret_vault_ids", "ade_key_vault_ids", "max_shares", "data_access_auth_mode",
                       "security_type"]),
    "network_interfaces": (m.NetworkInterface, ["id", "display_id", "name", "subscription_id", "resource_group",
                                                "location", "vm_id", "nsg_id", "primary", "ip_configurations"]),
}


@pytest.mark.parametrize("collection", sorted(SAVED_KEYS))
def test_disks_and_nics_derive_their_display_id_and_save_as_before(synthetic_200, collection):
    tp, keys = SAVED_KEYS[collection]
    items = getattr(synthetic_200, collection)
    fields = {x.name for x in dataclasses.fields(tp)}
    assert "display_id" not in fields and list(tp.SAVED_AS) == keys
    assert set(keys) == fields - {"where", "display_rest"} | {"display_id"}
    saved = json.loads(synthetic_200.to_json())[collection]
    assert [list(x) for x in saved] == [keys] * len(items)
    assert [x["display_id"] for x in saved] == [x.display_id for x in items]
    assert all(x.display_rest is None and x.display_id == x.where + x.name for x in items)
    by_group = {x.resource_group: x.where for x in items}
    assert len(by_group) > 1 and all(x.where is by_group[x.resource_group] for x in items)  # one string per group
    assert m.Inventory.from_json(synthetic_200.to_json()) == synthetic_200
    with io.StringIO(synthetic_200.to_json()) as fh:
        assert getattr(m.Inventory.read_json(fh), collection) == items


@pytest.mark.parametrize("tp", [m.Disk, m.NetworkInterface])
def test_disks_and_nics_keep_any_display_id_exactly(tp):
    rg = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/disks/"
    for display, name in ((rg + "Disk-1", "Disk-1"),
                          (rg + "Disk-1", "disk-1"),  # a name in another casing than the id's segment
                          (rg + "Disk-1/", "Disk-1"),  # a trailing slash
                          (rg + "other", "Disk-1"),  # a name that is not the id's (hand-edited file)
                          ("/İx/İ", "İ"), ("abc", "abc"), ("", "")):
        item = tp.of(id=ids.norm(display), display_id=display, name=name, subscription_id="s", resource_group="RG")
        assert (item.id, item.display_id, item.name) == (ids.norm(display), display, name)
        inv = m.Inventory(collected_at="2026-11-22T06:00:00Z",
                          **{"disks" if tp is m.Disk else "network_interfaces": (item,)})
        text = inv.to_json()
        assert m.Inventory.from_json(text) == inv
        with io.StringIO(text) as fh:
            assert m.Inventory.read_json(fh) == inv


def test_a_saved_disk_without_a_display_id_is_refused_with_its_place():
    disk = {"id": "/a", "name": "a", "subscription_id": "s", "resource_group": "rg"}
    text = json.dumps({"schema_version": m.SCHEMA_VERSION, "collected_at": "2026-11-22T06:00:00Z", "disks": [disk]})
    with pytest.raises(m.InventoryFormatError, match=r"inventory\.disks\[0\]: .*display_id"):
        m.Inventory.from_json(text)
    bad = text.replace('"id": "/a", ', '"id": "/a", "display_id": 7, ')
    with pytest.raises(m.InventoryFormatError, match=r"inventory\.disks\[0\]\.display_id: expected a string"):
        m.Inventory.from_json(bad)


def test_affected_vms_index_keeps_tuples_and_no_entry_per_one_vm_resource(synthetic_200):
    from scanner import readiness
    index = readiness._index(synthetic_200)
    gathered = index._gathered
    assert gathered and all(isinstance(v, tuple) for v in gathered.values())  # a set is about 4x the memory
    # VMs, disks, collections, items and jobs are looked up in per-id maps, not copied into entries.
    one_vm = [x.id for x in (*synthetic_200.virtual_machines, *synthetic_200.disks, *synthetic_200.protected_items,
                             *synthetic_200.restore_point_collections, *synthetic_200.backup_jobs)]
    assert one_vm and not set(one_vm) & set(gathered)
    vm = synthetic_200.virtual_machines[0]
    assert index.get(vm.id) == (vm.id,)
    assert all(index.get(d.id) == (vm.id,) for d in synthetic_200.disks if d.managed_by == vm.id)
    assert readiness.affected_vms(synthetic_200, "Microsoft.Compute/disks", synthetic_200.disks[0].display_id) == (
        synthetic_200.disks[0].managed_by,)


@pytest.mark.parametrize("chunk", [1, 7, 64, 4096])
def test_loader_reads_across_chunk_boundaries(monkeypatch, chunk):
    monkeypatch.setattr(m._Reader, "CHUNK", chunk)  # every value, number and delimiter cut somewhere
    inv = rs.scenario(hostile=True)
    for text in (inv.to_json(), json.dumps(inv.to_dict()), " " + json.dumps(inv.to_dict(), indent=5) + "\n"):
        assert m.Inventory.read_json(io.StringIO(text)) == inv
    with pytest.raises(m.InventoryFormatError, match="not valid JSON"):
        m.Inventory.read_json(io.StringIO(inv.to_json()[:-40]))
    with pytest.raises(m.InventoryFormatError, match="virtual_machines"):
        m.Inventory.read_json(io.StringIO(inv.to_json().replace('"id": "/subscriptions', '"id": 7, "x": "', 1)))


def test_evaluate_reads_the_file_a_chunk_at_a_time(tmp_path, synthetic_200, monkeypatch):
    path = tmp_path / "inventory.json"
    emit_inventory(synthetic_200, str(path))
    reads: list[int] = []
    real = m._Reader.more

    def more(self):  # the real reader, recording how much text it holds
        got = real(self)
        reads.append(len(self.buf))
        return got
    monkeypatch.setattr(m._Reader, "CHUNK", 64 * 1024)
    monkeypatch.setattr(m._Reader, "more", more)
    with open(path, encoding="utf-8") as fh:
        assert m.Inventory.read_json(fh) == synthetic_200
    assert len(reads) > 10 and max(reads) < path.stat().st_size / 4
