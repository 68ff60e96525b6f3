"""Microsoft.Compute: virtual machines, their status and instance views, disks, restore point
collections. Mappers only: each turns one wire-format item into an Inventory model."""
from __future__ import annotations

from sys import intern
from typing import Any

from .. import ids
from .. import inventory as m
from ..timeutil import parse_once
from .base import MalformedItem, b_or_none, dct, get, i_or_none, lst, ref, require_id, s, s_or_none, shared, statuses, tags, word


def _extension_from_model(raw: Any) -> m.Extension | None:
    """An extension from the VM model's `resources[]`: derived facts only. `settings` and
    `protectedSettings` (SAS URLs, commands) are never read."""
    if not isinstance(raw, dict):
        return None
    props = dct(raw.get("properties"))
    publisher, short_type = s(props.get("publisher")), s(props.get("type"))
    full_type = f"{publisher}.{short_type}" if publisher and short_type else short_type
    return shared(m.Extension(name=word(s(raw.get("name")) or ids.name_of(s(raw.get("id")))), type=word(full_type),
                              publisher=word(publisher), type_handler_version=word(props.get("typeHandlerVersion")),
                              provisioning_state=word(props.get("provisioningState"))))


def _disk_refs(storage: dict[str, Any]) -> tuple[m.VmDisk, ...]:
    out = []
    os_disk = dct(storage.get("osDisk"))
    if os_disk:
        out.append(m.VmDisk(name=word(os_disk.get("name")), lun=None,
                            managed_disk_id=ref(s(get(os_disk, "managedDisk", "id"))),
                            size_gb=i_or_none(os_disk.get("diskSizeGB")), is_os_disk=True,
                            unmanaged=_unmanaged(os_disk)))
    for dd in lst(storage.get("dataDisks")):
        if isinstance(dd, dict):
            out.append(m.VmDisk(name=word(dd.get("name")), lun=i_or_none(dd.get("lun")),
                                managed_disk_id=ref(s(get(dd, "managedDisk", "id"))),
                                size_gb=i_or_none(dd.get("diskSizeGB")), unmanaged=_unmanaged(dd)))
    return tuple(out)


def _unmanaged(disk: dict[str, Any]) -> bool:
    """A VHD page blob (`vhd.uri`) and no managed disk. The URI itself is not kept."""
    return bool(s(get(disk, "vhd", "uri"))) and not s(get(disk, "managedDisk", "id"))


def _nic_ids(props: dict[str, Any]) -> tuple[str, ...]:
    """networkProfile.networkInterfaces ids, normalised, the one marked primary first."""
    refs = [r for r in lst(get(props, "networkProfile", "networkInterfaces")) if isinstance(r, dict) and s(r.get("id"))]
    primary = [r for r in refs if b_or_none(get(r, "properties", "primary")) is True]
    ordered = primary + [r for r in refs if r not in primary]
    return tuple(dict.fromkeys(ref(s(r["id"])) for r in ordered))


def map_vm(raw: dict[str, Any]) -> m.VirtualMachine:
    """A VM from the full list (`virtual_machines.list_all()`): no power state, no agent."""
    vid, display = require_id(raw)
    props = dct(raw.get("properties"))
    os_profile = dct(props.get("osProfile"))
    storage = dct(props.get("storageProfile"))
    os_type = s(get(storage, "osDisk", "osType"))
    win = dct(os_profile.get("windowsConfiguration"))
    lin = dct(os_profile.get("linuxConfiguration"))
    provision_agent = b_or_none(win.get("provisionVMAgent")) if win else b_or_none(lin.get("provisionVMAgent")) if lin else None
    if not os_type:
        os_type = "Windows" if win else "Linux" if lin else ""
    resources = lst(raw.get("resources"))
    extensions = shared(tuple(e for e in map(_extension_from_model, resources) if e)) if resources else ()
    dual_pass = dct(get(storage, "osDisk", "encryptionSettings"))
    dual_pass_on = b_or_none(dual_pass.get("enabled")) is True
    # The VM's id, display id and name are interned: protected items, jobs, disks, NICs, restore
    # point collections and replication items name the same VM.
    return m.VirtualMachine(
        id=intern(vid), display_id=intern(display), name=word(s(raw.get("name")) or ids.name_of(display)),
        subscription_id=ids.subscription_of(display), resource_group=ids.resource_group_of(display),
        location=word(s(raw.get("location")).lower()), vm_id=s(props.get("vmId")), os_type=word(os_type),
        provisioning_state=word(props.get("provisioningState")), provision_vm_agent=provision_agent,
        ade_dual_pass=dual_pass_on,
        ade_dual_pass_has_bek=dual_pass_on and isinstance(dual_pass.get("diskEncryptionKey"), dict),
        ade_dual_pass_has_kek=dual_pass_on and isinstance(dual_pass.get("keyEncryptionKey"), dict),
        ade_dual_pass_secret_vault_ids=_vaults([dual_pass], "diskEncryptionKey") if dual_pass_on else (),
        ade_dual_pass_key_vault_ids=_vaults([dual_pass], "keyEncryptionKey") if dual_pass_on else (),
        disks=_disk_refs(storage), extensions=extensions, tags=tags(raw.get("tags")),
        allow_extension_operations=b_or_none(os_profile.get("allowExtensionOperations")),
        security_type=word(get(props, "securityProfile", "securityType")), nic_ids=_nic_ids(props),
    )


def parse_status_codes(codes: list[str]) -> tuple[str | None, str | None, str]:
    """(power state, provisioning status, provisioning error) from instance-view status codes such
    as 'PowerState/running' and 'ProvisioningState/failed/InternalOperationError'."""
    power = prov = None
    error = ""
    for code in codes:
        parts = code.split("/")
        head = parts[0].lower()
        if head == "powerstate" and len(parts) > 1:
            power = intern(parts[1].lower())
        elif head == "provisioningstate" and len(parts) > 1:
            prov = intern(parts[1].lower())
            error = intern("/".join(parts[2:]))
    return power, prov, error


def map_vm_status(raw: dict[str, Any]) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """An item of the status-only list (`list_all(status_only="true")`): (normalised id, status codes,
    a minimal VM body for a VM the full list did not carry)."""
    vid, display = require_id(raw)
    codes = shared(tuple(st.code for st in statuses(get(raw, "properties", "instanceView", "statuses")) if st.code))
    return vid, codes, raw


def with_status(vm: m.VirtualMachine, codes: tuple[str, ...]) -> m.VirtualMachine:
    from dataclasses import replace
    power, prov, error = parse_status_codes(list(codes))
    return replace(vm, status_codes=codes, power_state=power, provisioning_status=prov, provisioning_error=error)


def _timeless(ext: m.Extension) -> m.Extension:
    """An instance view's extension, shared with equal ones when none of its statuses says when
    (an extension handler's "Ready" and nothing else): one with a time is its VM's alone."""
    if ext.handler_status is not None and ext.handler_status.time is not None:
        return ext
    return shared(ext) if all(st.time is None for st in ext.statuses) else ext


def map_instance_view(raw: dict[str, Any]) -> m.InstanceView:
    if not isinstance(raw, dict):
        raise MalformedItem("instance view is not an object")
    agent = raw.get("vmAgent")
    handlers: dict[str, tuple[str, m.Status | None]] = {}  # lower-cased type -> (type, status)
    for h in lst(get(agent, "extensionHandlers")):
        if isinstance(h, dict) and s(h.get("type")):
            reported = statuses([h.get("status")])
            handlers[s(h.get("type")).lower()] = (s(h.get("type")), reported[0] if reported else None)
    exts = []
    for e in lst(raw.get("extensions")):
        if not isinstance(e, dict):
            continue
        etype = s(e.get("type"))
        exts.append(_timeless(m.Extension(name=word(e.get("name")), type=word(etype),
                                          publisher=word(etype.rsplit(".", 1)[0] if "." in etype else ""),
                                          type_handler_version=word(e.get("typeHandlerVersion")),
                                          statuses=statuses(e.get("statuses")) + statuses(e.get("substatuses")),
                                          handler_status=handlers.get(etype.lower(), ("", None))[1])))
    named = {x.type.lower() for x in exts}
    for key, (htype, st) in handlers.items():  # a handler with no extension entry still tells its state
        if key not in named:
            exts.append(_timeless(m.Extension(name="", type=word(htype), handler_status=st)))
    return m.InstanceView(agent_present=isinstance(agent, dict),
                          agent_version=s_or_none(word(get(agent, "vmAgentVersion"))),
                          agent_statuses=statuses(get(agent, "statuses")), extensions=tuple(exts),
                          statuses=statuses(raw.get("statuses")))


def map_disk(raw: dict[str, Any]) -> m.Disk:
    did, display = require_id(raw)
    props = dct(raw.get("properties"))
    esc = dct(props.get("encryptionSettingsCollection"))
    settings = [x for x in lst(esc.get("encryptionSettings")) if isinstance(x, dict)]
    ade = b_or_none(esc.get("enabled")) is True
    return m.Disk.of(
        id=intern(did), display_id=display, name=word(s(raw.get("name")) or ids.name_of(display)),
        subscription_id=ids.subscription_of(display), resource_group=ids.resource_group_of(display),
        location=word(s(raw.get("location")).lower()), size_gb=i_or_none(props.get("diskSizeGB")),
        managed_by=ref(s(raw.get("managedBy"))), disk_state=word(props.get("diskState")),
        ade_enabled=ade, ade_has_bek=ade and any(isinstance(x.get("diskEncryptionKey"), dict) for x in settings),
        ade_has_kek=ade and any(isinstance(x.get("keyEncryptionKey"), dict) for x in settings),
        sse_type=word(get(props, "encryption", "type")), sku=word(get(raw, "sku", "name")),
        ade_secret_vault_ids=_vaults(settings, "diskEncryptionKey") if ade else (),
        ade_key_vault_ids=_vaults(settings, "keyEncryptionKey") if ade else (),
        max_shares=i_or_none(props.get("maxShares")), data_access_auth_mode=word(props.get("dataAccessAuthMode")),
        security_type=word(get(props, "securityProfile", "securityType")),
    )


def _vaults(settings: list[dict[str, Any]], key: str) -> tuple[str, ...]:
    """Normalised ids of the key vaults an ADE setting's disk or key-encryption key lives in."""
    return tuple(dict.fromkeys(v for v in (ref(s(get(x, key, "sourceVault", "id"))) for x in settings) if v))


def _instant(text: str):
    try:
        return parse_once(text)
    except OverflowError:  # e.g. '9999-12-31T23:59:59-01:00' is past datetime.max in UTC
        return None


def map_restore_point_collection(raw: dict[str, Any]) -> m.RestorePointCollection:
    """A collection from the list (no restorePoints) or from GET $expand=restorePoints (counted)."""
    rid, display = require_id(raw)
    props = dct(raw.get("properties"))
    source = s(get(props, "source", "id"))
    points = props.get("restorePoints")
    count = None
    latest = None
    if isinstance(points, list):
        count = len(points)
        # Compare instants, not strings: '...+05:30' and '...Z' do not sort by time as text.
        times = [(when, t) for t in (s(get(p, "properties", "timeCreated")) for p in points)
                 if (when := _instant(t)) is not None]
        latest = max(times)[1] if times else None
    return m.RestorePointCollection(
        id=rid, display_id=display, name=s(raw.get("name")) or ids.name_of(display),
        subscription_id=ids.subscription_of(display), resource_group=ids.resource_group_of(display),
        location=word(s(raw.get("location")).lower()), source_id=ref(source), source_display_id=intern(source),
        restore_point_count=count, latest_restore_point_time=latest,
    )
