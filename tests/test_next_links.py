"""nextLinks in every form ARM writes them, over real TLS (issue 7).

ARM and the SDKs write the same endpoint as `https://management.azure.com/...`,
`https://management.azure.com:443/...`, in another letter case, or fully qualified with a trailing
dot. The transport's host guard (scanner.arm.GuardedTransport) must follow all of them, or every
list past its first page is lost, and must still refuse every other origin before a connection is
made, or the bearer token leaks.

The real stack runs end to end: ClientFactory's guarded SDK clients, TLS with hostname
verification against the loopback simulator's test CA, paged lists whose nextLinks the simulator
writes with `link_base`. A scan reaches ARM on the default port 443, which a test cannot bind
without privileges, so `forward_443` plays the part of DNS plus a port forward: a TCP connection to
localhost:443 lands on the simulator's ephemeral port. Nothing above the socket is replaced.
"""
from __future__ import annotations

import pytest
import urllib3.util.connection

from scanner import inventory as m
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential, origin
from scanner.collectors import compute as cmp
from scanner.collectors.base import Recorder, read_list
from scanner.simulator import Simulator

SUB = "00000000-0000-4000-8000-0000000000c1"
VMS = [{"id": f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm{i}",
        "name": f"vm{i}", "location": "westeurope", "properties": {"vmId": f"id-{i}", "provisioningState": "Succeeded"}}
       for i in range(5)]
PAGE = 2  # five VMs: three pages, two nextLinks


@pytest.fixture
def sim_factory(monkeypatch):
    """start(link_base, endpoint) -> (simulator, factory); forwards localhost:443 to the simulator."""
    started: list[Simulator] = []
    connect = urllib3.util.connection.create_connection

    def start(link_base: str, endpoint: str = "https://localhost") -> tuple[Simulator, ClientFactory]:
        sim = Simulator({"subscriptions": [SUB], "virtualMachines": VMS}, page_size=PAGE, link_base=link_base).start()
        started.append(sim)

        def forward_443(address, *args, **kwargs):
            host, port = address
            if host.rstrip(".").lower() == "localhost" and port == 443:
                address = ("127.0.0.1", sim.port)
            return connect(address, *args, **kwargs)

        monkeypatch.setattr(urllib3.util.connection, "create_connection", forward_443)
        settings = ArmSettings(endpoint=endpoint, verify=sim.ca_path, timeout=30, max_retry_after=0, retry_total=0,
                               read_timeout=5, connection_timeout=5)
        return sim, ClientFactory(StaticTokenCredential("next-link-test-token"), settings)

    yield start
    for sim in started:
        sim.stop()


def _read_vms(factory: ClientFactory) -> tuple[list[str], m.Coverage]:
    rec = Recorder(SUB)
    vms = read_list(rec, m.VMS, lambda: factory.compute(SUB).virtual_machines.list_all(), cmp.map_vm)
    cov = rec.get(m.VMS)
    assert cov is not None
    return [vm.name for vm in vms], cov


@pytest.mark.parametrize("endpoint,link_base", [
    ("https://localhost", "https://localhost:443"),  # the explicit default port (issue 7)
    ("https://localhost", "https://LOCALHOST"),  # any letter case
    ("https://localhost", "https://localhost."),  # fully qualified
    ("https://localhost", "https://LocalHost.:443"),  # all at once
    ("https://localhost:443", "https://localhost"),  # the endpoint spelled with the port, links without
    ("https://LOCALHOST.", "https://localhost:443"),
])
def test_multi_page_list_is_read_completely_whatever_the_spelling_of_the_arm_host(sim_factory, endpoint, link_base):
    sim, factory = sim_factory(link_base, endpoint)
    names, cov = _read_vms(factory)
    assert names == [f"vm{i}" for i in range(5)]
    assert (cov.status, cov.items) == (m.OK, 5)
    pages = [e for e in sim.ledger if e.path.endswith("/virtualMachines")]
    assert len(pages) == 3 and all(e.method == "GET" for e in pages)
    assert [("$skiptoken" in e.query) for e in pages] == [False, True, True]  # the nextLinks were followed
    assert factory.ledger.blocked == []


@pytest.mark.parametrize("link_base", [
    "https://localhost:444",  # another port
    "https://localhost..",  # not a host name
    "https://token-thief@localhost",  # user info
    "https://localhost%2e",  # an escape
    "https://127.0.0.1",  # the same machine under another name is another origin
    "https://localhost.evil.example",
])
def test_any_other_origin_is_refused_before_a_connection(sim_factory, link_base):
    sim, factory = sim_factory(link_base)
    names, cov = _read_vms(factory)
    assert names == ["vm0", "vm1"]  # the first page is kept
    assert (cov.status, cov.error_code) == (m.FAILED, "ForeignNextLink")
    assert len(sim.ledger) == 1  # only the first page reached the server
    assert len(factory.ledger.blocked) == 1


def test_a_plain_http_link_is_never_followed(sim_factory):
    sim, factory = sim_factory("http://localhost")
    names, cov = _read_vms(factory)
    # azure-core's bearer policy refuses to put a token on a non-TLS request, before our guard does
    assert names == ["vm0", "vm1"] and cov.status == m.FAILED
    assert len(sim.ledger) == 1


@pytest.mark.parametrize("netloc,expected", [
    ("management.azure.com", ("management.azure.com", 443)),
    ("management.azure.com:443", ("management.azure.com", 443)),
    ("Management.Azure.COM", ("management.azure.com", 443)),
    ("management.azure.com.", ("management.azure.com", 443)),
    ("MANAGEMENT.azure.com.:443", ("management.azure.com", 443)),
    ("management.azure.com:8443", ("management.azure.com", 8443)),
    ("127.0.0.1:50123", ("127.0.0.1", 50123)),
    ("management.azure.com..", None), ("evil@management.azure.com", None), ("evil\\@management.azure.com", None),
    ("management.azure.com@evil.example", None), ("management%2eazure.com", None), ("management.azure.com:", None),
    ("management.azure.com:0", None), ("management.azure.com:65536", None), (" management.azure.com", None),
    ("management.azure.com:443:443", None), ("", None), (".", None),
])
def test_origin_normalises_only_the_spellings_of_one_host(netloc, expected):
    assert origin(netloc) == expected
