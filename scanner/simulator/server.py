"""A loopback HTTPS server that plays Azure Resource Manager for the real Azure SDK clients.

Used by `az-bcdr-scan --demo` and by the end-to-end tests (which add fault injection on top,
in tests/simfaults.py, through the one seam `Simulator.intercept`):

    with Simulator(load_scenario("demo"), page_size=50) as sim:
        client = ComputeManagementClient(cred, sub, base_url=sim.endpoint,
                                         credential_scopes=[sim.endpoint + "/.default"],
                                         connection_verify=sim.ca_path)

What it does like ARM:
- Serves the GETs the collectors send, with the URL shapes the installed SDKs build (the paths
  and query parameters are taken from the SDKs' operation code). api-version is required on
  every request (400 MissingApiVersionParameter) but its value is not checked.
- Paths and ids are matched case-insensitively.
- Lists return at most `page_size` items and an absolute `nextLink` back to the simulator
  carrying the original query (api-version included: the typespec-generated compute client
  follows nextLink verbatim) plus `$skiptoken`.
- Missing/empty `Authorization` header: 401 AuthenticationFailed. Unknown subscription: 404
  SubscriptionNotFound. Unknown path: 404 with an ARM error body.
- Any method but GET is recorded in the ledger and answered 405: the scanner must never send one.
- Management groups (scenario "managementGroups"): GET .../managementGroups/{id}/descendants walks
  the groups' children (nested groups included) and pages like any list; an unknown group is 403
  AuthorizationFailed, as ARM answers it.

It listens on 127.0.0.1 only, on an ephemeral port, over TLS with a throwaway CA made for the run
(tls.py; the CA's PEM is at `ca_path`). The certificate also covers "localhost", the other name
of the loopback host.
Each connection is handled in its own daemon thread; the TLS handshake happens there, with a
timeout, so a silent or plain-HTTP client cannot block the accept loop; `stop()` closes every
open connection and waits (bounded) for the handler threads.
"""
from __future__ import annotations

import base64
import copy
import json
import logging
import re
import shutil
import socket
import ssl
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from scanner import ids
from scanner.timeutil import parse as parse_time

from . import scenario as scen

log = logging.getLogger(__name__)

READ_METHODS = ("GET", "HEAD")
HANDSHAKE_TIMEOUT = 10.0  # seconds a client gets to finish the TLS handshake
IDLE_TIMEOUT = 30.0  # seconds an idle keep-alive connection is kept
MAX_REQUEST_BODY = 1 << 20  # bytes of a (refused) request body we read and discard
STOP_JOIN_TIMEOUT = 5.0
LIST_CACHE_SIZE = 256  # computed list results kept for paging
# Vault properties the real vault LIST leaves out (658 recorded vaults, none has them): GET only.
VAULT_GET_ONLY = ("properties.securitySettings", "properties.redundancySettings", "properties.monitoringSettings")



def arm_error(code: str, message: str, *, details: list[dict] | None = None) -> dict:
    """An ARM error body: {"error": {"code", "message"[, "details"]}}."""
    err: dict[str, Any] = {"code": code, "message": message}
    if details:
        err["details"] = details
    return {"error": err}


@dataclass(frozen=True)
class LedgerEntry:
    method: str
    path: str  # decoded path
    query: str  # raw query string
    host: str  # Host header as sent
    auth_present: bool  # an Authorization header with a non-empty value was sent
    status: int  # the status the simulator answered (or tried to)


class Ledger(list):
    """Every request the simulator saw, in order. Thread-safe: iteration works on a snapshot."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, entry: LedgerEntry) -> None:
        with self._lock:
            super().append(entry)

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def snapshot(self) -> list[LedgerEntry]:
        with self._lock:
            return list(super().__iter__())

    def __iter__(self):
        return iter(self.snapshot())


class _ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 details: list[dict] | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict:
        return arm_error(self.code, self.message, details=self.details)


@dataclass
class _Response:
    status: int
    body: Any = None  # JSON-able object, or bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] | None = None
    list_path: bool = False  # a list body (nextLink may be rewritten)
    hang_up: bool = False  # close the connection without answering (test hook: a resetting proxy)
    write_body: Callable[[Any, bytes], None] | None = None  # test hook: writes the body itself (a slow proxy)


# --------------------------------------------------------------------------- the scenario index
def _vault_of(resource_id: str) -> str:
    """Normalised id of the vault that owns a vault child (derived from the child's id)."""
    m = re.match(r"^(/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.recoveryservices/vaults/[^/]+)/",
                 ids.norm(resource_id))
    return m.group(1) if m else ""


class _Index:
    """The scenario, indexed for the routes. Built once; bodies are copied on the way out."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.subscriptions: dict[str, dict] = {}
        details = {k.lower(): v for k, v in data.get("subscriptionDetails", {}).items()}
        for entry in data.get("subscriptions", []):
            body = dict(entry) if isinstance(entry, dict) else {"subscriptionId": entry}
            sub = body["subscriptionId"]
            body = {**details.get(sub.lower(), {}), **body}
            self.subscriptions[sub.lower()] = {
                "id": f"/subscriptions/{sub}",
                "authorizationSource": "RoleBased",
                "managedByTenants": [],
                "subscriptionId": sub,
                "tenantId": body.get("tenantId", "00000000-0000-4000-8000-0000000000a1"),
                "displayName": body.get("displayName", sub),
                "state": body.get("state", "Enabled"),
                "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                         "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
            }
        self.by_sub: dict[str, dict[str, list[dict]]] = {}
        self.by_vault: dict[str, dict[str, list[dict]]] = {}
        self.by_id: dict[str, dict[str, dict]] = {}
        for kind in scen.KINDS:
            self.by_id[kind] = {}
            for item in data.get(kind, []):
                rid = ids.norm(item["id"])
                self.by_id[kind][rid] = item
                self.by_sub.setdefault(ids.subscription_of(rid), {}).setdefault(kind, []).append(item)
                vault = _vault_of(rid)
                if vault and kind != "vaults":
                    self.by_vault.setdefault(vault, {}).setdefault(kind, []).append(item)
        self.instance_views = {ids.norm(k): v for k, v in data.get("instanceViews", {}).items()}
        self.recorded = [(r["path"].rstrip("/").lower(), r.get("query"), r["body"], bool(r.get("list")))
                         for r in data.get(scen.RECORDED, [])]
        self.groups = {g["id"].rstrip("/").lower(): g for g in data.get(scen.GROUPS, [])}

    def descendants(self, group_id: str) -> list[dict] | None:
        """GET .../managementGroups/{id}/descendants: every group and subscription under the group,
        each as DescendantInfo {id, type, name, properties.{displayName, parent.id}}, walking the
        groups' direct children depth-first; None for a group the scenario does not have."""
        root = self.groups.get(group_id.rstrip("/").lower())
        if root is None:
            return None
        out: list[dict] = []
        seen = {root["id"].lower()}
        stack = [root]
        while stack:
            group = stack.pop()
            for child in reversed((group.get("properties") or {}).get("children") or []):
                cid = child["id"]
                is_group = cid.lower().startswith(scen.GROUP_PREFIX)
                if is_group and cid.lower() in seen:
                    continue  # a cycle in a hand-written scenario: ARM's hierarchy has none
                out.append({"id": cid, "name": child.get("name", cid.rsplit("/", 1)[-1]),
                            "type": "Microsoft.Management/managementGroups" if is_group
                            else "Microsoft.Management/managementGroups/subscriptions",
                            "properties": {"displayName": child.get("displayName", ""), "parent": {"id": group["id"]}}})
                if is_group:
                    seen.add(cid.lower())
                    nested = self.groups.get(cid.lower())
                    if nested is not None:
                        stack.append(nested)
        return out

    def recorded_route(self, path: str, query: str) -> tuple[dict, bool] | None:
        """The recorded (body, is_list) for a path, preferring a route whose query pattern matches
        over one without a pattern; None when no recorded route has this path."""
        queries = (query.lower(), unquote(query).lower())
        fallback = None
        for rpath, pattern, body, is_list in self.recorded:
            if rpath != path.lower():
                continue
            if pattern is None:
                fallback = fallback or (body, is_list)
            elif any(re.search(pattern, q) for q in queries):
                return body, is_list
        return fallback

    def in_sub(self, sub: str, kind: str) -> list[dict]:
        return self.by_sub.get(sub.lower(), {}).get(kind, [])

    def in_vault(self, vault_id: str, kind: str) -> list[dict]:
        return self.by_vault.get(ids.norm(vault_id), {}).get(kind, [])

    def resource_group_exists(self, sub: str, rg: str) -> bool:
        return ids.norm(ids.resource_group_id(sub, rg)) in self.by_id["resourceGroups"]


def _strip(body: dict, *dotted: str) -> dict:
    out = copy.deepcopy(body)
    for path in dotted:
        parts = path.split(".")
        obj: Any = out
        for part in parts[:-1]:
            obj = obj.get(part) if isinstance(obj, dict) else None
        if isinstance(obj, dict):
            obj.pop(parts[-1], None)
    return out


def _minimal_instance_view(vm: dict) -> dict:
    state = str((vm.get("properties") or {}).get("provisioningState") or "Succeeded")
    return {"statuses": [{"code": f"ProvisioningState/{state.lower()}", "level": "Info",
                          "displayStatus": f"Provisioning {state.lower()}"}]}


def _status_only(vm: dict, view: dict | None) -> dict:
    """One item of list_all(statusOnly=true): what the real service returns (see
    shared/azure-rest-examples/README.md): no vmAgent, no extensions, no models."""
    props = vm.get("properties") or {}
    view = view if view is not None else _minimal_instance_view(vm)
    inst: dict[str, Any] = {}
    if "platformFaultDomain" in view:
        inst["platformFaultDomain"] = view["platformFaultDomain"]
    inst["statuses"] = copy.deepcopy(view.get("statuses", []))
    out_props: dict[str, Any] = {}
    for key in ("provisioningState", "vmId"):
        if key in props:
            out_props[key] = props[key]
    out_props["instanceView"] = inst
    return {"id": vm["id"], "name": vm.get("name", ids.name_of(vm["id"])), "type": vm.get("type", "Microsoft.Compute/virtualMachines"),
            "location": vm.get("location", ""), "properties": out_props}


# --------------------------------------------------------------------------- OData filters
_TERM = re.compile(r"^\s*(?P<field>[A-Za-z_][A-Za-z0-9_/]*)\s+eq\s+'(?P<value>[^']*)'\s*$", re.IGNORECASE)


def _filter_terms(text: str) -> dict[str, str]:
    """`a eq 'x' and b eq 'y'` -> {"a": "x", "b": "y"} (field names lower-cased)."""
    terms: dict[str, str] = {}
    if not text.strip():
        return terms
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        m = _TERM.match(part)
        if not m:
            raise _ArmError(400, "InvalidFilter",
                            f"The $filter term '{part[:80]}' is not supported.")
        terms[m.group("field").lower()] = m.group("value")
    return terms


def _backup_filter_time(value: str) -> datetime:
    """Parse the Backup service's filter time 'YYYY-MM-DD hh:mm:ss AM' (UTC). The official example
    writes '2016-01-01 00:00:00 AM', so hour 00 is accepted as midnight; a value without AM/PM is
    read as 24-hour time."""
    m = re.fullmatch(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})(?:\s*([AaPp][Mm]))?\s*", value)
    if not m:
        raise _ArmError(400, "InvalidFilter", f"Invalid time '{value[:40]}' in $filter; expected 'yyyy-MM-dd hh:mm:ss AM'.")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    ampm = (m.group(7) or "").upper()
    if ampm:
        if hour > 12:
            raise _ArmError(400, "InvalidFilter", f"Invalid hour in '{value[:40]}'.")
        hour = hour % 12 + (12 if ampm == "PM" else 0)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        raise _ArmError(400, "InvalidFilter", f"Invalid time '{value[:40]}' in $filter.") from None


def _prop(item: dict, key: str) -> str:
    value = (item.get("properties") or {}).get(key)
    return value if isinstance(value, str) else ""


def _filter_loose(items: list[dict], terms: dict[str, str], fields: dict[str, str]) -> list[dict]:
    """Keep items whose properties match the known terms (case-insensitive); unknown terms are
    ignored, as the service ignores what does not apply to the item type."""
    out = items
    for term, value in terms.items():
        prop = fields.get(term)
        if prop:
            out = [i for i in out if _prop(i, prop).lower() == value.lower()]
    return out


def _filter_backup_jobs(items: list[dict], terms: dict[str, str]) -> list[dict]:
    out = _filter_loose(items, terms, {"status": "status", "operation": "operation",
                                       "backupmanagementtype": "backupManagementType"})
    start = _backup_filter_time(terms["starttime"]) if "starttime" in terms else None
    end = _backup_filter_time(terms["endtime"]) if "endtime" in terms else None
    if start and end and end < start:
        raise _ArmError(400, "InvalidFilter", "endTime is before startTime in $filter.")
    if start or end:
        kept = []
        for item in out:
            when = parse_time(_prop(item, "startTime"))
            if when is None:
                continue
            if (start is None or when >= start) and (end is None or when <= end):
                kept.append(item)
        out = kept
    return out


# --------------------------------------------------------------------------- routes
_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourcegroups/(?P<rg>[^/]+)"
_VAULT = _RG + r"/providers/microsoft\.recoveryservices/vaults/(?P<vault>[^/]+)"
Route = tuple[re.Pattern, str, Callable[..., list[dict] | dict]]  # a list is paged, an object served as is


class Simulator:
    """See the module docstring. Start/stop with `with`, or start()/stop()."""

    def __init__(self, scenario: dict[str, Any] | str | Path, page_size: int = 50, *,
                 token: str | None = None, host: str = "127.0.0.1", link_base: str | None = None) -> None:
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        data = scen.load_scenario(scenario) if isinstance(scenario, (str, Path)) else scen.prepare(scenario)
        self.scenario = data
        self.page_size = page_size
        self.token = token  # when set, only this bearer token is accepted (401 otherwise)
        self.ledger = Ledger()
        self._index = _Index(data)
        self._lists: dict[tuple, list[dict]] = {}
        self._lists_lock = threading.Lock()
        self._in_flight = threading.local()  # the body of the request each handler thread answers
        self._host = host
        self._server: _TLSServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: str | None = None
        self.endpoint = ""
        # The origin nextLinks point at (default: `endpoint`), e.g. this server under another spelling
        # of its host name, as ARM writes `https://management.azure.com:443/...`.
        self.link_base = link_base
        self.ca_path = ""
        self.port = 0
        self._routes: list[Route] = [
            (re.compile(r"^/subscriptions$", re.I), "subscriptions", self._list_subscriptions),
            (re.compile(r"^/providers/microsoft\.management/managementgroups/(?P<group>[^/]+)/descendants$", re.I),
             "descendants", self._list_descendants),
            (re.compile(rf"^{_SUB}$", re.I), "subscription", self._get_subscription),
            (re.compile(rf"^{_SUB}/resourcegroups$", re.I), "resourceGroups", self._list_resource_groups),
            (re.compile(rf"^{_SUB}/providers/microsoft\.compute/virtualmachines$", re.I), "vms", self._list_vms),
            (re.compile(rf"^{_RG}/providers/microsoft\.compute/virtualmachines/(?P<vm>[^/]+)/instanceview$", re.I),
             "instanceView", self._get_instance_view),
            (re.compile(rf"^{_SUB}/providers/microsoft\.compute/disks$", re.I), "disks", self._list_disks),
            (re.compile(rf"^{_SUB}/providers/microsoft\.compute/restorepointcollections$", re.I), "rpcs", self._list_rpcs),
            (re.compile(rf"^{_RG}/providers/microsoft\.compute/restorepointcollections/(?P<rpc>[^/]+)$", re.I),
             "rpc", self._get_rpc),
            (re.compile(rf"^{_SUB}/providers/microsoft\.authorization/locks$", re.I), "locks", self._list_locks),
            (re.compile(rf"^{_SUB}/providers/microsoft\.recoveryservices/vaults$", re.I), "vaults", self._list_vaults),
            (re.compile(rf"^{_VAULT}$", re.I), "vault", self._get_vault),
            (re.compile(rf"^{_VAULT}/backupjobs/(?P<job>[^/]+)$", re.I), "job", self._get_backup_job),
            (re.compile(rf"^{_VAULT}/backupprotecteditems$", re.I), "protectedItems", self._list_protected_items),
            (re.compile(rf"^{_VAULT}/backuppolicies$", re.I), "policies", self._list_policies),
            (re.compile(rf"^{_VAULT}/backupjobs$", re.I), "jobs", self._list_backup_jobs),
            (re.compile(rf"^{_VAULT}/replicationprotecteditems$", re.I), "replicationItems", self._list_replication_items),
            (re.compile(rf"^{_VAULT}/replicationjobs$", re.I), "replicationJobs", self._list_replication_jobs),
            (re.compile(rf"^{_VAULT}/replicationrecoveryplans$", re.I), "recoveryPlans", self._list_recovery_plans),
            (re.compile(rf"^{_VAULT}/replicationfabrics$", re.I), "replicationFabrics", self._list_fabrics),
            (re.compile(rf"^{_VAULT}/replicationprotectioncontainermappings$", re.I), "containerMappings",
             self._list_container_mappings),
            (re.compile(rf"^(?P<item>{_VAULT}/replicationfabrics/[^/]+/replicationprotectioncontainers/[^/]+"
                        rf"/replicationprotecteditems/[^/]+)/recoverypoints$", re.I), "recoveryPoints",
             self._list_recovery_points),
        ]
        # Microsoft.Network: one subscription-wide list per type; Microsoft.KeyVault: GET a vault.
        for kind, path in (("networkInterfaces", "networkinterfaces"), ("networkSecurityGroups", "networksecuritygroups"),
                           ("routeTables", "routetables"), ("virtualNetworks", "virtualnetworks")):
            self._routes.append((re.compile(rf"^{_SUB}/providers/microsoft\.network/{path}$", re.I), kind,
                                 self._sub_lister(kind)))
        self._routes.append((re.compile(rf"^{_RG}/providers/microsoft\.keyvault/vaults/(?P<kv>[^/]+)$", re.I),
                             "keyVault", self._get_key_vault))

    # ---- lifecycle
    def start(self) -> Self:
        if self._server is not None:
            return self
        from .tls import server_context  # cryptography is imported only when a simulator starts

        self._tmp = tempfile.mkdtemp(prefix="az-bcdr-sim-")
        ctx, ca_file = server_context(Path(self._tmp), list(dict.fromkeys((self._host, "127.0.0.1", "localhost"))))
        self.ca_path = str(ca_file)
        self._server = _TLSServer((self._host, 0), _Handler, self, ctx)
        self.port = self._server.server_address[1]
        self.endpoint = f"https://{self._host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"arm-simulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        server.wait_idle(STOP_JOIN_TIMEOUT)
        if self._thread is not None:
            self._thread.join(STOP_JOIN_TIMEOUT)
            self._thread = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Self:  # a subclass's own type (benchmarks' ThrottledSimulator)
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- ledger
    def writes(self) -> list[LedgerEntry]:
        return [e for e in self.ledger if e.method.upper() not in READ_METHODS]

    # ---- request handling (called from handler threads)
    @property
    def request_body(self) -> bytes:
        """The body of the request this thread is answering (b"" for a GET): for `intercept`
        overrides that model a read-only POST (the Resource Graph benchmark)."""
        return getattr(self._in_flight, "body", b"")

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes = b"") -> tuple[_Response, LedgerEntry]:
        self._in_flight.body = body
        split = urlsplit(raw_path)
        path = unquote(split.path).rstrip("/") or "/"
        query = split.query
        auth = (headers.get("Authorization") or "").strip()
        auth_present = bool(auth)
        host = headers.get("Host", "")
        resp = self._respond(method, split.path, path, query, auth)
        return resp, LedgerEntry(method, path, query, host, auth_present, resp.status)

    def _respond(self, method: str, raw_path: str, path: str, query: str, auth: str) -> _Response:
        if method.upper() != "GET":
            # Read-only: every other method is refused (and recorded by the caller).
            return self.intercept(method, raw_path, path, query, lambda: self._error(_ArmError(
                405, "MethodNotAllowed", f"The simulator is read-only: {method} is not allowed on '{path[:200]}'.",
                headers={"Allow": "GET"})))
        try:
            self._authenticate(auth)
        except _ArmError as err:
            return self._error(err)
        return self.intercept(method, raw_path, path, query, lambda: self._read(raw_path, path, query))

    def intercept(self, method: str, raw_path: str, path: str, query: str, answer: Callable[[], _Response]) -> _Response:
        """The one extension point: each request on its way to `answer()` (the 405 of a write, or
        the routed answer of an authenticated GET). The simulator just answers; the tests' fault
        injection (tests/simfaults.py) overrides this to replace, delay or edit the answer."""
        return answer()

    def _read(self, raw_path: str, path: str, query: str) -> _Response:
        try:
            params = _params(query)
            if "api-version" not in params or not params["api-version"]:
                raise _ArmError(400, "MissingApiVersionParameter",
                                "The api-version query parameter (?api-version=) is required for all requests.")
            return self._route(raw_path, path, query, params)
        except _ArmError as err:
            return self._error(err)

    def _authenticate(self, auth: str) -> None:
        scheme, _, token = auth.partition(" ")
        if not auth or scheme.lower() != "bearer" or not token.strip():
            raise _ArmError(401, "AuthenticationFailed",
                            "Authentication failed. The 'Authorization' header is missing." if not auth else
                            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                            headers={"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common", '
                                                         'error="invalid_token", error_description="The authentication failed '
                                                         'because of missing \'Authorization\' header."'})
        if self.token is not None and token.strip() != self.token:
            raise _ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.",
                            headers={"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common", '
                                                         'error="invalid_token", error_description="The access token is invalid."'})

    def _route(self, raw_path: str, path: str, query: str, params: dict[str, str]) -> _Response:
        recorded = self._index.recorded_route(path, query)
        if recorded is not None:
            body, is_list = recorded
            if not is_list:
                return _Response(200, copy.deepcopy(body))
            items = [i for i in body.get("value", []) if isinstance(i, dict)]
            terms = _filter_terms(params.get("$filter", ""))
            return self._page(_filter_loose(items, terms, {"backupmanagementtype": "backupManagementType"}),
                              raw_path, query, params)
        for pattern, _name, fn in self._routes:
            m = pattern.match(path)
            if not m:
                continue
            groups = m.groupdict()
            if "sub" in groups:
                self._check_subscription(groups["sub"])
            # A list is computed once per (path, query without $skiptoken) and then paged: the
            # scenario never changes, and re-filtering every job for every page of a large
            # scenario would make the simulator, not the scanner, the slow part of a benchmark.
            key = (path.lower(), tuple(sorted((k, v) for k, v in params.items() if k != "$skiptoken")))
            with self._lists_lock:
                cached = self._lists.get(key)
            if cached is not None:
                return self._page(cached, raw_path, query, params)
            result = fn(params=params, **groups)
            if isinstance(result, list):
                with self._lists_lock:
                    self._lists[key] = result
                    while len(self._lists) > LIST_CACHE_SIZE:
                        self._lists.pop(next(iter(self._lists)))
                return self._page(result, raw_path, query, params)
            return _Response(200, result)
        sub = re.match(r"^/subscriptions/([^/]+)", path, re.I)
        if sub:
            self._check_subscription(sub.group(1))
        ns_type = re.search(r"/providers/([^/]+)/([^/]+)", path, re.I)
        if ns_type:
            raise _ArmError(404, "InvalidResourceType",
                            f"The resource type '{ns_type.group(2)}' could not be found in the namespace "
                            f"'{ns_type.group(1)}' for api version '{params.get('api-version', '')}'.")
        raise _ArmError(404, "NotFound", f"The requested path '{path[:200]}' is not served by ARM.")

    def _check_subscription(self, sub: str) -> None:
        if sub.lower() not in self._index.subscriptions:
            raise _ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")

    def _page(self, items: list[dict], raw_path: str, query: str, params: dict[str, str]) -> _Response:
        offset = _decode_skiptoken(params.get("$skiptoken"))
        page = items[offset:offset + self.page_size]
        body: dict[str, Any] = {"value": [copy.deepcopy(i) for i in page]}
        if offset + self.page_size < len(items):
            body["nextLink"] = self._next_link(self.link_base or self.endpoint, raw_path, query, offset + self.page_size)
        return _Response(200, body, list_path=True)

    @staticmethod
    def _next_link(base: str, raw_path: str, query: str, offset: int) -> str:
        kept = [p for p in query.split("&") if p and unquote(p.partition("=")[0]).lower() != "$skiptoken"]
        kept.append(f"$skiptoken={_encode_skiptoken(offset)}")
        return f"{base}{raw_path}?{'&'.join(kept)}"

    def _error(self, err: _ArmError) -> _Response:
        headers = dict(err.headers)
        return _Response(err.status, err.body(), headers=headers)

    # ---- route handlers: return a list (paged) or a dict (single body)
    def _list_subscriptions(self, params: dict[str, str]) -> list[dict]:
        return list(self._index.subscriptions.values())

    def _list_descendants(self, group: str, params: dict[str, str]) -> list[dict]:
        found = self._index.descendants(scen.GROUP_PREFIX + group)
        if found is None:
            # What ARM answers for a group that does not exist and for one the caller has no role on.
            raise _ArmError(403, "AuthorizationFailed",
                            "The client does not have authorization to perform action 'Microsoft.Management/managementGroups/"
                            f"descendants/read' over scope '/providers/Microsoft.Management/managementGroups/{group[:90]}' or "
                            "the scope is invalid. If access was recently granted, please refresh your credentials.")
        return found

    def _get_subscription(self, sub: str, params: dict[str, str]) -> dict:
        return copy.deepcopy(self._index.subscriptions[sub.lower()])

    def _list_resource_groups(self, sub: str, params: dict[str, str]) -> list[dict]:
        return self._index.in_sub(sub, "resourceGroups")

    def _list_vms(self, sub: str, params: dict[str, str]) -> list[dict]:
        vms = self._index.in_sub(sub, "virtualMachines")
        if params.get("statusonly", "").lower() == "true":
            return [_status_only(vm, self._index.instance_views.get(ids.norm(vm["id"]))) for vm in vms]
        return [_strip(vm, "properties.instanceView") for vm in vms]

    def _get_instance_view(self, sub: str, rg: str, vm: str, params: dict[str, str]) -> dict:
        vm_id = ids.norm(ids.vm_id(sub, rg, vm))
        body = self._index.by_id["virtualMachines"].get(vm_id)
        if body is None:
            raise self._missing(sub, rg, "Microsoft.Compute/virtualMachines", vm)
        view = self._index.instance_views.get(vm_id)
        return copy.deepcopy(view) if view is not None else _minimal_instance_view(body)

    def _list_disks(self, sub: str, params: dict[str, str]) -> list[dict]:
        return self._index.in_sub(sub, "disks")

    def _list_rpcs(self, sub: str, params: dict[str, str]) -> list[dict]:
        return [_strip(r, "properties.restorePoints") for r in self._index.in_sub(sub, "restorePointCollections")]

    def _get_rpc(self, sub: str, rg: str, rpc: str, params: dict[str, str]) -> dict:
        rid = ids.norm(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/restorePointCollections/{rpc}")
        body = self._index.by_id["restorePointCollections"].get(rid)
        if body is None:
            raise self._missing(sub, rg, "Microsoft.Compute/restorePointCollections", rpc)
        if params.get("$expand", "").lower() == "restorepoints":
            return copy.deepcopy(body)
        return _strip(body, "properties.restorePoints")

    def _sub_lister(self, kind: str) -> Callable[..., list[dict]]:
        def list_kind(sub: str, params: dict[str, str]) -> list[dict]:
            return self._index.in_sub(sub, kind)
        return list_kind

    def _get_key_vault(self, sub: str, rg: str, kv: str, params: dict[str, str]) -> dict:
        rid = ids.norm(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{kv}")
        body = self._index.by_id["keyVaults"].get(rid)
        if body is None:
            raise self._missing(sub, rg, "Microsoft.KeyVault/vaults", kv)
        return copy.deepcopy(body)

    def _list_locks(self, sub: str, params: dict[str, str]) -> list[dict]:
        return self._index.in_sub(sub, "locks")

    def _list_vaults(self, sub: str, params: dict[str, str]) -> list[dict]:
        # Like the real service: the list carries no settings, only a vault GET does.
        return [_strip(v, *VAULT_GET_ONLY) for v in self._index.in_sub(sub, "vaults")]

    def _get_vault(self, sub: str, rg: str, vault: str, params: dict[str, str]) -> dict:
        return copy.deepcopy(self._index.by_id["vaults"][self._vault(sub, rg, vault)])

    def _get_backup_job(self, sub: str, rg: str, vault: str, job: str, params: dict[str, str]) -> dict:
        body = self._index.by_id["backupJobs"].get(f"{self._vault(sub, rg, vault)}/backupjobs/{job.lower()}")
        if body is None:
            raise _ArmError(404, "ResourceNotFound", f"The job '{job[:80]}' was not found in the vault.")
        return copy.deepcopy(body)

    def _vault(self, sub: str, rg: str, vault: str) -> str:
        vid = ids.norm(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{vault}")
        if vid not in self._index.by_id["vaults"]:
            raise self._missing(sub, rg, "Microsoft.RecoveryServices/vaults", vault)
        return vid

    def _list_protected_items(self, sub: str, rg: str, vault: str, params: dict[str, str]) -> list[dict]:
        items = self._index.in_vault(self._vault(sub, rg, vault), "backupProtectedItems")
        terms = _filter_terms(params.get("$filter", ""))
        return _filter_loose(items, terms, {"backupmanagementtype": "backupManagementType", "itemtype": "workloadType"})

    def _list_policies(self, sub: str, rg: str, vault: str, params: dict[str, str]) -> list[dict]:
        items = self._index.in_vault(self._vault(sub, rg, vault), "backupPolicies")
        terms = _filter_terms(params.get("$filter", ""))
        return _filter_loose(items, terms, {"backupmanagementtype": "backupManagementType"})

    def _list_backup_jobs(self, sub: str, rg: str, vault: str, params: dict[str, str]) -> list[dict]:
        items = self._index.in_vault(self._vault(sub, rg, vault), "backupJobs")
        return _filter_backup_jobs(items, _filter_terms(params.get("$filter", "")))

    def _list_replication_items(self, sub: str, rg: str, vault: str, params: dict[str, str]) -> list[dict]:
        # Vault-wide list; the ASR $filter (on fabric/state) is not modelled and is ignored.
        return self._index.in_vault(self._vault(sub, rg, vault), "replicationProtectedItems")

    def _list_replication_jobs(self, sub: str, rg: str, vault: str, params: dict[str, str]) -> list[dict]:
        return self._index.in_vault(self._vault(sub, rg, vault), "replicationJobs")

    def _list_recovery_plans(self, sub: str, rg: str, vault: str, params: dict[str, str]) -> list[dict]:
        return self._index.in_vault(self._vault(sub, rg, vault), "recoveryPlans")

    def _list_fabrics(self, sub: str, rg: str, vault: str, params: dict[str, str]) -> list[dict]:
        return self._index.in_vault(self._vault(sub, rg, vault), "replicationFabrics")

    def _list_container_mappings(self, sub: str, rg: str, vault: str, params: dict[str, str]) -> list[dict]:
        return self._index.in_vault(self._vault(sub, rg, vault), "containerMappings")

    def _list_recovery_points(self, item: str, sub: str, rg: str, vault: str, params: dict[str, str]) -> list[dict]:
        self._vault(sub, rg, vault)
        item_id = ids.norm(item)
        if item_id not in self._index.by_id["replicationProtectedItems"]:
            raise _ArmError(404, "NotFound", f"The replication protected item '{ids.name_of(item)}' was not found.")
        return [p for p in self._index.in_vault(_vault_of(item_id), "recoveryPoints")
                if ids.norm(p["id"]).startswith(item_id + "/recoverypoints/")]

    def _missing(self, sub: str, rg: str, rtype: str, name: str) -> _ArmError:
        if not self._index.resource_group_exists(sub, rg):
            return _ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        return _ArmError(404, "ResourceNotFound",
                         f"The Resource '{rtype}/{name}' under resource group '{rg}' was not found. "
                         "For more details please go to https://aka.ms/ARMResourceNotFoundFix")


# --------------------------------------------------------------------------- helpers
def _params(query: str) -> dict[str, str]:
    """Query parameters, names lower-cased (ARM reads them case-insensitively); last one wins."""
    return {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}


def _encode_skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset={offset}".encode()).decode().rstrip("=")


def _decode_skiptoken(token: str | None) -> int:
    if token is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        key, _, value = raw.partition("=")
        offset = int(value)
        if key != "offset" or offset < 0:
            raise ValueError(raw)
        return offset
    except (ValueError, UnicodeDecodeError):
        raise _ArmError(400, "InvalidSkipToken", "The $skiptoken is invalid.") from None


def _encode(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------- HTTP plumbing
class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, address: tuple[str, int], handler: type, sim: Simulator, ctx: ssl.SSLContext) -> None:
        self.sim = sim
        self.ssl_context = ctx
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._idle = threading.Condition(self._conns_lock)
        super().__init__(address, handler)

    def finish_request(self: Self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        assert isinstance(request, socket.socket)  # a TCP server's request is its connection
        # The TLS handshake runs here, in the connection's own thread, with a timeout: a client
        # that speaks plain HTTP or says nothing cannot hold up the accept loop.
        with self._conns_lock:
            self._conns.add(request)
        try:
            request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                conn = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                log.debug("TLS handshake with %s failed: %s", client_address, exc)
                return
            with self._conns_lock:
                self._conns.discard(request)
                self._conns.add(conn)
            try:
                conn.settimeout(IDLE_TIMEOUT)
                self.RequestHandlerClass(conn, client_address, self)
            finally:
                with self._conns_lock:
                    self._conns.discard(conn)
                _close(conn)
        finally:
            with self._conns_lock:
                self._conns.discard(request)
                self._idle.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-answer is normal (timeouts, tests); never print a traceback.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wait_idle(self, timeout: float) -> None:
        with self._idle:
            self._idle.wait_for(lambda: not self._conns, timeout=timeout)


def _close(conn: socket.socket) -> None:
    try:
        conn.close()
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, the second waits for the client's
    # delayed ACK (~40 ms a request on a keep-alive connection).
    disable_nagle_algorithm = True
    server_version = "az-bcdr-scan-arm-simulator"
    sys_version = ""
    server: _TLSServer

    def _serve(self) -> None:
        method = self.command
        body = self._drain_body() if method != "GET" else b""
        try:
            resp, entry = self.server.sim.handle(method, self.path, self.headers, body)
            data = _encode(resp.body) if resp.body is not None else b""
        except Exception as exc:  # a bug (or a failing test hook): answer, never kill the thread
            log.warning("simulator error on %s %s: %s", method, self.path[:200], exc, exc_info=True)
            resp = _Response(500, arm_error("InternalServerError", f"simulator error: {type(exc).__name__}"))
            data = _encode(resp.body)
            split = urlsplit(self.path)
            entry = LedgerEntry(method, unquote(split.path), split.query, self.headers.get("Host", ""),
                                bool((self.headers.get("Authorization") or "").strip()), 500)
        self.server.sim.ledger.append(entry)
        if resp.hang_up:
            self.close_connection = True
            return
        try:
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(data)))
            request_id = str(uuid.uuid4())
            self.send_header("x-ms-request-id", request_id)
            self.send_header("x-ms-correlation-request-id", request_id)
            for key, value in (resp.headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if method != "HEAD" and resp.write_body is not None:
                self.wfile.flush()
                resp.write_body(self.wfile, data)
                self.close_connection = True
            elif method != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()
        except (OSError, ValueError) as exc:  # client went away (read timeout, reset)
            log.debug("could not answer %s %s: %s", method, entry.path, exc)
            self.close_connection = True

    def _drain_body(self) -> bytes:
        """Read a refused request's body so the connection stays in step (it is only handed to the
        `intercept` seam, as `Simulator.request_body`); give up on the connection when the body is
        chunked or too large."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            return b""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_REQUEST_BODY:
            self.close_connection = True
            return b""
        chunks: list[bytes] = []
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                self.close_connection = True
                return b""
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def __getattr__(self, name: str) -> Any:
        # Every method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, anything) goes to _serve, so
        # a write attempt is always recorded and answered 405 rather than 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s - %s", self.address_string(), format % args)
