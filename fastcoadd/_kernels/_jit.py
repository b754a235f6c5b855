"""The one place that sets the numba JIT flags used by every kernel.

``fastmath`` stays off: NaN means "no data" here and fast-math lets LLVM fold
``isnan`` tests away. Compiled kernels are cached on disk (``cache=True``).

numba checks a cached kernel only against its own source file, not against the
helpers it inlines from other files; so the cache is dropped whenever any kernel
source changes (a digest of all of them is kept beside the cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import types
from pathlib import Path

import numba

JIT_FLAGS = {"nogil": True, "cache": True, "fastmath": False, "error_model": "numpy"}


def _drop_stale_cache() -> None:
    folder = Path(__file__).parent
    digest = hashlib.sha256()
    for source in sorted(folder.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    cache = folder / "__pycache__"
    stamp = cache / "kernels.sha256"
    with contextlib.suppress(OSError):
        if stamp.is_file() and stamp.read_text() == digest.hexdigest():
            return
        for stale in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            stale.unlink()
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())


_drop_stale_cache()

jit = numba.njit(**JIT_FLAGS)
jit_parallel = numba.njit(parallel=True, **JIT_FLAGS)
prange = numba.prange


def serial_twin(kernel: numba.core.registry.CPUDispatcher) -> numba.core.registry.CPUDispatcher:
    """The same kernel compiled without ``parallel`` (its ``prange`` loops run as ``range``).

    For callers that run the kernel on several Python threads at once, each on its own part of
    the data (the kernels release the GIL). The twin is a copy of the Python function under its
    own name, so its cached machine code is kept apart from the parallel kernel's.
    """
    source = kernel.py_func
    twin = types.FunctionType(source.__code__, source.__globals__, source.__name__ + "_serial",
                              source.__defaults__, source.__closure__)
    twin.__qualname__ = source.__qualname__ + "_serial"
    twin.__doc__ = source.__doc__
    twin.__module__ = source.__module__
    return jit(twin)
