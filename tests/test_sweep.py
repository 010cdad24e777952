"""Tests of fastspring.sweep: equality with simulate, threads, resume, Dask, physics, CLI."""

import argparse
import dataclasses
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time

import numba
import numpy as np
import pytest
import xarray as xr
import zarr

from analysis import critical_sigma_mean_field, load_curve_metrics
from fastspring import Chain, Noise, simulate, sweep
from fastspring.store import DONE

sweep_module = sys.modules["fastspring.sweep"]

CHAIN = Chain(L=7, k=1.0, y=1.0, mu_plus=0.1, mu_minus=0.1)
GRID = {"sigma": [0.0, 0.1, 0.3], "mu_minus": [0.05, 0.3]}
RUN = dict(chains_per_cell=5, steps=400, dt=0.02, seed=11, progress=False)


def without_run_attrs(ds):
    out = ds.copy()
    del out.attrs["cells_computed"]
    return out


def test_cells_equal_simulate_bit_for_bit():
    ds = sweep(CHAIN, Noise(), grid=GRID, average_from=100, **RUN)
    assert ds.sizes == {"sigma": 3, "mu_minus": 2, "chain": 5, "block": 7, "layer": 8}
    assert ds.attrs["cells_computed"] == 6
    for sigma in GRID["sigma"]:
        for mu_minus in GRID["mu_minus"]:
            res = simulate(
                Chain(mu_minus=mu_minus), Noise(sigma), dt=0.02, steps=400, chains=5, seed=11,
                average_from=100,
            )  # fmt: skip
            cell = ds.sel(sigma=sigma, mu_minus=mu_minus)
            np.testing.assert_array_equal(cell["x"], res.x)
            np.testing.assert_array_equal(cell["x_mean"], res.x_mean)
            np.testing.assert_array_equal(cell["load"], res.load)
            metrics = load_curve_metrics(1.0 - np.c_[np.zeros(5), res.x_mean])
            np.testing.assert_array_equal(cell["c_rel"], metrics["c_rel"])
            np.testing.assert_array_equal(cell["phase"], metrics["phase"])
            np.testing.assert_allclose(
                cell["cell_load"], (1.0 - np.c_[np.zeros(5), res.x_mean]).mean(0)
            )


@pytest.mark.parametrize(
    "model, noise, grid",
    [
        ("inertial", Noise(0.1), {"sigma": [0.1, 0.3], "gamma": [0.5, 2.0]}),
        ("langevin", Noise(0.05, synchronous=True),
         {"sync_convention": ["shared", "sum"], "gamma": [0.5, 2.0]}),
    ],
)  # fmt: skip
def test_second_order_models_equal_simulate(model, noise, grid):
    """The inertial and Langevin models, with model parameters as axes."""
    ds = sweep(Chain(L=4, mu_minus=0.2), noise, model, grid=grid, chains_per_cell=3, steps=120,
               dt=0.05, average_from=20, progress=False)  # fmt: skip
    for point in itertools.product(*grid.values()):
        values = dict(zip(grid, point, strict=True))
        params = {name: v for name, v in values.items() if name != "sigma"}
        cell_noise = dataclasses.replace(noise, sigma=values.get("sigma", noise.sigma))
        res = simulate(Chain(L=4, mu_minus=0.2), cell_noise, model, dt=0.05, steps=120,
                       chains=3, average_from=20, **params)  # fmt: skip
        cell = ds.sel(values)
        np.testing.assert_array_equal(cell["x"], res.x)
        np.testing.assert_array_equal(cell["x_mean"], res.x_mean)


def test_cells_only_keeps_the_same_cell_summaries():
    with pytest.warns(RuntimeWarning, match="rtol with noise that does not decay"):
        full = sweep(CHAIN, Noise(), grid=GRID, rtol=1e-3, **RUN)
    with pytest.warns(RuntimeWarning, match="first quiet step"):
        cells = sweep(CHAIN, Noise(), grid=GRID, rtol=1e-3, keep_chains=False, **RUN)
    assert "chain" not in cells.dims and "x" not in cells
    names = ["converged_fraction", "v_mean", "c_mean", "c_sem", "c_rel_mean", "cell_load",
             "cell_c_rel", "cell_phase"]  # fmt: skip
    assert sorted(cells.data_vars) == sorted(names)
    xr.testing.assert_equal(cells[names], full[names])  # all but the attributes
    np.testing.assert_array_equal(cells["converged_fraction"], full["converged"].mean("chain"))


def test_every_kind_of_axis_equals_simulate():
    """Chain, noise and integration parameters as axes; L changes the shapes (NaN padded)."""
    grid = {
        "L": [3, 5],
        "kind": ["clipped", "truncated"],
        "synchronous": [False, True],
        "dt": [0.01, 0.03],
        "steps": [150, 200],
        "seed": [0, 7],
    }
    noise = Noise(0.2, "clipped", bound=0.15, decay=0.5)
    ds = sweep(Chain(mu_minus=0.2), noise, grid=grid, chains_per_cell=3, steps=200, dt=0.01,
               rtol=1e-9, progress=False)  # fmt: skip
    assert ds.sizes["block"] == 5 and ds.sizes["layer"] == 6
    for L in grid["L"]:
        for kind in grid["kind"]:
            for sync in grid["synchronous"]:
                for dt in grid["dt"]:
                    for steps in grid["steps"]:
                        for seed in grid["seed"]:
                            res = simulate(
                                Chain(L=L, mu_minus=0.2),
                                Noise(0.2, kind, bound=0.15, decay=0.5, synchronous=sync),
                                dt=dt, steps=steps, chains=3, seed=seed, rtol=1e-9,
                            )  # fmt: skip
                            cell = ds.sel(L=L, kind=kind, synchronous=sync, dt=dt, steps=steps,
                                          seed=seed)  # fmt: skip
                            np.testing.assert_array_equal(cell["x"][:, :L], res.x)
                            np.testing.assert_array_equal(cell["steps_taken"], res.steps_taken)
                            np.testing.assert_array_equal(cell["converged"], res.converged)
                            assert np.all(np.isnan(cell["x"][:, L:]))
                            assert np.all(np.isnan(cell["load"][:, L + 1 :]))


def test_one_thread_equals_two_threads():
    threads = numba.get_num_threads()
    assert threads >= 2, "run the test suite with NUMBA_NUM_THREADS >= 2"
    kwargs = dict(grid=GRID, chains_per_cell=300, steps=300, dt=0.02, progress=False)
    two = sweep(CHAIN, Noise(), batch=6, **kwargs)  # 6 cells x 2 tiles in one prange
    numba.set_num_threads(1)
    try:
        one = sweep(CHAIN, Noise(), batch=1, **kwargs)
    finally:
        numba.set_num_threads(threads)
    xr.testing.assert_identical(one, two)


def test_concave_linear_convex_along_noise_when_mu_minus_exceeds_mu_plus():
    """docs/theory.md, "Closed forms": for mu_minus > mu_plus raising the noise goes
    concave -> linear -> convex, for mu_minus < mu_plus it stays concave; the linear
    cell is at the noise where the mean-field map of analysis (an independent NumPy
    computation) turns linear."""
    steps, dt = 20_000, 0.01
    star = critical_sigma_mean_field(7, 1.0, 1.0, 0.1, 0.3, dt, steps)
    sigmas = sorted([0.0, 0.01, 0.03, round(star, 4), 0.08, 0.15, 0.3])
    ds = sweep(CHAIN, Noise(), grid={"mu_minus": [0.05, 0.3], "sigma": sigmas},
               chains_per_cell=64, steps=steps, dt=dt, progress=False)  # fmt: skip
    row = ds.sel(mu_minus=0.3)
    c, sem = row["c_mean"].values, row["c_sem"].values
    slack = 3.0 * np.hypot(np.nan_to_num(sem[1:]), np.nan_to_num(sem[:-1]))
    assert np.all(np.diff(c) >= -slack), c  # monotone within noise
    assert list(row["cell_phase"].values[[0, -1]]) == ["concave", "convex"]
    assert row["cell_phase"].sel(sigma=round(star, 4)).item() == "linear"
    assert np.all(np.diff(np.sign(row["cell_c_rel"].values)) >= 0)  # one sign change
    assert set(ds["cell_phase"].sel(mu_minus=0.05).values) == {"concave"}


def test_store_resumes_and_refuses_other_settings(tmp_path, monkeypatch):
    store = tmp_path / "scan.zarr"
    first = sweep(CHAIN, Noise(), grid=GRID, store=store, **RUN)
    counted = []

    def counting(plan, points):
        counted.extend(points)
        return run_cells(plan, points)

    run_cells = sweep_module.run_cells
    monkeypatch.setattr(sweep_module, "run_cells", counting)
    again = sweep(CHAIN, Noise(), grid=GRID, store=store, **RUN)
    assert counted == [] and again.attrs["cells_computed"] == 0
    xr.testing.assert_identical(without_run_attrs(again), without_run_attrs(first))
    with pytest.raises(ValueError, match="steps: 400 in the store, 401 now"):
        sweep(CHAIN, Noise(), grid=GRID, store=store, **{**RUN, "steps": 401})
    with pytest.raises(ValueError, match="noise"):
        sweep(CHAIN, Noise(decay=0.1), grid=GRID, store=store, **RUN)


def test_netcdf_export_round_trips(tmp_path):
    ds = sweep(CHAIN, Noise(), grid=GRID, **RUN)
    ds.to_netcdf(tmp_path / "scan.nc", engine="h5netcdf")
    back = xr.load_dataset(tmp_path / "scan.nc", engine="h5netcdf")
    xr.testing.assert_identical(back, ds)


KILL_SCRIPT = """
import sys
from fastspring import Chain, Noise, sweep
sweep(Chain(), Noise(), grid={{"sigma": [0.05, 0.1, 0.2, 0.3], "mu_minus": [0.1, 0.2, 0.3]}},
      chains_per_cell=32, steps=60_000, dt=0.01, store={store!r}, batch=1, progress=False)
"""
KILL_GRID = {"sigma": [0.05, 0.1, 0.2, 0.3], "mu_minus": [0.1, 0.2, 0.3]}
KILL_RUN = dict(chains_per_cell=32, steps=60_000, dt=0.01, batch=1, progress=False)


def _done(store):
    try:
        return int(np.sum(zarr.open_group(store, mode="r")[DONE][...]))
    except (FileNotFoundError, KeyError, ValueError):
        return 0


def test_resume_after_sigkill_recomputes_only_missing_cells(tmp_path, monkeypatch):
    store = str(tmp_path / "scan.zarr")
    script = textwrap.dedent(KILL_SCRIPT.format(store=store))
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while _done(store) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep ended before it was killed"
    finished = _done(store)
    assert 0 < finished < 12
    done = zarr.open_group(store, mode="r")[DONE][...]
    missing = [
        {"sigma": sigma, "mu_minus": mu_minus}
        for i, sigma in enumerate(KILL_GRID["sigma"])
        for j, mu_minus in enumerate(KILL_GRID["mu_minus"])
        if not done[i, j]
    ]
    counted = []
    run_cells = sweep_module.run_cells

    def counting(plan, points):
        counted.extend(points)
        return run_cells(plan, points)

    monkeypatch.setattr(sweep_module, "run_cells", counting)
    resumed = sweep(Chain(), Noise(), grid=KILL_GRID, store=store, **KILL_RUN)
    assert counted == missing and resumed.attrs["cells_computed"] == 12 - finished
    monkeypatch.undo()
    whole = sweep(Chain(), Noise(), grid=KILL_GRID, **KILL_RUN)
    xr.testing.assert_identical(without_run_attrs(resumed), without_run_attrs(whole))


def test_dask_local_cluster_equals_local(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = sweep(CHAIN, Noise(), grid=GRID, **RUN)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 host="127.0.0.1", dashboard_address=":0") as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        remote = sweep(CHAIN, Noise(), grid=GRID, client=client, store=tmp_path / "s.zarr",
                       batch=2, **RUN)  # fmt: skip
    xr.testing.assert_identical(remote, local)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(grid={"alpha": [1.0]}), ValueError, "grid axis 'alpha' is not a parameter"),
        (dict(grid={"sigma": [0.1, -0.1]}), ValueError, r"grid point sigma=-0.1: sigma must"),
        (dict(grid={"dt": [0.1, 0.6]}), ValueError, "grid point dt=0.6: dt must satisfy"),
        (dict(grid={"steps": [50, 500]}, average_from=100), ValueError, "grid point steps=50"),
        (dict(grid={"sigma": [0.1]}, backend="tpu"), ValueError, "backend must be one of"),
        (dict(grid={"sigma": [0.1]}, gamma=1.0), TypeError, "takes parameters"),
        (dict(grid={"sigma": [0.1, 0.1]}), ValueError, "repeated values"),
        (dict(grid={"sigma": [0.1]}, model="nope"), ValueError, "model must be one of"),
        (
            dict(grid={"synchronous": [True, False]}, model="langevin", sync_convention="sum"),
            ValueError,
            "grid point synchronous=False: sync_convention='sum'",
        ),
    ],
)
def test_invalid_arguments_are_refused_before_any_work(kwargs, error, message):
    args = {**RUN, **kwargs}
    with pytest.raises(error, match=message):
        sweep(CHAIN, Noise(), **args)


@pytest.mark.parametrize("model", ["overdamped", "inertial"])
def test_an_overflowing_cell_raises_and_names_the_cell(model):
    from fastspring.errors import NonFiniteResultError

    run = {**RUN, "chains_per_cell": 2, "steps": 50}
    with pytest.raises(NonFiniteResultError, match=r"overflowed .*the cell \{'sigma': 1e\+308\}"):
        sweep(CHAIN, Noise(), model, grid={"sigma": [0.1, 1e308]}, **run)


def test_cuda_backend_without_gpu_is_refused_clearly():
    from numba import cuda

    if cuda.is_available():
        pytest.skip("a GPU (or the simulator) is available here")
    with pytest.raises(RuntimeError, match="backend='cuda' needs a CUDA GPU"):
        sweep(CHAIN, Noise(), grid=GRID, backend="cuda", **RUN)
    from fastspring.backends import cuda as gpu  # what a Dask worker calls

    for run_cells in (gpu.run_overdamped_cells, gpu.run_inertial_cells, gpu.run_langevin_cells):
        with pytest.raises(RuntimeError, match="backend='cuda' needs a CUDA GPU"):
            run_cells(None, None, 3, None)


def test_linear_boundary_is_drawn_at_the_mean_field_prediction():
    """Wiring: the plotted boundary is critical_sigma_mean_field of each row (that
    prediction is checked against the simulators in tests/analysis)."""
    from fastspring.sweep_plot import linear_boundary, phase_figure

    steps, dt = 600, 0.02
    grid = {"sigma": [0.0, 0.2], "mu_minus": [0.0, 0.1, 0.3]}
    ds = sweep(CHAIN, Noise(), grid=grid, chains_per_cell=2, steps=steps, dt=dt,
               average_from=400, progress=False)  # fmt: skip
    bx, by = linear_boundary(ds, "sigma", "mu_minus", points=3)
    # (far, mu_plus) -> (sigma*, mu_plus) -> up along sigma*(mu_minus) for mu_minus > mu_plus
    assert by[0] == by[1] == 0.1 and bx[0] > 0.2
    np.testing.assert_array_equal(by[2:], [0.2, 0.3])
    for x, mu_minus in zip(bx[2:], by[2:], strict=True):  # of the time-averaged curve
        assert x == critical_sigma_mean_field(
            7, 1.0, 1.0, 0.1, mu_minus, dt, steps, rounds=2, average_from=400
        )
    assert linear_boundary(ds, "mu_minus", "sigma") is None
    ax = phase_figure(ds)
    assert ax.get_xlabel().startswith("noise") and ax.get_ylabel().startswith("μ₋")


def test_langevin_and_inertial_boundaries_are_drawn_at_their_mean_fields():
    """Wiring, as above, for the models whose mean field takes gamma and the convention."""
    from fastspring.sweep_plot import linear_boundary

    chain = Chain(L=5, k=1.0, y=1.0, mu_plus=0.05, mu_minus=0.05)
    noise = Noise(0.0, decay=0.001, synchronous=True)
    steps, dt = 400, 0.05
    ds = sweep(chain, noise, "langevin", grid={"sigma": [0.0, 0.1], "mu_minus": [0.0, 0.15]},
               chains_per_cell=2, steps=steps, dt=dt, gamma=2.0, sync_convention="sum",
               progress=False)  # fmt: skip
    bx, by = linear_boundary(ds, "sigma", "mu_minus", points=2)
    assert by[0] == by[1] == 0.05
    kw = {"rounds": 2, "decay": 0.001, "model": "langevin", "gamma": 2.0, "sync_convention": "sum"}
    for x, mu_minus in zip(bx[2:], by[2:], strict=True):
        assert x == critical_sigma_mean_field(5, 1.0, 1.0, 0.05, mu_minus, dt, steps, **kw)
    grid = {"sigma": [0.0, 0.1], "mu_minus": [0.0, 0.15]}
    inertial = sweep(chain, Noise(), "inertial", grid=grid, chains_per_cell=1, steps=200,
                     dt=0.1, gamma=2.0, average_from=100, progress=False)  # fmt: skip
    bx, by = linear_boundary(inertial, "sigma", "mu_minus", points=2)
    kw = {"grid": 8, "rounds": 3, "model": "inertial", "gamma": 2.0, "average_from": 100}
    assert bx[-1] == critical_sigma_mean_field(5, 1.0, 1.0, 0.05, 0.15, 0.1, 200, **kw)
    # no inertial mean field for decaying noise
    decaying = sweep(chain, Noise(decay=0.01), "inertial", grid=grid, chains_per_cell=1,
                     steps=3, dt=0.1, progress=False)  # fmt: skip
    assert linear_boundary(decaying, "sigma", "mu_minus") is None


def _cli(argv):
    from fastspring import sweep_cli

    parser = argparse.ArgumentParser(prog="fastspring")
    sweep_cli.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_sweep_stores_resumes_and_plots(tmp_path, capsys):
    argv = ["sweep", "--sigma", "0:0.2:3", "--mu-minus", "0.05,0.3", "--chains", "4",
            "--steps", "300", "--dt", "0.02", "--store", str(tmp_path / "s.zarr"),
            "--plot", str(tmp_path / "phase.png"), "--out", str(tmp_path / "s.nc"),
            "--no-progress"]  # fmt: skip
    assert _cli(argv) == 0
    out = capsys.readouterr().out
    assert "6 cells x 4 chains: computed 6, 0 already in the store" in out
    assert "rows: mu_minus" in out and (tmp_path / "phase.png").stat().st_size > 10_000
    expected = sweep(Chain(), Noise(), grid={"mu_minus": [0.05, 0.3], "sigma": [0.0, 0.1, 0.2]},
                     chains_per_cell=4, steps=300, dt=0.02, progress=False)  # fmt: skip
    stored = xr.load_dataset(tmp_path / "s.nc", engine="h5netcdf")
    np.testing.assert_array_equal(stored["x"], expected["x"])
    assert _cli(argv) == 0
    assert "computed 0, 6 already in the store" in capsys.readouterr().out


def test_cli_plot_with_one_axis_is_refused_before_computing(tmp_path):
    store = tmp_path / "s.zarr"
    argv = ["sweep", "--sigma", "0:0.2:3", "--chains", "2", "--steps", "10",
            "--store", str(store), "--plot", str(tmp_path / "p.png"), "--no-progress"]  # fmt: skip
    with pytest.raises(ValueError, match="exactly two grid axes, got 1 \\(sigma\\)"):
        _cli(argv)
    assert not store.exists()


def test_cli_values():
    from fastspring.sweep_cli import parse_values

    assert parse_values("0:0.3:7", "mu_minus", float) == [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
    assert parse_values("3,5", "L", int) == [3, 5] and parse_values("7", "L", int) == 7
    assert parse_values("true,false", "synchronous", bool) == [True, False]
    assert parse_values("gaussian,clipped", "kind", str) == ["gaussian", "clipped"]
    with pytest.raises(ValueError, match="--L: cannot read '2:3:3'"):
        parse_values("2:3:3", "L", int)
    with pytest.raises(ValueError, match="--sigma: cannot read 'a'"):
        parse_values("a", "sigma", float)
    for text in ("0:1", "0:1:x", "0:1:0", "0:1:-3", "0:1:2:3", "0:1:2.5"):
        with pytest.raises(
            ValueError, match=f"--sigma: cannot read '{text}': expected START:STOP:NUM"
        ):
            parse_values(text, "sigma", float)


def test_cli_model_parameters_are_options_and_axes():
    from fastspring import sweep_cli

    parser = argparse.ArgumentParser(prog="fastspring")
    sweep_cli.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", "--model", "langevin", "--gamma", "0.5,1",
                              "--sync-convention", "sum", "--synchronous", "true"])  # fmt: skip
    kwargs = sweep_cli.sweep_arguments(args)
    assert kwargs["grid"] == {"gamma": [0.5, 1.0]} and kwargs["sync_convention"] == "sum"
    assert kwargs["model"] == "langevin" and kwargs["noise"].synchronous is True
