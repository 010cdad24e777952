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
    """Friction activation (SPEC Eq. for phi): the asymmetric dead zone.

    ``max(f - mu_plus, 0) + min(f + mu_minus, 0)``, which equals the three-case
    definition bit for bit when ``mu_plus, mu_minus >= 0``.
    """
    return max(f - mu_plus, 0.0) + min(f + mu_minus, 0.0)


@device
def clip(eps, bound):
    """Clip ``eps`` to ``[-bound, bound]``; the identity for ``bound = inf``."""
    return min(max(eps, -bound), bound)


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
