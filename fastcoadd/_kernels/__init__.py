"""numba kernels: arrays and scalars in, preallocated outputs changed in place.

Kernels import only numpy and numba; they know nothing of FITS or configuration.
"""
