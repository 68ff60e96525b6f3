import factories as f
import pytest
from rulekit import passes, run

from scanner import inventory as m


def _inv(*vaults, **kw):
    return f.inventory(vaults=list(vaults), **kw)


# ---------------------------------------------------------------- BCDR001
@pytest.mark.parametrize("state", ["Enabled", "AlwaysON", "alwayson"])
def test_bcdr001_passes_when_soft_delete_on(state):
    inv = _inv(f.vault(soft_delete_state=state))
    assert run("BCDR001", inv) == []
    assert passes("BCDR001", inv) == 1


def test_bcdr001_fails_when_soft_delete_off():
    v = f.vault(soft_delete_state="Disabled")
    [finding] = run("BCDR001", _inv(v))
    assert (finding.status, finding.rule_id, finding.severity) == ("FAIL", "BCDR001", "medium")
    assert finding.resource_id == v.display_id
    assert finding.resource_type == "Microsoft.RecoveryServices/vaults"
    assert finding.evidence["soft_delete_state"] == "Disabled"


@pytest.mark.parametrize("state", [None, "Invalid", "SomethingNew"])
def test_bcdr001_not_assessed_when_not_reported(state):
    [finding] = run("BCDR001", _inv(f.vault(soft_delete_state=state)))
    assert finding.status == "NOT_ASSESSED"
    assert finding.evidence["value"] == state


# ---------------------------------------------------------------- BCDR002
def test_bcdr002_fails_for_grs_without_crr():
    v = f.vault(storage_redundancy="GeoRedundant", cross_region_restore="Disabled")
    [finding] = run("BCDR002", _inv(v))
    assert (finding.status, finding.severity) == ("FAIL", "low")
    assert finding.evidence["cross_region_restore"] == "Disabled"


@pytest.mark.parametrize("redundancy,crr", [("GeoRedundant", "Enabled"), ("LocallyRedundant", "Disabled"),
                                            ("ZoneRedundant", None), ("LocallyRedundant", None)])
def test_bcdr002_passes(redundancy, crr):
    inv = _inv(f.vault(storage_redundancy=redundancy, cross_region_restore=crr))
    assert run("BCDR002", inv) == []
    assert passes("BCDR002", inv) == 1


@pytest.mark.parametrize("redundancy,crr", [(None, "Disabled"), ("Invalid", "Disabled"), ("GeoRedundant", None)])
def test_bcdr002_not_assessed_when_not_reported(redundancy, crr):
    [finding] = run("BCDR002", _inv(f.vault(storage_redundancy=redundancy, cross_region_restore=crr)))
    assert finding.status == "NOT_ASSESSED"


# ---------------------------------------------------------------- BCDR003
def test_bcdr003_fails_low_when_disabled():
    [finding] = run("BCDR003", _inv(f.vault(immutability_state="Disabled")))
    assert (finding.status, finding.severity) == ("FAIL", "low")


def test_bcdr003_unlocked_is_info():
    [finding] = run("BCDR003", _inv(f.vault(immutability_state="Unlocked")))
    assert (finding.status, finding.severity) == ("FAIL", "info")
    assert finding.evidence["immutability_state"] == "Unlocked"


def test_bcdr003_passes_when_locked():
    inv = _inv(f.vault(immutability_state="Locked"))
    assert run("BCDR003", inv) == []
    assert passes("BCDR003", inv) == 1


def test_bcdr003_not_assessed_when_not_reported():
    [finding] = run("BCDR003", _inv(f.vault(immutability_state=None)))
    assert finding.status == "NOT_ASSESSED"
    assert finding.evidence["setting"] == "immutability state"


def test_bcdr003_fails_low_when_never_configured():
    # The vault GET answers `immutabilitySettings: null` for a vault that never had it configured.
    [finding] = run("BCDR003", _inv(f.vault(immutability_state=m.IMMUTABILITY_NOT_CONFIGURED)))
    assert (finding.status, finding.severity) == ("FAIL", "low")
    assert finding.evidence["immutability_settings"] == "null (never configured)"


# ---------------------------------------------------------------- the vault GET (settings) per vault
@pytest.mark.parametrize("code", ["BCDR001", "BCDR002", "BCDR003"])
def test_failed_vault_get_is_not_assessed_for_that_vault_only(code):
    settings = dict(soft_delete_state="Disabled", storage_redundancy="GeoRedundant", cross_region_restore="Disabled",
                    immutability_state="Disabled")
    bad, good = f.vault("vault-bad", **settings), f.vault("vault-good", **settings)
    inv = _inv(bad, good, coverage_overrides={
        m.VAULT_SETTINGS: f.partial(m.VAULT_SETTINGS, (bad.id,), code="AuthorizationFailed")})
    by_id = {x.resource_id: x for x in run(code, inv)}
    assert {k: x.status for k, x in by_id.items()} == {bad.display_id: "NOT_ASSESSED", good.display_id: "FAIL"}
    assert "vault_settings partial: AuthorizationFailed" in by_id[bad.display_id].evidence["reason"]
