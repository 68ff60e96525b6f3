"""2xx Guest agent, from the VM model (BCDR204, ../shared/rule-catalog-v2.md section B).

The agent rules BCDR201-203 read the instance view of running VMs. This one reads the model from
the VM list, so it judges every backed-up or replicated VM whatever its power state: a VM that is
off today will be started, and its next backup or replication still needs its extension.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from scanner import inventory as m

from .base import Result, fail, passed, rule
from .docs import DOC_AGENT_UNAVAILABLE, DOC_ASR_EXTENSIONS, DOC_EXTENSION_OPERATIONS
from .vm_state import VM_NEEDS, VM_SELECTS, protected_vms


@rule(
    code="BCDR204", slug="extension-operations-disabled", severity="high",
    title="Extension operations are disabled on a backed-up or replicated VM",
    predicts=("UserErrorGuestAgentStatusUnavailable", "151076"),
    source="seeds/004 step 4; VM model osProfile.allowExtensionOperations; rule-catalog-v2.md section B",
    remediation="""The VM model says allowExtensionOperations false, so no VM extension can be installed or updated
        on it: not the VMSnapshot extension that Azure Backup uses, not the Site Recovery (Mobility service)
        extension. Backups and replication fail once the extension needs installing or updating. Set
        allowExtensionOperations to true on the VM (it can be changed on an existing VM), then retry the
        backup or the replication.""",
    references=(DOC_EXTENSION_OPERATIONS, DOC_AGENT_UNAVAILABLE, DOC_ASR_EXTENSIONS),
    needs=VM_NEEDS, selects=VM_SELECTS,
)
def extension_operations_disabled(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for pvm in protected_vms(inv):
        # Absent (a VM built from a specialised disk has no osProfile) means the platform default: allowed.
        if pvm.vm.allow_extension_operations is False:
            yield fail(pvm.vm, f"{pvm.vm.name} does not allow extension operations (osProfile.allowExtensionOperations false)",
                       protection=pvm.protection, power_state=pvm.vm.power_state)
        else:
            yield passed(pvm.vm)
