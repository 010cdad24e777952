"""The command line, end to end in-process."""

import os

import numpy as np
import pytest
import xarray as xr

try:
    import fcntl
except ImportError:
    fcntl = None

from fastspring.cli import main


def test_simulate_prints_load_and_writes_files(tmp_path, capsys):
    out, png = tmp_path / "run.nc", tmp_path / "run.png"
    code = main(["simulate", "--sigma", "0", "--steps", "20000", "--chains", "2",
                 "--out", str(out), "--plot", str(png)])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    # the reference defaults without noise: Eq. 7, only the deepest 3 blocks move
    loads = [float(line.split()[1]) for line in text.splitlines() if line[:5].strip().isdigit()]
    np.testing.assert_allclose(loads, [1, 1, 1, 1, 1, 0.9, 0.7, 0.4], atol=1e-9)
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds["x"].dims == ("time", "chain", "block")
        assert ds.attrs["chain_L"] == 7
    assert png.stat().st_size > 10_000


def test_bad_input_exits_with_message(capsys):
    assert main(["simulate", "--k", "-1"]) == 2
    assert "k must lie in (0, inf)" in capsys.readouterr().err


def test_outputs_are_checked_before_computing(tmp_path, capsys, monkeypatch):
    import fastspring.simulation

    monkeypatch.setattr(fastspring.simulation, "simulate", lambda *a, **k: pytest.fail("ran"))
    assert main(["simulate", "--plot", str(tmp_path / "x.foo")]) == 2
    assert "--plot" in (err := capsys.readouterr().err) and "unknown image format 'foo'" in err
    assert ".png" in err
    assert main(["sweep", "--sigma", "0,0.1", "--plot", "p.jpg2"]) == 2
    assert "unknown image format 'jpg2'" in capsys.readouterr().err
    monkeypatch.undo()
    out = tmp_path / "new" / "folder" / "run.nc"  # made before the run, as for --plot
    assert main(["simulate", "--steps", "5", "--chains", "1", "--out", str(out)]) == 0
    assert out.is_file()


def test_interrupt_is_a_one_line_message_that_says_how_to_resume(tmp_path, capsys, monkeypatch):
    import importlib

    sweep_module = importlib.import_module("fastspring.sweep")  # not the function

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "run_grid", interrupted)
    store = tmp_path / "s.zarr"
    argv = ["sweep", "--sigma", "0,0.1", "--chains", "2", "--steps", "5", "--no-progress"]
    assert main([*argv, "--store", str(store)]) == 130
    err = capsys.readouterr().err
    resume = f"finished work is saved in {store}: run the same command to resume"
    assert err == f"fastspring sweep: interrupted; {resume}\n"
    assert main(argv) == 130
    assert capsys.readouterr().err == "fastspring sweep: interrupted\n"


@pytest.mark.skipif(fcntl is None, reason="stores are locked with POSIX flock")
def test_environment_errors_are_one_line_messages(tmp_path, capsys, monkeypatch):
    import fastspring.backends.cuda as cuda_backend
    from fastspring.errors import GpuUnavailableError

    def no_gpu():
        raise GpuUnavailableError("backend='cuda' needs a CUDA GPU")

    monkeypatch.setattr(cuda_backend, "require_gpu", no_gpu)
    sweep = ["sweep", "--sigma", "0:0.1:2", "--chains", "2", "--steps", "5", "--no-progress"]
    assert main([*sweep, "--backend", "cuda"]) == 2
    assert capsys.readouterr().err == "fastspring sweep: error: backend='cuda' needs a CUDA GPU\n"

    store = tmp_path / "x.zarr"
    held = os.open(f"{store}.lock", os.O_RDWR | os.O_CREAT)  # another run holds the store
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(held, b"4242\n")
        assert main([*sweep, "--store", str(store)]) == 2
    finally:
        os.close(held)
    err = capsys.readouterr().err
    assert err.startswith("fastspring sweep: error: store") and err.count("\n") == 1
    assert "being written by another run (process 4242" in err
