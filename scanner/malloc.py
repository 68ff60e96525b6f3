"""Process memory settings for the `az-bcdr-scan` command (glibc only; elsewhere nothing is done),
and the cyclic garbage collector while collect builds the Inventory (gc_paused, survivors_frozen),
and the SDK packages' memory (importing drops their `@overload` stubs, sdk_in_use releases the
packages a scan imported once its collect is done).

Two settings, made by `tune_malloc()` before any thread starts:

- Arenas: glibc's malloc gives each thread that allocates its own arena (up to eight per core) and
  keeps what each one frees for reuse by that arena. The scanner's request threads (lists paging at
  once, per-resource GETs) each decode response bodies of a megabyte or more, so a scan ends up
  holding tens of MiB of freed buffers spread over a dozen arenas: 304 MiB peak RSS at 10,000 VMs
  with the default, 271 MiB with two arenas (benchmarks/run.py --case 10k, the same scan). Python's
  own small objects do not go through these arenas' contention (pymalloc, under the interpreter
  lock), so two cost no measurable time. One arena instead of two gained nothing measurable.
- The mmap threshold, fixed at 128 KiB (glibc's starting value): by default glibc raises it to
  the size of any mmap'd block that is freed, up to 32 MiB. The first such block is freed during
  start-up (the 6 MB source of an Azure SDK module read for its code object), after which every
  response body, decoder buffer and large list or dict of a few MiB lands in the heap, where freed
  space among live objects is kept rather than returned. Fixed, blocks of 128 KiB or more are
  mapped and unmapped on their own: the command's peak at 10,000 VMs went 240 -> 231 MiB, and
  228-241 -> 221-223 MiB once the Inventory's ids and statuses were shared (the command against
  the benchmark simulator, 3 runs each: with the dynamic threshold the peak depends on when which
  block is freed). About twice the page faults (60-66k -> 117-125k, each mapped block starts
  zeroed), no CPU difference measurable above the machine's noise (README, Performance).

The environment wins: MALLOC_ARENA_MAX, or any of MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ /
MALLOC_TOP_PAD_ / MALLOC_MMAP_MAX_ (each of which already fixes glibc's thresholds), leave the
corresponding setting as it is.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys
import threading
import typing
from typing import Any, Iterator

ARENAS = 2
MMAP_THRESHOLD = 128 * 1024  # bytes
_M_MMAP_THRESHOLD = -3  # mallopt parameters (malloc.h)
_M_ARENA_MAX = -8
# Any of these in the environment fixes glibc's mmap threshold the user's way (glibc's mallopt docs).
_THRESHOLD_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):  # musl and others: their mallopt is not glibc's
            return None
        return libc
    except (OSError, AttributeError):
        return None


def tune_malloc(arenas: int = ARENAS, mmap_threshold: int = MMAP_THRESHOLD) -> dict[str, bool]:
    """Cap glibc's malloc arenas and fix its mmap threshold for this process (call it before
    threads start). Returns which of the two were set ("arenas", "mmap_threshold"); nothing is set
    on another C library or system, or where the environment already says."""
    libc = _glibc()
    done = {"arenas": False, "mmap_threshold": False}
    if libc is None:
        return done
    if not os.environ.get("MALLOC_ARENA_MAX"):
        done["arenas"] = bool(libc.mallopt(_M_ARENA_MAX, arenas))
    if not any(os.environ.get(name) for name in _THRESHOLD_ENV):
        done["mmap_threshold"] = bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold))
    return done


_PAUSE = threading.Lock()
_paused = 0  # gc_paused() blocks running now, in any thread
_resume = False  # the first of them turned the collector off: the last turns it back on


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Without the cyclic garbage collector in this block (in any thread: the collector is one per
    process, back on, if it was on, when the last such block ends). For work that makes no reference
    cycles worth collecting while it allocates a great deal, each allocation burst triggering
    collections that walk every object alive:
    - the rules (scanner.engine): hundreds of thousands of short-lived results, while the collections
      walked the whole Inventory (a quarter of the evaluation time at 10,000 VMs);
    - importing an SDK package (scanner.arm.ClientFactory): classes and functions that live as long
      as the process, while the collections walked every module imported so far (0.2 of the 0.6 s of
      CPU the eight packages took).
    Reference counting still frees everything that is not in a cycle."""
    global _paused, _resume
    with _PAUSE:
        if _paused == 0:
            _resume = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _PAUSE:
            _paused -= 1
            if _paused == 0 and _resume:
                gc.enable()


_freezing = 0  # survivors_frozen() blocks running now


def _overload_registry() -> dict[str, Any] | None:
    """typing's registry of `@overload` stubs (module -> qualname -> line -> function): private,
    the same dict since Python 3.11 added `typing.get_overloads`; None if this Python has another."""
    registry = getattr(typing, "_overload_registry", None)
    return registry if isinstance(registry, dict) else None


def _under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def drop_overloads(packages: tuple[str, ...], known: frozenset[str] = frozenset()) -> int:
    """Forget the `@overload` stubs that modules of `packages` registered with typing (except the
    modules in `known`: registered before, by someone else's import); returns how many modules'.

    `typing.overload` keeps every stub it decorates for `typing.get_overloads`, for the life of the
    process: the typespec-generated Azure SDKs declare two or three stubs per operation, 6,328 for
    the scanner's eight packages (6.8 MiB of Python memory), and they keep the modules' globals
    alive after the packages are released (release_packages). Nothing the scanner runs asks for
    them. Only these packages' entries go: `typing.clear_overloads()` would clear every module's,
    an embedding program's too. On a Python whose registry is not that dict nothing is dropped
    (the stubs then only cost their memory)."""
    registry = _overload_registry()
    if registry is None or not packages:
        return 0
    dropped = [name for name in list(registry) if name not in known and _under(name, packages)]
    for name in dropped:
        registry.pop(name, None)
    return len(dropped)


@contextlib.contextmanager
def importing(*packages: str) -> Iterator[None]:
    """An import of SDK packages (scanner.arm.ClientFactory builds each client's on first use),
    with the collector paused (gc_paused), the `@overload` stubs the import registered for
    `packages` dropped (drop_overloads), and, inside collect (survivors_frozen), what it created
    frozen as the import ends: else the first young collection after it walks all of it (a
    quarter of a million objects for the eight packages), and the next ones again once promoted."""
    registry = _overload_registry()
    known = frozenset(registry) if registry is not None and packages else frozenset()
    with gc_paused():
        yield
        drop_overloads(packages, known)
        if _freezing:
            gc.freeze()


def _freeze_after_full_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


@contextlib.contextmanager
def survivors_frozen() -> Iterator[None]:
    """While collect builds the Inventory, the cyclic garbage collector's full collections walk
    each object at most once.

    A full (oldest-generation) collection walks every tracked object: at 10,000 VMs the Inventory
    grows to about two million, walked again by each of a dozen full collections (1.5 s of the
    collect's CPU; the SDK modules imported as the lists start are walked too). Here what is alive
    when the block starts (modules, classes, the caller's objects) and what a full collection finds
    alive (the Inventory so far, the SDK modules) are frozen (`gc.freeze`): the later collections
    skip them. The young collections run as before, so the reference cycles a request leaves
    (exceptions and their tracebacks after a retry or a failure) are freed as soon as they were
    before; only a cycle among objects alive at one of those moments that becomes garbage later
    waits for the block's end (`gc.unfreeze` returns every frozen object to the collector).
    Nothing is frozen when the collector is off or something else froze objects already (a
    pre-fork server's `gc.freeze` is left as it is)."""
    global _freezing
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    gc.callbacks.append(_freeze_after_full_collection)
    _freezing += 1
    try:
        yield
    finally:
        _freezing -= 1
        gc.callbacks.remove(_freeze_after_full_collection)
        gc.unfreeze()


def malloc_trim() -> bool:
    """Hand the free memory at the top and inside glibc's heap back to the system (`malloc_trim(0)`:
    whole free pages, in every arena); False, nothing done, on another C library or system."""
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0))


SDK_PACKAGES = "azure.mgmt"  # what release_packages releases: the SDK packages the clients come from ...
KEPT = ("azure.mgmt.core",)  # ... except the shared ARM pipeline every one of them uses (tiny, and azure.core's peer)

_USING = threading.Lock()
_users = 0  # sdk_in_use() blocks running now, in any thread
_loaded_before: frozenset[str] = frozenset()  # SDK modules already imported when the first of them began


def _sdk_modules() -> frozenset[str]:
    return frozenset(name for name in list(sys.modules) if _under(name, (SDK_PACKAGES,)) and name != SDK_PACKAGES)


@contextlib.contextmanager
def sdk_in_use(release: bool = True) -> Iterator[None]:
    """A block that imports SDK packages and uses their clients (a scan's scope and collect): with
    `release`, when the last such block running in the process ends, the packages imported since the
    first of them began are released (release_packages). Those imported before (an embedding
    program's own) stay, and nothing is released while another scan in the process still collects."""
    global _users, _loaded_before
    with _USING:
        if _users == 0:
            _loaded_before = _sdk_modules()
        _users += 1
    try:
        yield
    finally:
        with _USING:
            _users -= 1
            if _users == 0 and release:
                release_packages(_loaded_before)


def _unload(name: str) -> None:
    """`name` out of sys.modules and its parent's attributes (no reference left in this frame)."""
    module = sys.modules.pop(name, None)
    parent, _, attr = name.rpartition(".")
    holder = sys.modules.get(parent)
    if module is not None and holder is not None and getattr(holder, attr, None) is module:
        delattr(holder, attr)


def release_packages(loaded_before: frozenset[str] = frozenset()) -> list[str]:
    """Unload the SDK packages (azure.mgmt.*, but azure.mgmt.core) imported since `loaded_before`
    was taken, and give their memory back: the modules' entries in sys.modules and their parents'
    attributes, their `@overload` stubs (drop_overloads) and typing's caches of subscripted
    generics (which hold their model classes), then one full collection (a module's functions and
    its globals are a cycle) and `malloc_trim`. Returns the modules released.

    The eight packages a scan builds clients from are ~64 MiB of RSS (network 26, compute 17, site
    recovery 9, backup 7 ...: code objects, classes, stubs) that nothing needs once collect is done:
    the Inventory holds plain dataclasses and the raw JSON's values, never SDK models. At 10,000
    VMs (the command against the benchmark simulator): RSS at the end of collect 202-203 MiB, 168
    after this (0.3 s of CPU, nearly all of it the collection freeing the modules' objects). A
    later scan in the process imports them again (a good part of a second of CPU)."""
    names = [name for name in _sdk_modules() if name not in loaded_before and not _under(name, KEPT)]
    if not names:
        return []
    drop_overloads(tuple(names))  # (importing() dropped them already; a module imported outside it too)
    for clear in list(getattr(typing, "_cleanups", ())):  # typing's lru caches (Optional[Model], List[Model] ...)
        clear()
    for name in sorted(names, reverse=True):  # submodules first
        _unload(name)
    gc.collect()
    malloc_trim()
    return sorted(names)
