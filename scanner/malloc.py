"""Process memory settings for the `az-bcdr-scan` command (glibc only; elsewhere nothing is done).

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

import ctypes
import os
import sys

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
