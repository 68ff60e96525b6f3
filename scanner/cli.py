"""az-bcdr-scan command line.

Exit codes (also in the README):
  0  no FAIL finding at or above --fail-on, and every collector read everything
  1  at least one FAIL finding at or above --fail-on (SUPPRESSED findings never count)
  2  usage, input, configuration or authentication error: nothing was scanned
  3  scan incomplete (some coverage partial or failed) and no finding at or above --fail-on
  4  internal error (a bug): please report it; --debug shows the traceback
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO
from urllib.parse import urlsplit

import click

from . import __version__, ids
from . import inventory as m
from .policy import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, FAIL_ON_CHOICES  # noqa: F401 - re-exported
from .scope import ScopeError

log = logging.getLogger("scanner")


class InputError(Exception):
    """Bad input: one line on stderr, exit 2."""


# --------------------------------------------------------------------------- helpers
class _StderrHandler(logging.StreamHandler):
    """Logs to the stderr of the moment (tests swap it), redacted and terminal-safe."""

    def __init__(self) -> None:
        super().__init__()
        from .redact import RedactingFormatter
        self.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _setup_logging(debug: bool) -> None:
    root = logging.getLogger()
    # Our handler instead of basicConfig's: every log line goes through the redaction step.
    for h in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(h)
    root.addHandler(_StderrHandler())
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    if debug:
        logging.getLogger("scanner").setLevel(logging.DEBUG)
        logging.getLogger("rules").setLevel(logging.DEBUG)
    # Azure SDK loggers stay at WARNING even with --debug: their DEBUG output includes request headers.
    logging.getLogger("azure").setLevel(logging.WARNING)
    # azure-mgmt-core warns "...We are registering for you" before our read-only guard blocks that
    # POST; the line is untrue here, and the coverage record says what really happened.
    logging.getLogger("azure.mgmt.core.policies._base").setLevel(logging.ERROR)
    # DefaultAzureCredential logs a multi-line WARNING per failed credential; the CLI says it in one
    # line (exit 2), and --debug still shows the detail.
    logging.getLogger("azure.identity").setLevel(logging.WARNING if debug else logging.ERROR)


def validate_endpoint(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme == "http":
        raise InputError(f"--arm-endpoint {url!r} uses http: the token is only ever sent over https")
    if parts.scheme != "https" or not parts.hostname:
        raise InputError(f"--arm-endpoint {url!r} is not an https URL")
    return f"https://{parts.netloc}"


def validate_subscriptions(values: tuple[str, ...]) -> list[str]:
    if not values:
        raise InputError("give at least one --subscription ID (or --all-subscriptions, --management-group ID, or --demo)")
    out: list[str] = []
    for v in values:
        if not ids.is_subscription_id(v.strip()):
            raise InputError(f"--subscription {v!r} is not a subscription id (expected a GUID)")
        if v.strip().lower() not in out:
            out.append(v.strip().lower())
    return out


def validate_management_groups(values: tuple[str, ...]) -> tuple[str, ...]:
    """The group ids of --management-group (each once), or exit 2 for a malformed one."""
    from .scope import parse_management_group
    out: list[str] = []
    for v in values:
        try:
            group = parse_management_group(v)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if group.lower() not in (g.lower() for g in out):
            out.append(group)
    return tuple(out)


def plan_outputs(fmts: tuple[str, ...], outputs: tuple[str, ...]) -> list[Any]:
    """Before anything is scanned: where the report goes (`--format`, `--output [FORMAT=]PATH`,
    scanner.emit.plan_outputs), and every file in it writable; else exit 2 now, not after an hour
    of scanning."""
    from .emit import OutputPathError, check_output_path
    from .emit import plan_outputs as plan
    try:
        targets = plan(fmts, outputs, _formats(), _default_format(None))
        for t in targets:
            check_output_path(t.path, "--output")
    except OutputPathError as exc:
        raise InputError(str(exc)) from None
    return targets


def check_inventory_path(save_inventory: str | None) -> None:
    """An unwritable --save-inventory is exit 2 before anything is scanned."""
    from .emit import OutputPathError, check_output_path
    try:
        check_output_path(save_inventory, "--save-inventory")
    except OutputPathError as exc:
        raise InputError(str(exc)) from None


def _default_format(output: str | None) -> str:
    return "table" if (not output or output == "-") and sys.stdout.isatty() else "json"


def _load_config(path: str | None):
    from .config import ConfigError, load_config
    try:
        return load_config(path, Path.cwd())
    except ConfigError as exc:
        raise InputError(f"config: {exc}") from None


def _load_baseline(path: str | None, fail_on_new: str | None) -> Any:
    """The --baseline report, read before anything is scanned (a bad file is exit 2 now)."""
    if fail_on_new and not path:
        raise InputError("--fail-on-new compares with a baseline: give --baseline previous.json")
    if not path:
        return None
    from .baseline import BaselineError, load_baseline
    try:
        return load_baseline(path)
    except BaselineError as exc:
        raise InputError(str(exc)) from None


def _load_suppressions(path: str | None) -> Any:
    """The --suppressions entries, checked before anything is scanned (a bad file is exit 2 now)."""
    if not path:
        return None
    from .suppress import SuppressionError, load_suppressions
    try:
        return load_suppressions(path)
    except SuppressionError as exc:
        raise InputError(str(exc)) from None


def _write_and_exit(report: Any, cfg: Any, targets: list[Any], fail_on: str | None, baseline: Any = None,
                    fail_on_new: str | None = None, mask: bool = False, suppressions: Any = None) -> int:
    from .emit import OutputPathError, emit_reports
    from .policy import DEFAULT_FAIL_ON, NO_THRESHOLD, exit_code
    if suppressions is not None:
        from .suppress import apply
        report = apply(report, suppressions)
    if baseline is not None:
        from .baseline import compare
        report = compare(report, baseline)
    if mask:
        from .mask import mask_subscription_ids
        report = mask_subscription_ids(report)
    try:
        emit_reports(report, targets)
    except OutputPathError as exc:
        raise InputError(str(exc)) from None
    # --fail-on-new alone gates on new findings only; an explicit --fail-on (or the config's) still applies too
    threshold = fail_on or cfg.fail_on or (NO_THRESHOLD if fail_on_new else DEFAULT_FAIL_ON)
    return exit_code(report, threshold, fail_on_new)


def _inventory_saver(path: str | None) -> Callable[[m.Inventory], None] | None:
    if not path:
        return None

    def save(inv: m.Inventory) -> None:
        from .emit import OutputPathError, emit_inventory
        try:
            emit_inventory(inv, path)
        except OutputPathError as exc:
            raise InputError(str(exc)) from None
    return save


# --------------------------------------------------------------------------- click
FORMAT_HELP = ("Output format of the one --output FILE, or of stdout (default: table on a terminal, json "
               "otherwise). Give it once; for several outputs use --output FORMAT=PATH.")
OUTPUT_HELP = ("Write the report here, repeatable: FORMAT=PATH, or PATH (format from the extension: .json .sarif .md "
               ".csv .xml=junit .html .txt=table; else --format, else json). '-' is stdout. Default: stdout.")


MASK_HELP = "Replace every subscription id in the outputs by a stable pseudonym (keyed by AZ_BCDR_MASK_KEY)."
FAIL_ON_HELP = "Exit 1 when a FAIL finding is at or above this severity (default: high, or the config's fail_on)."
CONFIG_HELP = "Config file (default: az-bcdr-scan.toml or [tool.az-bcdr-scan] in pyproject.toml)."
SUPPRESSIONS_HELP = ("TOML file of accepted risks ([[suppress]] rule, resource glob, reason, expires, owner): matching FAIL "
                     "findings are reported SUPPRESSED and never fail the run.")


def _formats() -> list[str]:
    from .output import FORMATS
    return list(FORMATS)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--subscription", "-s", "subscriptions", multiple=True, metavar="ID", help="Subscription to scan (repeatable).")
@click.option("--all-subscriptions", is_flag=True, help="Scan every enabled subscription the identity can read.")
@click.option("--management-group", "-m", "management_groups", multiple=True, metavar="ID",
              help="Also scan every subscription under this management group, nested groups included (repeatable).")
@click.option("--format", "-f", "fmt", type=click.Choice(_formats()), multiple=True, help=FORMAT_HELP)
@click.option("--output", "-o", metavar="[FORMAT=]PATH", multiple=True, help=OUTPUT_HELP)
@click.option("--arm-endpoint", default="https://management.azure.com", show_default=True,
              help="ARM endpoint (sovereign clouds, simulators). https only.")
@click.option("--fail-on", type=click.Choice(FAIL_ON_CHOICES), default=None, help=FAIL_ON_HELP)
@click.option("--baseline", "baseline_path", metavar="FILE",
              help="An earlier JSON report: mark findings new or unchanged, list the resolved ones.")
@click.option("--fail-on-new", type=click.Choice(FAIL_ON_CHOICES), default=None,
              help="Exit 1 when a NEW finding (not in --baseline) FAILs at or above this severity.")
@click.option("--suppressions", "suppressions_path", metavar="FILE", help=SUPPRESSIONS_HELP)
@click.option("--config", "config_path", metavar="FILE", help=CONFIG_HELP)
@click.option("--save-inventory", metavar="FILE", help="Also write the collected Inventory (JSON) for 'evaluate'.")
@click.option("--timeout", type=click.FloatRange(min=1), default=3600, show_default=True, help="Overall deadline for the scan, seconds.")
@click.option("--max-retry-after", type=click.FloatRange(min=0), default=60, show_default=True,
              help="Cap on a server's Retry-After, seconds.")
@click.option("--read-timeout", type=click.FloatRange(min=0.1), default=60, show_default=True,
              help="Seconds to wait for each whole response before retrying it (a stalled or trickling proxy or service).")
@click.option("--max-pages", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Page limit for each list (a service that keeps handing out new nextLinks stops there).")
@click.option("--workers", type=click.IntRange(1, 32), default=16, show_default=True,
              help="At most this many per-resource requests per subscription in flight (fewer when they keep up with ARM's read refill).")
@click.option("--processes", default="auto", show_default=True, metavar="N|auto", callback=lambda c, p, v: _processes(v),
              help="Processes to spread the subscriptions over; auto: one, or for more than 16 subscriptions "
                   "min(CPUs, subscriptions / 16).")
@click.option("--job-window-days", type=click.IntRange(1, 30), default=7, show_default=True, help="Backup job history to read, days.")
@click.option("--mask-subscription-ids", "mask", is_flag=True, help=MASK_HELP)
@click.option("--shard", metavar="K/N", help="Scan only shard K of N of the subscriptions (a stable split, for a CI "
              "matrix; join the reports with 'merge').")
@click.option("--demo", is_flag=True, help="Scan the bundled demo subscription on a loopback ARM simulator (no Azure account needed).")
@click.option("--debug", is_flag=True, help="Verbose logs and tracebacks (never request headers or tokens).")
@click.option("--quiet", "-q", is_flag=True, help="No live progress on stderr (it is only drawn when stderr is a terminal).")
@click.version_option(__version__, prog_name="az-bcdr-scan")
@click.pass_context
def cli(ctx: click.Context, subscriptions: tuple[str, ...], all_subscriptions: bool, management_groups: tuple[str, ...],
        fmt: tuple[str, ...],
        output: tuple[str, ...], arm_endpoint: str,
        fail_on: str | None, baseline_path: str | None, fail_on_new: str | None, suppressions_path: str | None,
        config_path: str | None, save_inventory: str | None, timeout: float,
        max_retry_after: float, read_timeout: float, max_pages: int, workers: int, processes: int | None,
        job_window_days: int, mask: bool, shard: str | None, demo: bool,
        debug: bool, quiet: bool) -> None:
    """Predict which Azure VMs will fail their next backup, restore or failover, why, and what to fix.

    Read-only: it only ever sends GET requests to Azure Resource Manager."""
    _setup_logging(debug)
    ctx.obj = {"debug": debug}
    if ctx.invoked_subcommand is not None:
        return
    if demo and (subscriptions or all_subscriptions):
        raise InputError("--demo scans the bundled demo subscription; do not combine it with --subscription")
    groups = validate_management_groups(management_groups)
    if not demo:  # cheap checks first: nothing is loaded or contacted for a malformed command line
        endpoint = validate_endpoint(arm_endpoint)
        subs = validate_subscriptions(subscriptions) if subscriptions or not (all_subscriptions or groups) else []
    targets = plan_outputs(fmt, output)
    check_inventory_path(save_inventory)
    baseline = _load_baseline(baseline_path, fail_on_new)
    suppressions = _load_suppressions(suppressions_path)
    cfg = _load_config(config_path)
    from .api import ScanOptions, demo_options, scan
    common = ScanOptions(rule_settings=cfg.rule_settings, timeout=timeout, max_retry_after=max_retry_after,
                         read_timeout=read_timeout, max_pages=max_pages, workers=workers, job_window_days=job_window_days,
                         shard=_parse_shard(shard), management_groups=groups, processes=processes)
    saver = _inventory_saver(save_inventory)
    interrupt = threading.Event()
    # Progress only for a person at a terminal: never with --quiet or --debug (log lines), never in a CI log.
    show_progress = not quiet and not debug and sys.stderr.isatty()
    common = replace(common, interrupt=interrupt, progress=sys.stderr if show_progress else None)
    with _ctrl_c_ends_the_scan(interrupt):
        if demo:
            with demo_options(common) as options:
                report = scan(options, on_inventory=saver)
        else:
            from .arm import tls_verify_from_env
            # credential None: scan() builds it from the environment (arm.make_credential), and so does
            # each worker process of --processes.
            options = replace(common, subscriptions=tuple(subs), all_subscriptions=all_subscriptions, endpoint=endpoint,
                              verify=tls_verify_from_env(), credential=None)
            report = scan(options, on_inventory=saver)
    code = _write_and_exit(report, cfg, targets, fail_on, baseline, fail_on_new, mask, suppressions)
    if interrupt.is_set():
        _err("az-bcdr-scan: interrupted: the report holds what was read before Ctrl-C (exit 3)")
        _INTERRUPTED.set()
        code = EXIT_INCOMPLETE
    ctx.exit(code)


# Set when a scan of this process was interrupted and its report written (console_main reads it).
_INTERRUPTED = threading.Event()


@contextlib.contextmanager
def _ctrl_c_ends_the_scan(interrupt: threading.Event) -> Iterator[None]:
    """While the scan runs, the first Ctrl-C (SIGINT) ends it at once and keeps what was read: the
    deadline expires, retry waits wake, the watchdog cuts the responses in flight, and the report is
    written as usual (exit 3). A second Ctrl-C stops without a report."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from .arm import WATCHDOG

    def on_sigint(signum: int, frame: Any) -> None:
        if interrupt.is_set():
            raise KeyboardInterrupt
        interrupt.set()
        WATCHDOG.fire_all()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@cli.command()
@click.argument("inventory_file", type=click.Path(dir_okay=False))
@click.option("--format", "-f", "fmt", type=click.Choice(_formats()), multiple=True, help=FORMAT_HELP)
@click.option("--output", "-o", metavar="[FORMAT=]PATH", multiple=True, help=OUTPUT_HELP)
@click.option("--fail-on", type=click.Choice(FAIL_ON_CHOICES), default=None, help=FAIL_ON_HELP)
@click.option("--baseline", "baseline_path", metavar="FILE",
              help="An earlier JSON report: mark findings new or unchanged, list the resolved ones.")
@click.option("--fail-on-new", type=click.Choice(FAIL_ON_CHOICES), default=None,
              help="Exit 1 when a NEW finding (not in --baseline) FAILs at or above this severity.")
@click.option("--mask-subscription-ids", "mask", is_flag=True, help=MASK_HELP)
@click.option("--suppressions", "suppressions_path", metavar="FILE", help=SUPPRESSIONS_HELP)
@click.option("--config", "config_path", metavar="FILE", help=CONFIG_HELP)
@click.pass_context
def evaluate(ctx: click.Context, inventory_file: str, fmt: tuple[str, ...], output: tuple[str, ...],
             fail_on: str | None, baseline_path: str | None, fail_on_new: str | None, mask: bool,
             suppressions_path: str | None, config_path: str | None) -> None:
    """Re-run the rules offline over an Inventory saved with --save-inventory.

    There is no --shard here: the inventory is already read, and the rules judge it whole (a backup
    in another subscription's vault is only seen with that subscription). Shard the scan instead."""
    targets = plan_outputs(fmt, output)
    baseline = _load_baseline(baseline_path, fail_on_new)
    suppressions = _load_suppressions(suppressions_path)
    cfg = _load_config(config_path)
    try:  # read a chunk at a time (Inventory.read_json): a 10,000-VM file is over 100 MiB of text
        with open(inventory_file, encoding="utf-8") as fh:
            inv = m.Inventory.read_json(fh)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read inventory {inventory_file}: {getattr(exc, 'strerror', None) or exc}") from None
    except m.InventoryFormatError as exc:
        raise InputError(f"{inventory_file}: {exc}") from None
    from .timeutil import parse
    if parse(inv.collected_at) is None:
        raise InputError(f"{inventory_file}: collected_at {inv.collected_at[:40]!r} is not an ISO-8601 time")
    from .api import evaluate_inventory
    ctx.exit(_write_and_exit(evaluate_inventory(inv, cfg.rule_settings), cfg, targets, fail_on, baseline, fail_on_new,
                             mask, suppressions))


def _processes(value: str) -> int | None:
    """--processes: a positive number, or auto (None)."""
    if value.strip().lower() == "auto":
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= 64:
        raise click.BadParameter(f"{value!r}: a number of processes from 1 to 64, or auto", param_hint="'--processes'")
    return n


def _parse_shard(value: str | None) -> tuple[int, int] | None:
    from .merge import parse_shard
    try:
        return parse_shard(value) if value is not None else None
    except ValueError as exc:
        raise InputError(str(exc)) from None


@cli.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "-f", "fmt", type=click.Choice(_formats()), multiple=True, help=FORMAT_HELP)
@click.option("--output", "-o", metavar="[FORMAT=]PATH", multiple=True, help=OUTPUT_HELP)
@click.option("--fail-on", type=click.Choice(FAIL_ON_CHOICES), default=None, help=FAIL_ON_HELP)
@click.option("--baseline", "baseline_path", metavar="FILE",
              help="An earlier JSON report: mark findings new or unchanged, list the resolved ones.")
@click.option("--fail-on-new", type=click.Choice(FAIL_ON_CHOICES), default=None,
              help="Exit 1 when a NEW finding (not in --baseline) FAILs at or above this severity.")
@click.option("--mask-subscription-ids", "mask", is_flag=True, help=MASK_HELP)
@click.option("--suppressions", "suppressions_path", metavar="FILE", help=SUPPRESSIONS_HELP)
@click.option("--config", "config_path", metavar="FILE", help=CONFIG_HELP)
@click.pass_context
def merge(ctx: click.Context, reports: tuple[str, ...], fmt: tuple[str, ...], output: tuple[str, ...],
          fail_on: str | None, baseline_path: str | None, fail_on_new: str | None, mask: bool,
          suppressions_path: str | None, config_path: str | None) -> None:
    """Join the JSON reports of several shards (--shard K/N) into one: findings deduplicated by
    fingerprint, coverage united, summary recomputed; the exit code is the merged report's."""
    targets = plan_outputs(fmt, output)
    baseline = _load_baseline(baseline_path, fail_on_new)
    suppressions = _load_suppressions(suppressions_path)
    cfg = _load_config(config_path)
    from .baseline import BaselineError, load_baseline
    from .merge import MergeError, merge_reports
    try:
        merged = merge_reports([load_baseline(path, "report") for path in reports])
    except (BaselineError, MergeError) as exc:
        raise InputError(str(exc)) from None
    ctx.exit(_write_and_exit(merged, cfg, targets, fail_on, baseline, fail_on_new, mask, suppressions))


@cli.command("rules")
def list_rules() -> None:
    """List every rule: code, slug, severity, and the errors it predicts."""
    from rules import load_all
    registry = load_all()
    for code in sorted(registry):
        meta = registry[code].meta
        off = "" if meta.enabled_by_default else "  (off by default)"
        click.echo(f"{meta.code}  {meta.slug:<38} {meta.severity:<8}  predicts: {', '.join(meta.predicts) or '-'}{off}")


@cli.command()
@click.argument("what")
def explain(what: str) -> None:
    """Explain a rule code or slug, or an Azure Backup / Site Recovery error code."""
    from .explain import explain_text
    text = explain_text(what)
    if text is None:
        raise InputError(f"{what!r} is neither a rule code, a rule slug nor a known error code (see 'az-bcdr-scan rules')")
    click.echo(text)


def _err(line: str) -> None:
    """One line on stderr: redacted, control characters made visible (an ARM error code or message
    may carry terminal escapes or an echoed token)."""
    from .redact import for_terminal
    click.echo(for_terminal(line, keep_newlines=False), err=True)


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        rv = cli.main(args=argv, prog_name="az-bcdr-scan", standalone_mode=False)
        return rv if isinstance(rv, int) else EXIT_OK
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (InputError, ScopeError) as exc:
        _err(f"az-bcdr-scan: error: {exc}")
        return EXIT_USAGE
    except click.ClickException as exc:  # usage errors: one line, exit 2
        _err(f"az-bcdr-scan: error: {exc.format_message()}")
        return EXIT_USAGE
    except (click.exceptions.Abort, KeyboardInterrupt):  # a second Ctrl-C, or one outside the scan
        _err("az-bcdr-scan: interrupted")
        return EXIT_USAGE
    except BrokenPipeError:
        with contextlib.suppress(Exception):
            sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - never a traceback unless --debug
        if debug:
            raise
        _err(f"az-bcdr-scan: internal error: {type(exc).__name__}: {str(exc)[:200]} (rerun with --debug)")
        return EXIT_INTERNAL


def console_main() -> None:
    """The `az-bcdr-scan` command. After an interrupted scan (its report is written by then) the
    process ends at once: the interpreter's teardown of the Azure SDK modules takes up to a second
    or two on a busy machine, and Ctrl-C is meant to act within two."""
    from .malloc import tune_malloc
    tune_malloc()  # before any thread starts (scanner.malloc: arenas per thread, glibc's rising mmap threshold)
    code = main()
    if _INTERRUPTED.is_set():
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    console_main()
