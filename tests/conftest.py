# tests/ is on sys.path through pyproject's `pythonpath`, so helper modules import by name.
import dataclasses as _dataclasses
import functools as _functools
from typing import NamedTuple

import pytest
import shared_data


# --------------------------------------------------------------------------- ../shared: one marker, one line
# Tests that read ../shared carry the `shared` marker. Without the folder they are skipped from the
# one line below, so pytest's -ra summary folds them into a single "SKIPPED [N] ... ../shared not
# found" line; when the folder is required (CI, AZ_BCDR_REQUIRE_SHARED) its absence fails the run.
def pytest_collection_finish(session):
    required_by = shared_data.shared_required()
    if shared_data.SHARED.is_dir() or not required_by:
        return
    if any(item.get_closest_marker("shared") for item in session.items):
        raise pytest.UsageError(f"{shared_data.missing_line()} and {required_by} is set: the tests that read "
                                "public reference data must run, not skip")


def pytest_runtest_setup(item):
    if item.get_closest_marker("shared") and not shared_data.SHARED.is_dir():
        pytest.skip(reason=f"{shared_data.missing_line()}: tests that read public reference data skipped")


# --------------------------------------------------------------------------- the CLI against a simulator
CLI_TOKEN = "cli-test-token-5d1e"  # what run_cli puts in AZURE_ACCESS_TOKEN unless told otherwise


class CliRun(NamedTuple):
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(tmp_path, monkeypatch, capsys):
    """The real CLI (`scanner.cli.main`) run the way a user runs it:
    `run_cli(*args, sim=None, token=CLI_TOKEN) -> CliRun(code, out, err)`.

    It runs in `tmp_path`, an empty working directory (no config file of the checkout is read),
    with `token` in AZURE_ACCESS_TOKEN. Given a started simulator, it trusts the simulator's CA the
    standard way (REQUESTS_CA_BUNDLE) and adds `--arm-endpoint` pointing at it."""
    from scanner.cli import main
    monkeypatch.chdir(tmp_path)

    def run(*args: str, sim=None, token: str = CLI_TOKEN) -> CliRun:
        monkeypatch.setenv("AZURE_ACCESS_TOKEN", token)
        argv = list(args)
        if sim is not None:
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_path)
            argv += ["--arm-endpoint", sim.endpoint]
        capsys.readouterr()  # only this run's output below
        code = main(argv)
        out, err = capsys.readouterr()
        return CliRun(code, out, err)
    return run


# --------------------------------------------------------------------------- suite-wide simulator ledger check
# design.md, "Safety requirements": the scanner only ever reads. Every test that drives the scanner
# through the loopback ARM simulator asserts that for its own run; this check is the net under all
# of them. Every Simulator constructed during the session (by a test, a fixture, or `--demo` inside
# the CLI) is tracked, and at the end the session fails if any of them ever received a request that
# is not GET or HEAD. The terminal summary prints the tally.
#
# Left out of the check, and counted separately: simulators made by tests that send non-GET requests
# to the simulator *themselves*, to test its ledger and its 405 answer (the simulator's own tests).
# Mark such a test `@pytest.mark.simulator_writes`; SIMULATOR_WRITE_PROBE_MODULES covers a module that
# does this and is not marked yet.
SIMULATOR_WRITE_PROBE_MODULES: frozenset[str] = frozenset()  # tests that write on purpose are marked instead
_LEDGER_CHECK = pytest.StashKey["_SimulatorLedgerCheck"]()
_FAULT_MATRIX = pytest.StashKey["FaultMatrixTally"]()


class _SimulatorLedgerCheck:
    def __init__(self) -> None:
        self.sims: list[tuple[object, str, bool]] = []  # (simulator, test node id, exempt)
        self.current: tuple[str, bool] = ("(outside any test)", False)
        self.restore = lambda: None

    def track(self, sim: object) -> None:
        nodeid, exempt = self.current
        self.sims.append((sim, nodeid, exempt))

    def checked(self) -> list[tuple[object, str]]:
        return [(sim, nodeid) for sim, nodeid, exempt in self.sims if not exempt]

    def writes(self) -> list[tuple[str, object]]:
        return [(nodeid, entry) for sim, nodeid in self.checked() for entry in sim.writes()]

    def requests(self) -> int:
        return sum(len(sim.ledger.snapshot()) for sim, _ in self.checked())

    def exempt_nodeids(self) -> list[str]:
        return sorted({nodeid for _, nodeid, exempt in self.sims if exempt})


@_dataclasses.dataclass
class FaultMatrixTally:
    """Filled in by tests/test_fault_matrix.py, printed once in the terminal summary."""
    scenarios_run: int = 0
    survived: int = 0
    assessed: int = 0
    not_assessed: int = 0
    dropped: int = 0
    writes: int = 0
    secrets: int = 0  # known secrets (the token, a SAS signature, an account key) found in any output
    overrun: float = float("-inf")  # the longest a run went past its --timeout, seconds

    def line(self) -> str:
        return (f"fault matrix: scenarios run {self.scenarios_run}, survived {self.survived}, resources assessed "
                f"{self.assessed} or NOT_ASSESSED {self.not_assessed} (dropped {self.dropped}), "
                f"write requests sent {self.writes}, secrets found in outputs {self.secrets}, "
                f"longest overrun past --timeout {max(0.0, self.overrun):.1f} s")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "simulator_writes: the test sends non-GET requests to a Simulator itself (to test the "
                   "simulator's ledger); its simulators are left out of the suite-wide write check")
    config.stash[_FAULT_MATRIX] = FaultMatrixTally()
    try:
        from scanner.simulator import Simulator
    except ImportError:  # the simulator's own import error shows up in the tests that use it
        return
    check = _SimulatorLedgerCheck()
    original = Simulator.__init__

    @_functools.wraps(original)
    def tracking_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        check.track(self)

    Simulator.__init__ = tracking_init
    check.restore = lambda: setattr(Simulator, "__init__", original)
    config.stash[_LEDGER_CHECK] = check


def pytest_unconfigure(config):
    check = config.stash.get(_LEDGER_CHECK, None)
    if check is not None:
        check.restore()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    check = item.config.stash.get(_LEDGER_CHECK, None)
    if check is None:
        return (yield)
    exempt = item.get_closest_marker("simulator_writes") is not None or item.path.name in SIMULATOR_WRITE_PROBE_MODULES
    check.current = (item.nodeid, exempt)
    try:
        return (yield)
    finally:
        check.current = ("(outside any test)", False)


@pytest.fixture(scope="session")
def fault_matrix_tally(pytestconfig) -> FaultMatrixTally:
    return pytestconfig.stash[_FAULT_MATRIX]


def pytest_sessionfinish(session, exitstatus):
    check = session.config.stash.get(_LEDGER_CHECK, None)
    if check is not None and check.writes():
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tally = config.stash.get(_FAULT_MATRIX, None)
    if tally is not None and tally.scenarios_run:
        terminalreporter.write_line(tally.line())
    check = config.stash.get(_LEDGER_CHECK, None)
    if check is None or not check.sims:
        return
    writes = check.writes()
    terminalreporter.write_line(
        f"simulator ledger: {check.requests()} requests across {len(check.checked())} simulators, {len(writes)} writes",
        red=bool(writes), bold=bool(writes))
    for nodeid, entry in writes:
        terminalreporter.write_line(f"  WRITE {entry.method} {entry.path} (status {entry.status}) during {nodeid}", red=True)
    exempt = check.exempt_nodeids()
    if exempt:
        n = sum(1 for _, _, e in check.sims if e)
        how = "marker simulator_writes" + (f", or module {', '.join(sorted(SIMULATOR_WRITE_PROBE_MODULES))}"
                                           if SIMULATOR_WRITE_PROBE_MODULES else "")
        terminalreporter.write_line(f"simulator ledger: {n} simulators in {len(exempt)} tests exempted as write probes "
                                    f"({how}) were not checked")
