"""The command line, end to end in-process."""

import numpy as np
import xarray as xr

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
