"""``fastspring reproduce``: the paper's figures from the embedded defaults.

Each experiment computes its data (or loads it from an earlier, interrupted run),
saves it as NetCDF next to its PNG, and returns a :class:`~fastspring.report.Panel`
with a caption and the key numbers; :func:`reproduce` runs them in order and writes
``report.html``.  ``quick=True`` uses fewer chains, steps and cells (minutes on a
laptop); the full run matches the paper's resolution more closely.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import analysis

from .params import Chain, Noise
from .plots import save_figure
from .report import Panel, write_report
from .simulation import simulate
from .sweep import sweep
from .sweep_plot import phase_figure

#: the chain of the spring-block figures: every block can move (k y > mu_plus L (L+1)/2)
FIG_CHAIN = Chain(L=7, k=1.0, y=3.0, mu_plus=0.1, mu_minus=0.3)
FIG_DT = 0.1


def cached(path, compute):
    """Load the Dataset at ``path`` if an earlier run finished it, else compute and save it.

    The file is written under a temporary name and renamed, so an interrupted
    run never leaves a half-written result that a later run would trust.
    """
    path = Path(path)
    if path.exists():
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.load()
    ds = compute()
    tmp = path.with_suffix(".part")
    ds.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, path)
    return ds


def _averaged_load(chain, sigma, steps, chains, seed=0):
    """Time-averaged load curve (second half of the run) of each chain."""
    res = simulate(chain, Noise(sigma), dt=FIG_DT, steps=steps, chains=chains, seed=seed,
                   average_from=steps // 2, record_every=steps)  # fmt: skip
    return analysis.load_curve(res.x_mean, chain.y)


def _zero_crossing(x, y):
    """First ``x`` where ``y`` changes sign, interpolated in ``log x`` (NaN if none)."""
    sign = np.sign(y)
    idx = np.flatnonzero(sign[:-1] * sign[1:] < 0)
    if idx.size == 0:
        return float("nan")
    i = idx[0]
    lx = np.log(x[i : i + 2])
    return float(np.exp(lx[0] - y[i] * (lx[1] - lx[0]) / (y[i + 1] - y[i])))


def spring_regimes(out: Path, quick: bool) -> Panel:
    """Fig. 4 (right): load curves over time, lazy / linear / active, with Eqs. 7-8."""
    chain = FIG_CHAIN
    steps, chains = (4_000, 64) if quick else (40_000, 400)
    sigmas = np.geomspace(0.01, 2.0, 13 if quick else 25)

    def compute():
        scan = np.stack([_averaged_load(chain, s, steps, chains).mean(axis=0) for s in sigmas])
        c_rel = analysis.load_curve_metrics(scan)["c_rel"]
        sigma_lin = _zero_crossing(sigmas, c_rel)
        regimes = {"lazy": 0.0, "linear": sigma_lin, "active": 1.0}
        curves = []
        for sigma in regimes.values():
            res = simulate(chain, Noise(sigma), dt=FIG_DT, steps=steps, chains=chains,
                           record_every=steps // 20)  # fmt: skip
            curves.append(res.load_trajectory.mean(axis=1))
        return xr.Dataset(
            {
                "scan_load": (("sigma", "layer"), scan),
                "scan_c_rel": (("sigma",), c_rel),
                "load": (("regime", "time", "layer"), np.stack(curves)),
                "regime_sigma": (("regime",), list(regimes.values())),
            },
            coords={
                "sigma": sigmas,
                "regime": list(regimes),
                "time": res.times,
                "layer": np.arange(chain.L + 1),
            },  # fmt: skip
            attrs={"sigma_linear_measured": sigma_lin, "steps": steps, "chains": chains},
        )

    ds = cached(out / "spring_regimes.nc", compute)
    sigma_pred = analysis.critical_sigma_mean_field(
        chain.L, chain.k, chain.y, chain.mu_plus, chain.mu_minus, FIG_DT, steps
    )
    sigma_window = analysis.critical_sigma(chain.mu_plus, chain.mu_minus, window=steps)
    c = (chain.mu_plus - chain.mu_minus) / 2
    L, k, y = chain.L, chain.k, chain.y
    layers = np.arange(L + 1)
    predictions = {
        "lazy": analysis.equilibrium(L, k, y, chain.mu_plus).d,
        "linear": y * (L + 1 - layers) / (L + 1),
        "active": y * (L + 1 - layers) / (L + 1) + c / (2 * k) * layers * (L + 1 - layers),
    }
    labels = {"lazy": "Eq. 7", "linear": "Eq. 8, mean friction 0", "active": f"Eq. 8, c = {c:g}"}
    fig = Figure(figsize=(14, 3.9), layout="constrained")
    axes = fig.subplots(1, 4)
    cmap, norm = colormaps["viridis"], Normalize(0, float(ds.time[-1]))
    for ax, regime in zip(axes[:3], ds.regime.values, strict=True):
        sel = ds["load"].sel(regime=regime)
        for t in range(1, ds.sizes["time"]):
            ax.plot(layers, sel[t], color=cmap(norm(float(ds.time[t]))), lw=1)
        ax.plot(layers, predictions[regime], "k--", lw=2, label=labels[regime])
        sigma = float(ds["regime_sigma"].sel(regime=regime))
        ax.set_title(f"{regime}: $\\sigma$ = {sigma:.3g}")
        ax.set_xlabel(r"layer $\ell$")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize="small", loc="upper right")
    axes[0].set_ylabel(r"load $d_\ell$ (mean over chains)")
    fig.colorbar(ScalarMappable(norm, cmap), ax=axes[2], label="time $t$")
    ax = axes[3]
    ax.semilogx(ds.sigma, ds["scan_c_rel"], "o-", color="C3", label="measured")
    ax.axhline(0, color="0.5", lw=1)
    ax.axvline(ds.attrs["sigma_linear_measured"], color="C3", ls=":", label="measured crossing")
    ax.axvline(sigma_pred, color="k", ls="--", label="predicted (mean field)")
    ax.axvline(sigma_window, color="0.5", ls="-.", label="expected-max rule")
    ax.set_xlabel(r"noise $\sigma$")
    ax.set_ylabel("scale-free curvature (> 0 convex)")
    ax.set_title("concave → linear → convex")
    ax.legend(fontsize="small")
    save_figure(fig, out / "spring_regimes.png")
    return Panel(
        "spring_regimes",
        "Spring-block load curves in three regimes (Fig. 4, right)",
        "spring_regimes.png",
        f"Chain L={L}, k={k:g}, y={y:g}, mu+={chain.mu_plus:g} < mu-={chain.mu_minus:g}; "
        f"{chains} chains, {steps} steps of dt={FIG_DT:g}; curves coloured by time, dashed: "
        "theory. Without noise the curve freezes concave (Eq. 7); at the measured critical "
        "noise it is linear; strong noise makes it convex with the mean friction c (Eq. 8). "
        "Right: curvature of the time-averaged curve (second half of the run) against noise; "
        "the mean-field prediction uses the state at the final step.",
        {
            "noise where the curve turns linear, measured": ds.attrs["sigma_linear_measured"],
            "same, predicted by the noise-averaged (mean-field) map": sigma_pred,
            "same, predicted by the expected-maximum rule": sigma_window,
            "max |measured - Eq. 7|, no noise": float(
                np.abs(ds["load"].sel(regime="lazy")[-1] - predictions["lazy"]).max()
            ),
        },
    )


def mu_plus_zero(out: Path, quick: bool) -> Panel:
    """Fig. 5(b): with mu_plus = 0 the curve is linear without noise, convex with it."""
    chain = Chain(L=7, k=1.0, y=3.0, mu_plus=0.0, mu_minus=0.2)
    steps, chains = (4_000, 64) if quick else (40_000, 400)
    sigmas = np.array([0.0, 0.02, 0.05, 0.1, 0.3, 1.0])

    def compute():
        loads = np.stack([_averaged_load(chain, s, steps, chains).mean(axis=0) for s in sigmas])
        return xr.Dataset({"load": (("sigma", "layer"), loads)},
                          coords={"sigma": sigmas, "layer": np.arange(chain.L + 1)})  # fmt: skip

    ds = cached(out / "mu_plus_zero.nc", compute)
    metrics = analysis.load_curve_metrics(ds["load"].values)
    layers = np.arange(chain.L + 1)
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.add_subplot()
    cmap, norm = colormaps["plasma"], LogNorm(sigmas[1], sigmas[-1])
    for s, curve in zip(sigmas, ds["load"].values, strict=True):
        ax.plot(layers, curve, "o-", ms=3, color="k" if s == 0 else cmap(norm(s)),
                label=r"$\sigma$ = 0" if s == 0 else None)  # fmt: skip
    c = -chain.mu_minus / 2
    L, k, y = chain.L, chain.k, chain.y
    ax.plot(layers, y * (L + 1 - layers) / (L + 1) + c / (2 * k) * layers * (L + 1 - layers),
            "k--", lw=1.5, label=f"Eq. 8, large noise (c = {c:g})")  # fmt: skip
    fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label=r"noise $\sigma$")
    ax.set_xlabel(r"layer $\ell$")
    ax.set_ylabel(r"time-averaged load $d_\ell$")
    ax.set_title(r"$\mu_+ = 0$: linear without noise, convex with it")
    ax.legend(fontsize="small")
    save_figure(fig, out / "mu_plus_zero.png")
    return Panel(
        "mu_plus_zero",
        "No rightward friction (Fig. 5b)",
        "mu_plus_zero.png",
        f"Chain with mu+ = 0, mu- = {chain.mu_minus:g}: without noise the load curve is "
        "linear (Eq. 7 with mu+ = 0); any noise makes it convex, approaching Eq. 8 with "
        f"c = -mu-/2 as the noise grows. {chains} chains, {steps} steps.",
        {
            f"scale-free curvature at sigma={s:g}": float(v)
            for s, v in zip(sigmas, metrics["c_rel"], strict=True)
        },  # fmt: skip
    )


def _phase_panel(out, key, title, ds, caption):
    """Draw a sweep's phase diagram and describe it by its count of cells per phase."""
    ax = phase_figure(ds)
    save_figure(ax.figure, out / f"{key}.png")
    phases = ds["cell_phase"].values
    numbers = {f"cells {p}": int((phases == p).sum()) for p in analysis.PHASES}
    numbers["cells"] = int(phases.size)
    numbers["cells computed in this run"] = int(ds.attrs["cells_computed"])
    numbers["wall time of this run, s"] = float(ds.attrs["wall_time"])
    return Panel(key, title, f"{key}.png", caption, numbers)


def _sweep_cached(out, key, *args, **kwargs):
    """A sweep stored in ``out/key.zarr`` (resumable), with its wall time in attrs."""
    start = time.perf_counter()
    ds = sweep(*args, store=out / f"{key}.zarr", progress=True, **kwargs)
    ds.attrs["wall_time"] = time.perf_counter() - start
    return ds


def overdamped_phase(out: Path, quick: bool) -> Panel:
    """Fig. 3: noise x friction phase diagram of the overdamped map."""
    steps, chains = (4_000, 32) if quick else (20_000, 100)
    grid = {
        "mu_minus": np.round(np.linspace(0.0, 0.3, 7 if quick else 16), 6),
        "sigma": np.round(np.linspace(0.0, 0.25, 11 if quick else 21), 6),
    }
    ds = _sweep_cached(out, "phase_overdamped", FIG_CHAIN, Noise(0.0), "overdamped", grid=grid,
                       chains_per_cell=chains, steps=steps, dt=FIG_DT,
                       average_from=steps // 2)  # fmt: skip
    return _phase_panel(
        out,
        "phase_overdamped",
        "Spring-block phase diagram, overdamped map (Fig. 3)",
        ds,
        f"Scale-free curvature of the time-averaged load curve (blue concave, white linear, "
        f"red convex) over noise sigma and leftward friction mu-, with mu+ = "
        f"{FIG_CHAIN.mu_plus:g}; {chains} chains x {steps} steps per cell. Dashed: the "
        "predicted linear boundary (noise-averaged map). For mu- > mu+ noise turns the "
        "curve concave -> linear -> convex; for mu- < mu+ it stays concave.",
    )


def inertial_phase(out: Path, quick: bool) -> Panel:
    """S13: the phase diagram of the inertial model with exact stick-slip."""
    steps, chains = (2_000, 16) if quick else (3_000, 64)
    grid = {
        "mu_minus": np.round(np.linspace(0.0, 0.3, 7), 6),
        "sigma": np.round(np.linspace(0.0, 0.3, 9 if quick else 13), 6),
    }
    chain = Chain(L=7, k=1.0, y=1.0, mu_plus=0.1, mu_minus=0.1)
    ds = _sweep_cached(out, "phase_inertial", chain, Noise(0.0), "inertial", grid=grid,
                       chains_per_cell=chains, steps=steps, dt=0.1, gamma=1.0,
                       average_from=steps // 2)  # fmt: skip
    return _phase_panel(
        out,
        "phase_inertial",
        "Inertial model with exact stick-slip (S13)",
        ds,
        f"Second-order chain (unit masses, damping gamma = 1, exact static/sliding "
        f"friction switching, noise constant over steps of dt = 0.1), mu+ = 0.1; "
        f"{chains} chains x {steps} steps per cell, curvature of the time-averaged load "
        "curve. The same concave -> linear -> convex corner as the overdamped map. Dashed: "
        "the predicted linear boundary (every block moving at the stationary mean velocity "
        "of one block under its force, analysis.inertial_drift).",
    )


def langevin_phase(out: Path, quick: bool) -> Panel:
    """S14: the phase diagram of the Langevin variant (the paper's reference setting)."""
    chains = 16 if quick else 32
    grid = {
        "mu_minus": np.round(np.linspace(0.0, 0.009, 7 if quick else 10), 8),
        "sigma": np.round(np.linspace(0.0, 0.004, 9 if quick else 17), 8),
    }
    chain = Chain(L=7, k=0.1, y=1.0, mu_plus=0.003, mu_minus=0.004)
    noise = Noise(0.0, decay=0.001, synchronous=True)
    ds = _sweep_cached(out, "phase_langevin", chain, noise, "langevin", grid=grid,
                       chains_per_cell=chains, steps=14_000, dt=0.05, gamma=1.0,
                       sync_convention="sum")  # fmt: skip
    return _phase_panel(
        out,
        "phase_langevin",
        "Langevin variant (S14)",
        ds,
        "Noise on the velocity, friction from the velocity before the noise; the paper's "
        "reference setting (L = 7, k = 0.1, gamma = 1, mu+ = 0.003, decay 0.001, one noise "
        f"shared by all blocks, dt = 0.05, 14 000 steps), {chains} chains per cell; "
        "curvature of the final load curve. Dashed: the predicted linear boundary (blocks "
        "moving at the stationary mean velocity under their spring forces).",
    )


def _dnn_phase_data(out, quick):
    """The Fig. 1(a) grid, trained into (or resumed from) ``out/dnn_phase.zarr``.

    Missing cells of the full grid (540 trainings) are trained by one one-thread
    worker process per core (:func:`dnn.phase.local_cluster`, started only when cells
    are missing); those of the quick one in this process.
    """
    import dnn

    values = [0.0, 0.2, 0.4, 0.6, 0.8] if quick else list(dnn.PAPER_VALUES["label_noise"])
    alphas = [0.0, 0.5, 1.0] if quick else list(dnn.PAPER_ALPHAS)
    seeds, epochs = (2, 50) if quick else (10, 100)
    workers = 1 if quick else os.cpu_count() or 1
    ds = dnn.phase_diagram("label_noise", values, alphas, seeds, epochs,
                           store=out / "dnn_phase.zarr", kinds=("trace_ratio",),
                           client=functools.partial(dnn.phase.worker_client, workers))  # fmt: skip
    ds.attrs["epochs"] = epochs
    return ds


def dnn_phase(out: Path, quick: bool) -> Panel:
    """Fig. 1(a): label noise x LeakyReLU slope on the shipped MNIST subset."""
    import dnn
    from dnn.plots import phase_figure as dnn_phase_figure

    start = time.perf_counter()
    ds = _dnn_phase_data(out, quick)
    wall = time.perf_counter() - start
    values, alphas, seeds, epochs = (ds.sizes["label_noise"], ds.sizes["alpha"],
                                     ds.sizes["seed"], ds.attrs["epochs"])  # fmt: skip
    ax = dnn_phase_figure(ds)
    save_figure(ax.figure, out / "dnn_phase.png")
    summary = dnn.summarize(ds)
    best = _cell(summary, summary["test_accuracy"].argmax(...))
    flat = _cell(summary, np.abs(summary["c_rel"]).argmin(...))
    return Panel(
        "dnn_phase",
        "Deep-network phase diagram: label noise x nonlinearity (Fig. 1a)",
        "dnn_phase.png",
        f"MLP (7 hidden layers of 100, BatchNorm, LeakyReLU slope alpha), Adam, full batch, "
        f"{epochs} epochs, {values} label-noise levels x {alphas} slopes x {seeds} "
        "seeds on the shipped 2560-digit MNIST subset (10x10). Colour: scale-free curvature "
        "of the seed-mean load curve log(Tr Sw / Tr Sb) (Eq. 3) over the hidden layers "
        "(grey: the drop is too small to judge); contours: test accuracy on the 2440 "
        "held-out digits.",
        {
            "most accurate cell (label noise, alpha)": best["where"],
            "most accurate cell: test accuracy / scale-free curvature": best["values"],
            "most linear cell (label noise, alpha)": flat["where"],
            "most linear cell: test accuracy / scale-free curvature": flat["values"],
            "cells trained in this run": int(ds.attrs["cells_computed"]),
            "wall time of this run, s": wall,
        },
    )


def _cell(summary, index):
    """Where a cell of a DNN summary is and its accuracy / curvature, as text."""
    where = ", ".join(f"{float(summary[k][v]):g}" for k, v in index.items())
    acc, c_rel = (float(summary[name][index]) for name in ("test_accuracy", "c_rel"))
    return {"index": index, "where": where, "values": f"{acc:.3f} / {c_rel:+.3f}"}


def dnn_curves(out: Path, quick: bool) -> Panel:
    """Fig. 4 (left): a network's load curves over epochs, lazy / linear / active.

    The three settings are read off the Fig. 1(a) diagram: its most concave, most
    linear and most convex cells.
    """
    import dnn
    from dnn.plots import curve_figure

    phase = _dnn_phase_data(out, quick)  # trained by dnn_phase already
    summary = dnn.summarize(phase)
    c_rel = summary["c_rel"]  # NaN where the drop is too small to judge: skipped below
    picks = {
        "lazy (most concave)": c_rel.argmin(...),
        "linear": np.abs(c_rel).argmin(...),
        "active (most convex)": c_rel.argmax(...),
    }
    epochs = int(phase.attrs["epochs"])
    data = dnn.load_data()
    fig = Figure(figsize=(14, 4.0), layout="constrained")
    axes = fig.subplots(1, 3)
    numbers = {}
    for ax, (name, index) in zip(axes, picks.items(), strict=True):
        noise, alpha = (float(summary[k][v]) for k, v in index.items())
        path = out / f"dnn_curve_{name.split()[0]}.nc"

        def compute(noise=noise, alpha=alpha):
            runs = []
            for seed in phase.seed.values:
                model = dnn.build_model("mlp", data, seed=int(seed), alpha=alpha)
                config = dnn.TrainConfig(epochs=epochs, label_noise=noise)
                every = max(1, epochs // 10)
                res = dnn.train(model, data, config, seed=int(seed), record_every=every,
                                kinds=("trace_ratio",))  # fmt: skip
                runs.append(res.to_xarray()[["D"]])
            return xr.concat(runs, "seed", join="override").mean("seed")

        ds = cached(path, compute)
        curve_figure(ds, "trace_ratio", ax=ax)
        ax.set_title(f"{name}: label noise {noise:g}, alpha {alpha:g}")
        final = ds["D"].isel(record=-1).sel(kind="trace_ratio").values
        numbers[f"{name}: scale-free curvature at the end"] = float(
            analysis.load_curve_metrics(final)["c_rel"]
        )
    save_figure(fig, out / "dnn_curves.png")
    return Panel(
        "dnn_curves",
        "Deep-network load curves over training (Fig. 4, left)",
        "dnn_curves.png",
        "Separation D_l = log(Tr Sw / Tr Sb) of each hidden layer on the training digits, "
        "recorded every tenth of the training (colour = epoch) and averaged over the seeds, "
        "for the most concave, the most linear and the most convex cells of the phase "
        "diagram above. Compare with the spring-block curves over time in the first figure.",
        numbers,
    )


EXPERIMENTS = [
    spring_regimes,
    mu_plus_zero,
    overdamped_phase,
    inertial_phase,
    langevin_phase,
    dnn_phase,
    dnn_curves,
]


def reproduce(out, *, quick=False, progress=True):
    """Run every experiment into ``out`` and write ``out/report.html``.

    Finished experiments are loaded, not recomputed, so an interrupted run resumes.
    Returns the path of the report.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    panels = []
    for experiment in EXPERIMENTS:
        if progress:
            print(f"[reproduce] {experiment.__name__} ...", flush=True)
        panels.append(experiment(out, quick))
    mode = "quick" if quick else "full"
    return write_report(
        panels, out / "report.html", title="fastspring: the spring-block theory, reproduced",
        subtitle=f"{mode} run; every figure's data is stored next to it as NetCDF",
    )  # fmt: skip
