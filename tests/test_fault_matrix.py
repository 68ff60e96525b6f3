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
- no known secret (the JWT-shaped token the scan runs with, a SAS signature, an account key) in the
  report, the inventory, stdout or stderr, even when the service echoes them;
- the run ends within 5 s of its --timeout (rows that test the deadline run with a short one).
The session's terminal summary prints one line with the totals (see the tally in tests/conftest.py):
runs, survived, VMs assessed or NOT_ASSESSED (and dropped), writes sent, secrets found in outputs,
and the longest overrun past --timeout.
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
from scanner import ids
from scanner import inventory as m
from scanner.cli import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK
from scanner.engine import run_rule
from scanner.report import validate_report
from scanner.simulator import LedgerEntry, Simulator, load_scenario
from scanner.vocabulary import FAIL, NOT_ASSESSED, PASS, Result

SCENARIO = load_scenario("demo")
# JWT-shaped, as a real ARM token is: the scan runs with it and a gateway row echoes it back.
TOKEN = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIiwibSI6Im1hdHJpeCJ9"
         ".ZmF1bHQtbWF0cml4LXNpZ25hdHVyZQ")
SAS_SIG = "Zm9vYmFyU0VDUkVUc2lnbmF0dXJl%3D"
ACCOUNT_KEY = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkrL0FCQ0RFRkdISUpLTE1OT1A=="
SECRETS = (TOKEN, SAS_SIG, ACCOUNT_KEY)
DEFAULT_TIMEOUT = 60.0
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
    timeout: float  # the --timeout the run had
    outputs: dict[str, str]  # what left the process: report file, inventory file, stdout + stderr
    logs: list[str] = field(default_factory=list)  # WARNING and above, as caplog saw them

    def secrets_found(self) -> list[tuple[str, str]]:
        return [(where, secret[:12]) for where, text in self.outputs.items() for secret in SECRETS if secret in text]

    def findings(self, rule: str, status: str) -> list[dict[str, Any]]:
        return [f for f in self.report["findings"] if f["rule_id"] == rule and f["status"] == status]

    def coverage(self, collector: str) -> dict[str, Any]:
        found = [c for c in self.report["coverage"] if c["subscription_id"] == SUB and c["collector"] == collector]
        assert len(found) == 1, f"one coverage record for {collector}, got {found}"
        return found[0]


def _evaluate_all(inv: m.Inventory) -> list[tuple[str, Result]]:
    """Every rule the scan runs (those on by default) over the inventory through the engine's coverage
    gate, PASS results kept (the report only counts them)."""
    registry = load_all()
    return [(code, res) for code in sorted(registry) if registry[code].meta.enabled_by_default
            for res in run_rule(registry[code], inv, registry[code].meta.defaults())[0]]


def _let_the_simulator_read_what_was_sent(sim: Simulator, report_path, seconds: float = 3.0) -> None:
    """A request the scanner sent and then gave up on (its read timeout) is logged once the simulator
    has read and answered it; on a loaded machine its handler may not have read it yet when the scan
    ends, and stop() would hang up on it unlogged (arm_requests 94, ledger 93). Wait, briefly, until
    the ledger has as many requests as the report says were sent (a cut-in-flight row may never get
    there: the wait is bounded)."""
    try:
        sent = json.loads(report_path.read_text(encoding="utf-8"))["scan"]["arm_requests"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no report: the row's own assertions say why
    end = time.monotonic() + seconds
    while len(sim.ledger.snapshot()) < sent and time.monotonic() < end:
        time.sleep(0.02)


def scan(run_cli, tmp_path, faults: Callable[[Simulator], list[Fault]] = lambda sim: [],
         args: tuple[str, ...] = (), fail_on: str | None = "none") -> Run:
    report_path, inventory_path = tmp_path / "report.json", tmp_path / "inventory.json"
    with FaultySimulator(SCENARIO) as sim:
        injected = [sim.add_fault(f) for f in faults(sim)]
        argv = ["--subscription", SUB, "--format", "json", "--output", str(report_path),
                "--save-inventory", str(inventory_path), "--max-retry-after", "1", "--timeout", f"{DEFAULT_TIMEOUT:g}",
                *args]
        if fail_on:
            argv += ["--fail-on", fail_on]
        started = time.monotonic()
        code, out, err = run_cli(*argv, sim=sim, token=TOKEN)
        elapsed = time.monotonic() - started
        host = urlsplit(sim.endpoint).netloc
        _let_the_simulator_read_what_was_sent(sim, report_path)
    # After stop(): a stalled request the client gave up on is in the ledger by now.
    report_text, inventory_text = report_path.read_text(encoding="utf-8"), inventory_path.read_text(encoding="utf-8")
    report = json.loads(report_text)
    inv = m.Inventory.from_json(inventory_text)
    timeout = float(argv[len(argv) - 1 - argv[::-1].index("--timeout") + 1])  # the last --timeout wins
    return Run(code, report, inv, _evaluate_all(inv), sim.ledger.snapshot(), sim.writes(), injected, err, elapsed, host,
               timeout, {"report": report_text, "inventory": inventory_text, "stdout": out, "stderr": err})


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
    # Requests the deadline may cut off in flight, before the simulator has read them (so sent and
    # counted in arm_requests, but not in the simulator's ledger).
    cut_in_flight: int = 0
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


def _check_items_kept(collector_items: Callable[[m.Inventory], int], served: int) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert collector_items(run.inventory) == served  # the pages read before paging stopped are kept
    return check


def _check_breaker(vault: str, status_retries: int = 3) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        # The vault's first request (its GET) used the retry budget (azure-core's retry_status, 3, is
        # what binds for a 5xx); each of its lists after it was tried once.
        lists = {(e.path.lower(), e.query) for e in run.ledger
                 if e.path.lower() == vault or e.path.lower().startswith(vault + "/")}
        assert len(lists) >= 6
        assert run.faults[0].hits == (status_retries + 1) + (len(lists) - 1), (run.faults[0], sorted(lists))
    return check


def _check_nothing_lost_before_the_deadline(run: Run) -> None:
    # The trickling GET held one worker until the deadline; the rest of what was read is reported.
    assert run.timeout <= run.elapsed
    for rule, vm_id in (("BCDR201", VM_WEB_02), ("BCDR601", VM_ARCHIVE_01), ("BCDR602", VM_FIN_01), ("BCDR501", VM_SQL_01)):
        assert vm_id in {f["resource_id"].lower() for f in run.findings(rule, FAIL)}, rule


def _check_throttled_then_read(run: Run) -> None:
    assert run.faults[0].hits == 8  # twice the old fixed retry count, and still read
    assert VM_WEB_02 in {f["resource_id"].lower() for f in run.findings("BCDR201", FAIL)}


def _check_redacted(where: Callable[[Run], str]) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert "<redacted>" in where(run)  # the secret did arrive, and was replaced
    return check


def _check_terminal_safe(run: Run) -> None:
    assert "\x1b" not in run.stderr and "\x9b" not in run.stderr and "\x07" not in run.stderr
    assert "\\x1b" in run.stderr  # the escape arrived and was made visible


def _check_rp_limit_not_guessed(run: Run) -> None:
    assert VM_SQL_01 not in {f["resource_id"].lower() for f in run.findings("BCDR501", FAIL)}
    assert VM_SQL_01 in {f["resource_id"].lower() for f in run.findings("BCDR501", NOT_ASSESSED)}


def _check_job_status_not_dropped(run: Run) -> None:
    assert [j for j in run.inventory.backup_jobs if j.status == ""]
    assert run.findings("BCDR701", NOT_ASSESSED)


def _first_item_without_properties(body: Any) -> Any:
    body["value"][0].pop("properties", None)
    return body


def _secret_in_extension_status(vm_id: str) -> Callable[[Any], Any]:
    def apply(body: Any) -> Any:
        for ext in body.get("extensions", []):
            for st in ext.get("statuses", []):
                st["message"] = (f"{st.get('message', '')} script https://st1.blob.core.windows.net/s/run.ps1?sv=2022-11-02"
                                 f"&sr=b&sig={SAS_SIG} conn DefaultEndpointsProtocol=https;AccountName=st1;"
                                 f"AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net")
        return body
    return apply


def _unknown_schedule(body: Any) -> Any:
    for item in body.get("value", []):
        props = item.get("properties") or {}
        props.pop("policyType", None)
        if isinstance(props.get("schedulePolicy"), dict):
            props["schedulePolicy"]["schedulePolicyType"] = "SomethingNewSchedule"
    return body


FAST_RETRIES = ("--max-retry-after", "0.2")  # retry backoff is capped by it too: persistent faults stay quick

ROWS = [
    Row("429-retry-after-1200-capped", lambda sim: [Fault.throttle(r"/backupJobs$", retry_after=1200, times=2)],
        EXIT_OK, max_seconds=60, check=_check_throttle),
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
        args=("--read-timeout", "0.3", *FAST_RETRIES), max_seconds=30, check=_check_stall),
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
        EXIT_OK, blind={r: (VM_WEB_04,) for r in BACKUP_VM_INSTANCE_VIEW_RULES}, check=_check_power_state),
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
    # ---- issue 10: paging, deadline, breaker, throttling, error codes, secrets, terminal, strict mapping
    Row("repeated-next-link-locks", lambda sim: [Fault.repeat_next_link(r"/locks$")], EXIT_INCOMPLETE,
        coverage={m.LOCKS: ("failed", "RepeatedNextLink", ())}, blind={r: (ALL,) for r in LOCK_RULES},
        check=_check_items_kept(lambda inv: len(inv.locks), len(SCENARIO["locks"]))),
    Row("endless-pages-one-vault-protected-items",
        lambda sim: [Fault.endless_pages(r"/vaults/rsv-prod-weu/backupProtectedItems$")], EXIT_INCOMPLETE,
        coverage={m.PROTECTED_ITEMS: ("partial", "PageLimitExceeded", (VAULT_WEU,))},
        blind={r: (VAULT_WEU,) for r in ("BCDR703", "BCDR705", "BCDR802", "BCDR803", "BCDR804")},
        args=("--max-pages", "30"), check=_check_unprotected_not_claimed),
    Row("endless-pages-locks-past-list-share", lambda sim: [Fault.endless_pages(r"/locks$")], EXIT_INCOMPLETE,
        coverage={m.LOCKS: ("failed", "ListDeadlineExceeded", ())}, blind={r: (ALL,) for r in LOCK_RULES},
        args=("--timeout", "8", "--max-pages", "1000000"), cut_in_flight=1),
    Row("trickle-past-read-timeout-one-vault-policies",
        lambda sim: [Fault.trickle(r"/vaults/rsv-prod-weu/backupPolicies$", seconds=0.2)], EXIT_INCOMPLETE,
        coverage={m.BACKUP_POLICIES: ("partial", "Timeout", (VAULT_WEU,))},
        args=("--read-timeout", "1", *FAST_RETRIES), max_seconds=60),
    Row("trickle-instance-view-until-the-deadline",
        lambda sim: [Fault.trickle(r"/vm-app-03/instanceView$", seconds=0.5)], EXIT_INCOMPLETE,
        # The restore point counts and key vault GETs run beside the instance views (scanner.collect): the
        # trickle holds one GET until the deadline, not the ones after it.
        coverage={m.INSTANCE_VIEWS: ("partial", "DeadlineExceeded", (VM_APP_03,))},
        blind={r: (VM_APP_03,) for r in BACKUP_VM_INSTANCE_VIEW_RULES},
        args=("--timeout", "8"), max_seconds=14, check=_check_nothing_lost_before_the_deadline),
    Row("dead-vault-breaker", lambda sim: [Fault.server_error(r"/vaults/rsv-prod-weu(/|$)", status=503)], EXIT_INCOMPLETE,
        coverage={c: ("partial", "ServiceUnavailable", (VAULT_WEU,)) for c in
                  (m.VAULT_SETTINGS, m.PROTECTED_ITEMS, m.BACKUP_POLICIES, m.BACKUP_JOBS, m.REPLICATION_ITEMS, m.REPLICATION_JOBS,
                   m.RECOVERY_PLANS, m.REPLICATION_FABRICS, m.CONTAINER_MAPPINGS)},
        blind={r: (VAULT_WEU,) for r in ("BCDR701", "BCDR703", "BCDR802", "BCDR803")},
        args=FAST_RETRIES, check=_check_breaker(VAULT_WEU)),
    Row("throttled-8-times-in-a-row-instance-view",
        lambda sim: [Fault.throttle(r"/vm-web-02/instanceView$", retry_after=1, times=8)], EXIT_OK,
        args=FAST_RETRIES, check=_check_throttled_then_read),
    Row("throttled-past-the-deadline-one-vault-jobs",
        lambda sim: [Fault.throttle(r"/vaults/rsv-prod-weu/backupJobs$", retry_after=1)], EXIT_INCOMPLETE,
        coverage={m.BACKUP_JOBS: ("partial", "SubscriptionRequestsThrottled", (VAULT_WEU,))},
        blind={"BCDR701": (VAULT_WEU,), "BCDR702": (VAULT_WEU,), "BCDR704": (VAULT_WEU,)},
        args=("--timeout", "8", *FAST_RETRIES), max_seconds=14),
    Row("dropped-connection-disks", lambda sim: [Fault.drop(r"/providers/Microsoft\.Compute/disks$")], EXIT_INCOMPLETE,
        coverage={m.DISKS: ("failed", "ConnectionDropped", ()), m.KEY_VAULTS: ("failed", "ConnectionDropped", ())},
        blind={r: (ALL,) for r in DISK_RULES}, args=FAST_RETRIES),
    Row("gateway-echoes-the-token-locks",
        lambda sim: [Fault.error(403, r"/locks$", code="AuthorizationFailed", echo_auth=True)], EXIT_INCOMPLETE,
        coverage={m.LOCKS: ("failed", "AuthorizationFailed", ())}, blind={r: (ALL,) for r in LOCK_RULES},
        check=_check_redacted(lambda run: run.coverage(m.LOCKS)["message"])),
    Row("sas-and-account-key-in-extension-status",
        lambda sim: [Fault.body(r"/vm-app-03/instanceView$", transform=_secret_in_extension_status(VM_APP_03))], EXIT_OK,
        check=_check_redacted(lambda run: json.dumps(run.findings("BCDR302", FAIL)))),
    Row("terminal-escapes-in-an-arm-error",
        lambda sim: [Fault.error(503, rf"^{SUB_SCOPE}$", code="Busy\x1b[2J\x1b]0;pwned\x07",
                                 message="\x1b[31mred\x9b alert")], EXIT_OK, args=FAST_RETRIES, check=_check_terminal_safe),
    Row("unknown-schedule-type", lambda sim: [Fault.body(r"/vaults/rsv-prod-weu/backupPolicies$", transform=_unknown_schedule)],
        EXIT_OK, check=_check_rp_limit_not_guessed),
    Row("protected-item-without-properties",
        lambda sim: [Fault.body(r"/vaults/rsv-prod-weu/backupProtectedItems$", transform=_first_item_without_properties)],
        EXIT_INCOMPLETE, coverage={m.PROTECTED_ITEMS: ("partial", "MalformedResponse", (VAULT_WEU,))},
        check=_check_unprotected_not_claimed),
    Row("job-without-status",
        lambda sim: [Fault.body(r"/vaults/rsv-prod-weu/backupJobs$", transform=drop_fields("properties.status"))],
        EXIT_OK, check=_check_job_status_not_dropped),
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
    secrets = run.secrets_found()
    fault_matrix_tally.secrets += len(secrets)
    fault_matrix_tally.overrun = max(fault_matrix_tally.overrun, run.elapsed - run.timeout)

    # The scanner never writes, and every request it sent reached the simulator (and was counted).
    assert run.writes == [] and {e.method for e in run.ledger} == {"GET"}
    assert len(run.ledger) <= run.report["scan"]["arm_requests"] <= len(run.ledger) + row.cut_in_flight
    assert all(f.hits for f in run.faults), f"a fault never fired, so the row tests nothing: {run.faults}"
    assert run.elapsed < row.max_seconds, f"{row.id} took {run.elapsed:.1f} s"
    assert run.elapsed <= run.timeout + 5, f"{row.id} ran {run.elapsed - run.timeout:.1f} s past --timeout"
    assert secrets == [], f"secrets in the outputs: {secrets}"
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
