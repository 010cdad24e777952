"""The CUDA kernel of :mod:`dnn.dropout`: the CPU kernel's masks, one thread per group.

Imported only when masks are drawn on a GPU (it imports ``numba.cuda``, which the CUDA
simulator must find configured at that moment).
"""

import functools

import numpy as np
from numba import cuda

from fastspring.rng import words4

from .dropout import DROPOUT_KEY, _keep, _scale

#: threads per block along the groups of four entries
THREADS = 128


def fill_kernel_source():
    """The kernel, undecorated (tests compile it to PTX).

    Thread ``(b, g)`` writes entries ``4 g .. 4 g + 3`` of network ``b``'s mask, as
    :func:`dnn.dropout._fill_rows`.
    """

    def fill(out, seeds, draw, ps):
        b, g = cuda.grid(2)
        size = out.shape[1]
        if b >= out.shape[0] or 4 * g >= size:
            return
        p = ps[b]
        w = words4(np.uint64(seeds[b]), np.uint64(DROPOUT_KEY), np.uint64(draw), g, np.uint64(0))
        scale = _scale(p)
        for j in range(4):
            if 4 * g + j < size:
                out[b, 4 * g + j] = scale if _keep(w[j], p) else 0.0

    return fill


@functools.cache
def fill_kernel():
    """The launchable kernel (compiled on first use)."""
    return cuda.jit(fill_kernel_source())


def fill_on_gpu(out, seeds, draw, ps):
    """Fill ``out`` (B, size), a float32 torch GPU tensor, with mask ``draw`` of each network.

    Launched on torch's current stream, so it is ordered with torch's work and needs no
    synchronisation (``sync=False``: numba would otherwise wait for that stream, stalling
    the host at every mask).
    """
    import torch

    groups = (out.shape[1] + 3) // 4
    blocks = (out.shape[0], (groups + THREADS - 1) // THREADS)
    handle = torch.cuda.current_stream(out.device).cuda_stream
    stream = cuda.default_stream() if handle == 0 else cuda.external_stream(handle)
    fill_kernel()[blocks, (1, THREADS), stream](
        cuda.as_cuda_array(out, sync=False), seeds, draw, ps
    )
