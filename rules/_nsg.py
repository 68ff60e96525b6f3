"""Evaluate network security group rules and routes the way Azure does, for one outbound flow.

Azure processes an NSG's rules of one direction in priority order (lowest number first) and stops
at the first rule that matches: its access decides. Every NSG ends with the platform's default
rules (outbound: AllowVnetOutBound 65000, AllowInternetOutBound 65001, DenyAllOutBound 65500); when
a response leaves them out we add them, since Azure applies them anyway. Outbound traffic passes
the network interface's NSG, then the subnet's: both must allow it.

A flow here is what a backup or replication needs from the VM: TCP to port 443 of a service
(Storage, AzureBackup, AzureSiteRecovery) in the VM's region, from the VM's private address and an
ephemeral source port. A rule matches it when every part matches:
- protocol `*` (or Any) or Tcp;
- source `*`, 0.0.0.0/0, VirtualNetwork, a prefix holding the VM's address, or an application
  security group the VM's IP configuration is in;
- source ports covering the whole ephemeral range 1024-65535;
- destination `*`, Internet, 0.0.0.0/0, AzureCloud or AzureCloud.<region>, the service's tag or
  <tag>.<region> for the VM's region (a tag of another region does not cover it);
- destination port `*`, 443, or a range or list holding 443.
What cannot be decided from the control plane (a specific public address range as destination,
which may or may not hold the service's addresses; a source prefix when the VM's address is unknown;
source ports covering only part of the ephemeral range) makes the flow *undetermined*, never
allowed or denied by guess.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from scanner import inventory as m
from scanner.quickinit import frozen_dataclass

from ._common import remembered

HTTPS = 443
EPHEMERAL = (1024, 65535)

DEFAULT_OUTBOUND = (
    m.SecurityRule(name="AllowVnetOutBound", priority=65000, direction="Outbound", access="Allow",
                   source_prefixes=("VirtualNetwork",), source_ports=("*",),
                   destination_prefixes=("VirtualNetwork",), destination_ports=("*",), is_default=True),
    m.SecurityRule(name="AllowInternetOutBound", priority=65001, direction="Outbound", access="Allow",
                   source_prefixes=("*",), source_ports=("*",), destination_prefixes=("Internet",),
                   destination_ports=("*",), is_default=True),
    m.SecurityRule(name="DenyAllOutBound", priority=65500, direction="Outbound", access="Deny",
                   source_prefixes=("*",), source_ports=("*",), destination_prefixes=("*",),
                   destination_ports=("*",), is_default=True),
)

# Tri-state match: True, False, or None (cannot be decided from what the control plane shows).
Match = bool | None


@frozen_dataclass(frozen=True, slots=True)
class Flow:
    service: str  # the service tag: Storage | AzureBackup | AzureSiteRecovery
    region: str  # the VM's location, lower-case (westeurope)
    port: int = HTTPS
    protocol: str = "Tcp"
    source_ip: str = ""  # the VM's private address; '' when unknown
    source_asgs: frozenset[str] = frozenset()  # normalised ASG ids of the VM's IP configuration

    @property
    def label(self) -> str:
        return f"{self.protocol} {self.port} to {self.service}.{self.region}"


@frozen_dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool | None  # None: undetermined
    rule: m.SecurityRule | None  # the rule that decided (or could not be decided)


def _decide(parts: list[Match], decisive: bool) -> Match:
    """`decisive` if any part is, else None if any is undecided, else the other answer."""
    out: Match = not decisive
    for p in parts:
        if p is decisive:
            return decisive
        if p is None:
            out = None
    return out


def _all(parts: list[Match]) -> Match:
    return _decide(parts, False)


def _any(parts: list[Match]) -> Match:
    return _decide(parts, True)


@lru_cache(maxsize=4096)  # the same few prefixes recur in every NSG and route table, for every VM
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def protocol_matches(protocol: str, flow: Flow) -> Match:
    p = (protocol or "*").strip().lower()
    return p in ("*", "any") or p == flow.protocol.lower()


def _port_range(text: str) -> tuple[int, int] | None:
    t = text.strip()
    if t == "*":
        return (0, 65535)
    lo, sep, hi = t.partition("-")
    try:
        a, b = int(lo), int(hi) if sep else int(lo)
    except ValueError:
        return None
    return (a, b) if 0 <= a <= b <= 65535 else None


def destination_port_matches(ports: tuple[str, ...], flow: Flow) -> Match:
    if not ports:
        return True  # Azure requires a port; an item without one is read as any port
    parts: list[Match] = []
    for text in ports:
        rng = _port_range(text)
        parts.append(None if rng is None else rng[0] <= flow.port <= rng[1])
    return _any(parts)


def source_port_matches(ports: tuple[str, ...]) -> Match:
    """The client side of an outbound connection uses an ephemeral port: a rule applies to all such
    connections only if its source ports cover the whole ephemeral range."""
    if not ports:
        return True
    ranges = [_port_range(p) for p in ports]
    if any(r is None for r in ranges):
        return None
    lo, hi = EPHEMERAL
    covered = sorted(r for r in ranges if r is not None and r[1] >= lo and r[0] <= hi)
    if not covered:
        return False
    reach = lo
    for a, b in covered:
        if a > reach:
            return None  # a gap: some connections match, some do not
        reach = max(reach, b + 1)
    return True if reach > hi else None


def _prefix_or_tag(text: str) -> tuple[str, str]:
    """('storage', 'westeurope') for 'Storage.WestEurope'; ('internet', '') for 'Internet'."""
    tag, _sep, region = text.strip().partition(".")
    return tag.lower(), region.lower()


def source_address_matches(prefixes: tuple[str, ...], asgs: tuple[str, ...], flow: Flow) -> Match:
    if not prefixes and not asgs:
        return True
    parts: list[Match] = [True for a in asgs if a in flow.source_asgs]
    parts += [False for a in asgs if a not in flow.source_asgs]
    for text in prefixes:
        t = text.strip()
        if t == "*" or t.lower() == "virtualnetwork":
            parts.append(True)
            continue
        net = _network(t)
        if net is None:
            parts.append(False)  # a service tag (Internet, AzureLoadBalancer...) is never the VM itself
            continue
        if net.prefixlen == 0 and net.version == 4:
            parts.append(True)
        elif not flow.source_ip:
            parts.append(None)
        else:
            try:
                parts.append(ipaddress.ip_address(flow.source_ip) in net)
            except ValueError:
                parts.append(None)
    return _any(parts)


def destination_covers(text: str, flow: Flow) -> Match:
    """Does this destination (prefix or service tag) hold the service's addresses in the flow's region?"""
    t = text.strip()
    if t == "*" or t.lower() == "internet":
        return True  # the services' public endpoints are outside the virtual network: Internet to an NSG
    net = _network(t)
    if net is not None:
        if net.version != 4:
            return False
        if net.prefixlen == 0:
            return True
        if net.is_private or net.is_loopback or net.is_link_local:
            return False  # the public service endpoints are not in private ranges
        return None  # a specific public range: it may or may not hold the service's addresses
    tag, region = _prefix_or_tag(t)
    if tag in ("azurecloud", flow.service.lower()):
        return not region or region == flow.region
    return False  # VirtualNetwork, AzureLoadBalancer, another service's tag


def _beyond_source(rule: m.SecurityRule, flow: Flow) -> Match:
    """The parts of the match that do not depend on the VM: protocol, ports, destination."""
    destination: Match = _any([destination_covers(p, flow) for p in rule.destination_prefixes]) \
        if rule.destination_prefixes else (False if rule.destination_asg_ids else True)
    return _all([protocol_matches(rule.protocol, flow), source_port_matches(rule.source_ports), destination,
                 destination_port_matches(rule.destination_ports, flow)])


def outbound_rules(nsg: m.NetworkSecurityGroup) -> list[m.SecurityRule]:
    rules = [r for r in nsg.rules if r.direction == "Outbound"]
    if not any(r.is_default for r in rules):
        rules += list(DEFAULT_OUTBOUND)
    return sorted(rules, key=lambda r: r.priority)


def evaluate(nsg: m.NetworkSecurityGroup, flow: Flow, memo: dict[Any, Any] | None = None) -> Verdict:
    """The first rule by priority that matches decides; one that might match stops the walk undecided.
    `memo`: a dict the caller keeps while it evaluates many VMs' flows through the same NSGs (one rule
    run): each NSG's rules are then ordered, and matched on the parts of a flow that do not depend on
    the VM (protocol, ports, destination), once per service and region; a VM's flow walks only the
    rules left, matching its source address."""
    if memo is None:
        candidates = [(rule, _beyond_source(rule, flow)) for rule in outbound_rules(nsg)]
    else:
        candidates = remembered(memo, nsg, lambda: [(rule, beyond) for rule in outbound_rules(nsg)
                                                    if (beyond := _beyond_source(rule, flow)) is not False],
                                (flow.service, flow.region, flow.port, flow.protocol))
    for rule, beyond in candidates:
        hit = beyond if beyond is False else _all([beyond, source_address_matches(rule.source_prefixes, rule.source_asg_ids, flow)])
        if hit is False:
            continue
        if hit is None:
            return Verdict(None, rule)
        return Verdict(rule.access == "Allow", rule)
    return Verdict(True, None)  # not reached: DenyAllOutBound matches everything


def route_for(table: m.RouteTable, flow: Flow) -> m.Route | None:
    """The user route that carries the flow: a route to the service's tag (or AzureCloud) for the
    flow's region beats the default route 0.0.0.0/0; None when the system routes apply (Internet).
    Routes to specific address ranges are not matched: without the service's addresses we cannot
    tell whether they capture it."""
    tagged, default = None, None
    for route in table.routes:
        net = _network(route.address_prefix)
        if net is not None:
            if net.version == 4 and net.prefixlen == 0:
                default = route
            continue
        tag, region = _prefix_or_tag(route.address_prefix)
        if tag in ("azurecloud", flow.service.lower()) and (not region or region == flow.region):
            # the narrower tag wins: a regional tag over the global one, a service over AzureCloud
            rank = (tag != "azurecloud", bool(region))
            if tagged is None or rank > tagged[0]:
                tagged = (rank, route)
    return tagged[1] if tagged else default
