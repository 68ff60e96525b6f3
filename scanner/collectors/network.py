"""Microsoft.Network: network interfaces, network security groups, route tables and virtual networks
(one paged `list_all()` each per subscription). Mappers only: each turns one wire-format item
(shared/azure-rest-examples/network/*ListAll.json) into an Inventory model.

An NSG rule's single and plural fields (`destinationAddressPrefix` / `destinationAddressPrefixes`,
`destinationPortRange` / `destinationPortRanges`, and the same for the source) are merged: Azure uses
one or the other. A rule without a usable priority, direction or access cannot be evaluated like
Azure does and makes the whole NSG unreadable (MalformedItem, recorded in coverage), rather than be
dropped and leave an allow or a deny unseen.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from .. import ids
from .. import inventory as m
from .base import MalformedItem, b_or_none, dct, get, i_or_none, lst, ref, require_id, s, word

_DIRECTIONS = {"inbound": "Inbound", "outbound": "Outbound"}
_ACCESS = {"allow": "Allow", "deny": "Deny"}


def _ref(value: Any) -> str:
    """The normalised id of a sub-resource reference {"id": ...} (interned: a join key)."""
    return ref(s(get(value, "id")))


def _refs(value: Any) -> tuple[str, ...]:
    return tuple(r for r in (_ref(x) for x in lst(value)) if r)


def _where(raw: dict[str, Any]) -> dict[str, Any]:
    rid, display = require_id(raw)
    return dict(id=ref(rid), display_id=display, name=s(raw.get("name")) or ids.name_of(display),
                subscription_id=ids.subscription_of(display), resource_group=ids.resource_group_of(display),
                location=word(s(raw.get("location")).lower()))


def map_network_interface(raw: dict[str, Any]) -> m.NetworkInterface:
    props = dct(raw.get("properties"))
    configs = []
    for ipc in lst(props.get("ipConfigurations")):
        if not isinstance(ipc, dict):
            continue
        p = dct(ipc.get("properties"))
        configs.append(m.NicIpConfig(name=word(ipc.get("name")), subnet_id=_ref(p.get("subnet")),
                                     private_ip=s(p.get("privateIPAddress")), primary=b_or_none(p.get("primary")),
                                     asg_ids=_refs(p.get("applicationSecurityGroups"))))
    return m.NetworkInterface.of(**_where(raw), vm_id=_ref(props.get("virtualMachine")),
                                 nsg_id=_ref(props.get("networkSecurityGroup")), primary=b_or_none(props.get("primary")),
                                 ip_configurations=tuple(configs))


def _merged(props: dict[str, Any], single: str, plural: str) -> tuple[str, ...]:
    out = [word(s(props.get(single)).strip())] if s(props.get(single)).strip() else []
    out += [word(s(x).strip()) for x in lst(props.get(plural)) if s(x).strip()]
    return tuple(out)


def map_security_rule(raw: Any, is_default: bool) -> m.SecurityRule:
    if not isinstance(raw, dict):
        raise MalformedItem("security rule is not an object")
    props = dct(raw.get("properties"))
    name = s(raw.get("name")) or ids.name_of(s(raw.get("id")))
    priority = i_or_none(props.get("priority"))
    direction = _DIRECTIONS.get(s(props.get("direction")).lower())
    access = _ACCESS.get(s(props.get("access")).lower())
    if priority is None or direction is None or access is None:
        raise MalformedItem(f"security rule {name or '(unnamed)'} has no usable priority, direction or access")
    return m.SecurityRule(
        name=word(name), priority=priority, direction=direction, access=access,
        protocol=word(props.get("protocol")) or "*",
        source_prefixes=_merged(props, "sourceAddressPrefix", "sourceAddressPrefixes"),
        source_ports=_merged(props, "sourcePortRange", "sourcePortRanges"),
        destination_prefixes=_merged(props, "destinationAddressPrefix", "destinationAddressPrefixes"),
        destination_ports=_merged(props, "destinationPortRange", "destinationPortRanges"),
        source_asg_ids=_refs(props.get("sourceApplicationSecurityGroups")),
        destination_asg_ids=_refs(props.get("destinationApplicationSecurityGroups")),
        is_default=is_default)


def map_network_security_group(raw: dict[str, Any]) -> m.NetworkSecurityGroup:
    where = _where(raw)
    props = dct(raw.get("properties"))
    rules = [map_security_rule(r, False) for r in lst(props.get("securityRules"))]
    rules += [map_security_rule(r, True) for r in lst(props.get("defaultSecurityRules"))]
    return m.NetworkSecurityGroup(**where, rules=tuple(rules))


def map_route_table(raw: dict[str, Any]) -> m.RouteTable:
    where = _where(raw)
    routes = []
    for r in lst(get(raw, "properties", "routes")):
        if isinstance(r, dict):
            p = dct(r.get("properties"))
            routes.append(m.Route(name=s(r.get("name")), address_prefix=s(p.get("addressPrefix")).strip(),
                                  next_hop_type=s(p.get("nextHopType")), next_hop_ip=s(p.get("nextHopIpAddress"))))
    return m.RouteTable(**where, routes=tuple(routes))


def map_virtual_network(raw: dict[str, Any]) -> m.VirtualNetwork:
    where = _where(raw)
    subnets = []
    for sn in lst(get(raw, "properties", "subnets")):
        if not isinstance(sn, dict) or not s(sn.get("id")).startswith("/"):
            continue
        p = dct(sn.get("properties"))
        subnets.append(m.Subnet(id=ref(s(sn["id"])), display_id=s(sn["id"]),
                                name=s(sn.get("name")) or ids.name_of(s(sn["id"])),
                                nsg_id=_ref(p.get("networkSecurityGroup")), route_table_id=_ref(p.get("routeTable"))))
    return m.VirtualNetwork(**where, subnets=tuple(subnets))


def lists(factory: Any, sub: str) -> list[tuple[str, str, Callable[[], Any], Callable[[dict[str, Any]], Any]]]:
    """The four subscription-wide lists (one paged call each): (Inventory field, collector, pager,
    mapper), for scanner.collect to read at once."""
    # The client is built by the first list that needs it, inside that list's read (a client that
    # cannot be built, or an interrupted scan, is that list's failure, not the subscription's).
    net = functools.cache(lambda: factory.network(sub))
    return [
        ("network_interfaces", m.NETWORK_INTERFACES, lambda: net().network_interfaces.list_all(), map_network_interface),
        ("network_security_groups", m.NETWORK_SECURITY_GROUPS, lambda: net().network_security_groups.list_all(),
         map_network_security_group),
        ("route_tables", m.ROUTE_TABLES, lambda: net().route_tables.list_all(), map_route_table),
        ("virtual_networks", m.VIRTUAL_NETWORKS, lambda: net().virtual_networks.list_all(), map_virtual_network),
    ]


def collect(factory: Any, sub: str, rec: Any) -> dict[str, list[Any]]:
    """The four lists one after another, keyed like the Inventory fields (benchmarks/arg.py reads
    them so; the scanner reads them at once, scanner.collect)."""
    from .base import read_list
    return {key: read_list(rec, collector, pager, mapper) for key, collector, pager, mapper in lists(factory, sub)}
