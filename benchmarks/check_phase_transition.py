"""Check the paper's central claim on the overdamped map, the Langevin variant and the
inertial model: for mu_minus > mu_plus, raising the noise turns the load curve concave
-> linear -> convex, and the noise level of the linear point is predicted by ``analysis``.

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
  ``x <- x + dt E phi(F + eps)`` after the same T steps (no fitted parameter); for the
  Langevin variant and the inertial model, of the dynamics that move every block at
  the stationary mean velocity ``analysis.langevin_drift`` / ``analysis.inertial_drift``
  (the two rules above are the overdamped map's and are not shown for them).

The error of the measured sigma* is propagated from the standard error of ``c_rel``
across chains (delta method) through the local slope d c_rel / d log sigma.

Run: ``python benchmarks/check_phase_transition.py [--quick]``; it prints a table
(Markdown) and needs no GPU (a few minutes on two cores, ~20 s with --quick).
"""

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np

import analysis
from fastspring import Chain, Noise, simulate


@dataclass(frozen=True)
class Setting:
    """One chain, noise and run length whose crossing sigma* is measured."""

    L: int
    k: float
    y: float
    mu_plus: float
    mu_minus: float
    dt: float
    steps: int
    model: str = "overdamped"
    gamma: float = 1.0  # Langevin and inertial
    decay: float = 0.0
    synchronous: bool = False
    sync_convention: str = "shared"  # Langevin only
    average_from: int | None = None  # time-average the positions after this step

    @property
    def model_params(self):
        if self.model == "langevin":
            return {"gamma": self.gamma, "sync_convention": self.sync_convention}
        if self.model == "inertial":
            return {"gamma": self.gamma}
        return {}


_S14 = {"L": 7, "k": 0.1, "y": 1.0, "mu_plus": 0.003, "dt": 0.05, "steps": 14_000,
        "model": "langevin"}  # fmt: skip
_S14_NOISE = {"decay": 0.001, "synchronous": True, "sync_convention": "sum"}
_S13 = {"L": 7, "k": 1.0, "y": 1.0, "mu_plus": 0.1, "dt": 0.1, "steps": 3_000,
        "model": "inertial", "average_from": 1_500}  # fmt: skip
SETTINGS = [
    Setting(7, 1.0, 1.0, 0.1, 0.2, 0.01, 10_000),  # the paper's defaults, mu_minus = 2 mu_plus
    Setting(7, 1.0, 1.0, 0.1, 0.3, 0.01, 10_000),
    Setting(7, 1.0, 1.0, 0.1, 0.2, 0.01, 1_000),
    Setting(7, 1.0, 1.0, 0.1, 0.2, 0.01, 100_000),
    Setting(7, 1.0, 1.0, 0.1, 0.2, 0.1, 10_000),  # larger step
    Setting(15, 1.0, 1.0, 0.05, 0.1, 0.01, 10_000),
    Setting(7, 1.0, 5.0, 0.1, 0.2, 0.01, 10_000),  # strong pull: everything mobilised at once
    Setting(7, 1.0, 1.0, 0.1, 0.2, 0.01, 10_000, decay=0.01),  # decaying noise
    Setting(7, 1.0, 1.0, 0.1, 0.2, 0.01, 10_000, average_from=5_000),  # as in Fig. 3
    # the Langevin variant in the paper's reference setting (S14), three frictions
    Setting(**_S14, mu_minus=0.004, **_S14_NOISE),
    Setting(**_S14, mu_minus=0.006, **_S14_NOISE),
    Setting(**_S14, mu_minus=0.009, **_S14_NOISE),
    # ... with independent, non-decaying noise, and with stronger damping
    Setting(**_S14, mu_minus=0.006),
    Setting(**{**_S14, "gamma": 4.0, "steps": 28_000}, mu_minus=0.006, **_S14_NOISE),
    Setting(**_S14, mu_minus=0.006, **_S14_NOISE, average_from=7_000),
    # the inertial model as in the S13 figure (gamma = 1, time-averaged curves), then a
    # final curve, stronger damping and a shorter step
    Setting(**_S13, mu_minus=0.15),
    Setting(**_S13, mu_minus=0.2),
    Setting(**_S13, mu_minus=0.3),
    Setting(**{**_S13, "average_from": None}, mu_minus=0.2),
    Setting(**_S13, mu_minus=0.2, gamma=4.0),
    Setting(**{**_S13, "dt": 0.05, "steps": 6_000, "average_from": 3_000}, mu_minus=0.2),
]
QUICK = [SETTINGS[0], SETTINGS[2], SETTINGS[4], SETTINGS[10]]


def measure(setting, sigma, chains, seed):
    """c_rel of the chain-averaged final (or time-averaged) load curve, and its standard error."""
    st = setting
    noise = Noise(sigma, decay=st.decay, synchronous=st.synchronous)
    res = simulate(Chain(st.L, st.k, st.y, st.mu_plus, st.mu_minus), noise, model=st.model,
                   dt=st.dt, steps=st.steps, chains=chains, seed=seed, record_every=st.steps,
                   average_from=st.average_from, **st.model_params)  # fmt: skip
    x = res.x if st.average_from is None else res.x_mean
    d = analysis.load_curve(x, st.y)  # (chains, L + 1)
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


def run_setting(st, chains, n_coarse, n_fine, seed=0):
    L, k, y, mp, mm, dt, steps = st.L, st.k, st.y, st.mu_plus, st.mu_minus, st.dt, st.steps
    overdamped = st.model == "overdamped"
    pred = analysis.critical_sigma(mp, mm, window=steps) if overdamped else math.nan
    pred_crude = (
        analysis.critical_sigma(mp, mm, window=steps, rule="sqrt2log") if overdamped else math.nan
    )
    pred_mf = analysis.critical_sigma_mean_field(
        L, k, y, mp, mm, dt, steps, decay=st.decay, model=st.model,
        average_from=st.average_from, **st.model_params,
    )  # fmt: skip
    # coarse grid spanning every prediction with a factor 4 margin, then a fine grid
    # inside the cell where the measured curvature changes sign
    preds = [p for p in (pred, pred_crude, pred_mf) if np.isfinite(p) and p > 0]
    coarse = np.geomspace(min(preds) / 4, max(preds) * 4, n_coarse)
    rows = [measure(st, s, chains, seed) for s in coarse]
    c_rel = np.array([r[0] for r in rows])
    _, _, i = crossing(coarse, c_rel)
    if i is None:
        return dict(pred=pred, pred_crude=pred_crude, pred_mf=pred_mf, meas=math.nan,
                    err=math.nan, coarse=(coarse, c_rel))  # fmt: skip
    fine = np.geomspace(coarse[i], coarse[i + 1], n_fine)
    rows = [measure(st, s, chains, seed + 1) for s in fine]
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


def _noise_label(st):
    parts = ["sync" if st.synchronous else "indep"]
    if st.decay:
        parts.append(f"decay {st.decay:g}")
    if st.model == "langevin":
        parts = [f"gamma {st.gamma:g}", *parts, st.sync_convention]
    elif st.model == "inertial":
        parts = [f"gamma {st.gamma:g}", *parts]
    if st.average_from is not None:
        parts.append(f"mean after step {st.average_from}")
    return ", ".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 settings, fewer chains")
    parser.add_argument(
        "--model", choices=analysis.mean_field.MODELS, default=None, help="only this model"
    )
    parser.add_argument("--chains", type=int, default=None)
    args = parser.parse_args(argv)
    settings_ = [
        st for st in (QUICK if args.quick else SETTINGS) if args.model in (None, st.model)
    ]
    chains = args.chains or (64 if args.quick else 256)
    n_coarse, n_fine = (13, 7) if args.quick else (25, 11)
    print(
        f"Gaussian noise, {chains} chains per sigma, c_rel of the chain-mean final load curve "
        "(time-averaged where the noise column says 'mean after step')"
    )
    print()
    print(
        "| model | noise | L | k | y | mu+ | mu- | dt | steps T | c_rel over the scan "
        "| sigma* measured | mean-field map | meas/pred | E max of T draws | meas/pred "
        "| sqrt(2 ln T) | meas/pred |"
    )
    print("|---" * 17 + "|")
    t0 = time.time()
    for setting in settings_:
        r = run_setting(setting, chains, n_coarse, n_fine)
        meas = f"{r['meas']:.4g} ± {r['err']:.2g}" if np.isfinite(r["meas"]) else "no crossing"
        shape = f"{r['coarse'][1][0]:+.2f} -> {r['coarse'][1][-1]:+.2f}"
        print(
            f"| {setting.model} | {_noise_label(setting)} | {setting.L} | {setting.k:g} "
            f"| {setting.y:g} | {setting.mu_plus:g} | {setting.mu_minus:g} | {setting.dt:g} "
            f"| {setting.steps} | {shape} | {meas} "
            f"| {r['pred_mf']:.4g} | {r['meas'] / r['pred_mf']:.3f} "
            f"| {r['pred']:.4g} | {r['meas'] / r['pred']:.3f} | {r['pred_crude']:.4g} "
            f"| {r['meas'] / r['pred_crude']:.3f} |",
            flush=True,
        )
    print()
    print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
