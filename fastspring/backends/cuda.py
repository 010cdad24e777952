"""CUDA drivers: one GPU thread per (cell, chain), the CPU kernels' device functions.

The kernels here take the same per-cell parameter tables as the CPU kernels and
call the very same device functions.  Overdamped model: the Philox generator
(:func:`fastspring.rng.fill_normals`), the truncated-noise re-draws
(:func:`fastspring.models.friction.redraw_truncated`), the noise clip and the
block update (:func:`fastspring.models.overdamped.block_update`), in the CPU
kernel's order but one chain per thread.  Inertial and Langevin models: their
CPU kernels already run one chain per task, through
:func:`fastspring.models.inertial.inertial_chain` and
:func:`fastspring.models.langevin.langevin_chain`, which each thread calls with
its scratch arrays in local memory.  A chain therefore draws the same noise on
both backends.  Results agree with the CPU backend to round-off, not to the
bit: NVVM contracts ``a * b + c`` into fused multiply-adds, and libdevice's
``exp``, ``sin`` and ``cos`` may differ from the host's by an ulp.  Under
``NUMBA_ENABLE_CUDASIM=1`` the same code runs on the CPU through Numba's CUDA
simulator (bit for bit equal there).

Import this module only when the CUDA backend is asked for: it imports
``numba.cuda`` (which the simulator must find configured at that moment).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda, float64, int64, uint64

from ..errors import GpuUnavailableError
from ..models import inertial, langevin
from ..models.friction import TRUNCATED, clip, redraw_truncated
from ..models.overdamped import block_update
from ..rng import fill_normals
from . import _cuda_minmax  # noqa: F401  (two-argument max/min on the CUDA target)

#: threads per block
THREADS = 128


def require_gpu():
    """Raise :class:`~fastspring.errors.GpuUnavailableError` unless numba.cuda can run."""
    if not cuda.is_available():
        raise GpuUnavailableError(
            "backend='cuda' needs a CUDA GPU, and numba.cuda.is_available() is False here; "
            "use backend='cpu', or set NUMBA_ENABLE_CUDASIM=1 before importing numba to run "
            "the (slow) CUDA simulator"
        )


def overdamped_kernel_source(L):
    """The Python source of the overdamped kernel for chains of ``L`` blocks.

    ``L`` is a compile-time constant of the kernel (CUDA local arrays have a
    fixed size).  Returned undecorated so that tests can compile it to PTX
    with ``numba.cuda.compile_ptx``; :func:`overdamped_kernel` is the
    launchable form.
    """
    padded = 4 * ((L + 3) // 4)  # rows of draws, whole groups of four
    ends = L + 2  # the blocks and the two fixed ends

    def kernel(x_out, mean_out, steps_taken, converged, params, flags, seed, chain0, steps,
               rtol, average_from):  # fmt: skip
        j, c, active = _cell_and_chain(x_out)
        if not active:
            return
        chain = chain0 + np.uint64(c)
        k, y, mu_plus, mu_minus = params[j, 0], params[j, 1], params[j, 2], params[j, 3]
        eta, sigma, bound, decay = params[j, 4], params[j, 5], params[j, 6], params[j, 7]
        kind = flags[j, 0]
        sync = flags[j, 1] != 0
        rows = 4 if sync else padded
        pos = cuda.local.array(ends, float64)
        total = cuda.local.array(L, float64)
        z_all = cuda.local.array((padded, 1), float64)
        z = z_all[:rows]
        words = cuda.local.array((padded, 1), uint64)[:rows]
        for i in range(padded):
            z_all[i, 0] = 0.0
        for i in range(ends):
            pos[i] = 0.0
        pos[L + 1] = y
        for i in range(L):
            total[i] = 0.0
        taken = steps
        stopped = False
        for n in range(steps):
            step = np.uint64(n)
            sig = sigma * math.exp(-decay * (n * eta)) if decay > 0.0 else sigma
            if sig > 0.0:  # a noiseless cell needs no draws (z stays 0)
                fill_normals(z, words, seed, chain, step, np.uint64(0))
                if kind == TRUNCATED:
                    redraw_truncated(z, sig, bound, seed, chain, step, sync)
            left_old = 0.0
            dmax = 0.0
            xmax = 0.0
            for i in range(1, L + 1):
                old = pos[i]
                eps = clip(sig * z[0 if sync else i - 1, 0], bound)
                new = block_update(left_old, old, pos[i + 1], k, eta, mu_plus, mu_minus, eps)
                left_old = old
                pos[i] = new
                change = abs(new - old)
                dmax = change if change > dmax else dmax
                size = abs(new)
                xmax = size if size > xmax else xmax
            if n >= average_from:
                for i in range(L):
                    total[i] += pos[i + 1]
            if rtol >= 0.0 and dmax <= rtol * xmax:
                stopped = True
                taken = n + 1
                break
        steps_taken[j, c] = taken
        converged[j, c] = stopped
        averaged = taken - average_from
        for i in range(L):
            x_out[j, c, i] = pos[i + 1]
            mean_out[j, c, i] = total[i] / averaged if averaged > 0 else math.nan

    return kernel


@functools.cache
def overdamped_kernel(L):
    """The compiled (lazily, per argument types) overdamped kernel for ``L`` blocks."""
    return cuda.jit(overdamped_kernel_source(L))


def run_overdamped_cells(params, flags, L, settings, chain0=0):
    """Run the overdamped map on a table of cells with the same ``L``, on the GPU.

    The CUDA counterpart of :func:`fastspring.backends.cpu.run_overdamped_cells`
    (without recorded trajectories): chain ``c`` of every cell draws from the
    stream ``(settings.seed, chain0 + c)``.

    Returns
    -------
    dict
        ``x``, ``x_mean`` (cells, chains, L); ``steps_taken`` (int64) and
        ``converged`` (bool), shape (cells, chains).
    """
    return _run_kernel(overdamped_kernel(L), params, flags, L, settings, chain0)


@cuda.jit(device=True)
def _cell_and_chain(x_out):
    """The current thread's (cell, chain) and whether it has one.

    ``x_out`` has shape (cells, chains, L); the last block of threads runs past its end.
    """
    t = cuda.grid(1)
    chains = x_out.shape[1]
    return t // chains, t % chains, t < x_out.shape[0] * chains


@cuda.jit(device=True)
def _copy_row(p, f, params, flags, j):
    """Copy cell ``j``'s rows of the parameter and flag tables into local ``p``, ``f``."""
    _copy(p, params[j])
    _copy(f, flags[j])


@cuda.jit(device=True)
def _copy(dst, src):
    """Copy a 1-, 2- or 3-D array into a thread's local array of the same shape."""
    if src.ndim == 1:
        for i in range(src.shape[0]):
            dst[i] = src[i]
    elif src.ndim == 2:
        for r in range(src.shape[0]):
            for i in range(src.shape[1]):
                dst[r, i] = src[r, i]
    else:
        for m in range(src.shape[0]):
            for r in range(src.shape[1]):
                for i in range(src.shape[2]):
                    dst[m, r, i] = src[m, r, i]


@cuda.jit(device=True)
def _store(x_out, mean_out, steps_taken, converged, j, c, x_rec, mean, taken, stopped):
    """Write one chain's final state, time average and stop to the outputs."""
    for i in range(mean.shape[0]):
        x_out[j, c, i] = x_rec[1, i]
        mean_out[j, c, i] = mean[i]
    steps_taken[j, c] = taken
    converged[j, c] = stopped != 0


def langevin_kernel_source(L):
    """The Langevin kernel for ``L`` blocks: each thread runs ``langevin_chain``.

    The cell's table rows and every array the chain function touches are
    copied into the thread's local memory (so the chain function sees plain
    arrays, also under the simulator); only the final state is recorded.
    """
    work_shape, rec_shape = (langevin.ROWS, L + 2), (2, L)
    n_params, n_flags = len(langevin.PARAMS), len(langevin.FLAGS)

    def kernel(x_out, mean_out, steps_taken, converged, params, flags, seed, chain0, steps, rtol,
               average_from):  # fmt: skip
        j, c, active = _cell_and_chain(x_out)
        if not active:
            return
        p = cuda.local.array(n_params, float64)
        f = cuda.local.array(n_flags, int64)
        _copy_row(p, f, params, flags, j)
        work = cuda.local.array(work_shape, float64)
        x_rec = cuda.local.array(rec_shape, float64)
        v_rec = cuda.local.array(rec_shape, float64)
        given = cuda.local.array(rec_shape, float64)
        mean = cuda.local.array(L, float64)
        diag = cuda.local.array(2, int64)
        langevin.langevin_chain(
            work, p, f, seed, chain0 + np.uint64(c), steps, steps, rtol, average_from, given,
            False, x_rec, v_rec, mean, diag,
        )  # fmt: skip
        _store(x_out, mean_out, steps_taken, converged, j, c, x_rec, mean, diag[0], diag[1])

    return kernel


def inertial_kernel_source(L):
    """The inertial kernel for ``L`` blocks: each thread runs ``inertial_chain``.

    Local copies as in :func:`langevin_kernel_source`, including the mode
    tables and the cell's propagator cache (computed on the host).
    """
    work_shape, iwork_shape, rec_shape = (inertial.ROWS, L + 2), (inertial.IROWS, L + 2), (2, L)
    sines_shape, eig_shape, cache_shape = (L + 1, 2 * L + 2), (L + 1, L + 1), (L + 1, L + 1, 3)
    n_params, n_flags, n_energy = (
        len(inertial.PARAMS),
        len(inertial.FLAGS),
        len(inertial.ENERGY_TERMS),
    )

    def kernel(x_out, mean_out, steps_taken, converged, params, flags, sines, unit_eig, cache,
               seed, chain0, steps, rtol, average_from):  # fmt: skip
        j, c, active = _cell_and_chain(x_out)
        if not active:
            return
        p = cuda.local.array(n_params, float64)
        f = cuda.local.array(n_flags, int64)
        _copy_row(p, f, params, flags, j)
        s = cuda.local.array(sines_shape, float64)
        e = cuda.local.array(eig_shape, float64)
        _copy(s, sines)
        _copy(e, unit_eig)
        q = cuda.local.array(cache_shape, float64)
        _copy(q, cache[j])
        work = cuda.local.array(work_shape, float64)
        iwork = cuda.local.array(iwork_shape, int64)
        for r in range(iwork_shape[0]):  # the CPU kernel hands over zeros
            for i in range(iwork_shape[1]):
                iwork[r, i] = 0
        ledger = cuda.local.array(3, float64)
        x_rec = cuda.local.array(rec_shape, float64)
        v_rec = cuda.local.array(rec_shape, float64)
        e_rec = cuda.local.array((2, n_energy), float64)
        given = cuda.local.array(rec_shape, float64)
        mean = cuda.local.array(L, float64)
        counts = cuda.local.array((3, L), int64)
        last_stick = cuda.local.array(L, float64)
        diag = cuda.local.array(4, int64)
        inertial.inertial_chain(
            work, iwork, ledger, s, e, q, p, f, seed, chain0 + np.uint64(c), steps, steps, rtol,
            average_from, given, False, x_rec, v_rec, e_rec, mean, counts, last_stick, diag,
        )  # fmt: skip
        _store(x_out, mean_out, steps_taken, converged, j, c, x_rec, mean, diag[2], diag[3])

    return kernel


@functools.cache
def langevin_kernel(L):
    """The compiled Langevin kernel for ``L`` blocks."""
    return cuda.jit(langevin_kernel_source(L))


@functools.cache
def inertial_kernel(L):
    """The compiled inertial kernel for ``L`` blocks."""
    return cuda.jit(inertial_kernel_source(L))


def run_langevin_cells(params, flags, L, settings, chain0=0):
    """Run the Langevin model on a table of cells with the same ``L``, on the GPU.

    The CUDA counterpart of :func:`fastspring.backends.cpu.run_langevin_cells`,
    with the outputs of :func:`run_overdamped_cells`.
    """
    return _run_kernel(langevin_kernel(L), params, flags, L, settings, chain0)


def run_inertial_cells(params, flags, L, settings, chain0=0):
    """Run the exact stick--slip model on a table of cells with the same ``L``, on the GPU.

    The CUDA counterpart of :func:`fastspring.backends.cpu.run_inertial_cells`,
    with the outputs of :func:`run_overdamped_cells`.  Each cell's propagator
    cache is filled on the host by :func:`fastspring.models.inertial.fill_interval_cache`
    (the CPU kernel's own), so both backends use the same bits.
    """
    require_gpu()  # before the first cuda.to_device
    params = np.ascontiguousarray(params, dtype=np.float64)
    sines, unit_eig = inertial.mode_tables(L)
    cache = np.empty((params.shape[0], L + 1, L + 1, 3))
    for j, row in enumerate(params):
        inertial.fill_interval_cache(cache[j], unit_eig, row[0], row[8], row[4])
    tables = tuple(cuda.to_device(a) for a in (sines, unit_eig, cache))
    return _run_kernel(inertial_kernel(L), params, flags, L, settings, chain0, tables)


def _run_kernel(kernel, params, flags, L, settings, chain0, tables=()):
    """Allocate the outputs, launch one thread per (cell, chain), copy the results back."""
    require_gpu()
    cells, n = params.shape[0], settings.chains
    out = {
        "x": cuda.device_array((cells, n, L)),
        "x_mean": cuda.device_array((cells, n, L)),
        "steps_taken": cuda.device_array((cells, n), dtype=np.int64),
        "converged": cuda.device_array((cells, n), dtype=np.bool_),
    }
    _launch(
        kernel, cells * n, *out.values(), *_tables(params, flags), *tables,
        np.uint64(settings.seed), np.uint64(chain0), np.int64(settings.steps),
        np.float64(settings.rtol), np.int64(settings.average_from),
    )  # fmt: skip
    return {name: array.copy_to_host() for name, array in out.items()}


def _tables(params, flags):
    """The per-cell tables on the device, as the kernels take them."""
    return (
        cuda.to_device(np.ascontiguousarray(params, dtype=np.float64)),
        cuda.to_device(np.ascontiguousarray(flags, dtype=np.int64)),
    )


def _launch(kernel, n_threads, *args):
    """Launch ``kernel`` with one thread per (cell, chain) pair."""
    threads = min(THREADS, n_threads)
    kernel[-(-n_threads // threads), threads](*args)
