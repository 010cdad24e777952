"""Check the paper's central claim on the overdamped map: for mu_minus > mu_plus,
raising the noise turns the load curve concave -> linear -> convex, and the noise
level of the linear point is predicted by ``analysis``.

For each setting the script sweeps the Gaussian noise level sigma on a log grid, runs
``chains`` independent chains for ``steps`` steps from rest, and measures the scale-free
curvature ``c_rel`` of the chain-averaged final load curve. The measured crossing
sigma* (``c_rel = 0``, linear interpolation in log sigma between the bracketing grid
points, refined on a finer grid) is compared with

* ``analysis.critical_sigma(mu_plus, mu_minus, window=steps)``: Gaussian noise over
  T steps acts like noise bounded by the expected maximum of T draws, and the curve
  is linear when that bound equals mu_plus (rule "expected_max");
* the same with the cruder bound sigma sqrt(2 ln T) (rule "sqrt2log");
* ``analysis.critical_sigma_mean_field``: the crossing of the noise-averaged map
  ``x <- x + dt E phi(F + eps)`` after the same T steps (no fitted parameter).

The error of the measured sigma* is propagated from the standard error of ``c_rel``
across chains (delta method) through the local slope d c_rel / d log sigma.

Run: ``python benchmarks/check_phase_transition.py [--quick]``; it prints a table
(Markdown) and needs no GPU (a few minutes on two cores, ~20 s with --quick).
"""

import argparse
import math
import time

import numpy as np

import analysis
from fastspring import Chain, Noise, simulate

# (L, k, y, mu_plus, mu_minus, dt, steps)
SETTINGS = [
    (7, 1.0, 1.0, 0.1, 0.2, 0.01, 10_000),  # the paper's defaults, mu_minus = 2 mu_plus
    (7, 1.0, 1.0, 0.1, 0.3, 0.01, 10_000),
    (7, 1.0, 1.0, 0.1, 0.2, 0.01, 1_000),
    (7, 1.0, 1.0, 0.1, 0.2, 0.01, 100_000),
    (7, 1.0, 1.0, 0.1, 0.2, 0.1, 10_000),  # larger step
    (15, 1.0, 1.0, 0.05, 0.1, 0.01, 10_000),
    (7, 1.0, 5.0, 0.1, 0.2, 0.01, 10_000),  # strong pull: everything mobilised at once
]
QUICK = [SETTINGS[0], SETTINGS[2], SETTINGS[4]]


def measure(chain, sigma, dt, steps, chains, seed):
    """Chain-averaged final load curve's c_rel and its standard error across chains."""
    res = simulate(
        chain, Noise(sigma), dt=dt, steps=steps, chains=chains, seed=seed, record_every=steps
    )
    d = analysis.load_curve(res.x, chain.y)  # (chains, L + 1)
    c = (d[:, 0] - d[:, 1]) - (d[:, -2] - d[:, -1])
    drop = d[:, 0] - d[:, -1]
    c_rel = analysis.load_curve_metrics(d.mean(axis=0))["c_rel"]
    # delta method for the ratio of means c_bar / drop_bar
    cm, dm = c.mean(), drop.mean()
    resid = c - c_rel * drop
    se = resid.std(ddof=1) / math.sqrt(chains) / abs(dm) if dm else math.nan
    return float(c_rel), float(se), float(cm)


def crossing(sigmas, values):
    """First sign change of ``values`` in ``sigmas``, interpolated in log sigma."""
    s = np.sign(values)
    idx = np.flatnonzero(s[:-1] * s[1:] < 0)
    if idx.size == 0:
        return math.nan, math.nan, None
    i = idx[0]
    lx = np.log(sigmas[i : i + 2])
    slope = (values[i + 1] - values[i]) / (lx[1] - lx[0])
    return float(np.exp(lx[0] - values[i] / slope)), float(slope), i


def run_setting(setting, chains, n_coarse, n_fine, seed=0):
    L, k, y, mp, mm, dt, steps = setting
    chain = Chain(L, k, y, mp, mm)
    pred = analysis.critical_sigma(mp, mm, window=steps)
    pred_crude = analysis.critical_sigma(mp, mm, window=steps, rule="sqrt2log")
    pred_mf = analysis.critical_sigma_mean_field(L, k, y, mp, mm, dt, steps)
    # coarse grid spanning every prediction with a factor 4 margin, then a fine grid
    # inside the cell where the measured curvature changes sign
    preds = [p for p in (pred, pred_crude, pred_mf) if np.isfinite(p) and p > 0]
    coarse = np.geomspace(min(preds) / 4, max(preds) * 4, n_coarse)
    rows = [measure(chain, s, dt, steps, chains, seed) for s in coarse]
    c_rel = np.array([r[0] for r in rows])
    _, _, i = crossing(coarse, c_rel)
    if i is None:
        return dict(pred=pred, pred_crude=pred_crude, pred_mf=pred_mf, meas=math.nan,
                    err=math.nan, coarse=(coarse, c_rel))  # fmt: skip
    fine = np.geomspace(coarse[i], coarse[i + 1], n_fine)
    rows = [measure(chain, s, dt, steps, chains, seed + 1) for s in fine]
    c_fine = np.array([r[0] for r in rows])
    se_fine = np.array([r[1] for r in rows])
    meas, slope, j = crossing(fine, c_fine)
    if j is None:  # noise flipped the sign more than once: use the coarse crossing
        meas, slope, j = crossing(coarse, c_rel)
        err = math.nan
    else:
        se = 0.5 * (se_fine[j] + se_fine[j + 1])
        err = meas * se / abs(slope)  # d sigma = sigma d(log sigma)
    return dict(pred=pred, pred_crude=pred_crude, pred_mf=pred_mf, meas=meas, err=err,
                coarse=(coarse, c_rel))  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 settings, fewer chains")
    parser.add_argument("--chains", type=int, default=None)
    args = parser.parse_args(argv)
    settings_ = QUICK if args.quick else SETTINGS
    chains = args.chains or (64 if args.quick else 256)
    n_coarse, n_fine = (13, 7) if args.quick else (25, 11)
    print(f"Gaussian noise, {chains} chains per sigma, c_rel of the chain-mean final load curve")
    print()
    print(
        "| L | k | y | mu+ | mu- | dt | steps T | c_rel over the scan "
        "| sigma* measured | mean-field map | meas/pred | E max of T draws | meas/pred "
        "| sqrt(2 ln T) | meas/pred |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    t0 = time.time()
    for setting in settings_:
        r = run_setting(setting, chains, n_coarse, n_fine)
        L, k, y, mp, mm, dt, steps = setting
        meas = f"{r['meas']:.4g} ± {r['err']:.2g}" if np.isfinite(r["meas"]) else "no crossing"
        shape = f"{r['coarse'][1][0]:+.2f} -> {r['coarse'][1][-1]:+.2f}"
        print(
            f"| {L} | {k:g} | {y:g} | {mp:g} | {mm:g} | {dt:g} | {steps} | {shape} | {meas} "
            f"| {r['pred_mf']:.4g} | {r['meas'] / r['pred_mf']:.3f} "
            f"| {r['pred']:.4g} | {r['meas'] / r['pred']:.3f} | {r['pred_crude']:.4g} "
            f"| {r['meas'] / r['pred_crude']:.3f} |",
            flush=True,
        )
    print()
    print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
