"""Friction and noise pieces shared by every model, as device functions.

They are compiled with :data:`fastspring._jit.device`, so the CPU kernels
inline them and the CUDA kernels call the very same source.
"""

import numpy as np

from .._jit import device, jit
from ..rng import normal

#: noise-kind codes used by the kernels (index into ``fastspring.params.NOISE_KINDS``)
GAUSSIAN, CLIPPED, TRUNCATED = 0, 1, 2


@device
def phi(f, mu_plus, mu_minus):
    """Friction activation (paper Eqs. 5-6, docs/theory.md): the asymmetric dead zone.

    ``max(f - mu_plus, 0) + min(f + mu_minus, 0)``, which equals the three-case
    definition bit for bit when ``mu_plus, mu_minus >= 0``.  The two terms are
    written as the comparison and select that Numba's ``max``/``min`` lower to
    (``max(a, b)`` is ``b if b > a else a``), so the result is the same to the
    bit, and the function also compiles for ``numba.cuda``, whose two-argument
    ``max``/``min`` fail to compile in Numba 0.66--0.68 (numba/numba#10753).
    """
    up = f - mu_plus
    down = f + mu_minus
    return (0.0 if 0.0 > up else up) + (0.0 if 0.0 < down else down)


@device
def clip(eps, bound):
    """Clip ``eps`` to ``[-bound, bound]``; the identity for ``bound = inf``.

    ``min(max(eps, -bound), bound)`` spelled as comparisons (see :func:`phi`).
    """
    low = -bound if -bound > eps else eps
    return bound if bound < low else low


@jit
def redraw_truncated(z, sigma, bound, seed, chain0, step, sync):
    """Replace draws with ``|sigma z| > bound`` by fresh ones until inside.

    ``z`` has shape ``(rows, chains)``; row ``i`` of chain ``c`` is redrawn
    from streams 1, 2, ... of (seed, chain0 + c) at this step, so the result
    does not depend on how chains are batched.  With ``sync`` only row 0 is used.
    """
    rows = 1 if sync else z.shape[0]
    for i in range(rows):
        for c in range(z.shape[1]):
            attempt = 1
            while abs(sigma * z[i, c]) > bound:
                z[i, c] = normal(seed, chain0 + np.uint64(c), step, i, attempt)
                attempt += 1
