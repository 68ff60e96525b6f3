"""scanner.malloc: the command caps glibc's malloc arenas (cli.console_main calls it first)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

GLIBC = sys.platform.startswith("linux") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")

_PROBE = "from scanner.malloc import limit_malloc_arenas; print(limit_malloc_arenas())"


def _run(env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_arenas_are_capped_on_glibc():
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert _run(env) == "True"


def test_the_environment_wins():
    assert _run({**os.environ, "MALLOC_ARENA_MAX": "8"}) == "False"

