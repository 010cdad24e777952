"""The CUDA backend: the simulator run equals the CPU backend; the kernel compiles to PTX.

Both checks run in subprocesses: ``NUMBA_ENABLE_CUDASIM`` must be set before
``numba.cuda`` is imported, and must not leak into the CPU tests of this process.
The PTX check compiles the real kernel (not the simulator) with NVVM for a
Hopper GPU, which needs no GPU, only CUDA's libnvvm (skipped without it), and
assembles it with ``ptxas`` for sm_90 when that is installed.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

from fastspring import Chain, Noise, sweep

# every branch of the kernel: clipped and truncated noise, per-block and synchronous
# draws, decay, time averages, and chains that stop by rtol (after about 70-120
# steps) next to chains that run out of steps (40)
SWEEP = dict(
    grid={"kind": ["clipped", "truncated"], "synchronous": [False, True], "steps": [40, 150]},
    chains_per_cell=2,
    steps=150,
    dt=0.05,
    seed=5,
    average_from=20,
    rtol=1e-4,
    progress=False,
)
CHAIN = Chain(L=3, k=1.0, y=5.0, mu_plus=0.1, mu_minus=0.25)
NOISE = Noise(0.3, "clipped", bound=0.2, decay=0.2)

SIM_SCRIPT = """
import sys
from fastspring import Chain, Noise, sweep
from numba import cuda
from numba import config
assert config.ENABLE_CUDASIM and cuda.is_available()
ds = sweep(Chain(L=3, k=1.0, y=5.0, mu_plus=0.1, mu_minus=0.25),
           Noise(0.3, "clipped", bound=0.2, decay=0.2), backend="cuda", **{sweep!r})
ds.to_netcdf(sys.argv[1], engine="h5netcdf")
"""

PTX_SCRIPT = """
import sys
import types
import numba.cuda.dispatcher
from numba import cuda, types as nt
from numba.cuda.cudadrv import nvvm
try:
    nvvm.NVVM()
except Exception:
    raise SystemExit(77)  # no libnvvm: skip
# compile_ptx asks the current device for its compute capability only to compile
# device functions; answer for a Hopper GPU so that no driver is needed
numba.cuda.dispatcher.get_current_device = lambda: types.SimpleNamespace(
    compute_capability=(9, 0))
from fastspring.backends.cuda import overdamped_kernel_source
f8, i8 = nt.float64, nt.int64
signature = (f8[:, :, ::1], f8[:, :, ::1], i8[:, ::1], nt.boolean[:, ::1], f8[:, ::1],
             i8[:, ::1], nt.uint64, nt.uint64, i8, f8, i8)
for L in (1, 7):
    ptx, _ = cuda.compile_ptx(overdamped_kernel_source(L), signature, cc=(9, 0))
    # one kernel entry, every device function inlined, nothing left to link
    assert ptx.count(".entry") == 1 and ".extern" not in ptx, ptx[:2000]
    with open(f"{sys.argv[1]}/overdamped_L{L}.ptx", "w") as f:
        f.write(ptx)
"""


def _run(script, *args, env=None):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cuda_simulator_equals_cpu(tmp_path):
    path = tmp_path / "cuda.nc"
    proc = _run(SIM_SCRIPT.format(sweep=SWEEP), str(path), env={"NUMBA_ENABLE_CUDASIM": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    gpu = xr.load_dataset(path, engine="h5netcdf")
    cpu = sweep(CHAIN, NOISE, **SWEEP)
    assert gpu.attrs["backend"] == "cuda" and gpu.sizes == cpu.sizes
    # the same draws and update; on a real GPU fused multiply-adds leave round-off
    for name in ("x", "x_mean", "load", "load_mean", "cell_load", "c", "v"):
        np.testing.assert_allclose(gpu[name], cpu[name], rtol=0, atol=1e-12, err_msg=name)
    for name in ("steps_taken", "converged"):
        np.testing.assert_array_equal(gpu[name], cpu[name], err_msg=name)
    assert np.any(cpu["converged"]) and not np.all(cpu["converged"])


def test_cuda_kernel_compiles_to_ptx_and_assembles(tmp_path):
    proc = _run(PTX_SCRIPT, str(tmp_path))
    if proc.returncode == 77:
        pytest.skip("CUDA's libnvvm is not installed")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ptxas = shutil.which("ptxas")
    if ptxas is None:
        return  # the PTX was made; assembling it needs CUDA's ptxas
    for ptx in sorted(tmp_path.glob("*.ptx")):
        done = subprocess.run(
            [ptxas, "-arch=sm_90", "-v", str(ptx), "-o", str(ptx.with_suffix(".cubin"))],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert "0 bytes spill stores" in done.stderr, done.stderr[-3000:]
