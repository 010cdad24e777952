"""Overdamped map (model A): block-steps per second, ours against the baselines.

One process, the same work for every contestant (L = 7, the paper's defaults):

* the notebook loop: what the paper's notebook (``first_order_iteration``) does
  per block and step -- one ``np.random.randn()``, the end blocks as special
  cases, the friction threshold through ``np.abs``/``np.sign``, a fresh state
  array per step and the state recorded every step (run on a small slice and
  scaled, it is slow);
* a lean Python loop for reference: the same draws over a NumPy state array
  without ``np.abs``/``np.sign`` or recording (earlier sessions' baseline);
* a NumPy loop vectorised over chains;
* the RNG ceiling: NumPy's fastest generator (SFC64, ziggurat normals) drawing
  the same number of normals into a buffer;
* ours with one thread and with all threads;
* ours, the generator alone (Philox + Box--Muller drawing into a buffer).

Run: ``python benchmarks/bench_overdamped.py [--chains N] [--steps N]``.
"""

import fastspring  # noqa: F401, I001  (first: sets Numba's vector-width preference)

import argparse
import platform
import time

import numba
import numpy as np

from fastspring import Chain, Noise, simulate
from fastspring.rng import fill_normals

CHAIN = Chain(L=7, k=1.0, y=1.0, mu_plus=0.1, mu_minus=0.1)
SIGMA, DT = 0.1, 0.01


def notebook_loop(chains, steps):
    """The notebook's loop, operation for operation: one draw per block and step."""
    L, k, y, mup, mum = CHAIN.L, CHAIN.k, CHAIN.y, CHAIN.mu_plus, CHAIN.mu_minus
    for _ in range(chains):
        old = np.zeros(L)
        record = []
        for _ in range(steps):
            new = np.zeros_like(old)
            for i in range(L):
                right = (y if i == L - 1 else old[i + 1]) - old[i]
                left = old[i] - (0.0 if i == 0 else old[i - 1])
                f = (right - left) * k + np.random.randn() * SIGMA  # noqa: NPY002
                threshold = mum if f < 0 else mup
                f = 0.0 if np.abs(f) <= threshold else f - threshold * np.sign(f)
                new[i] = old[i] + f * DT
            record.append(y - new)
            old = new.copy()


def lean_loop(chains, steps):
    """A leaner Python loop: NumPy state array, no ``np.abs``/``np.sign``, nothing recorded."""
    L, k, y, mup, mum = CHAIN.L, CHAIN.k, CHAIN.y, CHAIN.mu_plus, CHAIN.mu_minus
    for _ in range(chains):
        x = np.zeros(L + 2)
        x[L + 1] = y
        for _ in range(steps):
            new = x.copy()
            for i in range(1, L + 1):
                noise = SIGMA * np.random.randn()  # noqa: NPY002
                f = k * (x[i + 1] - x[i]) - k * (x[i] - x[i - 1]) + noise
                if f > mup:
                    new[i] = x[i] + DT * (f - mup)
                elif f < -mum:
                    new[i] = x[i] + DT * (f + mum)
            x = new


def numpy_loop(chains, steps):
    """Vectorised over chains: one NumPy expression per step."""
    gen = np.random.default_rng(0)
    L, k, y = CHAIN.L, CHAIN.k, CHAIN.y
    x = np.zeros((chains, L + 2))
    x[:, -1] = y
    for _ in range(steps):
        f = k * (x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]) + SIGMA * gen.standard_normal((chains, L))
        x[:, 1:-1] += DT * (np.maximum(f - CHAIN.mu_plus, 0) + np.minimum(f + CHAIN.mu_minus, 0))


def numpy_draws(chains, steps):
    gen = np.random.Generator(np.random.SFC64(0))
    buf = np.empty((chains, CHAIN.L))
    for _ in range(steps):
        gen.standard_normal(out=buf)


def ours(chains, steps):
    simulate(CHAIN, Noise(SIGMA), dt=DT, steps=steps, chains=chains, record_every=steps)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _draw_tiles(buf, words, n_tiles, steps):
    for t in range(n_tiles):
        for s in range(steps):
            fill_normals(buf, words, np.uint64(0), np.uint64(256 * t), np.uint64(s), np.uint64(0))


def generator_alone(chains, steps):
    """The kernel's draws alone: 8 rows x 256 chains per tile and step, in one jitted loop."""
    buf = np.empty((8, 256))
    _draw_tiles(buf, np.empty(buf.shape, dtype=np.uint64), (chains + 255) // 256, steps)


def rate(fn, chains, steps, repeat=3):
    """Best block-steps per second over ``repeat`` runs."""
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn(chains, steps)
        best = min(best, time.perf_counter() - t)
    return chains * steps * CHAIN.L / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=8192)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    n, s = args.chains, args.steps
    ours(256, 10)  # compile (or load from cache) outside the timing
    generator_alone(256, 1)
    threads = numba.config.NUMBA_NUM_THREADS
    print(
        f"machine: {platform.processor() or platform.machine()}, {threads} threads; "
        f"numba {numba.__version__}, numpy {np.__version__}"
    )
    print(
        f"work: L = {CHAIN.L}, {n} chains x {s} steps (python loops: 4 chains x 500 steps); "
        "best of 5 runs (python loops) or 3"
    )
    rows = {
        "python loop (notebook)": rate(notebook_loop, 4, 500, repeat=5),
        "python loop, lean (not the notebook)": rate(lean_loop, 4, 500, repeat=5),
        "numpy, vectorised over chains": rate(numpy_loop, n, s // 4),
        "numpy draws only (SFC64), ceiling": rate(numpy_draws, n, s // 4),
    }
    numba.set_num_threads(1)
    rows["fastspring, 1 thread"] = rate(ours, n, s)
    rows["fastspring generator alone, 1 thread"] = rate(generator_alone, n, s) * 8 / 7
    numba.set_num_threads(threads)
    rows[f"fastspring, {threads} threads"] = rate(ours, n, s)
    for name, r in rows.items():
        print(f"  {name:<40s} {r:10.3g} block-steps/s")
    one = rows["fastspring, 1 thread"]
    print("ratios:")
    numpy_rate = rows["numpy, vectorised over chains"]
    print(f"  1 thread / numpy vectorised      = {one / numpy_rate:8.1f}  (target >= 10)")
    print(
        f"  1 thread / python loop           = {one / rows['python loop (notebook)']:8.0f}"
        "  (target >= 1000)"
    )
    print(
        f"  1 thread / lean python loop      = "
        f"{one / rows['python loop, lean (not the notebook)']:8.0f}"
    )
    print(
        f"  whole step / generator alone     = "
        f"{one / rows['fastspring generator alone, 1 thread']:8.2f}  (target >= 0.60)"
    )
    print(
        f"  {threads} threads / 1 thread           = "
        f"{rows[f'fastspring, {threads} threads'] / one:8.2f}  (target >= 1.8 on 2 threads)"
    )
    gen = rows["fastspring generator alone, 1 thread"]
    print(
        f"  generator alone / numpy draws    = "
        f"{gen / rows['numpy draws only (SFC64), ceiling']:8.2f}"
    )


if __name__ == "__main__":
    main()
