"""The benchmarks' child processes: each sends its result over a pipe, and a child that dies before
sending (killed, out of memory, an exception) ends the benchmark with one line instead of leaving
the parent waiting forever.

A pipe's reader only sees end-of-file once every copy of the writing end is closed: the parent's
copy of the child's end is closed as soon as the child has started (the child holds its own), so a
dead child's pipe reads as EOF at once.
"""
from __future__ import annotations

from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Callable


class ChildDied(RuntimeError):
    """A benchmark child process ended before sending what the parent waited for."""


def spawn(ctx: Any, target: Callable[..., None], *args: Any, name: str) -> tuple[BaseProcess, Connection]:
    """Start `target(*args, conn)` in a child process of `ctx`; the parent's end of its pipe."""
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(*args, child), name=name)
    proc.start()
    child.close()
    return proc, parent


def receive(conn: Connection, proc: BaseProcess) -> Any:
    """The next thing `proc` sends, or ChildDied (its exit code: negative is the signal) if it ended first."""
    try:
        return conn.recv()
    except (EOFError, OSError):
        proc.join(timeout=10)
        raise ChildDied(f"the {proc.name} process ended (exit code {proc.exitcode}) before sending its result") from None


def send(conn: Connection, proc: BaseProcess, message: Any) -> None:
    try:
        conn.send(message)
    except OSError:  # BrokenPipeError: the child is gone
        proc.join(timeout=10)
        raise ChildDied(f"the {proc.name} process ended (exit code {proc.exitcode}) before its work was done") from None


def stop(proc: BaseProcess) -> None:
    """End `proc` if it still runs (a benchmark that failed leaves no process behind)."""
    if proc.is_alive():
        proc.terminate()
    proc.join(timeout=10)


def run(ctx: Any, target: Callable[..., None], *args: Any, name: str) -> Any:
    """`target(*args, conn)` in a child process: the one thing it sends, once it has ended."""
    proc, conn = spawn(ctx, target, *args, name=name)
    out = receive(conn, proc)
    proc.join()
    return out
