"""rules.jobs.jobs_in_state: the rules that look for a few job states among every backup job pick
them by (operation, status) group; what they get is what a filter over every job, in inventory
order, gives, whatever the casing, the empty or unknown values and the order the groups come in."""
from __future__ import annotations

import factories as f
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import REGISTRY, load_all
from rules.jobs import BACKUP_OPERATIONS, jobs_in_state

OPERATIONS = ["Backup", "backup", "BACKUP", "ConfigureBackup", "Restore", "", "DeleteBackupData", "Unknown"]
STATUSES = ["InProgress", "inprogress", "INPROGRESS", "Completed", "Cancelling", "cancelling", "Failed", "", "Weird",
            "CompletedWithWarnings"]


def _in_progress_backup(operation: str, status: str) -> bool:
    return status.lower() == "inprogress" and (not operation or operation.lower() in BACKUP_OPERATIONS)


def _cancelling_or_unknown(operation: str, status: str) -> bool:
    return status.lower() == "cancelling" or status.lower() not in {"inprogress", "completed", "failed", "cancelled"}


def _jobs(pairs):
    v = f.vault()
    vm = f.vm("app1")
    jobs = [f.job(v, name=f"00000000-0000-0000-0000-{k:012d}", target=vm, operation=op, status=st,
                  start_time="2026-11-20T00:00:00Z", end_time=None) for k, (op, st) in enumerate(pairs)]
    return f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[f.protected_item(vm, v)], backup_jobs=jobs)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(OPERATIONS), st.sampled_from(STATUSES)), max_size=30))
def test_the_jobs_in_a_state_are_those_a_filter_over_every_job_gives_in_order(pairs):
    inv = _jobs(pairs)
    for wanted in (_in_progress_backup, _cancelling_or_unknown, lambda op, status: False, lambda op, status: True):
        assert list(jobs_in_state(inv, wanted)) == [j for j in inv.backup_jobs if wanted(j.operation, j.status)]


def test_the_same_job_listed_twice_is_picked_twice():
    inv = _jobs([("Backup", "InProgress"), ("Backup", "inprogress")])
    twice = f.with_(inv, backup_jobs=inv.backup_jobs + inv.backup_jobs[:1])
    assert list(jobs_in_state(twice, _in_progress_backup)) == [twice.backup_jobs[0], twice.backup_jobs[1], twice.backup_jobs[0]]


def test_the_job_rules_judge_the_jobs_in_inventory_order_across_casings():
    load_all()
    pairs = [("Backup", "InProgress"), ("backup", "Cancelling"), ("Backup", "inprogress"), ("", "Weird"),
             ("Backup", "Completed"), ("BACKUP", "INPROGRESS"), ("Restore", "cancelling"), ("ConfigureBackup", "InProgress")]
    inv = _jobs(pairs)
    order = {j.display_id: k for k, j in enumerate(inv.backup_jobs)}
    for code, expected in (("BCDR701", [0, 2, 3, 5, 7]), ("BCDR702", [0, 2, 5, 7]), ("BCDR704", [1, 3, 6])):
        rule = REGISTRY[code]
        judged = [order[r.resource_id] for r in rule(inv, rule.meta.defaults())]
        assert judged == expected, code
