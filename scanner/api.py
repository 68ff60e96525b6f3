"""The library entry points: `scan(options) -> Report` and `evaluate_inventory(inventory) -> Report`.

The click CLI (scanner.cli) parses a command line into ScanOptions, calls these, writes the report
and exits with `scanner.policy.exit_code(report, fail_on)`; a program that embeds the scanner does
the same without a shell:

    from scanner.api import ScanOptions, scan
    report = scan(ScanOptions(subscriptions=("<subscription guid>",)))
    report.failed_at_or_above("high"), report.to_dict()

Errors: `scanner.scope.ScopeError` when nothing can be scanned (no credential, unknown
subscription, unusable endpoint). What could not be read once the scan runs is in the report's
coverage, never an exception.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, TextIO

from . import __version__
from .engine import RuleSettings
from .inventory import Inventory
from .model import Report
from .scope import ScopeRequest, establish

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://management.azure.com"


@dataclass(frozen=True)
class ScanOptions:
    subscriptions: tuple[str, ...] = ()  # lower-cased subscription GUIDs
    all_subscriptions: bool = False  # also every enabled subscription the identity can see
    endpoint: str = DEFAULT_ENDPOINT  # https only (the CLI checks it)
    verify: bool | str = True  # TLS: True, or a CA bundle path
    credential: Any = None  # an azure-core TokenCredential; None: from the environment (arm.make_credential)
    rule_settings: Mapping[str, RuleSettings] = field(default_factory=dict)  # scanner.config's, by rule code
    timeout: float = 3600.0  # overall deadline, seconds
    max_retry_after: float = 60.0  # cap on a server's Retry-After, seconds
    read_timeout: float = 60.0  # per response, seconds
    max_pages: int = 2000  # per list: a service that keeps handing out new nextLinks stops here
    workers: int = 16  # per-resource requests per subscription in flight at most (fewer when they keep up)
    # Processes the subscriptions are spread over (scanner.workers); None: auto, one unless there are
    # more than 16 subscriptions and more than one CPU.
    processes: int | None = None
    job_window_days: int = 7  # backup job history to read
    shard: tuple[int, int] | None = None  # (K, N): scan only shard K of N of the subscriptions (scanner.merge)
    management_groups: tuple[str, ...] = ()  # also every subscription under these groups (scanner.scope)
    # Set it (from a signal handler, another thread) to end the scan now: what was read is reported,
    # the rest is coverage with the code Interrupted.
    interrupt: threading.Event | None = field(default=None, compare=False)
    # A stream (stderr on a terminal) to draw live progress on while collecting; None: no progress.
    progress: TextIO | None = field(default=None, compare=False)
    # Once collect is done, unload the Azure SDK packages the scan imported (scanner.malloc.sdk_in_use):
    # ~35 MiB of RSS back before the rules run, and not kept by the caller's process after the scan.
    # False for a program that scans again and again (each scan then imports them again: a good
    # part of a second of CPU) or imports the same SDK packages itself while a scan runs.
    release_sdk: bool = True

    @property
    def scope_request(self) -> ScopeRequest:
        return ScopeRequest(subscriptions=tuple(self.subscriptions), all_subscriptions=self.all_subscriptions,
                            shard=self.shard, management_groups=tuple(self.management_groups))


def scan(options: ScanOptions, on_inventory: Callable[[Inventory], None] | None = None) -> Report:
    """Resolve and preflight the scope, collect the Inventory, run the rules. `on_inventory` sees the
    Inventory before the rules run (the CLI saves it for `evaluate`)."""
    from .arm import ArmSettings, ClientFactory, make_credential
    from .collect import CollectOptions, collect
    from .malloc import sdk_in_use
    from .timeutil import iso, utcnow

    settings = ArmSettings(endpoint=options.endpoint, verify=options.verify, timeout=options.timeout,
                           max_retry_after=options.max_retry_after, read_timeout=options.read_timeout,
                           max_pages=options.max_pages)
    factory = ClientFactory(options.credential if options.credential is not None else make_credential(), settings,
                            interrupt=options.interrupt)
    factory.credential_from_environment = options.credential is None  # worker processes rebuild it the same way
    started = utcnow()
    with sdk_in_use(options.release_sdk):  # released before the Inventory is saved and the rules run
        scope = establish(factory, options.scope_request)
        progress: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if options.progress is not None:
            from .progress import live
            progress = live(factory, list(scope.subscriptions), options.progress)
        with progress:
            inv = collect(factory, list(scope.subscriptions),
                          CollectOptions(job_window_days=options.job_window_days, workers=options.workers,
                                         processes=options.processes), now=started)
    inv = dataclasses.replace(inv, scope=scope.kind, management_groups=scope.management_groups)
    if on_inventory is not None:
        on_inventory(inv)
    report = evaluate_inventory(inv, options.rule_settings, started_at=iso(started), arm_requests=inv.arm_requests)
    if options.shard is not None:
        report = dataclasses.replace(report, scan=dataclasses.replace(report.scan, shard="{}/{}".format(*options.shard)))
    return report


def evaluate_inventory(inv: Inventory, rule_settings: Mapping[str, RuleSettings] | None = None, *,
                       started_at: str | None = None, arm_requests: int = 0) -> Report:
    """Run the rules over an Inventory (a fresh one, or one saved by an earlier scan). By default the
    scan "started" when the data was collected, so dashboards see how old the findings are, and
    made no ARM request."""
    from .engine import evaluate, gc_paused
    from .report import build_report
    from .timeutil import iso, utcnow
    with gc_paused():  # the rules, readiness and the report: see engine.gc_paused
        evaluation = evaluate(inv, rule_settings)
        for err in evaluation.rule_errors:
            log.warning("rule error: %s", err)
        return build_report(evaluation, inv, started_at=started_at or inv.collected_at, finished_at=iso(utcnow()),
                            arm_requests=arm_requests, tool_version=__version__)


@contextlib.contextmanager
def demo_options(options: ScanOptions) -> Iterator[ScanOptions]:
    """`options` pointed at the bundled demo subscription on a loopback ARM simulator (the real SDK
    stack, no Azure account), for as long as the block runs. With `management_groups` the
    subscriptions are the groups' (the demo tenant's groups: scenario "managementGroups")."""
    from .arm import StaticTokenCredential
    from .simulator import Simulator, load_scenario
    scenario = load_scenario("demo")
    with Simulator(scenario) as sim:
        named = () if options.management_groups else tuple(s.lower() for s in scenario["subscriptions"])
        yield dataclasses.replace(options, subscriptions=named,
                                  all_subscriptions=False, endpoint=sim.endpoint, verify=sim.ca_path,
                                  credential=StaticTokenCredential("demo-token-not-a-secret"))
