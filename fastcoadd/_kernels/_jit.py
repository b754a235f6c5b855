"""The one place that sets the numba JIT flags used by every kernel.

``fastmath`` stays off: NaN means "no data" here and fast-math lets LLVM fold
``isnan`` tests away.
"""

from __future__ import annotations

import numba

JIT_FLAGS = {"nogil": True, "cache": True, "fastmath": False, "error_model": "numpy"}

jit = numba.njit(**JIT_FLAGS)
jit_parallel = numba.njit(parallel=True, **JIT_FLAGS)
prange = numba.prange
