"""3xx Network path (BCDR304, ../shared/rule-catalog-v2.md section B).

A VM's backup snapshot and its Site Recovery replication leave the VM over HTTPS: to Azure Storage
and the Backup service, or to Storage and Site Recovery (seeds/002 snapshot and network table;
seeds/004 step 4). This rule follows that traffic through the VM's primary network interface: its
NSG, the subnet's NSG (rules/_nsg.py evaluates both as Azure does) and the subnet's route table.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from scanner import inventory as m

from . import _nsg
from .base import Param, Result, fail, not_assessed, passed, rule
from .docs import DOC_ASR_NETWORKING, DOC_BACKUP_NETWORK, DOC_NO_NETWORK, DOC_NSG, DOC_SERVICE_TAGS, DOC_UDR
from .vm_state import VM_SELECTS, ProtectedVm, protected_vms

APPLIANCE_HOPS = {"virtualappliance": "a virtual appliance", "virtualnetworkgateway": "a virtual network gateway"}


def primary_nic(inv: m.Inventory, vm: m.VirtualMachine) -> tuple[m.NetworkInterface | None, str]:
    """(NIC, '') or (None, why not). The VM model lists the primary NIC first; a NIC list entry that
    names the VM stands in when the model lists none."""
    nic_ids = list(vm.nic_ids) or sorted(n.id for n in inv.network_interfaces if n.vm_id == vm.id)
    if not nic_ids:
        return None, "the VM model names no network interface"
    nics = [inv.nic_by_id.get(i) for i in nic_ids]
    marked = [n for n in nics if n is not None and n.primary is True]
    nic = marked[0] if marked else nics[0]
    if nic is None:
        reason = inv.gap(m.NETWORK_INTERFACES, vm.subscription_id, nic_ids[0])
        return None, reason or f"network interface {nic_ids[0]} is not in the subscription's list"
    return nic, ""


def _primary_ip(nic: m.NetworkInterface) -> m.NicIpConfig | None:
    marked = [c for c in nic.ip_configurations if c.primary is True]
    return marked[0] if marked else (nic.ip_configurations[0] if nic.ip_configurations else None)


def flows_for(pvm: ProtectedVm, ipc: m.NicIpConfig) -> list[_nsg.Flow]:
    services = ["Storage"] + (["AzureBackup"] if pvm.backed_up else []) + (["AzureSiteRecovery"] if pvm.replicated else [])
    region, asgs = pvm.vm.location.lower(), frozenset(ipc.asg_ids)
    return [_nsg.Flow(service=s, region=region, source_ip=ipc.private_ip, source_asgs=asgs) for s in services]


def _rule_evidence(level: str, nsg: m.NetworkSecurityGroup, flow: _nsg.Flow, verdict: _nsg.Verdict) -> dict[str, Any]:
    r = verdict.rule
    return {"traffic": flow.label, "level": level, "nsg": nsg.display_id, "rule": r.name if r else "",
            "priority": r.priority if r else None, "access": r.access if r else "",
            "destination": list(r.destination_prefixes) if r else [], "default_rule": bool(r and r.is_default)}


@rule(
    code="BCDR304", slug="backup-network-path-blocked", severity="medium",
    title="Network security group or route blocks the backup / replication traffic",
    predicts=("ExtensionSnapshotFailedNoNetwork", "GuestAgentSnapshotTaskStatusError"),
    source="seeds/002 snapshot and network table; seeds/004 step 4; rule-catalog-v2.md section B",
    remediation="""The VM's snapshot and replication traffic leaves it over HTTPS (TCP 443) to Azure Storage and to the
        Backup or Site Recovery service. A network security group on the VM's network interface or on its
        subnet denies that traffic before any rule allows it (the evidence names the rule and its priority).
        Add an outbound allow rule with a lower priority number than the deny, for TCP 443 to the service
        tags Storage.<region> and AzureBackup (backup) or AzureSiteRecovery (replication), on every NSG in the
        path; both the interface's and the subnet's NSG must allow it. When a route table sends 0.0.0.0/0 to a
        firewall appliance, make sure the firewall allows the same tags, or add routes for those service tags
        with next hop Internet. A route with next hop None drops the traffic: remove it or route the service
        tags around it.""",
    references=(DOC_NO_NETWORK, DOC_BACKUP_NETWORK, DOC_ASR_NETWORKING, DOC_NSG, DOC_SERVICE_TAGS, DOC_UDR),
    params=(Param("appliance_route_severity", "info",
                  "severity when 0.0.0.0/0 goes to a virtual appliance or gateway (it may or may not allow the traffic)"),),
    needs=(*m.NETWORK_COLLECTORS, m.VMS), selects=VM_SELECTS,
)
def backup_network_path_blocked(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    memo: dict[Any, Any] = {}  # NSG evaluation shared across the VMs behind the same NSGs (_nsg.evaluate)
    for pvm in protected_vms(inv):
        yield _judge(inv, pvm, params, memo)


def _judge(inv: m.Inventory, pvm: ProtectedVm, params: Mapping[str, Any], memo: dict[Any, Any]) -> Result:
    vm = pvm.vm
    nic, why = primary_nic(inv, vm)
    if nic is None:
        return not_assessed(vm, why)
    ipc = _primary_ip(nic)
    if ipc is None:
        return not_assessed(vm, f"network interface {nic.name} has no IP configuration", nic=nic.display_id)
    subnet = inv.subnet_by_id.get(ipc.subnet_id) if ipc.subnet_id else None
    if ipc.subnet_id and subnet is None:
        reason = inv.gap(m.VIRTUAL_NETWORKS, vm.subscription_id)
        return not_assessed(vm, reason or f"subnet {ipc.subnet_id} is not in any listed virtual network", nic=nic.display_id)
    levels: list[tuple[str, m.NetworkSecurityGroup]] = []
    for level, nsg_id in (("network interface", nic.nsg_id), ("subnet", subnet.nsg_id if subnet else "")):
        if not nsg_id:
            continue
        nsg = inv.nsg_by_id.get(nsg_id)
        if nsg is None:
            reason = inv.gap(m.NETWORK_SECURITY_GROUPS, vm.subscription_id, nsg_id)
            return not_assessed(vm, reason or f"the {level}'s network security group {nsg_id} is not in the list",
                                nic=nic.display_id)
        levels.append((level, nsg))
    table = None
    if subnet and subnet.route_table_id:
        table = inv.route_table_by_id.get(subnet.route_table_id)
        if table is None:
            reason = inv.gap(m.ROUTE_TABLES, vm.subscription_id, subnet.route_table_id)
            return not_assessed(vm, reason or f"route table {subnet.route_table_id} is not in the list", nic=nic.display_id)

    blocked: list[dict[str, Any]] = []
    undecided: list[dict[str, Any]] = []
    appliance: list[dict[str, Any]] = []
    for flow in flows_for(pvm, ipc):
        for level, nsg in levels:  # outbound: the interface's NSG first, then the subnet's
            verdict = _nsg.evaluate(nsg, flow, memo)
            if verdict.allowed is False:
                blocked.append(_rule_evidence(level, nsg, flow, verdict))
                break
            if verdict.allowed is None:
                undecided.append(_rule_evidence(level, nsg, flow, verdict))
                break
        else:
            route = _nsg.route_for(table, flow) if table else None
            if route is None:
                continue  # the system routes: Internet
            hop = route.next_hop_type.lower()
            if hop == "none" or hop in APPLIANCE_HOPS:
                entry = {"traffic": flow.label, "route_table": table.display_id if table else "", "route": route.name,
                         "address_prefix": route.address_prefix, "next_hop_type": route.next_hop_type,
                         "next_hop_ip": route.next_hop_ip}
                if hop == "none":
                    blocked.append({**entry, "level": "route"})
                else:
                    appliance.append(entry)
    if not (blocked or undecided or appliance):
        return passed(vm)
    where: dict[str, Any] = {"nic": nic.display_id, "subnet": subnet.display_id if subnet else "", "protection": pvm.protection}
    if blocked:
        first = blocked[0]
        how = (f"rule {first['rule']} (priority {first['priority']}) of the {first['level']}'s NSG denies it"
               if first["level"] != "route" else f"route {first['route']} drops it (next hop None)")
        return fail(vm, f"{first['traffic']} is blocked: {how}", blocked=blocked, undetermined=undecided,
                    appliance_routes=appliance, **where)
    if undecided:
        first = undecided[0]
        return not_assessed(vm, f"cannot tell whether rule {first['rule']} (priority {first['priority']}) of the "
                                f"{first['level']}'s NSG matches {first['traffic']}", undetermined=undecided, **where)
    first = appliance[0]  # nothing blocked or undecided: an appliance on the path
    return fail(vm, f"{first['traffic']} goes through {APPLIANCE_HOPS[first['next_hop_type'].lower()]} "
                    f"({first['next_hop_ip'] or 'no address'}) by route {first['route']}: it must allow it",
                severity=params["appliance_route_severity"], appliance_routes=appliance, **where)
