"""Load curves and elastic energy of a chain (SPEC section 1 and 3, "Energy")."""

import numpy as np


def load_curve(x, y):
    """Load curve ``d_l = y - x_l`` for ``l = 0..L`` with ``x_0 = 0``.

    Parameters
    ----------
    x : array_like, shape (..., L)
        Block positions ``x_1..x_L``.
    y : float or array_like broadcastable to ``x[..., :1]``
        Position of the pulled end.

    Returns
    -------
    ndarray, shape (..., L + 1)
        ``d_0 = y, d_1, ..., d_L``; ``d_{l-1} - d_l`` is the contribution of layer ``l``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)[..., None] if np.ndim(y) else float(y)
    padded = np.concatenate([np.zeros(x.shape[:-1] + (1,)), x], axis=-1)
    return y - padded
