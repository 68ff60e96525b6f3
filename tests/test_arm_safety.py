"""The ARM safety layer (scanner/arm.py) against real HTTP: real azure-mgmt SDK clients built by
ClientFactory talk TLS to the loopback ARM simulator (scanner/simulator, with tests/simfaults.py),
which records every connection and request and answers what each test scripts: statuses and
bodies the simulator would never send, stalls, drops, trickled bodies. Nothing of ours is mocked.

What design.md ("Safety requirements", "Throttling and cost model") asks, one test each:
- read-only: azure-mgmt-core's auto-registration policy would POST /providers/<rp>/register on a
  409 MissingSubscriptionRegistration; the guard stops it before the wire;
- Retry-After is capped (azure-core sleeps it uncapped) and an overall deadline is kept;
- the bearer token goes only to the ARM endpoint: a foreign nextLink (or redirect) is refused
  before any connection is made;
- no token in logs or error messages.
Some tests have a "control" twin that runs the same scenario through an SDK client built WITHOUT
our guard, to show the hazard is real and the guarded test could fail.
"""
from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import pytest
from azure.core.exceptions import DecodeError, HttpResponseError, ServiceResponseError
from azure.core.pipeline.transport import RequestsTransport
from azure.mgmt.compute import ComputeManagementClient  # imported up front: timings measure HTTP only
from simfaults import FaultySimulator

from scanner import inventory as m
from scanner.arm import (
    ArmSettings,
    ClientFactory,
    DeadlineExceeded,
    ForeignHostError,
    ReadOnlyViolation,
    StaticTokenCredential,
    Throttled,
    classify,
    tls_verify_from_env,
)
from scanner.collectors import compute as cmp
from scanner.collectors.base import Recorder, read_list
from scanner.simulator.server import _Response

SUB = "00000000-0000-0000-0000-0000000000aa"
VM_LIST_PATH = f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines"


def _fake_jwt(marker: str) -> str:
    def seg(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{seg({'alg': 'none', 'typ': 'JWT'})}.{seg({'exp': int(time.time()) + 3600, 'm': marker})}.c2lnLVNFQ1JFVA"


TOKEN = _fake_jwt("tok-7f3a9c")


def _vm(name: str) -> dict[str, Any]:
    return {"id": f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/{name}",
            "name": name, "type": "Microsoft.Compute/virtualMachines", "location": "westeurope",
            "properties": {"vmId": "1b2c3d4e", "provisioningState": "Succeeded"}}


# --------------------------------------------------------------------------- the scripted simulator
@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes -> as is; None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0  # seconds to wait, then hang up without answering
    drop: bool = False  # hang up at once without answering (a proxy or load balancer resetting)
    trickle: float = 0.0  # send the body one byte every `trickle` seconds (Content-Length is right)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class Stub(FaultySimulator):
    """The loopback ARM simulator answering what each test scripts (`script`): statuses, bodies
    and headers the simulator itself never sends, stalls, dropped connections, trickled bodies.
    It records every request it is asked (`requests`, with the Authorization header) and counts
    every TCP connection, before any TLS or HTTP (`connections`). Only TOKEN is accepted."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__({"subscriptions": [SUB]}, token=TOKEN)
        self.lock = threading.Lock()
        self.requests: list[Seen] = []
        self.connections = 0
        self.responder: Callable[[Seen], Reply] = lambda seen: Reply(404, {"error": {"code": "NotScripted"}})
        self.start()
        self.url = self.alias_endpoint if host == "localhost" else self.endpoint
        server = self._server
        accept = server.get_request

        def counting_accept() -> Any:
            accepted = accept()
            with self.lock:
                self.connections += 1
            return accepted
        server.get_request = counting_accept  # this server only: count each accept before TLS

    def intercept(self, method: str, raw_path: str, path: str, query: str, answer: Callable[[], Any]) -> Any:
        seen = Seen(method, f"{raw_path}?{query}" if query else raw_path,
                    {"authorization": getattr(self._request, "auth", "")})
        with self.lock:
            self.requests.append(seen)
        reply = self.responder(seen)
        if reply.stall or reply.drop:
            self._stopping.wait(min(reply.stall, self.max_stall))
            return _Response(0, hang_up=True)
        data = reply.body if isinstance(reply.body, bytes) else b"" if reply.body is None else json.dumps(reply.body).encode()
        headers = dict(reply.headers)
        content_type = headers.pop("Content-Type", "application/json")
        resp = _Response(reply.status, data, content_type, headers=headers)
        if reply.trickle:
            resp.write_body = self._trickler(reply.trickle)
        return resp

    def script(self, *replies: Reply | Callable[[Seen], Reply]) -> None:
        """Answer in order; the last one repeats."""
        queue = list(replies)

        def responder(seen: Seen) -> Reply:
            with self.lock:
                nxt = queue.pop(0) if len(queue) > 1 else queue[0]
            return nxt(seen) if callable(nxt) else nxt
        self.responder = responder

    @property
    def methods(self) -> list[str]:
        return [r.method for r in self.requests]

    def close(self) -> None:
        self.stop()


@pytest.fixture
def ca_path(tmp_path) -> str:
    """The CA bundle the clients of a test trust: each Stub below adds its throwaway CA."""
    path = tmp_path / "ca-bundle.pem"
    path.touch()
    return str(path)


def _trusted(stub: Stub, ca_path: str) -> Stub:
    with open(ca_path, "a", encoding="ascii") as bundle:
        bundle.write(Path(stub.ca_path).read_text(encoding="ascii"))
    return stub


@pytest.fixture
def arm(ca_path):
    stub = _trusted(Stub(), ca_path)
    yield stub
    stub.close()


@pytest.fixture
def foreign(ca_path):
    """A second server on another host:port with a certificate the client trusts: had the guard
    let the request through, it would have connected here and received the token."""
    stub = _trusted(Stub(host="localhost"), ca_path)
    stub.script(Reply(200, {"value": [_vm("stolen")]}))
    yield stub
    stub.close()


def factory(arm: Stub, ca_path: str, **overrides: Any) -> ClientFactory:
    settings = ArmSettings(endpoint=arm.url, verify=ca_path, max_retry_after=0.2, timeout=30.0, read_timeout=2.0,
                           connection_timeout=2.0, retry_total=2)
    return ClientFactory(StaticTokenCredential(TOKEN), replace(settings, **overrides))


def within(seconds: float, fn: Callable[[], Any]) -> tuple[Any, BaseException | None, float]:
    """Run fn in a thread; fail (instead of hanging the suite) when it is not done in time."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc
    start = time.monotonic()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    elapsed = time.monotonic() - start
    assert not t.is_alive(), f"call still running after {seconds} s"
    return box.get("value"), box.get("error"), elapsed


def list_vms(f: ClientFactory) -> Callable[[], list[Any]]:
    """The call under test, with the client built now so that timing covers HTTP only."""
    client = f.compute(SUB)
    return lambda: list(client.virtual_machines.list_all())


def page(*vms: dict[str, Any], next_link: str | None = None) -> Reply:
    body: dict[str, Any] = {"value": list(vms)}
    if next_link:
        body["nextLink"] = next_link
    return Reply(200, body)


MISSING_REGISTRATION = Reply(409, {"error": {
    "code": "MissingSubscriptionRegistration",
    "message": "The subscription is not registered to use namespace 'Microsoft.Compute'. "
               "See https://aka.ms/rps-not-found for how to register subscriptions."}})


# --------------------------------------------------------------------------- plain path and ledger
def test_list_call_sends_only_gets_with_the_token_and_the_ledger_counts_them(arm, ca_path):
    arm.script(page(_vm("vm1"), next_link=f"{arm.url}{VM_LIST_PATH}?api-version=2026-04-01&$skiptoken=p2"),
               page(_vm("vm2")))
    f = factory(arm, ca_path)
    vms, err, _ = within(5, list_vms(f))
    assert err is None
    assert [v.name for v in vms] == ["vm1", "vm2"]  # a same-host nextLink is followed
    assert arm.methods == ["GET", "GET"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in arm.requests)
    assert arm.connections >= 1  # the count the foreign-host tests below rely on does count
    assert f.ledger.count == 2 and [p for _, p in f.ledger.sent] == [VM_LIST_PATH, VM_LIST_PATH]
    assert f.ledger.blocked == []


# --------------------------------------------------------------------------- read-only guard
def test_missing_registration_409_never_posts_register(arm, ca_path):
    arm.script(lambda seen: MISSING_REGISTRATION if seen.method == "GET" else Reply(200, {}))
    f = factory(arm, ca_path)
    _, err, elapsed = within(15, list_vms(f))
    assert isinstance(err, ReadOnlyViolation)
    assert classify(err)[0] == "MissingSubscriptionRegistration"
    assert arm.methods == ["GET"]  # the register POST never reached the server
    assert f.ledger.blocked == [("POST", f"/subscriptions/{SUB}/providers/Microsoft.Compute/register")]
    assert elapsed < 10  # refused at once: the SDK would poll the registration for minutes


def test_missing_registration_lands_in_coverage_as_failed(arm, ca_path):
    arm.script(lambda seen: MISSING_REGISTRATION if seen.method == "GET" else Reply(200, {}))
    f = factory(arm, ca_path)
    rec = Recorder(SUB)
    compute = f.compute(SUB)
    got = read_list(rec, m.VMS, lambda: compute.virtual_machines.list_all(), cmp.map_vm)
    [cov] = rec.records()
    assert got == [] and (cov.status, cov.error_code) == (m.FAILED, "MissingSubscriptionRegistration")
    assert "POST" not in arm.methods


@pytest.mark.simulator_writes  # the unguarded SDK POSTs /register to the simulator: that is the point
def test_control_unguarded_sdk_client_does_post_register(arm, ca_path):
    """Same 409 through a stock SDK client (default transport, no guard): the SDK itself POSTs
    /register. This is the write the guard exists to stop."""
    # Answer the POST with 403 so the SDK gives up at once instead of polling the registration.
    arm.script(lambda seen: MISSING_REGISTRATION if seen.method == "GET" else Reply(403, {}))
    client = ComputeManagementClient(StaticTokenCredential(TOKEN), SUB, base_url=arm.url,
                                     credential_scopes=[f"{arm.url}/.default"],
                                     transport=RequestsTransport(connection_verify=ca_path), retry_total=0)
    _, err, _ = within(5, lambda: list(client.virtual_machines.list_all()))
    assert isinstance(err, HttpResponseError) and err.status_code == 409
    assert ("POST", f"/subscriptions/{SUB}/providers/Microsoft.Compute/register?api-version=2016-02-01") in \
        [(r.method, r.path) for r in arm.requests]


# --------------------------------------------------------------------------- retry, cap, deadline
def test_retry_after_1200_is_capped(arm, ca_path):
    arm.script(Reply(429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, {"Retry-After": "1200"}),
               page(_vm("vm1")))
    f = factory(arm, ca_path, max_retry_after=0.5)
    vms, err, elapsed = within(15, list_vms(f))
    assert err is None and [v.name for v in vms] == ["vm1"]
    assert 0.45 <= elapsed < 10  # about the 0.5 s cap, nowhere near 1200 s
    assert arm.methods == ["GET", "GET"] and f.ledger.count == 2


def test_throttling_is_retried_past_retry_total_until_it_ends(arm, ca_path):
    """Throttling slows a scan down; it must not lose the resource after a fixed number of tries."""
    throttled = Reply(429, {"error": {"code": "SubscriptionRequestsThrottled", "message": "slow down"}}, {"Retry-After": "1"})
    arm.script(*[throttled] * 7, page(_vm("vm1")))
    f = factory(arm, ca_path, max_retry_after=0.05, retry_total=2)
    vms, err, _ = within(5, list_vms(f))
    assert err is None and [v.name for v in vms] == ["vm1"]
    assert len(arm.requests) == 8  # 7 answers 429, well past retry_total 2, then the page


def test_throttled_until_the_deadline_keeps_the_throttling_code(arm, ca_path):
    arm.script(Reply(429, None, {"Retry-After": "1200"}))  # no ARM error body
    f = factory(arm, ca_path, max_retry_after=0.1, retry_total=2, timeout=1.5)
    _, err, elapsed = within(10, list_vms(f))
    assert isinstance(err, Throttled)
    assert classify(err)[0] == "SubscriptionRequestsThrottled"  # not DeadlineExceeded: the cause stays visible
    # retried past retry_total, ended by the deadline (without it: retried every 0.1 s for 20 minutes)
    assert len(arm.requests) > 3 and elapsed < 4


def test_deadline_shorter_than_cap_stops_instead_of_waiting(arm, ca_path):
    arm.script(Reply(429, {"error": {"code": "TooManyRequests", "message": "RP busy"}}, {"Retry-After": "1200"}))
    f = factory(arm, ca_path, max_retry_after=30.0, timeout=1.0)
    _, err, elapsed = within(20, list_vms(f))
    assert isinstance(err, Throttled)
    assert classify(err)[0] == "TooManyRequests"  # the service's own throttling code is kept
    assert elapsed < 10  # gave up at once instead of waiting 30 s (past the 1 s deadline)
    assert arm.methods == ["GET"]


def test_deadline_stops_a_5xx_retry_wait(arm, ca_path):
    arm.script(Reply(503, None, {"Retry-After": "1200"}))
    f = factory(arm, ca_path, max_retry_after=30.0, timeout=1.0)
    _, err, elapsed = within(20, list_vms(f))
    assert isinstance(err, DeadlineExceeded) and classify(err)[0] == "DeadlineExceeded"
    assert elapsed < 10 and arm.methods == ["GET"]  # gave up at once instead of waiting 30 s


def test_deadline_ends_a_body_that_is_still_arriving(arm, ca_path):
    """A socket read timeout bounds each recv(); a body trickling a byte every 0.2 s never trips it.
    The watchdog ends the response at the deadline."""
    arm.script(Reply(200, {"value": [_vm("vm1")]}, trickle=0.2))
    f = factory(arm, ca_path, timeout=1.5, read_timeout=30.0)
    _, err, elapsed = within(20, list_vms(f))
    assert isinstance(err, DeadlineExceeded), err
    assert 1.4 <= elapsed < 10  # the whole body would take about a minute


def test_read_timeout_bounds_the_whole_response_and_is_retried(arm, ca_path):
    arm.script(Reply(200, {"value": [_vm("vm1")]}, trickle=0.2), page(_vm("vm1")))
    f = factory(arm, ca_path, timeout=30.0, read_timeout=0.8, max_retry_after=0.05)
    vms, err, elapsed = within(25, list_vms(f))
    # cut off after 0.8 s (+ the watchdog's 0.5 s grace), retried, read; the whole body would take about a minute
    assert err is None and [v.name for v in vms] == ["vm1"]
    assert len(arm.requests) == 2 and elapsed < 15


def test_trickle_on_every_try_classifies_timeout(arm, ca_path):
    arm.script(Reply(200, {"value": [_vm("vm1")]}, trickle=0.2))
    f = factory(arm, ca_path, timeout=30.0, read_timeout=0.5, max_retry_after=0.05, retry_total=1)
    _, err, elapsed = within(25, list_vms(f))
    assert err is not None and classify(err)[0] == "Timeout"
    assert len(arm.requests) == 2 and elapsed < 15  # two tries of 0.5 s + 0.5 s grace, not a minute each


def test_dropped_connection_is_not_called_a_timeout(arm, ca_path):
    arm.script(Reply(drop=True))
    f = factory(arm, ca_path, max_retry_after=0.05, retry_total=1)
    _, err, elapsed = within(15, list_vms(f))
    assert err is not None and classify(err)[0] == "ConnectionDropped", classify(err)
    assert len(arm.requests) == 2 and elapsed < 10  # one quick retry, no hang


def test_deadline_already_passed_sends_nothing(arm, ca_path):
    arm.script(page(_vm("vm1")))
    f = factory(arm, ca_path, timeout=0.05)
    time.sleep(0.1)
    _, err, _ = within(5, list_vms(f))
    assert isinstance(err, DeadlineExceeded)
    assert arm.requests == [] and f.ledger.count == 0


def test_503_then_200_succeeds(arm, ca_path):
    arm.script(Reply(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"}), page(_vm("vm1")))
    f = factory(arm, ca_path)
    vms, err, elapsed = within(15, list_vms(f))
    assert err is None and [v.name for v in vms] == ["vm1"]
    assert arm.methods == ["GET", "GET"] and f.ledger.count == 2
    assert elapsed < 10  # retried promptly, no long backoff


@pytest.mark.parametrize("value", ["soon", "Wed, 32 Foo 2026 99:99:99 GMT", "inf", "-5", "nan"])
def test_garbage_retry_after_still_retries_within_the_cap(arm, ca_path, value):
    """A Retry-After that is not a number or an HTTP date must not turn a transient 503 into a
    failed collector (azure-core raises ValueError for it); nor may 'inf' wait for ever."""
    arm.script(Reply(503, None, {"Retry-After": value}), page(_vm("vm1")))
    f = factory(arm, ca_path, max_retry_after=0.3)
    vms, err, elapsed = within(15, list_vms(f))
    assert err is None and [v.name for v in vms] == ["vm1"]
    assert arm.methods == ["GET", "GET"] and elapsed < 10  # within the 0.3 s cap, not 'inf'


def test_stall_past_read_timeout_retries_then_classifies_timeout(arm, ca_path):
    arm.script(Reply(stall=10))
    f = factory(arm, ca_path, read_timeout=0.25, max_retry_after=0.05, retry_total=2)
    _, err, elapsed = within(20, list_vms(f))
    assert isinstance(err, ServiceResponseError)
    assert classify(err)[0] == "Timeout"
    assert len(arm.requests) == 3  # retried: 1 try + 2 retries, each cut off by the read timeout
    assert elapsed < 8  # three 0.25 s tries, not one 10 s stall


# --------------------------------------------------------------------------- token stays home
def test_foreign_next_link_is_refused_before_any_connection(arm, foreign, ca_path):
    arm.script(page(_vm("vm1"), next_link=f"{foreign.url}{VM_LIST_PATH}?$skiptoken=p2"))
    f = factory(arm, ca_path)
    seen: list[str] = []

    def walk() -> None:
        for vm in f.compute(SUB).virtual_machines.list_all():
            seen.append(vm.name)
    _, err, _ = within(5, walk)
    assert isinstance(err, ForeignHostError)
    assert classify(err)[0] == "ForeignNextLink"
    assert TOKEN not in str(err)
    assert seen == ["vm1"]
    assert foreign.connections == 0 and foreign.requests == []  # the token never left
    assert f.ledger.blocked and f.ledger.blocked[0][1].startswith(foreign.url)


def test_foreign_next_link_in_read_list_keeps_first_page_and_fails_coverage(arm, foreign, ca_path):
    arm.script(page(_vm("vm1"), next_link="https://evil.example/steal?$skiptoken=p2"))
    f = factory(arm, ca_path)
    rec = Recorder(SUB)
    compute = f.compute(SUB)
    got = read_list(rec, m.VMS, lambda: compute.virtual_machines.list_all(), cmp.map_vm)
    [cov] = rec.records()
    assert [v.name for v in got] == ["vm1"]
    assert (cov.status, cov.error_code, cov.items) == (m.FAILED, "ForeignNextLink", 1)
    assert ("GET", "https://evil.example/steal") in f.ledger.blocked


def test_control_unguarded_sdk_client_sends_token_to_foreign_next_link(arm, foreign, ca_path):
    """Without the guard the SDK follows the nextLink and hands the bearer token to the other host."""
    arm.script(page(_vm("vm1"), next_link=f"{foreign.url}{VM_LIST_PATH}?$skiptoken=p2"))
    client = ComputeManagementClient(StaticTokenCredential(TOKEN), SUB, base_url=arm.url,
                                     credential_scopes=[f"{arm.url}/.default"],
                                     transport=RequestsTransport(connection_verify=ca_path), retry_total=0)
    vms, err, _ = within(5, lambda: list(client.virtual_machines.list_all()))
    assert err is None and [v.name for v in vms] == ["vm1", "stolen"]
    assert foreign.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_redirect_to_foreign_host_is_refused(arm, foreign, ca_path):
    arm.script(Reply(302, None, {"Location": f"{foreign.url}{VM_LIST_PATH}"}))
    f = factory(arm, ca_path)
    _, err, _ = within(5, list_vms(f))
    assert isinstance(err, ForeignHostError)
    assert foreign.connections == 0


# --------------------------------------------------------------------------- classify()
@pytest.mark.parametrize("reply,code", [
    (Reply(403, {"error": {"code": "AuthorizationFailed", "message": "The client 'x' does not have authorization "
                                                                    "to perform action 'Microsoft.Compute/virtualMachines/read'"}}),
     "AuthorizationFailed"),
    (Reply(400, {"error": {"code": "InvalidFilterInQueryString", "message": "bad filter"}}), "InvalidFilterInQueryString"),
    (Reply(403, None), "AuthorizationFailed"),  # no body: from the status
    (Reply(404, b"not json", {"Content-Type": "text/plain"}), "ResourceNotFound"),
    (Reply(400, b"<html>Bad Request</html>", {"Content-Type": "text/html"}), "HTTP400"),
])
def test_classify_http_errors_with_and_without_arm_body(arm, ca_path, reply, code):
    arm.script(reply)
    f = factory(arm, ca_path)
    _, err, _ = within(5, list_vms(f))
    assert isinstance(err, HttpResponseError)
    got_code, message = classify(err)
    assert got_code == code
    if isinstance(reply.body, dict):
        assert message == reply.body["error"]["message"]
    assert "\n" not in message and TOKEN not in message


def test_classify_malformed_json_body(arm, ca_path):
    arm.script(Reply(200, b'{"value": [', {"Content-Type": "application/json"}))
    f = factory(arm, ca_path)
    _, err, _ = within(5, list_vms(f))
    assert isinstance(err, DecodeError)
    assert classify(err)[0] == "MalformedResponse"


# --------------------------------------------------------------------------- credentials and TLS
def test_static_token_credential_hides_token():
    cred = StaticTokenCredential(f"  {TOKEN}\n")
    assert TOKEN not in repr(cred) and TOKEN not in str(cred) and TOKEN not in f"{cred!r} {cred}"
    tok = cred.get_token("https://management.azure.com/.default")
    assert tok.token == TOKEN  # stripped, usable
    payload = json.loads(base64.urlsafe_b64decode(TOKEN.split(".")[1] + "=="))
    assert tok.expires_on == payload["exp"]  # expiry read from the JWT


def test_static_token_credential_opaque_token_gets_an_hour():
    before = int(time.time())
    tok = StaticTokenCredential("opaque-token").get_token("scope")
    assert before + 3500 <= tok.expires_on <= int(time.time()) + 3600


@pytest.mark.parametrize("env,expected", [
    ({"REQUESTS_CA_BUNDLE": "/a.pem", "SSL_CERT_FILE": "/b.pem"}, "/a.pem"),
    ({"SSL_CERT_FILE": "/b.pem"}, "/b.pem"),
    ({"REQUESTS_CA_BUNDLE": "", "SSL_CERT_FILE": "/b.pem"}, "/b.pem"),
    ({}, True),
])
def test_tls_verify_from_env_order(env, expected):
    assert tls_verify_from_env(env) == expected


def test_untrusted_certificate_is_refused(arm, ca_path):
    """verify=True (public CAs only) must not trust the test CA: TLS is really checked."""
    arm.script(page(_vm("vm1")))
    f = factory(arm, ca_path, verify=True, retry_total=0)
    _, err, _ = within(5, list_vms(f))
    assert err is not None and classify(err)[0] == "ConnectionError"
    assert arm.requests == []


# --------------------------------------------------------------------------- logs
def test_token_never_appears_in_logs(arm, foreign, ca_path, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("azure", "azure.core", "azure.mgmt", "azure.identity", "urllib3", "scanner"):
        caplog.set_level(logging.DEBUG, logger=name)
    scenarios = [
        page(_vm("vm1")),
        lambda seen: MISSING_REGISTRATION if seen.method == "GET" else Reply(200, {}),
        Reply(403, {"error": {"code": "AuthorizationFailed", "message": "no"}}),
        page(_vm("vm1"), next_link=f"{foreign.url}{VM_LIST_PATH}"),
    ]
    errors = []
    for scenario in scenarios:
        arm.script(scenario)
        f = factory(arm, ca_path, retry_total=0)
        rec = Recorder(SUB)
        compute = f.compute(SUB)
        read_list(rec, m.VMS, lambda: compute.virtual_machines.list_all(), cmp.map_vm)
        _, err, _ = within(5, list_vms(f))
        errors.append(err)
    # The token was really in play: it reached the ARM endpoint...
    assert any(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in arm.requests)
    # ...and the SDK did log (so an absent token is not just absent logging).
    assert any(r.name.startswith("azure.") for r in caplog.records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        text = formatter.format(record)  # message, args and any exception traceback
        assert TOKEN not in text, f"token in log record from {record.name}"
        assert TOKEN.split(".")[1] not in text
    for err in errors[1:]:
        assert err is not None and TOKEN not in str(err) and TOKEN not in classify(err)[1]


# --------------------------------------------------------------------------- paging bounds and breakers
def _endless(arm: Stub, vms_per_page: int = 0) -> Callable[[Seen], Reply]:
    """Every page points at a new next page: the list never ends."""
    def reply(seen: Seen) -> Reply:
        n = len(arm.requests)
        return page(*[_vm(f"vm{n}-{i}") for i in range(vms_per_page)],
                    next_link=f"{arm.url}{VM_LIST_PATH}?api-version=2026-04-01&$skiptoken=p{n + 1}")
    return reply


def _read_vms(f: ClientFactory, rec: Recorder, scope: str = "") -> list[m.VirtualMachine]:
    compute = f.compute(SUB)
    return read_list(rec, m.VMS, lambda: compute.virtual_machines.list_all(), cmp.map_vm, scope=scope)


def test_repeated_next_link_stops_paging_and_keeps_the_items(arm, ca_path):
    loop = f"{arm.url}{VM_LIST_PATH}?api-version=2026-04-01&$skiptoken=again"
    arm.script(page(_vm("vm1"), next_link=loop), page(_vm("vm2"), next_link=loop))
    f = factory(arm, ca_path)
    rec = Recorder(SUB, f.list_limits)
    got, err, _ = within(5, lambda: _read_vms(f, rec))
    [cov] = rec.records()
    assert err is None and [v.name for v in got] == ["vm1", "vm2"]
    assert (cov.status, cov.error_code, cov.items) == (m.FAILED, "RepeatedNextLink", 2)
    assert len(arm.requests) == 2


def test_page_limit_stops_a_list_of_endless_new_pages(arm, ca_path):
    arm.script(_endless(arm, vms_per_page=1))
    f = factory(arm, ca_path, max_pages=5)
    rec = Recorder(SUB, f.list_limits)
    got, err, _ = within(5, lambda: _read_vms(f, rec))
    [cov] = rec.records()
    assert err is None and len(got) == 5
    assert (cov.status, cov.error_code) == (m.FAILED, "PageLimitExceeded")
    assert len(arm.requests) == 5


def test_list_share_of_the_deadline_leaves_the_rest_for_other_lists(arm, ca_path):
    arm.script(_endless(arm))
    f = factory(arm, ca_path, timeout=4.0, list_share=0.2, max_pages=10**6)  # 0.8 s for one list
    rec = Recorder(SUB, f.list_limits)
    got, err, elapsed = within(5, lambda: _read_vms(f, rec, scope="/vault/a"))
    [cov] = rec.records()
    assert err is None and got == []
    assert (cov.status, cov.error_code) == (m.PARTIAL, "ListDeadlineExceeded") and cov.failed_scopes == ("/vault/a",)
    assert 0.7 <= elapsed < 3  # its 0.8 s share, not the scan's whole 4 s deadline
    arm.script(page(_vm("vm1")))  # the scan's deadline is intact: the next list is read
    rec2 = Recorder(SUB, f.list_limits)
    assert [v.name for v in _read_vms(f, rec2)] == ["vm1"] and rec2.records()[0].status == m.OK


def test_breaker_tries_a_dead_scopes_other_lists_once(arm, ca_path):
    arm.script(Reply(503, {"error": {"code": "ServiceUnavailable", "message": "down"}}))
    f = factory(arm, ca_path, retry_total=3, max_retry_after=0.01)
    rec = Recorder(SUB, f.list_limits)
    _read_vms(f, rec, scope="/vault/dead")
    assert len(arm.requests) == 4  # 1 try + 3 retries: the full budget
    _read_vms(f, rec, scope="/vault/dead")
    _read_vms(f, rec, scope="/vault/dead")
    assert len(arm.requests) == 6  # the breaker is open: one try each
    _read_vms(f, rec, scope="/vault/other")
    assert len(arm.requests) == 10  # another scope keeps its budget
    [cov] = rec.records()
    assert cov.error_code == "ServiceUnavailable" and set(cov.failed_scopes) == {"/vault/dead", "/vault/other"}


def test_breaker_closes_when_a_list_of_the_scope_succeeds(arm, ca_path):
    arm.script(*[Reply(503, None)] * 3, page(_vm("vm1")), Reply(503, None))
    f = factory(arm, ca_path, retry_total=2, max_retry_after=0.01)
    rec = Recorder(SUB, f.list_limits)
    _read_vms(f, rec, scope="/vault/flaky")  # 3 x 503: breaker open
    assert [v.name for v in _read_vms(f, rec, scope="/vault/flaky")] == ["vm1"]  # one try, it works: closed
    _read_vms(f, rec, scope="/vault/flaky")
    assert len(arm.requests) == 4 + 3  # full budget again


def test_throttling_does_not_open_the_breaker(arm, ca_path):
    throttled = Reply(429, None, {"Retry-After": "0"})
    arm.script(throttled, throttled, page(_vm("vm1")), throttled, page(_vm("vm2")))
    f = factory(arm, ca_path, retry_total=0)
    rec = Recorder(SUB, f.list_limits)
    assert [v.name for v in _read_vms(f, rec, scope="/vault/busy")] == ["vm1"]
    assert [v.name for v in _read_vms(f, rec, scope="/vault/busy")] == ["vm2"]
