"""Live progress on stderr while a scan collects: per subscription, how many of its collectors have
started; the ARM requests made; the throttling waits (429s) so far. Drawn with rich, refreshed a few
times a second from a daemon thread, and gone when the scan ends (transient). The CLI turns it on
only when stderr is a terminal and --quiet is not given: a CI log never gets it."""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from .inventory import ALL_COLLECTORS

REFRESH_SECONDS = 0.25


def render(factory: Any, subscriptions: list[str]) -> Text:
    """One line per subscription (collectors started of all) and a totals line. Subscription ids are
    ours (validated GUIDs), no Azure-side string is shown."""
    total = len(ALL_COLLECTORS)
    started = {rec.subscription_id: rec.started() for rec in list(factory.recorders)}
    out = Text()
    for sub in subscriptions:
        n = min(started.get(sub.lower(), 0), total)
        bar = "#" * round(20 * n / total) + "-" * (20 - round(20 * n / total))
        out.append(f"{sub}  [{bar}] {n}/{total} collectors\n")
    remote_requests, remote_waits, remote_seconds = factory.remote  # what worker processes reported (--processes)
    waits, seconds = factory.waits.count + remote_waits, factory.waits.seconds + remote_seconds
    out.append(f"{factory.ledger.count + remote_requests} ARM requests", style="bold")
    if waits:
        out.append(f", throttled {waits} time(s), {seconds:.0f} s waited", style="yellow")
    return out


@contextlib.contextmanager
def live(factory: Any, subscriptions: list[str], stream: TextIO, force_terminal: bool | None = None) -> Iterator[None]:
    console = Console(file=stream, force_terminal=force_terminal, highlight=False, markup=False, emoji=False)
    stop = threading.Event()
    with Live(render(factory, subscriptions), console=console, transient=True, auto_refresh=False) as display:
        def loop() -> None:
            while not stop.wait(REFRESH_SECONDS):
                display.update(render(factory, subscriptions), refresh=True)
        thread = threading.Thread(target=loop, name="az-bcdr-scan-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=1)
