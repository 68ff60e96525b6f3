"""scanner.malloc: the command caps glibc's malloc arenas and fixes its mmap threshold
(cli.console_main calls tune_malloc first). Observed in a fresh interpreter through glibc itself:
malloc_stats() lists the arenas, mallinfo2() the bytes in mmap'd blocks."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

GLIBC = sys.platform.startswith("linux") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")

# After a 6 MiB block is freed (glibc's dynamic threshold rises to its size), is a 1 MiB block still
# mapped on its own? Then six threads allocate at once: how many arenas are there?
_PROBE = r"""
import ctypes, sys, threading
tune = sys.argv[1] == "tune"
if tune:
    from scanner.malloc import tune_malloc
    print(sorted(k for k, v in tune_malloc().items() if v))
else:
    print([])
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(6 << 20))
before = libc.mallinfo2().hblkhd
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblkhd - before >= 1 << 20)
libc.free(block)
start, end = threading.Barrier(6), threading.Barrier(6)
def work():
    start.wait()
    mine = libc.malloc(4096)
    end.wait()
    libc.free(mine)
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
sys.stdout.flush()
libc.malloc_stats()  # to stderr: one "Arena N:" line per arena
"""

_KEYS = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def _run(how: str, **env: str) -> tuple[str, bool, int]:
    clean = {k: v for k, v in os.environ.items() if k not in _KEYS}
    done = subprocess.run([sys.executable, "-c", _PROBE, how], env={**clean, **env}, capture_output=True, text=True,
                          timeout=60, check=True)
    tuned, mapped = done.stdout.strip().splitlines()
    arenas = sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))
    return tuned, mapped == "True", arenas


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_without_the_settings_glibc_raises_the_threshold_and_gives_threads_arenas():
    """What the settings are for: the probe sees glibc's defaults (so the test below can fail)."""
    tuned, mapped, arenas = _run("plain")
    assert tuned == "[]" and not mapped and arenas > 2


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_the_command_caps_arenas_and_keeps_large_blocks_mapped():
    tuned, mapped, arenas = _run("tune")
    assert tuned == "['arenas', 'mmap_threshold']"
    assert mapped  # a block over 128 KiB is mapped on its own, even after a larger one was freed
    assert 1 <= arenas <= 2


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_the_environment_wins():
    tuned, mapped, arenas = _run("tune", MALLOC_ARENA_MAX="8", MALLOC_MMAP_THRESHOLD_=str(4 << 20))
    assert tuned == "[]" and arenas > 2  # the user's arena limit
    assert not mapped  # and the user's threshold: 1 MiB is under 4 MiB, so it is not mapped
