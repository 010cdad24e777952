"""Inertial (B) and Langevin (C) models: simulated seconds per wall second, ours vs the baselines.

Same work for every contestant, one process:

1. Langevin, the paper's setting (L = 7, gamma = 1, k = 0.1, sigma = 0.003,
   lambda = 0.001, mu+ = 0.003, mu- = 0.004, synchronous noise, 14 000 points
   over 700 s): ``sdeint.itoint`` (SRI2, timed on the first ``--sdeint-steps``
   steps and scaled) against our Langevin kernel fed the same increments
   (its result is checked against sdeint's on those steps) and with its own
   generator, one chain on one thread.
2. Inertial stick--slip without noise (L = 7, k = 1, y = 4, mu+ = 0.1,
   mu- = 0.2, gamma = 0.4, underdamped: many stick, slip and reversal
   events): ``scipy.integrate.solve_ivp`` (DOP853) with terminal events
   driving the same friction law in Python
   (:func:`tests.reference.stick_slip.event_driven`), with its steps capped
   at dt/64 (so that no event is stepped over) and without, at a tight and
   a loose tolerance, against our exact integrator.  Accuracy is the largest
   position difference from ours over the run (ours agrees with closed forms
   and matrix exponentials to ~1e-13, see ``tests/test_inertial.py``).
3. Ours over many chains with all threads: the inertial model with noise
   (the paper's chain, sigma = 0.1) and the Langevin model.

Run: ``python benchmarks/bench_inertial.py [--chains N]``.  The load average
is printed: timings on a shared machine are noisy.
"""

import fastspring  # noqa: F401, I001  (first: it sets Numba's vector-width preference)

import argparse
import math
import os
import platform
import sys
import time
from functools import partial

import numba
import numpy as np
import sdeint

from fastspring import Chain, Noise, simulate

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from tests.reference.langevin import sdeint_system  # noqa: E402
from tests.reference.stick_slip import event_driven  # noqa: E402

PAPER = Chain(L=7, k=0.1, y=1.0, mu_plus=0.003, mu_minus=0.004)
PAPER_NOISE = Noise(0.003, decay=0.001, synchronous=True)
GAMMA, T_MAX, POINTS = 1.0, 700.0, 14_000
STICK = Chain(L=7, k=1.0, y=4.0, mu_plus=0.1, mu_minus=0.2)


def best_of(fn, repeat=3):
    """Smallest wall time of ``repeat`` calls and the last result."""
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def langevin_section(sdeint_steps):
    tspan = np.linspace(0.0, T_MAX, POINTS)
    h = tspan[1] - tspan[0]
    f, G = sdeint_system(PAPER, GAMMA, PAPER_NOISE.sigma, PAPER_NOISE.decay)
    dw = np.random.default_rng(0).standard_normal((POINTS - 1, 14)) * math.sqrt(h)
    short = tspan[: sdeint_steps + 1]
    t_ref, ref = best_of(
        lambda: sdeint.itoSRI2(f, G, np.zeros(14), short, dW=dw[:sdeint_steps],
                               I=np.zeros((sdeint_steps, 14, 14))),
        repeat=1,
    )  # fmt: skip
    t_ref *= (POINTS - 1) / sdeint_steps  # scaled to the whole run
    xi = (dw[:, 7:].sum(axis=1) / math.sqrt(7 * h))[:, None]
    kw = dict(model="langevin", gamma=GAMMA, sync_convention="sum", dt=h, steps=POINTS - 1)
    ours_given = simulate(PAPER, PAPER_NOISE, noise_values=xi, record_every=1, **kw)
    error = np.max(np.abs(ours_given.trajectory[: sdeint_steps + 1, 0] - ref[:, :7]))
    numba.set_num_threads(1)
    t_given, _ = best_of(lambda: simulate(PAPER, PAPER_NOISE, noise_values=xi, **kw))
    t_own, _ = best_of(lambda: simulate(PAPER, PAPER_NOISE, **kw))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    print(f"\n1. Langevin, paper setting (L = 7, {POINTS} points over {T_MAX:g} s, dt = {h:.5f})")
    print(f"   sdeint vs ours on the same increments, first {sdeint_steps} steps: "
          f"max |x diff| = {error:.1e}")  # fmt: skip
    rows = [
        ("sdeint.itoSRI2 (scaled from a slice)", T_MAX / t_ref),
        ("ours, given increments, 1 thread", T_MAX / t_given),
        ("ours, own generator, 1 thread", T_MAX / t_own),
    ]
    for name, rate in rows:
        print(f"   {name:<40s} {rate:12.4g} simulated s / wall s")
    print(
        f"   ratio ours (own generator) / sdeint = {rows[2][1] / rows[0][1]:10.0f}"
        "  (target >= 1000)"
    )
    return rows[0][1]


def stick_slip_section():
    dt, steps = 0.5, 120  # 60 s: the chain slides, reverses and sticks, then rests
    noise = np.zeros((steps, STICK.L))
    kw = dict(model="inertial", gamma=0.4, dt=dt, steps=steps, record_every=1)
    ours = simulate(STICK, **kw)
    events = sum(int(ours.extras[n][1].sum()) for n in ("sticks", "breakaways", "reversals"))
    numba.set_num_threads(1)
    t_ours, _ = best_of(lambda: simulate(STICK, **kw), repeat=5)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    args = (STICK.L, STICK.k, STICK.y, STICK.mu_plus, STICK.mu_minus, 0.4, dt, noise)
    print(f"\n2. Inertial stick-slip, no noise (L = 7, {steps * dt:g} s, {events} events)")
    print(f"   {'ours, exact, 1 thread':<52s} {steps * dt / t_ours:10.4g} simulated s / wall s")
    for rtol, atol, cap in ((1e-12, 1e-14, 1 / 64), (1e-12, 1e-14, np.inf), (1e-8, 1e-10, np.inf)):
        run = partial(event_driven, *args, rtol=rtol, atol=atol, max_step=cap)
        t_ivp, ref = best_of(run, 1)
        error = np.max(np.abs(ref - ours.trajectory[:, 0]))
        name = f"solve_ivp + events, rtol={rtol:g}, max_step={cap * dt:g}"
        print(
            f"   {name:<52s} {steps * dt / t_ivp:10.4g} simulated s / wall s, "
            f"max |x diff| = {error:.1e}, ours / it = {t_ivp / t_ours:8.0f}"
        )
    print("   (equal accuracy: the capped row; without a step cap solve_ivp can step over a")
    print("   velocity excursion below zero and miss its events; ours is exact to round-off)")


def many_chains_section(chains, sdeint_rate):
    threads = numba.config.NUMBA_NUM_THREADS
    print(f"\n3. Many chains, {threads} threads")
    cases = [
        ("inertial, paper chain, sigma = 0.1, gamma = 1, dt = 0.01", Chain(), Noise(0.1),
         dict(model="inertial", gamma=1.0, dt=0.01, steps=2000)),
        ("inertial, same, no noise", Chain(), None,
         dict(model="inertial", gamma=1.0, dt=0.01, steps=2000)),
        ("langevin, paper setting", PAPER, PAPER_NOISE,
         dict(model="langevin", gamma=GAMMA, sync_convention="sum", dt=T_MAX / (POINTS - 1),
              steps=POINTS - 1)),
    ]  # fmt: skip
    for name, chain, noise, kw in cases:
        simulate(chain, noise, chains=2, **{**kw, "steps": 10})
        run = partial(simulate, chain, noise, chains=chains, record_every=kw["steps"], **kw)
        t, _ = best_of(run, repeat=2)
        intervals = chains * kw["steps"] / t
        print(f"   {name:<58s} {intervals * kw['dt']:12.4g} chain-s / wall s "
              f"({intervals:.3g} chain-steps/s, {chains} chains)")  # fmt: skip
    rate = intervals * kw["dt"]
    print(f"   ratio langevin, all threads / sdeint = {rate / sdeint_rate:8.0f}  (target >= 1000)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=2048)
    parser.add_argument("--sdeint-steps", type=int, default=2000)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{numba.config.NUMBA_NUM_THREADS} threads; numba {numba.__version__}, "
          f"numpy {np.__version__}, sdeint {sdeint.__version__}; "
          f"load average {os.getloadavg()[0]:.2f} (start)")  # fmt: skip
    sdeint_rate = langevin_section(args.sdeint_steps)
    stick_slip_section()
    many_chains_section(args.chains, sdeint_rate)
    print(f"\nload average {os.getloadavg()[0]:.2f} (end)")


if __name__ == "__main__":
    main()
