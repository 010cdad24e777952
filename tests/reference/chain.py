"""The elastic forces of a chain, written out plainly for the tests."""

import numpy as np


def forces(x, k, y):
    """``k (x_{i+1} - 2 x_i + x_{i-1})`` with the fixed ends ``x_0 = 0`` and ``x_{L+1} = y``;
    ``x`` has the blocks on its last axis."""
    x = np.asarray(x, dtype=float)
    pad = [(0, 0)] * (x.ndim - 1)
    full = np.pad(x, pad + [(1, 0)], constant_values=0.0)
    full = np.pad(full, pad + [(0, 1)], constant_values=y)
    return k * (full[..., 2:] - 2 * full[..., 1:-1] + full[..., :-2])
