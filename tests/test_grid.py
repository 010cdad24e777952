"""Tests of fastspring.grid.run_grid: labels, batching, Zarr resume (also after SIGKILL), Dask."""

import contextlib
import functools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from fastspring.grid import run_grid
from fastspring.store import DONE, _StoreLock

AXES = {"sigma": [0.0, 0.1, 0.25, 0.5], "mu": [0.0, 0.3, 0.6]}
FINGERPRINT = {"model": "toy", "steps": 100, "dt": 0.01}
N_CELLS = 12


def toy_cell(sigma, mu, *, counter=None, delay=0.0):
    """A deterministic cell with float, int, bool and string variables and a chain x layer dim."""
    if counter is not None:
        with open(counter, "a") as f:
            f.write(f"{sigma!r},{mu!r}\n")
    time.sleep(delay)
    chain, layer = np.arange(2)[:, None], np.arange(1, 4)[None, :]
    x = np.sin(sigma * layer + chain) + mu * layer**2 / 7.0
    curvature = float(x.mean(axis=0) @ [1.0, -2.0, 1.0])
    return xr.Dataset(
        {
            "x": (("chain", "layer"), x, {"units": "block position"}),
            "curvature": ((), curvature),
            "n_events": ((), np.int64(round(100 * sigma + 10 * mu))),
            "moved": ((), sigma > 0),
            "phase": ((), "convex" if curvature > 0 else "concave"),
        },
        coords={"layer": np.arange(1, 4), "sigma": sigma},
        attrs={"model": "toy", "L": np.int64(3)},
    )


def toy_batch(kwargs_list):
    return [toy_cell(**kwargs) for kwargs in kwargs_list]


def toy_batch_stacked(kwargs_list):
    """The batch as one Dataset with a leading ``cell`` dim (the vectorised form)."""
    cells = [toy_cell(**kwargs).drop_vars("sigma") for kwargs in kwargs_list]
    return xr.concat(cells, dim="cell", data_vars="all")


def direct_loop():
    """The grid built by hand: what run_grid must return."""
    rows = [
        xr.concat([toy_cell(sigma, mu).drop_vars("sigma") for mu in AXES["mu"]], dim="mu")
        for sigma in AXES["sigma"]
    ]
    ds = xr.concat(rows, dim="sigma").assign_coords(sigma=AXES["sigma"], mu=AXES["mu"])
    return ds.transpose("sigma", "mu", "chain", "layer")


def calls(counter):
    """The cells a counted cell function was called on, one tuple per call."""
    if not Path(counter).exists():
        return []
    return [tuple(float(v) for v in line.split(",")) for line in Path(counter).read_text().split()]


def counted_run(counter, store):
    """The toy grid with a counting cell function, on ``store``."""
    cell = functools.partial(toy_cell, counter=counter)
    return run_grid(cell, AXES, fingerprint=FINGERPRINT, store=store, progress=False)


def without_run_attrs(ds):
    """``ds`` without the attribute that depends on what the call had to compute."""
    out = ds.copy()
    del out.attrs["cells_computed"]
    return out


def test_grid_matches_direct_loop():
    ds = run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, progress=False)
    expected = direct_loop()
    assert ds.sizes == {"sigma": 4, "mu": 3, "chain": 2, "layer": 3}
    assert list(ds["x"].dims) == ["sigma", "mu", "chain", "layer"]
    np.testing.assert_array_equal(ds["sigma"], AXES["sigma"])
    np.testing.assert_array_equal(ds["mu"], AXES["mu"])
    np.testing.assert_array_equal(ds["layer"], [1, 2, 3])
    for name in ("x", "curvature", "n_events", "moved", "phase"):
        np.testing.assert_array_equal(ds[name].values, expected[name].values)
        assert ds[name].dtype.kind == expected[name].dtype.kind
    assert ds["x"].attrs == {"units": "block position"}
    assert ds.attrs["model"] == "toy" and ds.attrs["L"] == 3
    assert ds.attrs["fingerprint"] == '{"dt": 0.01, "model": "toy", "steps": 100}'
    assert ds.attrs["cells_computed"] == N_CELLS


@pytest.mark.parametrize("batch", [1, 5])
def test_text_variables_keep_every_character_as_they_widen(batch, tmp_path):
    """A later cell's longer string widens what is held, without truncating anything."""

    def labelled(sigma, mu):
        return xr.Dataset({"label": ((), "ab" * round(1 + 10 * sigma + 2 * mu))})

    expected = [["ab" * round(1 + 10 * s + 2 * m) for m in AXES["mu"]] for s in AXES["sigma"]]
    for store in (None, tmp_path / "s.zarr"):
        ds = run_grid(labelled, AXES, fingerprint="f", batch=batch, store=store, progress=False)
        assert ds["label"].values.tolist() == expected
        assert ds["label"].dtype == np.dtype(f"<U{len(expected[-1][-1])}")


def test_cells_receive_python_scalars_in_c_order(tmp_path):
    counter = tmp_path / "calls.txt"
    run_grid(functools.partial(toy_cell, counter=counter), AXES, fingerprint="f", progress=False)
    expected = [(s, m) for s in AXES["sigma"] for m in AXES["mu"]]
    assert calls(counter) == expected


@pytest.mark.parametrize("batch_fn", [toy_batch, toy_batch_stacked])
@pytest.mark.parametrize("batch", [None, 1, 5, 100])
def test_batch_fn_equals_cell_fn(batch_fn, batch, tmp_path):
    one_by_one = run_grid(toy_cell, AXES, fingerprint="f", progress=False)
    for store in (None, tmp_path / "s.zarr"):
        batched = run_grid(
            None,
            AXES,
            fingerprint="f",
            batch_fn=batch_fn,
            batch=batch,
            store=store,
            progress=False,
        )
        xr.testing.assert_identical(batched, one_by_one)


def test_store_resumes_without_recomputing(tmp_path):
    store, counter = tmp_path / "scan.zarr", tmp_path / "calls.txt"
    first = counted_run(counter, store)
    again = counted_run(counter, store)
    assert len(calls(counter)) == N_CELLS
    assert (first.attrs["cells_computed"], again.attrs["cells_computed"]) == (N_CELLS, 0)
    xr.testing.assert_identical(without_run_attrs(again), without_run_attrs(first))
    in_memory = run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, progress=False)
    xr.testing.assert_identical(first, in_memory)


def failing_after(sigma, mu, *, counter, n_ok):
    if len(calls(counter)) >= n_ok:
        raise RuntimeError("cell failed")
    return toy_cell(sigma, mu, counter=counter)


def test_store_keeps_cells_finished_before_an_error(tmp_path):
    store, counter = tmp_path / "scan.zarr", tmp_path / "calls.txt"
    with pytest.raises(RuntimeError, match="cell failed"):
        run_grid(
            functools.partial(failing_after, counter=counter, n_ok=5),
            AXES,
            fingerprint=FINGERPRINT,
            store=store,
            progress=False,
        )
    assert zarr.open_group(store)[DONE][...].sum() == 5
    resumed = counted_run(counter, store)
    assert resumed.attrs["cells_computed"] == N_CELLS - 5
    assert len(calls(counter)) == N_CELLS
    xr.testing.assert_identical(without_run_attrs(resumed), without_run_attrs(direct_run()))


def direct_run():
    return run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, progress=False)


def test_zarr_writes_chunks_atomically():
    """Crash safety relies on it: a chunk shared by several cells is replaced, never torn."""
    from packaging.version import Version

    assert Version(zarr.__version__) >= Version("3.1.3")


def test_half_written_cell_is_recomputed(tmp_path):
    """Data written but flag unset (a kill between the two writes): the cell is redone."""
    store, counter = tmp_path / "scan.zarr", tmp_path / "calls.txt"
    run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, store=store, progress=False)
    group = zarr.open_group(store, mode="r+")
    group["x"][2, 1] = np.full((2, 3), -99.0)
    group["phase"][2, 1] = "garbage"
    group[DONE][2, 1] = False
    resumed = counted_run(counter, store)
    assert calls(counter) == [(AXES["sigma"][2], AXES["mu"][1])]
    xr.testing.assert_identical(without_run_attrs(resumed), without_run_attrs(direct_run()))


KILLED_SCRIPT = textwrap.dedent(
    """
    import functools, sys
    sys.path.insert(0, {tests!r})
    from test_grid import AXES, FINGERPRINT, toy_cell
    from fastspring.grid import run_grid

    cell = functools.partial(toy_cell, counter={counter!r}, delay=0.15)
    run_grid(cell, AXES, fingerprint=FINGERPRINT, store={store!r}, progress=False)
    """
)


def test_resume_after_sigkill(tmp_path):
    store, counter = str(tmp_path / "scan.zarr"), str(tmp_path / "calls.txt")
    script = KILLED_SCRIPT.format(tests=str(Path(__file__).parent), counter=counter, store=store)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while len(calls(counter)) < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"

    done = zarr.open_group(store)[DONE][...]
    assert 0 < done.sum() < N_CELLS
    finished = {(AXES["sigma"][i], AXES["mu"][j]) for i, j in np.argwhere(done)}
    Path(counter).unlink()
    resumed = counted_run(counter, store)
    recomputed = calls(counter)
    assert len(recomputed) == N_CELLS - len(finished) == resumed.attrs["cells_computed"]
    assert not finished & set(recomputed)
    xr.testing.assert_identical(without_run_attrs(resumed), without_run_attrs(direct_run()))


def test_a_store_being_written_is_refused_and_released_afterwards(tmp_path):
    store = tmp_path / "scan.zarr"
    refusals = []

    def cell_that_tries_a_second_run(sigma, mu):
        if not refusals:
            with pytest.raises(
                RuntimeError,
                match=rf"being written by another run \(process "
                rf"{os.getpid()}, lock '.*scan\.zarr\.lock'\)",
            ) as err:
                run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, store=store, progress=False)
            refusals.append(err)
        return toy_cell(sigma, mu)

    first = run_grid(
        cell_that_tries_a_second_run, AXES, fingerprint=FINGERPRINT, store=store, progress=False
    )
    assert len(refusals) == 1 and first.attrs["cells_computed"] == N_CELLS
    # the lock went with the first run (after SIGKILL too: test_resume_after_sigkill)
    again = run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, store=store, progress=False)
    assert again.attrs["cells_computed"] == 0


def test_a_finished_store_is_read_while_another_run_holds_it(tmp_path):
    store = tmp_path / "scan.zarr"
    first = run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, store=store, progress=False)
    holder = _StoreLock(str(store))  # as another process reading it would
    try:
        again = run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, store=store, progress=False)
    finally:
        holder.release()
    assert again.attrs["cells_computed"] == 0
    xr.testing.assert_identical(without_run_attrs(again), without_run_attrs(first))


def test_store_with_other_fingerprint_is_refused(tmp_path):
    store = tmp_path / "scan.zarr"
    run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, store=store, progress=False)
    other = {**FINGERPRINT, "dt": 0.02}
    with pytest.raises(ValueError, match=r"fingerprint \(dt: 0.01 in the store, 0.02 now"):
        run_grid(toy_cell, AXES, fingerprint=other, store=store, progress=False)


@pytest.mark.parametrize(
    ("axes", "message"),
    [
        ({**AXES, "mu": [0.0, 0.3, 0.7]}, r"axis 'mu': 3 values \[0.0, 0.3, 0.6\] in the store"),
        ({**AXES, "mu": [0, 1, 2]}, "axis 'mu': dtype float64 in the store, int64 now"),
        ({"mu": AXES["mu"], "sigma": AXES["sigma"]}, r"axes \['sigma', 'mu'\] in the store"),
    ],
)
def test_store_with_other_axes_is_refused(tmp_path, axes, message):
    store = tmp_path / "scan.zarr"
    run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, store=store, progress=False)
    with pytest.raises(ValueError, match=message):
        run_grid(toy_cell, axes, fingerprint=FINGERPRINT, store=store, progress=False)


def test_a_directory_that_is_no_grid_store_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not a store")
    with pytest.raises(ValueError, match="not a fastspring grid store"):
        run_grid(toy_cell, AXES, fingerprint="f", store=tmp_path, progress=False)


def test_netcdf_round_trip(tmp_path):
    ds = run_grid(
        toy_cell, AXES, fingerprint=FINGERPRINT, store=tmp_path / "s.zarr", progress=False
    )
    ds.to_netcdf(tmp_path / "scan.nc", engine="h5netcdf")
    with xr.open_dataset(tmp_path / "scan.nc", engine="h5netcdf") as back:
        xr.testing.assert_identical(back.load(), ds)
        assert list(back["phase"].values.ravel()) == list(ds["phase"].values.ravel())
        assert back.attrs["fingerprint"] == ds.attrs["fingerprint"]


def test_progress_bar_counts_units_and_cells(capsys):
    run_grid(toy_cell, AXES, fingerprint="f", units_per_cell=("chain", 64), desc="toy")
    err = capsys.readouterr().err
    assert "chain/s" in err and f"{N_CELLS}/{N_CELLS} cells" in err and "toy" in err


def ragged_cell(sigma, mu):
    return xr.Dataset({"x": ("layer", np.zeros(2 if sigma > 0.2 else 3))})


def renamed_after_first(kwargs_list):
    """A stacked batch whose cells rename a dim, except in the first batch."""
    ds = toy_batch_stacked(kwargs_list)
    return ds if kwargs_list[0]["sigma"] == 0.0 else ds.rename(layer="depth")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"axes": {}}, ValueError, "non-empty mapping"),
        ({"axes": {"s": [[0.0, 1.0]]}}, ValueError, "axis 's' must be a non-empty 1-D"),
        ({"axes": {"s": [0.0, 0.0]}}, ValueError, "axis 's' holds repeated values"),
        ({"axes": {"s": [0.0, np.nan]}}, ValueError, "axis 's' must hold finite"),
        ({"fingerprint": object()}, TypeError, "fingerprint must be a str or a mapping"),
        ({"batch": 0}, ValueError, "batch must be an integer in"),
        ({"cell_fn": None}, ValueError, "exactly one of cell_fn and batch_fn"),
        ({"batch_fn": toy_batch}, ValueError, "exactly one of cell_fn and batch_fn"),
        ({"units_per_cell": ("chain", 0)}, ValueError, "units_per_cell amount must lie in"),
        ({"cell_fn": ragged_cell}, ValueError, "variable 'x' of the cell at sigma=0.25, mu=0.0"),
        (
            {"cell_fn": None, "batch_fn": lambda kws: [], "batch": 3},
            ValueError,
            "of 3 Datasets, got 0",
        ),
        (
            {"cell_fn": None, "batch_fn": lambda kws: toy_batch_stacked(kws[:2]), "batch": 3},
            ValueError,
            "leading dim 'cell' of size 3",
        ),
        (
            {"cell_fn": None, "batch_fn": renamed_after_first, "batch": 3},
            ValueError,
            "coordinate 'layer' of the cells from sigma=0.1, mu=0.0 to sigma=0.1, mu=0.6",
        ),
    ],
)
def test_invalid_input_is_refused(kwargs, error, message):
    call = {"cell_fn": toy_cell, "axes": AXES, "fingerprint": "f", "progress": False, **kwargs}
    cell_fn = call.pop("cell_fn")
    with pytest.raises(error, match=message):
        run_grid(cell_fn, **call)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        yield dask_client


def test_dask_equals_local(client, tmp_path):
    local = run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, progress=False)
    on_cluster = run_grid(
        toy_cell,
        AXES,
        fingerprint=FINGERPRINT,
        client=client,
        store=tmp_path / "s.zarr",
        progress=False,
    )
    xr.testing.assert_identical(on_cluster, local)
    batched = run_grid(
        None, AXES, fingerprint=FINGERPRINT, batch_fn=toy_batch, client=client, progress=False
    )
    xr.testing.assert_identical(batched, local)
    workers = client.run(os.getpid)
    assert len(set(workers.values())) == 2 and os.getpid() not in workers.values()


def test_dask_error_propagates_and_keeps_finished_cells(client, tmp_path):
    store = tmp_path / "s.zarr"
    with pytest.raises(ValueError, match="variable 'x'"):
        run_grid(ragged_cell, AXES, fingerprint="f", client=client, store=store, progress=False)
    assert zarr.open_group(store)[DONE][...].sum() < N_CELLS


class CountedPickles:
    """A cell function that counts how often the driver pickles it."""

    pickled = 0

    def __getstate__(self):
        CountedPickles.pickled += 1
        return self.__dict__

    def __call__(self, sigma, mu):
        return toy_cell(sigma, mu)


def test_dask_sends_the_cell_function_once_not_per_task(client):
    CountedPickles.pickled = 0
    run_grid(CountedPickles(), AXES, fingerprint="f", client=client, progress=False)
    assert CountedPickles.pickled <= 2 < N_CELLS


def test_a_client_factory_is_entered_only_when_cells_are_missing(client, tmp_path):
    entered, closed = [], []

    @contextlib.contextmanager
    def factory():
        entered.append(True)
        yield client
        closed.append(True)

    store = tmp_path / "s.zarr"
    first = run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, client=factory, store=store,
                     progress=False)  # fmt: skip
    assert len(entered) == len(closed) == 1 and first.attrs["cells_computed"] == N_CELLS
    again = run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, client=factory, store=store,
                     progress=False)  # fmt: skip
    assert len(entered) == 1 and again.attrs["cells_computed"] == 0
    local = run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, progress=False)
    xr.testing.assert_identical(without_run_attrs(again), without_run_attrs(local))
    xr.testing.assert_identical(without_run_attrs(first), without_run_attrs(local))


@pytest.mark.parametrize("store", ["", "  "])
def test_an_empty_store_path_is_refused_and_touches_nothing(tmp_path, monkeypatch, store):
    """zarr reads "" as the current folder and would clear it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="store must be a non-empty path"):
        run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, store=store, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious.txt"]
    with pytest.raises(TypeError, match="store must be a path"):
        run_grid(toy_cell, AXES, fingerprint=FINGERPRINT, store=123, progress=False)
