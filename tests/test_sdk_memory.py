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
    return _run_args(code)


def _run_args(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
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


# Two demo scans by the command in one process, then one through the library with release_sdk=False.
# azure.mgmt.keyvault is imported before (the embedding program's own): it stays, the same module.
# A spy on enable_raw_json (it sees each client class the factory builds) keeps weak references to
# the client classes and one model class of each package the first scan imported.
_RELEASE = r"""
import gc, importlib, json, os, sys, weakref
import azure.mgmt.keyvault as own_keyvault
import scanner.collectors.base as base
from scanner.cli import main
seen = []
real = base.enable_raw_json
def spy(cls):
    models = importlib.import_module(cls.__module__.rsplit("._", 1)[0] + ".models")
    model = next(v for v in vars(models).values() if isinstance(v, type) and v.__module__.startswith(models.__name__))
    seen.append((cls.__module__.split(".")[2], weakref.ref(cls), weakref.ref(model)))
    return real(cls)
base.enable_raw_json = spy
out = sys.argv[1]
codes = [main(["--demo", "--format", "json", "--quiet", "--output", os.path.join(out, "first.json")])]
gc.collect()
loaded = sorted(m for m in sys.modules if m.startswith("azure.mgmt."))
alive = sorted({pkg for pkg, *refs in seen if any(r() is not None for r in refs)})
built = len(seen)
codes.append(main(["--demo", "--format", "json", "--quiet", "--output", os.path.join(out, "second.json")]))
again = len(seen) - built
from scanner.api import ScanOptions, demo_options, scan
with demo_options(ScanOptions(release_sdk=False)) as options:
    kept = scan(options)
still = sorted({m.split(".")[2] for m in sys.modules if m.startswith("azure.mgmt.")})
print(json.dumps({"codes": codes, "loaded": loaded, "alive": alive, "built": built, "again": again,
                  "own_keyvault": sys.modules.get("azure.mgmt.keyvault") is own_keyvault, "kept": still,
                  "kept_findings": [f.to_dict() for f in kept.findings]}))
"""


_SAME = ("rule_id", "status", "severity", "resource_id", "fingerprint", "affected_vms")  # the demo's times move with the clock


def _same(findings: list[dict]) -> list[tuple]:
    return [tuple(str(f[k]) for k in _SAME) for f in findings]


def _findings(path) -> list[tuple]:
    return _same(json.loads(path.read_text())["findings"])


def test_a_scan_releases_the_sdk_packages_it_imported(tmp_path):
    out = _run_args(_RELEASE, str(tmp_path))
    assert out["codes"][0] == out["codes"][1]
    assert out["built"] >= 7  # compute, resources, locks, vaults, backup, site recovery, network (keyvault's is the program's)
    assert all(m == "azure.mgmt.keyvault" or m.startswith(("azure.mgmt.keyvault.", "azure.mgmt.core"))
               for m in out["loaded"]), out["loaded"][:10]
    assert out["alive"] == ["keyvault"]  # nothing holds a client or model class of a released package
    assert out["own_keyvault"]  # imported before the scan: not the scan's to release
    assert out["again"] == out["built"]  # the second scan imported them again and built every client
    first, second = _findings(tmp_path / "first.json"), _findings(tmp_path / "second.json")
    assert first and first == second == _same(out["kept_findings"])  # the same report, released or not
    assert "compute" in out["kept"]  # release_sdk=False: the packages stay


def test_nothing_is_released_while_another_scan_in_the_process_still_collects(tmp_path, monkeypatch):
    import weakref

    from scanner.malloc import sdk_in_use

    package = tmp_path / "azure" / "mgmt" / "bcdrtestpkg"  # a package of azure.mgmt's namespace, as the SDKs are
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from typing import overload\nclass Model:\n    pass\n")
    (package / "models.py").write_text("from . import Model\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    name = "azure.mgmt.bcdrtestpkg"
    with sdk_in_use():  # one scan collects ...
        with sdk_in_use():  # ... while another one does
            import azure.mgmt.bcdrtestpkg.models as models
            model = weakref.ref(models.Model)
            del models
        assert name + ".models" in sys.modules  # the first scan still uses it
    assert name not in sys.modules and name + ".models" not in sys.modules
    import azure.mgmt
    assert not hasattr(azure.mgmt, "bcdrtestpkg")
    assert model() is None
    with sdk_in_use(release=False):
        import azure.mgmt.bcdrtestpkg  # noqa: F401 - imported again, and kept
    assert name in sys.modules
    sys.modules.pop(name)
    delattr(azure.mgmt, "bcdrtestpkg")


def test_a_python_with_another_overload_registry_drops_nothing_and_imports_as_before(monkeypatch):
    import typing

    from scanner.malloc import drop_overloads, importing

    monkeypatch.delattr(typing, "_overload_registry")
    with importing("json"):
        import json as again  # noqa: F401
    assert drop_overloads(("json",)) == 0
