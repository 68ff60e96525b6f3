"""Process memory settings for the `az-bcdr-scan` command.

glibc's malloc gives each thread that allocates its own arena (up to eight per core) and keeps
what each one frees for reuse by that arena. The scanner's request threads (lists paging at once,
per-resource GETs) each decode response bodies of a megabyte or more, so a scan ends up holding
tens of MiB of freed buffers spread over a dozen arenas: 304 MiB peak RSS at 10,000 VMs with the
default, 271 MiB with two arenas (benchmarks/run.py --case 10k, the same scan). Python's own small
objects do not go through these arenas' contention (pymalloc, under the interpreter lock), so two
cost no measurable time.
"""
from __future__ import annotations

import ctypes
import os
import sys

ARENAS = 2
_M_ARENA_MAX = -8  # mallopt parameter (malloc.h)


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process (call it before threads start); True when set.
    MALLOC_ARENA_MAX in the environment, another C library or another system: left as they are."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):  # musl and others: their mallopt is not glibc's
            return False
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False
