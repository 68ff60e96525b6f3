"""Inventories that make the real rules produce FAIL and NOT_ASSESSED findings, for report and
output tests. Helpers only: no tests here."""
from __future__ import annotations

import factories as f

from scanner import inventory as m
from scanner.engine import Evaluation, evaluate
from scanner.model import Report
from scanner.report import build_report, validate_report

STARTED = "2026-11-22T06:00:00Z"
FINISHED = "2026-11-22T06:03:10Z"
BACKUP_RG = "AzureBackupRG_westeurope_1"

# Strings an attacker who can name or tag an Azure resource controls.
FORMULA = '=HYPERLINK("http://x")'
SCRIPT = "<script>alert(1)</script>"
PIPE_HEADING = "a|b\n# c"
CDATA_END = "]]>"
CONTROL = "\x00\x1b[31m"
HOSTILE = f"{FORMULA} {SCRIPT} {PIPE_HEADING} {CDATA_END} {CONTROL} [x](1) {{0}} *_`~ www.evil.example"


def scenario(hostile: bool = False) -> m.Inventory:
    """Two subscriptions. SUB: a VM at the restore point limit (BCDR501 FAIL, critical), a
    disk over 32 TiB (BCDR601 FAIL, high), a locked AzureBackupRG (BCDR401 FAIL, high) and a
    backup job in progress for 25 h (BCDR701 FAIL, high). SUB2: locks unreadable (BCDR401
    NOT_ASSESSED) and the backup jobs of one vault unreadable (BCDR701 NOT_ASSESSED).
    With `hostile`, names, a resource group, a lock and a coverage message carry HOSTILE."""
    big_disk_name = HOSTILE if hostile else "data-big"
    rg = FORMULA if hostile else "rg-app"
    vm = f.vm("app1", rg=rg, disks=(m.VmDisk(name=big_disk_name, lun=0, size_gb=40000),))
    vm2 = f.vm("web1", sub=f.SUB2)
    v = f.vault()
    v2 = f.vault("vault2", sub=f.SUB2)
    p = f.policy(v=v)
    job = f.job(v, target=vm, status="InProgress", start_time="2026-11-21T05:00:00Z", end_time=None,
                **({"entity_friendly_name": HOSTILE} if hostile else {}))
    coverage = {
        m.LOCKS: f.failed(m.LOCKS, sub=f.SUB2),
        m.BACKUP_JOBS: f.partial(m.BACKUP_JOBS, (v2.display_id,), sub=f.SUB2),
    }
    if hostile:
        coverage[m.LOCKS] = m.Coverage(subscription_id=f.SUB2, collector=m.LOCKS, status=m.FAILED,
                                       error_code="AuthorizationFailed", message=HOSTILE)
    return f.inventory(
        subs=(f.SUB, f.SUB2),
        virtual_machines=[vm, vm2], vaults=[v, v2], backup_policies=[p],
        protected_items=[f.protected_item(vm, v, p)],
        restore_point_collections=[f.rpc(vm, 18)],
        resource_groups=[f.resource_group(BACKUP_RG), f.resource_group(rg)],
        locks=[f.lock(f.resource_group(BACKUP_RG).display_id, HOSTILE if hostile else "nodelete")],
        backup_jobs=[job],
        coverage_overrides=coverage,
    )


def evaluation(inv: m.Inventory, only=("BCDR401", "BCDR501", "BCDR502", "BCDR601", "BCDR602", "BCDR701"),
               settings=None) -> Evaluation:
    return evaluate(inv, settings, only=only)


def report(inv: m.Inventory | None = None, ev: Evaluation | None = None, **kw) -> Report:
    """A validated report (every report a test builds goes through the schema, and reads back
    from its JSON document unchanged)."""
    inv = inv or scenario(kw.pop("hostile", False))
    ev = ev or evaluation(inv)
    built = build_report(ev, inv, STARTED, FINISHED, kw.pop("arm_requests", 57), kw.pop("tool_version", "0.1.0"))
    validate_report(built)
    assert Report.from_dict(built.to_dict()) == built
    return built
