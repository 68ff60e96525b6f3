"""The engine's coverage gate, over every registered rule x every collector it declares x each way a
collector fails. This replaces the per-rule "NOT_ASSESSED when the list failed" copies: a rule body
never checks the coverage of its declared inputs, the engine does (scanner.engine.Gate).

For each case, over a healthy estate of two subscriptions where the rules pass:
- no PASS for a resource the failed collector left blind (the subscription, or the failed scopes);
- a NOT_ASSESSED carrying the collector's error code;
- the other subscription is judged exactly as before;
- the rule was handed only what it can judge: the engine refused no PASS of it.
"""
from __future__ import annotations

from dataclasses import replace
from functools import cache

import factories as f
import pytest

import rules
from rules.base import Rule, RuleMeta, passed
from scanner import inventory as m
from scanner.engine import run_rule
from scanner.vocabulary import NOT_ASSESSED, PASS, Result

SUB, OTHER = f.SUB, f.SUB2
BACKUP_SERVICE = "9f8e7d6c-0000-4000-8000-00000000b0b0"  # the Backup Management Service's object id here
# Rule parameters the estate needs to be judgeable at all (the rest run on their defaults).
PARAMS = {"BCDR608": {"backup_management_service_object_id": BACKUP_SERVICE}}
FAILED_CODE, PARTIAL_CODE = "GateProbeFailed", "GateProbePartial"
NOW_MINUS = {"1h": "2026-11-22T05:00:00Z", "10h": "2026-11-21T20:00:00Z", "1d": "2026-11-21T06:00:00Z"}
# Collectors that read one list per vault: a partial one names vaults. The others name their own items,
# except these, which name the resource they were read for.
PER_RESOURCE = {m.INSTANCE_VIEWS: "virtual_machines", m.VM_STATUS: "virtual_machines",
                m.RESTORE_POINTS: "restore_point_collections", m.VAULT_SETTINGS: "vaults",
                m.BACKUP_JOB_DETAILS: "backup_jobs"}
PER_VAULT = {m.PROTECTED_ITEMS, m.BACKUP_POLICIES, m.BACKUP_JOBS, m.REPLICATION_ITEMS, m.REPLICATION_JOBS}


def params_of(rule: Rule) -> dict:
    return {**rule.meta.defaults(), **PARAMS.get(rule.meta.code, {})}


def estate(sub: str) -> dict[str, list]:
    """One subscription where every rule has something healthy to pass."""
    v = f.vault("vault1", sub=sub, soft_delete_state="AlwaysON", multi_user_authorization="Enabled",
                job_failure_alerts="Enabled")
    pol = f.policy("DailyPolicy", v)
    snapshot = f.extension()
    asr = f.extension("Microsoft.Azure.RecoveryServices.SiteRecovery.Windows", name="asr")
    net_nsg = f.nsg("nsg-subnet", sub=sub)
    table = f.route_table("rt1", sub=sub)
    net = f.vnet("vnet1", (("app", net_nsg, table),), sub=sub)
    kv = f.key_vault("kv-ade", sub=sub, access_policies=(m.AccessPolicy(
        object_id=BACKUP_SERVICE, keys=("get", "list", "backup"), secrets=("get", "list", "backup")),))
    app = f.vm("app1", sub=sub, instance_view=f.instance_view(extensions=(snapshot,)))
    dr = f.vm("dr1", sub=sub, instance_view=f.instance_view(extensions=(asr,)))
    nics = [f.nic(vm, net.subnets[0].display_id) for vm in (app, dr)]
    app, dr = (f.with_(vm, nic_ids=(n.id,)) for vm, n in zip((app, dr), nics))
    dr_disk = f.disk("dr1-os", sub=sub, managed_by=dr.display_id)
    dr_health = dict(failover_health="Normal", last_successful_test_failover_time=NOW_MINUS["1d"],
                     protected_disk_ids=(dr_disk.id,), agent_expiry_time="2027-11-22T00:00:00Z",
                     agent_certificate_expiry_time="2027-11-22T00:00:00Z")
    backup_rg = f.resource_group("AzureBackupRG_westeurope_1", sub)
    app_rg = f.resource_group("rg-app", sub)
    items = [f.protected_item(vm, v, pol, last_recovery_point_time=NOW_MINUS["10h"]) for vm in (app, dr)]
    replicated = [f.replication_item("rpi-dr1", v, dr, **dr_health),
                  f.replication_item("rpi-failed-over", v, dr, active_location="Recovery",
                                     protection_state="UnplannedFailoverCommitted", allowed_operations=("ReverseReplicate",),
                                     recovery_vm_id=dr.id, last_successful_failover_time=NOW_MINUS["1h"], **dr_health)]
    gone = f.vm("gone1", sub=sub)  # deleted VM whose protection was stopped: BCDR803 passes it
    stopped = f.protected_item(gone, v, pol, protection_state="ProtectionStopped")
    return dict(
        vaults=[v], backup_policies=[pol], virtual_machines=[app, dr], resource_groups=[backup_rg, app_rg],
        locks=[f.lock(app_rg.display_id)],
        network_interfaces=nics, network_security_groups=[net_nsg], virtual_networks=[net], route_tables=[table], key_vaults=[kv],
        disks=[f.disk("app1-os", sub=sub, managed_by=app.display_id), dr_disk,
               f.disk("app1-data", sub=sub, managed_by=app.display_id, size_gb=512, ade_enabled=True,
                      ade_has_bek=True, ade_has_kek=True, ade_secret_vault_ids=(kv.id,), ade_key_vault_ids=(kv.id,))],
        restore_point_collections=[f.rpc(app, 5)],
        protected_items=[*items, stopped],
        backup_jobs=[f.job(v, "job-done", app, start_time=NOW_MINUS["1d"]),
                     f.job(v, "job-running", app, status="InProgress", start_time=NOW_MINUS["1h"], end_time=None),
                     f.job(v, "job-cancelling", app, status="Cancelling", start_time=NOW_MINUS["1h"], end_time=None)],
        replication_items=replicated,
        recovery_plans=[f.recovery_plan("plan1", v, items=(replicated[0],))],
        # A failed reprotect that a later run of the same job resolved (BCDR904 passes it).
        replication_jobs=[f.replication_job("rjob-1", v, state="Failed", start_time=NOW_MINUS["1d"], target_object_id="obj-1",
                                            errors=(m.JobError("78093"),)),
                          f.replication_job("rjob-2", v, state="Succeeded", start_time=NOW_MINUS["10h"],
                                            target_object_id="obj-1")],
    )


@cache
def healthy() -> m.Inventory:
    parts: dict[str, list] = {}
    for sub in (SUB, OTHER):
        for name, items in estate(sub).items():
            parts.setdefault(name, []).extend(items)
    return f.inventory(subs=(SUB, OTHER), **parts)


def scopes_of(inv: m.Inventory, collector: str) -> tuple[str, ...]:
    """Every scope `collector` could name as unreadable in SUB."""
    if collector in PER_VAULT:
        found = inv.vaults
    else:
        found = getattr(inv, PER_RESOURCE.get(collector, collector))
    return tuple(x.id for x in found if x.subscription_id == SUB)


def blinded(collector: str, kind: str) -> tuple[m.Inventory, tuple[str, ...]]:
    inv = healthy()
    if kind == "failed":
        cov, scopes = f.failed(collector, SUB, code=FAILED_CODE), ()
    else:
        scopes = scopes_of(inv, collector)
        cov = f.partial(collector, scopes, SUB, code=PARTIAL_CODE)
    coverage = tuple(cov if (c.subscription_id, c.collector) == (SUB, collector) else c for c in inv.coverage)
    return replace(inv, coverage=coverage), scopes  # the items read stay: the gate must not trust them


def _key(res: Result) -> tuple[str, str, str]:
    return res.status, res.resource_id.lower(), res.key


def cases() -> list[tuple[str, str, str]]:
    out = []
    for code, rule in sorted(rules.load_all().items()):
        for collector in (*rule.meta.needs, *rule.meta.selects):
            out += [(code, collector, "failed"), (code, collector, "partial")]
    return out


def _in_blind_scope(res: Result, kind: str, scopes: tuple[str, ...]) -> bool:
    if kind == "failed":
        return res.subscription_id.lower() == SUB
    return bool(set(res.scopes) & set(scopes))


@pytest.mark.parametrize("code,collector,kind", cases(), ids=["-".join(c) for c in cases()])
def test_no_pass_in_a_blind_scope_and_the_gap_is_said(code, collector, kind):
    rule = rules.load_all()[code]
    params = params_of(rule)
    base, _ = run_rule(rule, healthy(), params)
    inv, scopes = blinded(collector, kind)
    results, refused = run_rule(rule, inv, params)
    strict = collector in rule.meta.needs  # a `selects` collector only narrows which resources are judged

    if strict:
        assert not [r for r in results if r.status == PASS and _in_blind_scope(r, kind, scopes)]
    if strict and kind == "failed":  # the rule saw nothing of SUB: only the engine speaks for it
        assert {r.status for r in results if r.subscription_id == SUB} == {NOT_ASSESSED}
    wanted = FAILED_CODE if kind == "failed" else PARTIAL_CODE
    said = [r for r in results if r.status == NOT_ASSESSED and wanted in r.message]
    assert said, f"{code}: no NOT_ASSESSED names {collector} {kind} ({wanted})"
    assert all(r.evidence.get("reason") == r.message for r in said)
    # The other subscription is judged exactly as on the healthy estate.
    assert ({_key(r) for r in results if r.subscription_id == OTHER}
            == {_key(r) for r in base if r.subscription_id == OTHER})
    assert refused == [], "the engine had to refuse a PASS: the rule was handed something it cannot judge"


def test_every_declared_collector_has_its_pass_removed_somewhere():
    """Without this the test above could hold because nothing passed in the first place: each
    collector's gate is exercised, some rule passes something in SUB on the healthy estate that is
    gone once that collector failed. (A new rule needs nothing here; a new collector needs a healthy
    resource in `estate`.)"""
    registry = rules.load_all()
    for collector in sorted({c for r in registry.values() for c in r.meta.needs}):
        removed = 0
        for code, rule in registry.items():
            if collector not in rule.meta.needs:
                continue
            base, _ = run_rule(rule, healthy(), params_of(rule))
            after, _ = run_rule(rule, blinded(collector, "failed")[0], params_of(rule))
            removed += (sum(1 for r in base if r.status == PASS and r.subscription_id == SUB)
                        - sum(1 for r in after if r.status == PASS and r.subscription_id == SUB))
        assert removed > 0, collector


# --------------------------------------------------------------------------- the refusal itself
def _reckless(needs: tuple[str, ...]) -> Rule:
    """A rule that ignores what it was handed and passes every VM the inventory ever read (through
    an index, which the engine does not filter): what a wrong rule would do."""
    meta = RuleMeta(code="BCDR999", slug="reckless", severity="low", title="t", predicts=(), source="s",
                    remediation="r", references=("https://example.invalid",), needs=needs)
    return Rule(meta=meta, fn=lambda inv, params: (passed(vm) for vm in inv.vm_by_id.values()))


@pytest.mark.parametrize("kind", ["failed", "partial"])
def test_a_pass_in_a_blind_scope_is_refused_and_counted_as_a_rule_error(kind):
    collector = m.VMS if kind == "failed" else m.INSTANCE_VIEWS
    inv, scopes = blinded(collector, kind)
    results, refused = run_rule(_reckless((collector,)), inv, {})
    blind = [r for r in results if r.subscription_id == SUB and r.resource_type.endswith("virtualMachines")]
    assert blind and all(r.status == NOT_ASSESSED for r in blind)
    assert all((FAILED_CODE if kind == "failed" else PARTIAL_CODE) in r.message for r in blind)
    assert len(refused) == len(blind) and all(r.startswith("BCDR999: PASS for ") for r in refused)
    assert [r.status for r in results if r.subscription_id == OTHER] == [PASS, PASS]


def test_the_registry_says_which_collectors_a_scan_needs():
    registry = rules.load_all()
    assert rules.collectors_needed(["BCDR401"]) == {m.LOCKS, m.RESOURCE_GROUPS, m.BACKUP_POLICIES}
    assert rules.collectors_needed([]) == set()
    everything = rules.collectors_needed(list(registry))
    assert everything <= set(m.ALL_COLLECTORS)
    # Turning off every rule that reads the locks list leaves it out of the plan.
    without = [c for c, r in registry.items() if m.LOCKS not in (*r.meta.needs, *r.meta.selects)]
    assert m.LOCKS in everything and m.LOCKS not in rules.collectors_needed(without)


def test_a_refused_keyed_pass_keeps_its_key_while_passes_are_shared():
    """During an evaluation (shared_passes) a PASS is one shared Result per resource, its key not
    read; a PASS the gate refuses becomes a finding, whose fingerprint takes the key: two refused
    PASSes of one VM with two keys stay two NOT_ASSESSED results."""
    from scanner.vocabulary import shared_passes
    meta = RuleMeta(code="BCDR999", slug="reckless", severity="low", title="t", predicts=(), source="s",
                    remediation="r", references=("https://example.invalid",), needs=(m.INSTANCE_VIEWS,))
    keyed = Rule(meta=meta, fn=lambda inv, params: (passed(vm, key=k) for vm in inv.vm_by_id.values() for k in "ab"))
    inv, _ = blinded(m.INSTANCE_VIEWS, "partial")
    with shared_passes():
        results, refused = run_rule(keyed, inv, {})
    blind = [r for r in results if r.subscription_id == SUB and r.resource_type.endswith("virtualMachines")]
    assert blind and all(r.status == NOT_ASSESSED for r in blind) and len(refused) == len(blind)
    assert sorted(r.key for r in blind) == sorted("ab" * (len(blind) // 2))


def test_a_backup_job_a_needed_list_names_as_unreadable_is_not_assessed_and_left_out_of_the_view():
    """The gate finds the items a partial list names and hides them by their id's parts (a backup job
    derives its id): the engine says NOT_ASSESSED for the job, the rule never sees it."""
    inv = healthy()
    job = next(j for j in inv.backup_jobs if j.subscription_id == SUB)
    cov = f.partial(m.BACKUP_JOBS, (job.id,), SUB, code=PARTIAL_CODE)
    inv = replace(inv, coverage=tuple(cov if (c.subscription_id, c.collector) == (SUB, m.BACKUP_JOBS) else c
                                      for c in inv.coverage))
    meta = RuleMeta(code="BCDR998", slug="every-job", severity="low", title="t", predicts=(), source="s",
                    remediation="r", references=("https://example.invalid",), needs=(m.BACKUP_JOBS,))
    seen: list[m.BackupJob] = []
    every_job = Rule(meta=meta, fn=lambda inv, params: (passed(j) for j in inv.backup_jobs if not seen.append(j)))
    results, refused = run_rule(every_job, inv, {})
    assert [r.status for r in results if r.resource_id == job.display_id] == [NOT_ASSESSED]
    assert PARTIAL_CODE in next(r.message for r in results if r.resource_id == job.display_id)
    assert job not in seen and len(seen) == len(inv.backup_jobs) - 1 and not refused
    assert sum(r.status == PASS for r in results) == len(seen)
