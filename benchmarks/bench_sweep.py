"""Phase sweep (paper Fig. 3 size): block-steps per second, ours against vectorised NumPy.

The diagram: 21 noise levels sigma in [0, 0.5] x 16 frictions mu_minus in [0, 0.3]
(L = 7, k = 1, y = 1, mu_plus = 0.1, dt = 0.01), 100 chains per cell, 2e4 steps:
4.7e9 block-steps.

* NumPy: the same sweep vectorised over every cell and chain at once (arrays of shape
  (cells, chains, L), in-place updates, one ``standard_normal`` call per step, one
  thread); run for ``--numpy-steps`` steps and scaled (its cost per step is constant);
* ours: :func:`fastspring.sweep` on the whole diagram (all Numba threads, or
  ``--backend cuda``), wall time of the call (compilation excluded), and a one-thread
  run on two rows of the diagram (42 cells) for the thread scaling;
* with ``--backend cuda`` also the kernel alone: one launch over every (cell, chain) of
  the diagram, its outputs copied back, without the per-chain metrics that
  :func:`fastspring.sweep` computes on the host afterwards.

Every timing is the best of ``--repeat`` (3) calls.

Run: ``python benchmarks/bench_sweep.py [--chains N] [--steps N] [--backend cuda]``
(on a GPU, give ``--chains 10000`` or more so that the launch fills the chip).
The machine may be shared: the load average is printed beside the numbers.
"""

import fastspring  # noqa: F401, I001  (first: it sets Numba's vector-width preference)

import argparse
import dataclasses
import os
import platform
import time

import numba
import numpy as np

from fastspring import Chain, Noise, sweep
from fastspring.backends.cpu import overdamped_cell
from fastspring.simulation import make_settings

CHAIN = Chain(L=7, k=1.0, y=1.0, mu_plus=0.1, mu_minus=0.1)
DT = 0.01


def numpy_sweep(sigmas, mu_minus, chains, steps, seed=0):
    """The overdamped map over every (cell, chain) at once, vectorised with NumPy."""
    gen = np.random.default_rng(seed)
    L, k, mu_plus = CHAIN.L, CHAIN.k, CHAIN.mu_plus
    grid_sigma, grid_mu = np.meshgrid(sigmas, mu_minus, indexing="ij")
    sig = grid_sigma.reshape(-1, 1, 1)
    mum = grid_mu.reshape(-1, 1, 1)
    x = np.zeros((sig.shape[0], chains, L + 2))
    x[..., -1] = CHAIN.y
    f = np.empty((sig.shape[0], chains, L))
    up = np.empty_like(f)
    for _ in range(steps):
        gen.standard_normal(out=f)
        f *= sig
        f += k * (x[..., 2:] - 2.0 * x[..., 1:-1] + x[..., :-2])
        np.subtract(f, mu_plus, out=up)
        np.maximum(up, 0.0, out=up)
        f += mum
        np.minimum(f, 0.0, out=f)
        f += up
        f *= DT
        x[..., 1:-1] += f
    return x[..., 1:-1]


def ours(sigmas, mu_minus, chains, steps, backend):
    return sweep(CHAIN, Noise(), grid={"sigma": sigmas, "mu_minus": mu_minus},
                 chains_per_cell=chains, steps=steps, dt=DT, backend=backend,
                 progress=False)  # fmt: skip


def cuda_kernel(sigmas, mu_minus, chains, steps):
    """One CUDA launch over the whole diagram (outputs copied back to the host)."""
    from fastspring.backends.cuda import run_overdamped_cells

    cells = [overdamped_cell(dataclasses.replace(CHAIN, mu_minus=m), Noise(s), DT)
             for s in sigmas for m in mu_minus]  # fmt: skip
    params, flags = (np.array(t) for t in zip(*cells, strict=True))
    settings = make_settings(CHAIN, dt=DT, steps=steps, chains=chains, seed=0,
                             record_every=steps, rtol=None)  # fmt: skip
    return run_overdamped_cells(params, flags, CHAIN.L, settings)


def timed(fn, *args, repeat=1):
    """The best wall time of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigmas", type=int, default=21)
    parser.add_argument("--frictions", type=int, default=16)
    parser.add_argument("--chains", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--numpy-steps", type=int, default=400, help="NumPy's slice of steps")
    parser.add_argument("--backend", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many timings")
    args = parser.parse_args()
    sigmas = np.linspace(0.0, 0.5, args.sigmas)
    mu_minus = np.linspace(0.0, 0.3, args.frictions)
    cells, n, steps = args.sigmas * args.frictions, args.chains, args.steps
    work = cells * n * steps * CHAIN.L
    ours(sigmas[:2], mu_minus[:1], 4, 10, args.backend)  # compile / load outside the timing
    threads = numba.config.NUMBA_NUM_THREADS
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{threads} Numba threads; numba {numba.__version__}, numpy {np.__version__}"
    )
    print(
        f"diagram: {args.sigmas} sigma x {args.frictions} mu_minus = {cells} cells x {n} "
        f"chains x {steps} steps, L = {CHAIN.L}: {work:.3g} block-steps"
    )
    print(f"load average before: {os.getloadavg()[0]:.2f}")

    numpy_time = (
        timed(numpy_sweep, sigmas, mu_minus, n, args.numpy_steps, repeat=args.repeat)
        * steps
        / args.numpy_steps
    )
    rows = {"numpy, vectorised over cells and chains (1 thread)": work / numpy_time}
    if args.backend == "cpu":
        numba.set_num_threads(1)
        one = timed(ours, sigmas, mu_minus[:2], n, steps, "cpu", repeat=args.repeat)
        numba.set_num_threads(threads)
        rows["fastspring sweep, 1 thread"] = work * 2 / args.frictions / one
    wall = timed(ours, sigmas, mu_minus, n, steps, args.backend, repeat=args.repeat)
    label = f"fastspring sweep, {threads} threads" if args.backend == "cpu" else "fastspring, cuda"
    rows[label] = work / wall
    if args.backend == "cuda":
        kernel = timed(cuda_kernel, sigmas, mu_minus, n, steps, repeat=args.repeat)
        rows["fastspring cuda kernel alone (one launch)"] = work / kernel
    for name, rate in rows.items():
        print(f"  {name:<52s} {rate:10.3g} block-steps/s")
    print(
        f"whole diagram: fastspring {wall:.1f} s; numpy {numpy_time:.0f} s (scaled from "
        f"{args.numpy_steps} steps); chains/s {cells * n / wall:.3g}"
    )
    numpy_rate = rows["numpy, vectorised over cells and chains (1 thread)"]
    print(
        f"ratio {label} / numpy = {rows[label] / numpy_rate:.1f}  (target >= 18 on 2 CPU threads)"
    )
    if args.backend == "cpu":
        scaling = rows[label] / rows["fastspring sweep, 1 thread"]
        print(f"thread scaling {threads} / 1 = {scaling:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
