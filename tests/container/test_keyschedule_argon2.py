"""Argon2id on libargon2's binding gives argon2-cffi's bytes (pycontainer/format/keyschedule.py).

`keyschedule.stretch` calls ``argon2_hash`` through ``_argon2_cffi_bindings`` instead of
``argon2.low_level.hash_secret_raw`` (the argon2 package's import costs a small `rwc cat`
~41 M instructions, issue 15). The argument order of a C call is easy to get wrong in a way
only some parameters show, so each case has distinct m, t and p and is checked against
argon2-cffi's function, the reference spec/vectors were made with.

Every case runs with both places libargon2's blocks may live: its own ``malloc`` and the
huge-page-advised mapping of ``pycontainer.argon2_memory`` (issue 15), which must change
nothing but where the blocks are: the same bytes, the same clear error when there is no
memory. What is particular to the mapping is in test_argon2_memory.py.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from argon2.low_level import Type, hash_secret_raw

from pycontainer import argon2_memory
from pycontainer.format import keyschedule
from pycontainer.format.primitives import ARGON2_VERSION, KEY_SIZE, Argon2Params

CASES = [
    Argon2Params(m=8192, t=1, p=1),
    Argon2Params(m=8200, t=2, p=3),
    Argon2Params(m=9216, t=3, p=4),
    Argon2Params(m=8192, t=1, p=16),
    Argon2Params(m=65536, t=3, p=4),  # the default
]


# name -> the context manager giving stretch's `memory`, and the same as Python source for a
# child process (test_memory_failure_is_a_clear_error).
MEMORIES: dict[str, tuple[Any, str]] = {
    "malloc": (contextlib.nullcontext, "contextlib.nullcontext()"),  # stretch's default
    "huge-pages": (argon2_memory.blocks, "argon2_memory.blocks()"),
}


@pytest.mark.parametrize("memory", MEMORIES)
@pytest.mark.parametrize("params", CASES, ids=lambda a: f"m{a.m}-t{a.t}-p{a.p}")
def test_stretch_equals_argon2_cffi(params: Argon2Params, memory: str) -> None:
    secret, salt = os.urandom(64), os.urandom(16)
    expected = hash_secret_raw(
        secret=secret,
        salt=salt,
        time_cost=params.t,
        memory_cost=params.m,
        parallelism=params.p,
        hash_len=KEY_SIZE,
        type=Type.ID,
        version=ARGON2_VERSION,
    )
    with MEMORIES[memory][0]() as callbacks:
        assert keyschedule.stretch(secret, salt, params, callbacks) == expected


def test_stretch_depends_on_every_input() -> None:
    secret, salt, params = b"s" * 64, b"c" * 16, CASES[0]
    base = keyschedule.stretch(secret, salt, params)
    others = {
        keyschedule.stretch(b"t" * 64, salt, params),
        keyschedule.stretch(secret, b"d" * 16, params),
        keyschedule.stretch(secret, salt, params._replace(m=params.m + 8)),
        keyschedule.stretch(secret, salt, params._replace(t=2)),
        keyschedule.stretch(secret, salt, params._replace(p=2)),
    }
    assert base not in others
    assert len(others) == 5


@pytest.mark.parametrize("memory", MEMORIES)
def test_memory_failure_is_a_clear_error(memory: str) -> None:
    # Under an address-space limit libargon2 cannot allocate m = 1 GiB (malloc fails, or
    # mmap is refused and libargon2 sees no block pointer): the caller gets a ContainerError
    # saying so (the CLI prints it with its hint), not libargon2's code, and nothing is
    # printed from inside the allocation callback.
    child = textwrap.dedent(
        f"""
        import contextlib
        import resource
        from pycontainer import argon2_memory
        from pycontainer.errors import ContainerError
        from pycontainer.format import keyschedule
        from pycontainer.format.primitives import ARGON2_M_MAX, Argon2Params

        limit = 768 << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            with {MEMORIES[memory][1]} as memory:
                params = Argon2Params(m=ARGON2_M_MAX, t=1, p=1)
                keyschedule.stretch(bytes(64), bytes(16), params, memory)
        except ContainerError as exc:
            print(type(exc).__name__, exc, "|", exc.hint)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == (
        "ContainerError not enough memory for the password's Argon2id (1024 MiB) | "
        "close other programs and try again, or use a computer with more memory"
    )
    assert proc.stderr == ""
