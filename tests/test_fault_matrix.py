"""Fault-injection matrix: the real CLI (scanner.cli.main) and the real Azure SDK clients against the
loopback ARM simulator serving the demo scenario, with one or more faults injected per run
(design.md, "Tests, three layers", 3; issue "Survive faults and hostile input").

Exit codes. Every row runs with `--fail-on none` unless it says otherwise: the demo subscription has
FAIL findings at every severity, so under the default `--fail-on high` every run exits 1 whatever the
fault, and the exit code would say nothing about the fault. With `none` it speaks about coverage only:
0 = everything was read (a transient fault was retried away), 3 = the scan is incomplete. One row keeps
the default and shows that 1 (findings) wins over 3 (incomplete), as scanner/cli.py documents.

For every row:
- the exit code, and the coverage record of every collector (the ones a row does not name must be ok);
- the rules that are blind to the missing data say NOT_ASSESSED for the affected resources (a whole
  subscription when a subscription-wide list failed), and never FAIL there; and never PASS silently:
  a NOT_ASSESSED is required, not just the absence of a FAIL;
- the report validates against scanner/output/report.schema.json and lists exactly the FAIL and
  NOT_ASSESSED results the rules yield over the saved inventory;
- the simulator received only GETs (its ledger), as many as the report's arm_requests;
- no traceback on stderr or in a log record;
- nothing silently dropped: every VM the simulator serves is judged by some rule, or NOT_ASSESSED, or
  explained by a coverage record.
The session's terminal summary prints one line with the totals (see the tally in tests/conftest.py).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest
from simfaults import Fault, FaultySimulator, drop_fields, set_fields

from rules import load_all
from rules.base import FAIL, NOT_ASSESSED, PASS, Result
from scanner import ids
from scanner import inventory as m
from scanner.cli import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK
from scanner.report import validate_report
from scanner.simulator import LedgerEntry, Simulator, load_scenario

SCENARIO = load_scenario("demo")
SUB = SCENARIO["subscriptions"][0].lower()
SUB_SCOPE = f"/subscriptions/{SUB}"
ALL = "*"  # in Row.blind: the rule cannot see anything in the subscription (a subscription-wide list failed)

AGENT_AND_EXTENSION_RULES = ("BCDR201", "BCDR202", "BCDR203", "BCDR301", "BCDR302", "BCDR303")
# The ones that judge a backed-up VM that is not replicated (BCDR303 is the Site Recovery extension).
BACKUP_VM_INSTANCE_VIEW_RULES = ("BCDR201", "BCDR202", "BCDR203", "BCDR301", "BCDR302")
LOCK_RULES = ("BCDR401", "BCDR402", "BCDR403")
DISK_RULES = ("BCDR601", "BCDR602", "BCDR604", "BCDR605", "BCDR607", "BCDR608")  # BCDR603 is off by default: the scan does not run it
SITE_RECOVERY_RULES = ("BCDR901", "BCDR902", "BCDR903", "BCDR904", "BCDR905", "BCDR906")


def _vm(rg: str, name: str) -> str:
    return ids.norm(ids.vm_id(SUB, rg, name))


def _vault(rg: str, name: str) -> str:
    return ids.norm(f"{SUB_SCOPE}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{name}")


VAULT_WEU = _vault("rg-backup", "rsv-prod-weu")
VAULTS = tuple(sorted(ids.norm(v["id"]) for v in SCENARIO["vaults"]))
SERVED_VMS = tuple(sorted(ids.norm(v["id"]) for v in SCENARIO["virtualMachines"]))
VM_WEB_02 = _vm("rg-web-prod", "vm-web-02")  # agent Not Ready, VMSnapshot not ready: FAILs BCDR201/302
VM_WEB_04 = _vm("rg-web-prod", "vm-web-04")
VM_APP_03 = _vm("rg-app-prod", "vm-app-03")  # VMSnapshot failed: FAILs BCDR302
VM_SQL_01 = _vm("RG-DATA-PROD", "vm-sql-01")  # 18 restore points: FAILs BCDR501
VM_ARCHIVE_01 = _vm("RG-DATA-PROD", "vm-archive-01")  # 32 TiB disk: FAILs BCDR601
VM_FIN_01 = _vm("rg-fin-prod", "vm-fin-01")  # 8 TiB ADE disk: FAILs BCDR602
VM_HR_01 = _vm("rg-fin-prod", "vm-hr-01")  # ADE with kv-contoso-ade: FAILs BCDR608 with vm-fin-01
KEY_VAULT = ids.norm(f"{SUB_SCOPE}/resourceGroups/rg-fin-prod/providers/Microsoft.KeyVault/vaults/kv-contoso-ade")
RPC_SQL_01 = ids.norm(f"{SUB_SCOPE}/resourceGroups/rg-rp-sql-1/providers/Microsoft.Compute/"
                      "restorePointCollections/AzureBackup_vm-sql-01_00703323496")
VM_LIST = r"/providers/Microsoft\.Compute/virtualMachines$"


def _source(item: dict) -> str:
    props = item.get("properties") or {}
    return ids.norm(props.get("sourceResourceId") or props.get("virtualMachineId") or "")


def _backed_up_in(vault_id: str) -> set[str]:
    """VMs a vault backs up, read from the scenario (not from the scanner)."""
    return {_source(p) for p in SCENARIO["backupProtectedItems"]
            if ids.norm(p["id"]).startswith(vault_id + "/")
            and (p.get("properties") or {}).get("protectionState", "").lower() in m.BACKED_UP_STATES}


# --------------------------------------------------------------------------- one run
@dataclass
class Run:
    code: int
    report: dict[str, Any]
    inventory: m.Inventory
    results: list[tuple[str, Result]]  # every result of every rule over the saved inventory, PASS included
    ledger: list[LedgerEntry]
    writes: list[LedgerEntry]
    faults: list[Fault]
    stderr: str
    elapsed: float
    sim_host: str
    logs: list[str] = field(default_factory=list)  # WARNING and above, as caplog saw them

    def findings(self, rule: str, status: str) -> list[dict[str, Any]]:
        return [f for f in self.report["findings"] if f["rule_id"] == rule and f["status"] == status]

    def coverage(self, collector: str) -> dict[str, Any]:
        found = [c for c in self.report["coverage"] if c["subscription_id"] == SUB and c["collector"] == collector]
        assert len(found) == 1, f"one coverage record for {collector}, got {found}"
        return found[0]


def _evaluate_all(inv: m.Inventory) -> list[tuple[str, Result]]:
    """Every rule the scan runs (those on by default) over the inventory, PASS results kept (the report
    only counts them)."""
    registry = load_all()
    return [(code, res) for code in sorted(registry) if registry[code].meta.enabled_by_default
            for res in registry[code](inv, registry[code].meta.defaults())]


def scan(run_cli, tmp_path, faults: Callable[[Simulator], list[Fault]] = lambda sim: [],
         args: tuple[str, ...] = (), fail_on: str | None = "none") -> Run:
    report_path, inventory_path = tmp_path / "report.json", tmp_path / "inventory.json"
    with FaultySimulator(SCENARIO) as sim:
        injected = [sim.add_fault(f) for f in faults(sim)]
        argv = ["--subscription", SUB, "--format", "json", "--output", str(report_path),
                "--save-inventory", str(inventory_path), "--max-retry-after", "1", "--timeout", "60", *args]
        if fail_on:
            argv += ["--fail-on", fail_on]
        started = time.monotonic()
        code, _, err = run_cli(*argv, sim=sim)
        elapsed = time.monotonic() - started
        host = urlsplit(sim.endpoint).netloc
    # After stop(): a stalled request the client gave up on is in the ledger by now.
    report = json.loads(report_path.read_text(encoding="utf-8"))
    inv = m.Inventory.from_json(inventory_path.read_text(encoding="utf-8"))
    return Run(code, report, inv, _evaluate_all(inv), sim.ledger.snapshot(), sim.writes(), injected, err, elapsed, host)


def account_for_vms(run: Run) -> tuple[int, int, list[str]]:
    """(assessed, not assessed, dropped) over the VMs the simulator serves.

    - A VM missing from the inventory is NOT_ASSESSED only when a VM list is incomplete (coverage
      says so); otherwise it was dropped.
    - A VM in the inventory that no rule yields anything for is NOT_ASSESSED only when the VM list
      failed (the rules then speak for the whole subscription); otherwise it was dropped.
    - Else it is NOT_ASSESSED when a rule said so for it or for its subscription, or a coverage
      record names it as unreadable; assessed when every rule that looked at it could decide."""
    statuses: dict[str, set[str]] = {}
    for _, res in run.results:
        statuses.setdefault(res.resource_id.lower(), set()).add(res.status)
    sub_gap = NOT_ASSESSED in statuses.get(SUB_SCOPE, set())
    unreadable = {s for c in run.inventory.coverage for s in c.failed_scopes}
    vm_lists_incomplete = any(run.inventory.gap(c, SUB) for c in (m.VMS, m.VM_STATUS))
    assessed = not_assessed = 0
    dropped: list[str] = []
    for vm_id in SERVED_VMS:
        seen = statuses.get(vm_id, set())
        if vm_id not in run.inventory.vm_by_id or not seen:
            if vm_lists_incomplete:
                not_assessed += 1
            else:
                dropped.append(vm_id)
        elif NOT_ASSESSED in seen or sub_gap or vm_id in unreadable:
            not_assessed += 1
        else:
            assessed += 1
    return assessed, not_assessed, dropped


# --------------------------------------------------------------------------- the matrix
@dataclass(frozen=True)
class Row:
    id: str
    faults: Callable[[Simulator], list[Fault]]
    exit: int
    # collector -> (status, error_code, failed_scopes or None to skip the scope check); others must be ok
    coverage: dict[str, tuple[str, str, tuple[str, ...] | None]] = field(default_factory=dict)
    # rule -> the resources it cannot see (ALL: the subscription): NOT_ASSESSED there, and no FAIL on or under them
    blind: dict[str, tuple[str, ...]] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    fail_on: str | None = "none"
    max_seconds: float = 30.0  # a hang or an uncapped Retry-After shows up here
    check: Callable[[Run], None] | None = None


def _status_count(run: Run, status: int) -> int:
    return sum(1 for e in run.ledger if e.status == status)


def _check_throttle(run: Run) -> None:
    assert run.faults[0].hits == 2 and _status_count(run, 429) == 2  # the 429s were served, then retried


def _check_burst(run: Run) -> None:
    status = run.faults[0].status
    assert run.faults[0].hits == 2 and _status_count(run, status) == 2


def _check_jobs_gap(run: Run) -> None:
    # BCDR703 may still FAIL a VM on the protected item's own lastBackupStatus, but then it must say
    # the job history was not read; otherwise NOT_ASSESSED. Never a PASS it could not know.
    vms = _backed_up_in(VAULT_WEU)
    assert vms
    by_vm = {f["resource_id"].lower(): f for f in run.report["findings"] if f["rule_id"] == "BCDR703"}
    for vm_id in vms:
        f = by_vm.get(vm_id)
        if f is None:  # the VM itself is gone: the finding names the protected item instead
            continue
        assert f["status"] == NOT_ASSESSED or (f["evidence"]["job_history"] != "read"
                                               and f["evidence"]["last_backup_status"].lower() == "failed"), f
    assert sum(1 for f in by_vm.values() if f["status"] == NOT_ASSESSED) >= len(vms) // 2


def _check_unprotected_not_claimed(run: Run) -> None:
    # With one vault's items unreadable no VM can be proven unprotected: BCDR801 FAILs none, and the
    # VMs it FAILs on a clean scan (no item in any vault) are NOT_ASSESSED instead.
    protected = {_source(p) for p in SCENARIO["backupProtectedItems"]}
    unprotected = set(SERVED_VMS) - protected
    assert unprotected and not run.findings("BCDR801", FAIL)
    assert unprotected <= {f["resource_id"].lower() for f in run.findings("BCDR801", NOT_ASSESSED)}


def _check_not_registered(run: Run) -> None:
    # azure-mgmt-core would POST .../providers/Microsoft.RecoveryServices/register: it never reached the wire.
    assert not [e for e in run.ledger if e.path.lower().endswith("/register") or e.method != "GET"]
    assert run.faults[0].hits == 2 * len(VAULTS)  # each list tried once: a 409 is not retried
    # ... and nothing tells the operator it did (the SDK policy warns before it tries).
    assert not [line for line in [run.stderr, *run.logs] if "registering for you" in line.lower()]


def _check_stall(run: Run) -> None:
    assert run.faults[0].hits >= 2  # the timed-out GET was retried before it was given up


def _check_foreign(run: Run) -> None:
    assert run.faults[0].hits == 1
    # The link pointed at the simulator under another name ("localhost"): had the client followed it,
    # with or without the token, the ledger would show that host.
    assert {e.host for e in run.ledger} == {run.sim_host}


def _check_power_state(run: Run) -> None:
    vm = run.inventory.vm_by_id[VM_WEB_04]
    assert vm.power_state == "hibernating" and vm.instance_view is None
    # Design: instance views only for running VMs; the unknown state is kept, not guessed.
    assert not [e for e in run.ledger if e.path.lower().endswith("/vm-web-04/instanceview")]
    assert not [f for f in run.report["findings"] if f["rule_id"] in AGENT_AND_EXTENSION_RULES
                and f["resource_id"].lower() == VM_WEB_04 and f["status"] == FAIL]


def _check_protection_state(run: Run) -> None:
    served = [p for p in SCENARIO["backupProtectedItems"] if ids.norm(p["id"]).startswith(VAULT_WEU + "/")]
    got = [p for p in run.inventory.protected_items if p.vault_id == VAULT_WEU]
    assert len(got) == len(served) and {p.protection_state for p in got} == {"SomethingNew"}


def _check_storage_profile(run: Run) -> None:
    assert all(vm.disks == () for vm in run.inventory.virtual_machines)
    # Disks are still joined to their VM through the disk's managedBy.
    assert VM_ARCHIVE_01 in {f["resource_id"].lower() for f in run.findings("BCDR601", FAIL)}
    assert VM_FIN_01 in {f["resource_id"].lower() for f in run.findings("BCDR602", FAIL)}


def _hibernate(vm_id: str) -> Callable[[Any], Any]:
    """A powerState value the SDK and the scanner do not know, on one VM of the status-only list."""
    def apply(body: Any) -> Any:
        for item in body.get("value", []):
            if ids.norm(item.get("id")) == vm_id:
                for st in item["properties"]["instanceView"]["statuses"]:
                    if st["code"].lower().startswith("powerstate/"):
                        st["code"], st["displayStatus"] = "PowerState/hibernating", "VM hibernating"
        return body
    return apply


def _alias_host(sim: Simulator) -> str:
    return urlsplit(sim.alias_endpoint).netloc


FAST_RETRIES = ("--max-retry-after", "0.2")  # retry backoff is capped by it too: persistent faults stay quick

ROWS = [
    Row("429-retry-after-1200-capped", lambda sim: [Fault.throttle(r"/backupJobs$", retry_after=1200, times=2)],
        EXIT_OK, max_seconds=20, check=_check_throttle),
    Row("500-burst-vm-list", lambda sim: [Fault.server_error(VM_LIST, status=500, times=2)],
        EXIT_OK, check=_check_burst),
    Row("503-burst-locks", lambda sim: [Fault.server_error(r"/locks$", status=503, times=2)],
        EXIT_OK, check=_check_burst),
    Row("503-persistent-one-vault-backup-jobs",
        lambda sim: [Fault.server_error(r"/vaults/rsv-prod-weu/backupJobs$", status=503)], EXIT_INCOMPLETE,
        coverage={m.BACKUP_JOBS: ("partial", "ServiceUnavailable", (VAULT_WEU,))},
        blind={"BCDR701": (VAULT_WEU,), "BCDR702": (VAULT_WEU,), "BCDR704": (VAULT_WEU,)},
        args=FAST_RETRIES, check=_check_jobs_gap),
    Row("403-locks", lambda sim: [Fault.authorization_failed(r"/locks$")], EXIT_INCOMPLETE,
        coverage={m.LOCKS: ("failed", "AuthorizationFailed", ())}, blind={r: (ALL,) for r in LOCK_RULES}),
    Row("403-locks-default-fail-on", lambda sim: [Fault.authorization_failed(r"/locks$")], EXIT_FINDINGS,
        coverage={m.LOCKS: ("failed", "AuthorizationFailed", ())}, blind={r: (ALL,) for r in LOCK_RULES},
        fail_on=None),
    Row("403-one-vault-protected-items",
        lambda sim: [Fault.authorization_failed(r"/vaults/rsv-prod-weu/backupProtectedItems$")], EXIT_INCOMPLETE,
        coverage={m.PROTECTED_ITEMS: ("partial", "AuthorizationFailed", (VAULT_WEU,))},
        blind={r: (VAULT_WEU,) for r in ("BCDR703", "BCDR705", "BCDR802", "BCDR803", "BCDR804")},
        check=_check_unprotected_not_claimed),
    Row("403-disks", lambda sim: [Fault.authorization_failed(r"/providers/Microsoft\.Compute/disks$")],
        EXIT_INCOMPLETE, coverage={m.DISKS: ("failed", "AuthorizationFailed", ()),
                                   m.KEY_VAULTS: ("failed", "AuthorizationFailed", ())},
        blind={r: (ALL,) for r in DISK_RULES}),
    Row("403-network-security-groups",
        lambda sim: [Fault.authorization_failed(r"/providers/Microsoft\.Network/networkSecurityGroups$")],
        EXIT_INCOMPLETE, coverage={m.NETWORK_SECURITY_GROUPS: ("failed", "AuthorizationFailed", ())},
        blind={"BCDR304": (ALL,)}),
    Row("403-one-key-vault",
        lambda sim: [Fault.authorization_failed(r"/providers/Microsoft\.KeyVault/vaults/kv-contoso-ade$")],
        EXIT_INCOMPLETE, coverage={m.KEY_VAULTS: ("partial", "AuthorizationFailed", (KEY_VAULT,))},
        blind={"BCDR608": (VM_FIN_01, VM_HR_01)}),
    Row("404-instance-view-one-vm",
        lambda sim: [Fault.resource_not_found(r"/resourceGroups/rg-web-prod/.*/vm-web-02/instanceView$")],
        EXIT_INCOMPLETE, coverage={m.INSTANCE_VIEWS: ("partial", "ResourceNotFound", (VM_WEB_02,))},
        blind={r: (VM_WEB_02,) for r in BACKUP_VM_INSTANCE_VIEW_RULES}),
    Row("409-site-recovery-not-registered",
        lambda sim: [Fault.not_registered(r"/replication(ProtectedItems|Jobs)$")], EXIT_INCOMPLETE,
        coverage={m.REPLICATION_ITEMS: ("partial", "MissingSubscriptionRegistration", VAULTS),
                  m.REPLICATION_JOBS: ("partial", "MissingSubscriptionRegistration", VAULTS)},
        blind={r: VAULTS for r in SITE_RECOVERY_RULES}, check=_check_not_registered),
    Row("stall-past-read-timeout-instance-view",
        lambda sim: [Fault.stall(r"/vm-app-03/instanceView$", seconds=1.0)], EXIT_INCOMPLETE,
        coverage={m.INSTANCE_VIEWS: ("partial", "Timeout", (VM_APP_03,))},
        blind={r: (VM_APP_03,) for r in BACKUP_VM_INSTANCE_VIEW_RULES},
        args=("--read-timeout", "0.3", *FAST_RETRIES), max_seconds=15, check=_check_stall),
    Row("html-200-locks", lambda sim: [Fault.html(r"/locks$")], EXIT_INCOMPLETE,
        coverage={m.LOCKS: ("failed", "MalformedResponse", ())}, blind={r: (ALL,) for r in LOCK_RULES}),
    Row("truncated-json-restore-point-collections",
        lambda sim: [Fault.truncated(r"/providers/Microsoft\.Compute/restorePointCollections$")], EXIT_INCOMPLETE,
        coverage={m.RESTORE_POINT_COLLECTIONS: ("failed", "MalformedResponse", ())},
        blind={r: (ALL,) for r in ("BCDR402", "BCDR501", "BCDR502", "BCDR504")}),
    Row("foreign-next-link-vm-list",
        # First pages only (no $skiptoken): a client that wrongly followed the link would get a last
        # page there, not an endless chain.
        lambda sim: [Fault.foreign_next_link(VM_LIST, query=r"^(?!.*(statusOnly|skiptoken))", host=_alias_host(sim))],
        EXIT_INCOMPLETE, coverage={m.VMS: ("failed", "ForeignNextLink", ())},
        blind={r: (ALL,) for r in ("BCDR101", "BCDR201", "BCDR403", "BCDR601", "BCDR801")}, check=_check_foreign),
    Row("unknown-power-state", lambda sim: [Fault.body(VM_LIST, query="statusOnly=true", transform=_hibernate(VM_WEB_04))],
        EXIT_OK, check=_check_power_state),
    Row("unknown-protection-state",
        lambda sim: [Fault.body(r"/vaults/rsv-prod-weu/backupProtectedItems$",
                                transform=set_fields({"properties.protectionState": "SomethingNew"}))],
        EXIT_OK, check=_check_protection_state),
    Row("missing-storage-profile",
        lambda sim: [Fault.body(VM_LIST, query=r"^(?!.*statusOnly)", transform=drop_fields("properties.storageProfile"))],
        EXIT_OK, check=_check_storage_profile),
    Row("storm-throttle-403-404-503",
        lambda sim: [Fault.throttle(r"/instanceView$", retry_after=1200, times=3),
                     Fault.authorization_failed(r"/providers/Microsoft\.Compute/disks$"),
                     Fault.resource_not_found(r"/restorePointCollections/AzureBackup_vm-sql-01_00703323496$"),
                     Fault.server_error(r"/providers/Microsoft\.RecoveryServices/vaults$", status=503, times=1)],
        EXIT_INCOMPLETE,
        coverage={m.DISKS: ("failed", "AuthorizationFailed", ()), m.KEY_VAULTS: ("failed", "AuthorizationFailed", ()),
                  m.RESTORE_POINTS: ("partial", "ResourceNotFound", (RPC_SQL_01,))},
        blind={**{r: (ALL,) for r in DISK_RULES}, "BCDR501": (VM_SQL_01,), "BCDR502": (VM_SQL_01,)}),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_fault_matrix(row: Row, run_cli, tmp_path, caplog, fault_matrix_tally):
    fault_matrix_tally.scenarios_run += 1
    caplog.set_level(logging.WARNING)
    run = scan(run_cli, tmp_path, row.faults, row.args, row.fail_on)
    run.logs = [r.getMessage() for r in caplog.records]
    assessed, not_assessed, dropped = account_for_vms(run)
    fault_matrix_tally.assessed += assessed
    fault_matrix_tally.not_assessed += not_assessed
    fault_matrix_tally.dropped += len(dropped)
    fault_matrix_tally.writes += len(run.writes)

    # The scanner never writes, and every request it sent reached the simulator (and was counted).
    assert run.writes == [] and {e.method for e in run.ledger} == {"GET"}
    assert run.report["scan"]["arm_requests"] == len(run.ledger)
    assert all(f.hits for f in run.faults), f"a fault never fired, so the row tests nothing: {run.faults}"
    assert run.elapsed < row.max_seconds, f"{row.id} took {run.elapsed:.1f} s"
    assert "Traceback" not in run.stderr, run.stderr
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]

    assert run.code == row.exit, (run.stderr, [c for c in run.report["coverage"] if c["status"] != "ok"])
    validate_report(run.report)
    _assert_report_is_the_rules(run)

    for collector in m.ALL_COLLECTORS:
        got = run.coverage(collector)
        status, code, scopes = row.coverage.get(collector, ("ok", "", ()))
        assert (got["status"], got["error_code"]) == (status, code), (collector, got)
        if scopes is not None:
            assert sorted(got["failed_scopes"]) == sorted(scopes), (collector, got)

    for rule, resources in row.blind.items():
        fails = [f["resource_id"].lower() for f in run.findings(rule, FAIL)]
        gaps = {f["resource_id"].lower() for f in run.findings(rule, NOT_ASSESSED)}
        for resource in resources:
            if resource == ALL:
                assert SUB_SCOPE in gaps, (rule, gaps)
                assert fails == [], (rule, fails)
            else:
                assert resource in gaps, (rule, resource, gaps)
                assert not [f for f in fails if f == resource or f.startswith(resource + "/")], (rule, fails)

    if row.check:
        row.check(run)
    assert dropped == [], f"VMs served but neither judged nor NOT_ASSESSED: {dropped}"
    fault_matrix_tally.survived += 1


def _assert_report_is_the_rules(run: Run) -> None:
    """The report lists exactly what the rules yield over the saved inventory: FAIL and NOT_ASSESSED
    findings (PASS only counted). Nothing lost between the engine and the writer."""
    expected = {(code, res.resource_id.lower(), res.status) for code, res in run.results if res.status != PASS}
    listed = {(f["rule_id"], f["resource_id"].lower(), f["status"]) for f in run.report["findings"]}
    assert listed == expected
    passed = sum(1 for _, res in run.results if res.status == PASS)
    assert run.report["summary"]["passed"] == passed


def test_clean_run_is_complete_and_accounts_for_every_vm(run_cli, tmp_path):
    """The control row: without faults the same checks give exit 0, all coverage ok and every VM
    judged, so what the matrix sees under faults is caused by the faults."""
    run = scan(run_cli, tmp_path)
    assert run.code == EXIT_OK and run.writes == [] and run.stderr == ""
    assert {c["status"] for c in run.report["coverage"]} == {"ok"}
    assert len(run.report["coverage"]) == len(m.ALL_COLLECTORS)
    assessed, not_assessed, dropped = account_for_vms(run)
    assert dropped == [] and assessed + not_assessed == len(SERVED_VMS) and assessed > not_assessed
    # The rows above turn these FAILs into NOT_ASSESSED: they are there to be hidden.
    for rule, vm_id in (("BCDR201", VM_WEB_02), ("BCDR302", VM_APP_03), ("BCDR501", VM_SQL_01),
                        ("BCDR601", VM_ARCHIVE_01), ("BCDR602", VM_FIN_01)):
        assert vm_id in {f["resource_id"].lower() for f in run.findings(rule, FAIL)}, rule
    for rule in LOCK_RULES + ("BCDR801",):
        assert run.findings(rule, FAIL), rule
