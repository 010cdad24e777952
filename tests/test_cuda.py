"""The CUDA backend: simulator runs equal the CPU backend; the kernels compile to PTX.

Both checks run in subprocesses: ``NUMBA_ENABLE_CUDASIM`` must be set before
``numba.cuda`` is imported, and must not leak into the CPU tests of this process.
The PTX check compiles the real kernels (not the simulator) with NVVM for a
Hopper GPU, which needs no GPU, only CUDA's libnvvm (skipped without it), and
assembles them with ``ptxas`` for sm_90 when that is installed. Where a real GPU
is present, the kernels also run on it and must equal the CPU backend to round-off.
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

from fastspring import Chain, Noise, sweep

MODELS = ("overdamped", "langevin", "inertial")
# every branch of the kernels: clipped and truncated noise, per-block and synchronous
# draws, decay, time averages, and chains that stop by rtol next to chains that run
# out of steps (40)
SWEEP = dict(
    grid={"kind": ["clipped", "truncated"], "synchronous": [False, True], "steps": [40, 150]},
    chains_per_cell=2,
    steps=150,
    dt=0.05,
    seed=5,
    average_from=20,
    progress=False,
)
RTOL = {"overdamped": 1e-4, "langevin": 1e-3, "inertial": 1e-4}
CHAIN = Chain(L=3, k=1.0, y=5.0, mu_plus=0.1, mu_minus=0.25)
NOISE = Noise(0.3, "clipped", bound=0.2, decay=0.2)

SIM_SCRIPT = """
import sys
from numba import config, cuda
from fastspring import Chain, Noise, sweep
assert config.ENABLE_CUDASIM and cuda.is_available()
for model, rtol in {rtol!r}.items():
    ds = sweep(Chain(L=3, k=1.0, y=5.0, mu_plus=0.1, mu_minus=0.25),
               Noise(0.3, "clipped", bound=0.2, decay=0.2), model, backend="cuda",
               rtol=rtol, **{sweep!r})
    ds.to_netcdf(f"{{sys.argv[1]}}/{{model}}.nc", engine="h5netcdf")
"""

MASK_SCRIPT = """
import numpy as np
from numba import config, cuda
assert config.ENABLE_CUDASIM and cuda.is_available()
from dnn._dropout_cuda import fill_kernel
from dnn.dropout import _fill_rows
seeds = np.array([0, 7, 2**32 - 1], dtype=np.uint64)
ps = np.array([0.1, 0.0, 0.5])
for draw in (0, 3):
    cpu = np.empty((3, 37), dtype=np.float32)
    _fill_rows(cpu, seeds, draw, ps)
    gpu = cuda.to_device(np.zeros((3, 37), dtype=np.float32))
    fill_kernel()[(3, 1), (1, 128)](gpu, cuda.to_device(seeds), draw, cuda.to_device(ps))
    assert np.array_equal(gpu.copy_to_host(), cpu), draw
"""


def test_dropout_mask_kernel_on_the_simulator_equals_cpu():
    """The CUDA kernel of dnn.dropout draws the CPU kernel's masks (37 entries: a partial
    group of four at the end); on a real GPU, test_dnn_batched compares them too."""
    proc = _run(MASK_SCRIPT, env={"NUMBA_ENABLE_CUDASIM": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]


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
from fastspring.backends import cuda as gpu
f8, i8 = nt.float64, nt.int64
outputs = (f8[:, :, ::1], f8[:, :, ::1], i8[:, ::1], nt.boolean[:, ::1], f8[:, ::1], i8[:, ::1])
scalars = (nt.uint64, nt.uint64, i8, f8, i8)
kernels = {
    "overdamped": (gpu.overdamped_kernel_source, outputs + scalars),
    "langevin": (gpu.langevin_kernel_source, outputs + scalars),
    "inertial": (gpu.inertial_kernel_source,
                 outputs + (f8[:, ::1], f8[:, ::1], f8[:, :, :, ::1]) + scalars),
}
from dnn import _dropout_cuda
kernels["dropout_masks"] = (
    lambda L: _dropout_cuda.fill_kernel_source(),
    (nt.float32[:, ::1], nt.uint64[::1], i8, f8[::1]),
)
for name, (source, signature) in kernels.items():
    ptx, _ = cuda.compile_ptx(source(7), signature, cc=(9, 0))
    with open(f"{sys.argv[1]}/{name}.ptx", "w") as f:
        f.write(ptx)
# the generator alone, with NVVM's default contraction of a * b + c into fma, and without
from numba.cuda.compiler import compile_cuda
from fastspring import rng
def normals(out, seed, chain):
    out[0], out[1], out[2], out[3] = rng.normals4(seed, chain, 5, 0, 0)
for name, options in (("rng", {"opt": 3}), ("rng_no_fma", {"opt": 3, "fma": False})):
    cres = compile_cuda(normals, nt.void, (f8[::1], nt.uint64, nt.uint64), cc=(9, 0),
                        nvvm_options=options)
    with open(f"{sys.argv[1]}/{name}.ptx", "w") as f:
        f.write(cres.library.get_asm_str(cc=(9, 0)))
"""


def _real_gpu():
    """Whether numba.cuda finds a real GPU (not the simulator)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") != "0":
        return False
    from numba import cuda

    return cuda.is_available()


def _run(script, *args, env=None):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """The sweeps of every model on the CUDA simulator, run in one subprocess."""
    path = tmp_path_factory.mktemp("cudasim")
    script = SIM_SCRIPT.format(rtol=RTOL, sweep=SWEEP)
    proc = _run(script, str(path), env={"NUMBA_ENABLE_CUDASIM": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return path


@pytest.mark.parametrize("model", MODELS)
def test_cuda_simulator_equals_cpu(simulated, model):
    gpu = xr.load_dataset(simulated / f"{model}.nc", engine="h5netcdf")
    cpu = sweep(CHAIN, NOISE, model, rtol=RTOL[model], **SWEEP)
    assert gpu.attrs["backend"] == "cuda" and gpu.sizes == cpu.sizes
    # the same draws and updates, bit for bit (test_real_gpu_equals_cpu allows for the
    # fused multiply-adds of a real GPU)
    for name in ("x", "x_mean", "load", "load_mean", "cell_load", "c", "v", "steps_taken",
                 "converged"):  # fmt: skip
        np.testing.assert_array_equal(gpu[name], cpu[name], err_msg=name)
    assert np.any(cpu["converged"]) and not np.all(cpu["converged"])


@pytest.mark.skipif(not _real_gpu(), reason="no CUDA GPU")
@pytest.mark.parametrize("model", MODELS)
def test_real_gpu_equals_cpu(model):
    gpu = sweep(CHAIN, NOISE, model, backend="cuda", rtol=RTOL[model], **SWEEP)
    cpu = sweep(CHAIN, NOISE, model, rtol=RTOL[model], **SWEEP)
    # NVVM fuses multiply-adds and libdevice's exp/sin/cos may differ by an ulp: round-off,
    # carried through at most 150 steps; the stop decisions are the same
    for name in ("x", "x_mean", "load", "cell_load", "c"):
        np.testing.assert_allclose(gpu[name], cpu[name], rtol=0, atol=1e-9, err_msg=name)
    for name in ("steps_taken", "converged"):
        np.testing.assert_array_equal(gpu[name], cpu[name], err_msg=name)


@pytest.fixture(scope="module")
def ptx(tmp_path_factory):
    """The kernels of every model (L = 7) compiled to PTX, in one subprocess."""
    path = tmp_path_factory.mktemp("ptx")
    proc = _run(PTX_SCRIPT, str(path))
    if proc.returncode == 77:
        pytest.skip("CUDA's libnvvm is not installed")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return path


@pytest.mark.parametrize("model", [*MODELS, "dropout_masks"])
def test_cuda_kernel_compiles_to_ptx_and_assembles(ptx, model):
    code = (ptx / f"{model}.ptx").read_text()
    # one kernel entry, nothing left to link
    assert code.count(".entry") == 1 and ".extern" not in code
    ptxas = shutil.which("ptxas")
    if ptxas is None:
        return  # the PTX was made; assembling it needs CUDA's ptxas
    done = subprocess.run(
        [ptxas, "-arch=sm_90", "-v", str(ptx / f"{model}.ptx"), "-o", str(ptx / f"{model}.o")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    spills = re.findall(r"(\d+) bytes spill stores", done.stderr)
    assert spills and set(spills) == {"0"}, done.stderr[-3000:]  # no register spills


def test_gpu_compilers_find_nothing_to_fuse_in_the_generator(ptx):
    """The normals are the CPU's bits on a GPU: every product that enters a sum does so
    in an explicit fma (fastspring.rng), so NVVM fuses no further multiply-add (its
    PTX is the same with contraction off), and no plain product feeds an add or sub
    that ptxas could fuse."""
    code = (ptx / "rng.ptx").read_text()
    assert code.count("fma.rn.f64") == (ptx / "rng_no_fma.ptx").read_text().count("fma.rn.f64")
    products = set(re.findall(r"mul(?:\.rn)?\.f64\s+(%fd\d+),", code))
    sums = re.findall(r"(?:add|sub)(?:\.rn)?\.f64\s+%fd\d+,\s*([^;]+);", code)
    fed = {r for operands in sums for r in re.findall(r"%fd\d+", operands)} & products
    assert products and not fed
