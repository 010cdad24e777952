"""Drivers that allocate outputs and call the kernels: ``cpu`` (Numba) and ``cuda``."""
