"""The SDK packages' memory: the `@overload` stubs an SDK import registers with typing are dropped
as the scanner's import ends (scanner.malloc.importing). Observed in a fresh interpreter: in this
one, other tests have imported SDK packages already (whose stubs, registered outside the scanner's
imports, are someone else's and stay)."""
from __future__ import annotations

import json
import subprocess
import sys

# The factory builds the compute client (its package imported then, as in a scan): are the stubs of
# an operation still registered? Then importing() directly: a stub alive inside the block, after it?
_OVERLOADS = r"""
import gc, json, typing, weakref
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
from scanner.malloc import importing
factory = ClientFactory(StaticTokenCredential("t"), ArmSettings(endpoint="https://127.0.0.1:9"))
factory.compute("00000000-0000-0000-0000-000000000001")
from azure.mgmt.compute.operations import VirtualMachinesOperations
after_factory = len(typing.get_overloads(VirtualMachinesOperations.begin_create_or_update))
with importing("azure.mgmt.network"):
    from azure.mgmt.network.operations import VirtualNetworksOperations
    stubs = typing.get_overloads(VirtualNetworksOperations.begin_create_or_update)
    inside = len(stubs)
    stub = weakref.ref(stubs[0])
    del stubs
after_block = len(typing.get_overloads(VirtualNetworksOperations.begin_create_or_update))
gc.collect()
left = sorted({m.split(".")[2] for m in typing._overload_registry if m.startswith("azure.mgmt.")})
print(json.dumps({"after_factory": after_factory, "inside": inside, "after_block": after_block,
                  "stub_alive": stub() is not None, "left": left, "core": "azure.core.pipeline" in typing._overload_registry}))
"""


def _run(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_sdk_import_keeps_no_overload_stubs():
    out = _run(_OVERLOADS)
    assert out["after_factory"] == 0
    assert out["inside"] >= 2  # the SDK does declare them: the block is what drops them
    assert out["after_block"] == 0
    assert not out["stub_alive"]
    assert out["left"] == []
    assert out["core"]  # another package's stubs (azure.core, imported before) are not the scanner's to drop


def test_drop_overloads_leaves_stubs_registered_before_and_other_packages():
    import typing

    from scanner.malloc import drop_overloads

    registry = typing._overload_registry  # type: ignore[attr-defined]
    names = ("bcdrtest.pkg", "bcdrtest.pkg.sub", "bcdrtest.pkgother", "bcdrtest.before")
    try:
        for name in names:
            registry[name]["f"][1] = len
        assert drop_overloads(("bcdrtest.pkg", "bcdrtest.before"), known=frozenset({"bcdrtest.before"})) == 2
        assert {n for n in names if n in registry} == {"bcdrtest.pkgother", "bcdrtest.before"}
    finally:
        for name in names:
            registry.pop(name, None)
