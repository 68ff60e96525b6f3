import factories as f
import pytest
from rulekit import passes, run

from scanner import inventory as m

AGENT_RULES = ("BCDR201", "BCDR202", "BCDR203")

NOT_READY = m.Status(code="ProvisioningState/Unavailable", level="Warning", display_status="Not Ready",
                     message="VM Agent is unresponsive.")


def _backed(vm, **kw):
    v = f.vault()
    return f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[f.protected_item(vm, v)], **kw)


def _vm(name="app1", iv=None, **kw):
    return f.vm(name, instance_view=iv if iv is not None else f.instance_view(), **kw)


# ---------------------------------------------------------------- shared scope: running, instance view
@pytest.mark.parametrize("code", AGENT_RULES)
def test_healthy_agent_passes_every_agent_rule(code):
    inv = _backed(_vm())
    assert run(code, inv) == []
    assert passes(code, inv) == 1


@pytest.mark.parametrize("code", AGENT_RULES)
@pytest.mark.parametrize("power", ["deallocated", "stopped", "starting"])
def test_agent_rules_do_not_apply_to_vms_that_are_not_running(code, power):
    # A stopped VM has no reporting agent: neither FAIL nor PASS (BCDR103 reports the VM instead).
    inv = _backed(f.vm(power_state=power, instance_view=None))
    assert run(code, inv) == []
    assert passes(code, inv) == 0


@pytest.mark.parametrize("code", AGENT_RULES)
def test_not_assessed_when_instance_view_get_failed(code):
    vm = f.vm(instance_view=None, instance_view_error="AuthorizationFailed")
    [finding] = run(code, _backed(vm, coverage_overrides={
        m.INSTANCE_VIEWS: f.partial(m.INSTANCE_VIEWS, (vm.display_id,))}))
    assert (finding.status, finding.resource_id) == ("NOT_ASSESSED", vm.display_id)
    assert "AuthorizationFailed" in finding.message


def test_not_assessed_when_running_vm_has_no_instance_view():
    [finding] = run("BCDR201", _backed(f.vm(instance_view=None)))
    assert finding.status == "NOT_ASSESSED"


def test_not_assessed_when_power_state_unknown():
    vm = _vm(power_state=None, status_codes=())
    [finding] = run("BCDR201", _backed(vm))
    assert finding.status == "NOT_ASSESSED"


def test_power_state_from_instance_view_when_list_had_none():
    iv = f.instance_view(agent_display="Not Ready",
                         statuses=(f.status("ProvisioningState/succeeded"), f.status("PowerState/running", "VM running")))
    vm = _vm(iv=iv, power_state=None, status_codes=())
    assert [x.status for x in run("BCDR201", _backed(vm))] == ["FAIL"]


# ---------------------------------------------------------------- BCDR201
def test_bcdr201_fails_for_unresponsive_agent():
    vm = _vm(iv=f.instance_view(agent_version="Unknown", agent_statuses=(NOT_READY,)))
    [finding] = run("BCDR201", _backed(vm))
    assert (finding.status, finding.rule_id, finding.severity) == ("FAIL", "BCDR201", "high")
    assert finding.resource_id == vm.display_id
    assert finding.evidence["agent_statuses"][0]["display_status"] == "Not Ready"
    assert finding.evidence["protection"] == ["backup"]
    assert "UserErrorGuestAgentStatusUnavailable" in finding.predicted_errors


def test_bcdr201_fails_when_agent_reports_a_version_but_no_status():
    vm = _vm(iv=f.instance_view(agent_display=""))
    assert [x.status for x in run("BCDR201", _backed(vm))] == ["FAIL"]


def test_bcdr201_fails_for_failed_provisioning_status_even_if_display_says_ready():
    bad = m.Status(code="ProvisioningState/failed", level="Error", display_status="Ready")
    vm = _vm(iv=f.instance_view(agent_statuses=(bad,)))
    assert [x.status for x in run("BCDR201", _backed(vm))] == ["FAIL"]


def test_bcdr201_applies_to_replicated_vm():
    vm = _vm(iv=f.instance_view(agent_statuses=(NOT_READY,)))
    inv = f.inventory(virtual_machines=[vm], replication_items=[f.replication_item(source=vm)])
    [finding] = run("BCDR201", inv)
    assert finding.evidence["protection"] == ["site-recovery"]


def test_bcdr201_leaves_missing_agent_to_bcdr202():
    vm = _vm(iv=m.InstanceView(agent_present=False))
    assert run("BCDR201", _backed(vm)) == []
    assert [x.status for x in run("BCDR202", _backed(vm))] == ["FAIL"]


def test_bcdr201_joins_on_id_not_name():
    backed = _vm("app1", rg="rg-a")
    twin = _vm("app1", rg="rg-b", iv=f.instance_view(agent_statuses=(NOT_READY,)))
    v = f.vault()
    inv = f.inventory(virtual_machines=[backed, twin], vaults=[v], protected_items=[f.protected_item(backed, v)])
    assert run("BCDR201", inv) == []
    assert passes("BCDR201", inv) == 1


def test_bcdr201_ignores_unprotected_vm():
    vm = _vm(iv=f.instance_view(agent_statuses=(NOT_READY,)))
    assert run("BCDR201", f.inventory(virtual_machines=[vm])) == []


# ---------------------------------------------------------------- BCDR202
def test_bcdr202_fails_when_no_agent_and_names_provision_flag():
    vm = _vm(iv=m.InstanceView(agent_present=False), provision_vm_agent=False)
    [finding] = run("BCDR202", _backed(vm))
    assert (finding.status, finding.severity) == ("FAIL", "high")
    assert finding.evidence["agent_present"] is False
    assert finding.evidence["provision_vm_agent"] is False


def test_bcdr202_fails_when_agent_reports_nothing():
    vm = _vm(iv=f.instance_view(agent_version=None, agent_display=""))
    [finding] = run("BCDR202", _backed(vm))
    assert finding.status == "FAIL"
    assert finding.evidence["agent_present"] is True


@pytest.mark.parametrize("version", [None, "", "Unknown"])
def test_bcdr202_fails_when_ready_agent_has_no_version(version):
    vm = _vm(iv=f.instance_view(agent_version=version))
    assert [x.status for x in run("BCDR202", _backed(vm))] == ["FAIL"]


def test_bcdr202_passes_for_hand_installed_agent_despite_provision_flag():
    inv = _backed(_vm(provision_vm_agent=False))
    assert run("BCDR202", inv) == []
    assert passes("BCDR202", inv) == 1


def test_bcdr202_passes_for_not_ready_agent_which_is_bcdr201s():
    inv = _backed(_vm(iv=f.instance_view(agent_version="Unknown", agent_statuses=(NOT_READY,))))
    assert run("BCDR202", inv) == []
    assert passes("BCDR202", inv) == 1


# ---------------------------------------------------------------- BCDR203
@pytest.mark.parametrize("os_type,version,expected", [
    ("Windows", "2.7.41491.1010", None),       # exactly the minimum
    ("Windows", "2.7.41491.1009", "FAIL"),
    ("Windows", "2.7.41491.949", "FAIL"),      # the REST example's agent: 949 < 1010 numerically
    ("Windows", "2.7.41491.10100", None),
    ("Windows", "2.8.0.1", None),
    ("Linux", "2.2.53.1", None),               # exactly the minimum
    ("Linux", "2.2.53", "FAIL"),               # 2.2.53 == 2.2.53.0
    ("Linux", "2.2.9.5", "FAIL"),
    ("Linux", "2.10.0.1", None),               # 10 > 2 numerically, "10" < "2" as text
    ("linux", "2.12.0.2", None),
])
def test_bcdr203_numeric_version_boundaries(os_type, version, expected):
    vm = _vm(iv=f.instance_view(agent_version=version), os_type=os_type)
    findings = run("BCDR203", _backed(vm))
    assert [x.status for x in findings] == ([expected] if expected else [])
    if expected:
        assert findings[0].evidence["agent_version"] == version
        assert findings[0].severity == "medium"


def test_bcdr203_minimums_are_parameters():
    vm = _vm(iv=f.instance_view(agent_version="2.7.41491.1102"))
    assert [x.status for x in run("BCDR203", _backed(vm), windows_min_version="2.7.41491.1103")] == ["FAIL"]
    [finding] = run("BCDR203", _backed(vm), windows_min_version="2.8")
    assert finding.evidence["minimum_version"] == "2.8"


def test_bcdr203_bad_parameter_is_not_a_silent_pass():
    vm = _vm(iv=f.instance_view(agent_version="1.0"))
    [finding] = run("BCDR203", _backed(vm), linux_min_version="latest")
    assert finding.status == "NOT_ASSESSED"


def test_bcdr203_not_assessed_without_usable_version():
    vm = _vm(iv=f.instance_view(agent_version="Unknown", agent_statuses=(NOT_READY,)))
    [finding] = run("BCDR203", _backed(vm))
    assert finding.status == "NOT_ASSESSED"
    assert finding.evidence["agent_version"] == "Unknown"


def test_bcdr203_not_assessed_without_os_type():
    vm = _vm(iv=f.instance_view(agent_version="1.0.0.0"), os_type="")
    assert [x.status for x in run("BCDR203", _backed(vm))] == ["NOT_ASSESSED"]


def test_bcdr203_skips_vm_without_agent():
    assert run("BCDR203", _backed(_vm(iv=m.InstanceView(agent_present=False)))) == []


def test_not_assessed_when_only_the_vm_records_the_failed_get():
    # Coverage says ok, but this VM's instance view GET failed: still NOT_ASSESSED, never PASS.
    vm = f.vm(instance_view=None, instance_view_error="TooManyRequests")
    for code in AGENT_RULES:
        [finding] = run(code, _backed(vm))
        assert (finding.status, finding.evidence["instance_view_error"]) == ("NOT_ASSESSED", "TooManyRequests")
        assert passes(code, _backed(vm)) == 0
