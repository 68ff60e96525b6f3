"""Worker processes: the subscriptions of one scan spread over several interpreters (--processes).

Each subscription has its own read bucket at ARM, so a scan of many subscriptions is bound by one
interpreter's CPU (about 2 ms per request) from roughly 20 subscriptions on: then the subscriptions
are split over spawned worker processes. Each worker gets a picklable `WorkerSpec` (ArmSettings,
how to rebuild the credential, its subscriptions, the CollectOptions, `now`, and the deadline as a
wall-clock time since monotonic clocks differ between processes), builds its own ClientFactory
(the same read-only GuardedTransport, retry policy, pacer and deadline as in one process), runs the
same per-subscription collection and sends back each subscription's parts and its request count.
The parent merges them in the order of the subscriptions, so the output is that of one process.

A worker that dies (killed, crashed, could not be spawned, could not build its credential) fails
only its own subscriptions: every collector FAILED with the code WorkerFailed, so the rules say
NOT_ASSESSED for them, and the other workers' results are kept. An interrupt (Ctrl-C) reaches the
workers over their pipes: they stop as the single process does and send what they read.
"""
from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection, wait
from typing import Any, Iterator

from .arm import ArmSettings, ClientFactory, Deadline, StaticTokenCredential
from .malloc import survivors_frozen

log = logging.getLogger(__name__)

SUBSCRIPTIONS_PER_PROCESS = 16  # collect.CollectOptions.subscription_workers' default: one process's cap
WORKER_FAILED = "WorkerFailed"
GRACE_SECONDS = 30.0  # after an interrupt or the deadline, how long a worker may take to send what it read
PROGRESS_SECONDS = 0.5


def plan_processes(requested: int | None, subscriptions: int, cpus: int | None = None) -> int:
    """How many processes collect `subscriptions` subscriptions. `requested` None is auto: one,
    unless there are more subscriptions than one process's cap and more than one CPU, then
    min(CPUs, ceil(subscriptions / cap)). Never more processes than subscriptions."""
    if requested is None:
        cpus = os.cpu_count() if cpus is None else cpus
        if subscriptions <= SUBSCRIPTIONS_PER_PROCESS or not cpus or cpus < 2:
            return 1
        requested = min(cpus, math.ceil(subscriptions / SUBSCRIPTIONS_PER_PROCESS))
    return max(1, min(requested, subscriptions))


def split(subscriptions: list[str], n: int) -> list[list[str]]:
    """`n` balanced chunks in a stable order (round robin: sizes differ by at most one)."""
    return [subscriptions[i::n] for i in range(n) if subscriptions[i::n]]


@dataclass(frozen=True)
class CredentialSpec:
    """How a worker rebuilds the parent's credential (a credential object is never pickled):
    "environment" is what `arm.make_credential()` builds from the (inherited) environment; "static"
    is a bearer token handed to the scan (AZURE_ACCESS_TOKEN, the demo)."""
    kind: str
    token: str = field(default="", repr=False)

    def build(self) -> Any:
        if self.kind == "static":
            return StaticTokenCredential(self.token)
        if self.kind == "environment":
            from .arm import make_credential
            return make_credential()
        raise ValueError(f"unknown credential kind {self.kind!r}")


def credential_spec(factory: ClientFactory) -> CredentialSpec | None:
    """The spec a worker rebuilds `factory`'s credential from, or None when it cannot be rebuilt
    (an object a library caller handed in: it stays in one process)."""
    cred = factory.credential
    if isinstance(cred, StaticTokenCredential):
        return CredentialSpec("static", cred.get_token(factory.scope).token)
    if factory.credential_from_environment:
        return CredentialSpec("environment")
    return None


@dataclass(frozen=True)
class WorkerSpec:
    settings: ArmSettings
    credential: CredentialSpec
    subscriptions: tuple[str, ...]
    options: Any  # collect.CollectOptions
    now: datetime
    ends_at: float | None  # the scan's deadline, time.time() (wall clock: monotonic clocks differ by process)
    debug: bool = False


def build_factory(spec: WorkerSpec, interrupt: Any = None) -> ClientFactory:
    """The worker's own ClientFactory: the spec's settings and rebuilt credential, the deadline
    at the parent's wall-clock time. Every client it builds carries the read-only guard."""
    factory = ClientFactory(spec.credential.build(), spec.settings, interrupt=interrupt)
    if spec.ends_at is not None:  # before any client is built: they all take this deadline
        factory.deadline = Deadline(spec.settings.timeout, interrupt, remaining=spec.ends_at - time.time())
    return factory


def _progress(factory: ClientFactory) -> dict[str, Any]:
    return {"started": {rec.subscription_id: rec.started() for rec in list(factory.recorders)},
            "requests": factory.ledger.count, "waits": (factory.waits.count, factory.waits.seconds)}


def _worker(spec: WorkerSpec, conn: Connection) -> None:
    """A worker process: collect its subscriptions, send ("done", parts by subscription, requests).
    The parent sends ("interrupt",) after a Ctrl-C; a parent that is gone (end of file) is one too."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it tells the workers
    from .cli import _setup_logging
    _setup_logging(spec.debug)
    send_lock = threading.Lock()
    interrupt, finished = threading.Event(), threading.Event()

    def send(message: tuple[Any, ...]) -> None:
        with send_lock:
            conn.send(message)
    try:
        from .arm import WATCHDOG
        from .collect import _isolated
        factory = build_factory(spec, interrupt)

        def listen() -> None:  # the parent's interrupt: what was read is kept, responses in flight are cut
            with contextlib.suppress(Exception):
                conn.recv()
            if not finished.is_set():
                interrupt.set()
                WATCHDOG.fire_all()

        def report() -> None:  # progress for the parent's display
            while not finished.wait(PROGRESS_SECONDS):
                send(("progress", _progress(factory)))
        threading.Thread(target=listen, name="az-bcdr-scan-worker-interrupt", daemon=True).start()
        threading.Thread(target=report, name="az-bcdr-scan-worker-progress", daemon=True).start()
        subs = list(spec.subscriptions)
        with survivors_frozen(), ThreadPoolExecutor(max_workers=max(1, min(spec.options.subscription_workers,
                                                                           len(subs)))) as pool:
            parts = list(pool.map(lambda sub: _isolated(factory, sub, spec.options, spec.now), subs))
        finished.set()
        send(("done", dict(zip(subs, parts)), factory.ledger.count))
    except BaseException as exc:  # noqa: BLE001 - the parent records it as the subscriptions' coverage
        finished.set()
        log.debug("worker failed", exc_info=exc)
        with contextlib.suppress(Exception):  # a parent that is gone: nobody to tell
            send(("failed", f"{type(exc).__name__}: {str(exc)[:200]}"))


def failed_parts(subscriptions: list[str], code: str, message: str) -> dict[str, Any]:
    """Every collector of each subscription FAILED with `code` (NOT_ASSESSED in the rules)."""
    from .collect import all_failed
    return {sub: all_failed(sub, code=code, message=message) for sub in subscriptions}


class _Remote:
    """A worker's subscription as the progress display sees it (scanner.progress reads recorders)."""

    def __init__(self, subscription_id: str) -> None:
        self.subscription_id = subscription_id
        self.count = 0

    def started(self) -> int:
        return self.count


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Worker:
    def __init__(self, ctx: Any, spec: WorkerSpec) -> None:
        self.subscriptions = list(spec.subscriptions)
        self.result: dict[str, Any] | None = None
        self.requests = 0
        self.progress: dict[str, Any] = {}
        self.conn: Connection | None = None
        self.process: Any = None
        parent, child = ctx.Pipe()
        try:
            self.process = ctx.Process(target=_worker, args=(spec, child), name="az-bcdr-scan-worker",
                                       daemon=True)
            with _sigint_ignored():  # inherited through exec: a Ctrl-C while the child starts up is the parent's
                self.process.start()
            self.conn = parent
        except Exception as exc:  # noqa: BLE001 - its subscriptions get WorkerFailed coverage
            parent.close()
            self.fail(f"the worker process could not be started: {type(exc).__name__}: {str(exc)[:200]}")
        finally:
            child.close()

    def interrupt(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.send(("interrupt",))

    def fail(self, message: str, code: str = WORKER_FAILED) -> None:
        if self.result is None:
            self.result = failed_parts(self.subscriptions, code, message)
        self.close()

    def close(self, wait: float = 0.0) -> None:
        """Stop the process (after `wait` seconds for it to end on its own)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.process is not None and wait:
            self.process.join(wait)
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()
        if self.process is not None:
            self.process.join(5)

    def receive(self) -> None:
        """A message is waiting, or the process ended."""
        assert self.conn is not None
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            self.fail(f"the worker process ended without a result (exit code {self.process.exitcode})")
            return
        except Exception as exc:  # noqa: BLE001 - a result that cannot be read: its subscriptions failed
            self.fail(f"the worker's result could not be read: {type(exc).__name__}: {str(exc)[:200]}")
            return
        if message[0] == "progress":
            self.progress = message[1]
        elif message[0] == "done":
            self.result, self.requests = message[1], message[2]
            self.conn.close()  # the process is ending (collect_parts waits for it)
            self.conn = None
        else:
            self.fail(f"the worker process failed: {message[1]}")


def collect_parts(factory: ClientFactory, subscriptions: list[str], options: Any, now: datetime,
                  processes: int, spec: CredentialSpec) -> tuple[dict[str, Any], int]:
    """Each subscription's parts, collected by `processes` spawned workers, and their requests."""
    ctx = multiprocessing.get_context("spawn")
    left = factory.deadline.remaining()
    ends_at = time.time() + left if left != float("inf") else None
    debug = logging.getLogger("scanner").isEnabledFor(logging.DEBUG)
    remotes = {sub: _Remote(sub) for sub in subscriptions}
    factory.recorders.extend(remotes.values())
    workers: list[_Worker] = []
    try:
        for chunk in split(subscriptions, processes):
            workers.append(_Worker(ctx, WorkerSpec(factory.settings, spec, tuple(chunk), options, now, ends_at, debug)))
        _wait_for(factory, workers, remotes)
        for w in workers:
            w.close(wait=5.0)  # they have sent their results and are ending
    finally:  # normally every worker has ended by now; after a second Ctrl-C they are stopped here
        for w in workers:
            w.close()
    parts: dict[str, Any] = {}
    requests = 0
    for w in workers:
        assert w.result is not None
        parts.update(w.result)
        requests += w.requests
    return parts, requests


def _wait_for(factory: ClientFactory, workers: list[_Worker], remotes: dict[str, _Remote]) -> None:
    stop_by: float | None = None  # after an interrupt or the deadline: the workers' grace
    interrupted = False
    while True:
        pending = [w for w in workers if w.result is None]
        if not pending:
            return
        if stop_by is None and factory.deadline.remaining() <= 0:  # the workers stop on their own deadline
            interrupted = factory.deadline.interrupt.is_set()
            if interrupted:  # Ctrl-C: the workers stop as one process would
                for w in pending:
                    w.interrupt()
            stop_by = time.monotonic() + GRACE_SECONDS
        if stop_by is not None and time.monotonic() > stop_by:
            for w in pending:
                w.fail(f"the worker process did not send its result within {GRACE_SECONDS:g} s of the "
                       f"{'interrupt' if interrupted else 'deadline'}", code="Interrupted" if interrupted else WORKER_FAILED)
            return
        ready = wait([w.conn for w in pending if w.conn is not None], timeout=0.2)
        for w in pending:
            if w.conn is not None and w.conn in ready:
                w.receive()
        _show(factory, workers, remotes)


def _show(factory: ClientFactory, workers: list[_Worker], remotes: dict[str, _Remote]) -> None:
    """Workers' progress onto the parent's factory, which the progress display reads."""
    requests, waits, seconds = 0, 0, 0.0
    for w in workers:
        for sub, n in w.progress.get("started", {}).items():
            if sub in remotes:
                remotes[sub].count = n
        requests += w.requests if w.result is not None else w.progress.get("requests", 0)
        count, secs = w.progress.get("waits", (0, 0.0))
        waits, seconds = waits + count, seconds + secs
    factory.remote = (requests, waits, seconds)
