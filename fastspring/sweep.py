"""Phase sweeps: one model over a grid of parameters, labelled, resumable, distributable.

:func:`sweep` runs ``chains_per_cell`` chains from rest at every point (cell) of a
grid over any parameters of the chain, the noise, the integration or the model,
and returns one :class:`xarray.Dataset` with the final positions, load curves,
time-averaged positions and the load-curve metrics of :mod:`analysis`.

How the work is done:

* the cells go to :func:`fastspring.grid.run_grid` in batches, which gives the
  Zarr store (each finished cell written at once; a rerun computes only the
  missing cells), the Dask scale-out and the progress bar;
* within a batch, cells that share the number of blocks ``L``, the step budget and
  the seed become the rows of one per-cell parameter table, run by **one** call of
  the model's kernel: on the CPU, the ``prange`` kernel of :func:`fastspring.simulate`
  over (cell, tile of chains); on the GPU, one thread per (cell, chain);
* chain ``c`` of every cell draws from the random stream ``(seed, c)``, exactly as
  ``simulate(..., chains=chains_per_cell, seed=seed)`` does, so a cell equals that
  call bit for bit (CPU backend), whatever the batching, the thread count or the
  cluster.  Neighbouring cells therefore share their noise draws (common random
  numbers), which makes differences between cells smoother than independent
  draws would.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from analysis.loads import DEFAULT_PHASE_TOL, load_curve, load_curve_metrics

from .backends import cpu
from .grid import canonical_fingerprint, check_axes, run_grid
from .models import get_model
from .params import Chain, Noise, check_choice, check_int, check_real
from .result import to_attr
from .simulation import check_model_inputs, make_settings, overflow_error, warn_if_rtol_meets_noise
from .store import CELL_DIM

#: grid axes that change the chain, the noise, or the integration
CHAIN_FIELDS = tuple(f.name for f in dataclasses.fields(Chain))
NOISE_FIELDS = tuple(f.name for f in dataclasses.fields(Noise))
RUN_FIELDS = ("dt", "steps", "seed")
BACKENDS = ("cpu", "cuda")
#: bumped when the layout or meaning of a sweep's cells changes (part of the fingerprint)
FORMAT = 1

#: labels of the grid coordinates (used by the figures)
LONG_NAMES = {
    "L": "blocks L",
    "k": "stiffness k",
    "y": "pulled end y",
    "mu_plus": "μ₊ (rightward friction)",
    "mu_minus": "μ₋ (leftward friction)",
    "sigma": "noise σ",
    "kind": "noise kind",
    "bound": "noise bound a",
    "decay": "noise decay λ",
    "synchronous": "synchronous noise",
    "dt": "step dt",
    "steps": "steps",
    "seed": "seed",
    "gamma": "damping γ",
    "sync_convention": "synchronous-noise convention (shared | sum)",
}


@dataclass(frozen=True)
class _Driver:
    """How the sweep runs one model: its per-cell table and its kernels.

    ``table(chain, noise, dt, params)`` returns a cell's rows of the parameter and
    flag tables; ``cpu(rows, flags, L, settings)`` and the function called
    ``cuda`` in :mod:`fastspring.backends.cuda` (same signature) run a table of
    cells and return ``x``, ``x_mean`` of shape (cells, chains, L) and
    ``steps_taken``, ``converged`` of shape (cells, chains).
    """

    table: object
    cpu: object
    cuda: str


def _overdamped_table(chain, noise, dt, params):
    return cpu.overdamped_cell(chain, noise, dt)


DRIVERS = {
    "overdamped": _Driver(_overdamped_table, cpu.run_overdamped_cells, "run_overdamped_cells"),
    "inertial": _Driver(cpu.inertial_cell, cpu.run_inertial_cells, "run_inertial_cells"),
    "langevin": _Driver(cpu.langevin_cell, cpu.run_langevin_cells, "run_langevin_cells"),
}


@dataclass(frozen=True)
class Cell:
    """One validated grid point: what ``simulate`` would be called with."""

    chain: Chain
    noise: Noise
    dt: float
    steps: int
    seed: int
    params: dict

    @property
    def kernel_key(self):
        """Cells with equal keys can share one kernel call."""
        return self.chain.L, self.steps, self.seed


@dataclass(frozen=True)
class SweepPlan:
    """Everything a sweep's cells depend on besides the grid values (picklable).

    Built and validated by :func:`sweep`; :meth:`cell` applies one grid point.
    """

    model: str
    chain: Chain
    noise: Noise
    dt: float
    steps: int
    chains: int
    seed: int
    average_from: int | None
    rtol: float | None
    tol: float
    backend: str
    keep_chains: bool
    model_params: dict
    axes: tuple[str, ...]
    max_L: int

    def cell(self, values):
        """The :class:`Cell` at grid point ``values`` (``{axis: value}``), validated.

        Raises
        ------
        ValueError, TypeError
            Naming the parameter and the grid point when a value is invalid.
        """
        where = ", ".join(f"{name}={value!r}" for name, value in values.items())
        try:
            chain = dataclasses.replace(
                self.chain, **{n: v for n, v in values.items() if n in CHAIN_FIELDS}
            )
            noise = dataclasses.replace(
                self.noise, **{n: v for n, v in values.items() if n in NOISE_FIELDS}
            )
            dt = check_real("dt", values.get("dt", self.dt), low=0.0, low_open=True)
            steps = check_int("steps", values.get("steps", self.steps), low=1)
            seed = check_int("seed", values.get("seed", self.seed), low=0, high=2**32 - 1)
            spec = get_model(self.model)
            given = {
                **self.model_params,
                **{n: v for n, v in values.items() if n in spec.defaults},
            }
            params = spec.check(chain, dt, **{**spec.defaults, **given})
            cell = Cell(chain, noise, dt, steps, seed, params)
            self.settings(cell)
            DRIVERS[self.model].table(chain, noise, dt, params)  # the kernel's own checks
        except (ValueError, TypeError) as err:
            raise type(err)(f"grid point {where}: {err}") from None
        return cell

    def settings(self, cell):
        """The validated integration settings of a cell (``dt`` is the cell's)."""
        return make_settings(
            cell.chain, dt=cell.dt, steps=cell.steps, chains=self.chains, seed=cell.seed,
            record_every=cell.steps, rtol=self.rtol, average_from=self.average_from,
        )  # fmt: skip

    @property
    def averaged(self):
        """Whether positions are time-averaged (then metrics use the averaged curve)."""
        return self.average_from is not None

    def fingerprint(self):
        """What a store must have been made with to be resumed by this plan."""
        return {
            "what": "fastspring.sweep",
            "format": FORMAT,
            "model": self.model,
            "backend": self.backend,
            "chain": _fixed_fields(self.chain, CHAIN_FIELDS, self.axes),
            "noise": _fixed_fields(self.noise, NOISE_FIELDS, self.axes),
            "model_params": {k: v for k, v in self.model_params.items() if k not in self.axes},
            **{name: getattr(self, name) for name in RUN_FIELDS if name not in self.axes},
            "chains_per_cell": self.chains,
            "average_from": self.average_from,
            "rtol": self.rtol,
            "tol": self.tol,
            "keep_chains": self.keep_chains,
        }

    def attrs(self):
        """The Dataset attributes: every fixed parameter (the grid axes are coordinates)."""
        attrs = {
            "model": self.model,
            "backend": self.backend,
            "chains_per_cell": self.chains,
            "keep_chains": int(self.keep_chains),
        }
        for name in RUN_FIELDS:
            if name not in self.axes:
                attrs[name] = getattr(self, name)
        for prefix, obj, names in (
            ("chain", self.chain, CHAIN_FIELDS),
            ("noise", self.noise, NOISE_FIELDS),
        ):
            for name, value in _fixed_fields(obj, names, self.axes).items():
                attrs[f"{prefix}_{name}"] = to_attr(value)
        for name, value in self.model_params.items():
            if name not in self.axes:
                attrs[name] = value
        attrs.update(
            average_from=to_attr(self.average_from),
            rtol=to_attr(self.rtol),
            phase_tol=self.tol,
            metrics_from="load_mean" if self.averaged else "load",
        )
        return attrs


def _fixed_fields(obj, names, axes):
    return {name: getattr(obj, name) for name in names if name not in axes}


def sweep(
    chain: Chain,
    noise: Noise | None = None,
    model: str = "overdamped",
    *,
    grid,
    chains_per_cell: int,
    steps: int,
    dt: float,
    seed: int = 0,
    backend: str = "cpu",
    store=None,
    client=None,
    average_from: int | None = None,
    rtol: float | None = None,
    tol: float = DEFAULT_PHASE_TOL,
    keep_chains: bool = True,
    progress: bool = True,
    batch: int | None = None,
    **model_params,
) -> xr.Dataset:
    """Simulate ``chains_per_cell`` chains at every point of a parameter grid.

    Parameters
    ----------
    chain : Chain
        The base chain; grid axes named after its fields (``L``, ``k``, ``y``,
        ``mu_plus``, ``mu_minus``) override them cell by cell.
    noise : Noise, optional
        The base noise (``None``: no noise); axes ``sigma``, ``kind``, ``bound``,
        ``decay``, ``synchronous`` override it.
    model : str
        A registered model (see ``fastspring.MODELS``).
    grid : mapping of str to 1-D sequence
        ``{parameter: values}``: the cells are the Cartesian product, the last
        axis varying fastest.  Names: a field of :class:`Chain` or :class:`Noise`,
        ``dt``, ``steps``, ``seed`` or a parameter of the model (e.g. ``gamma``).
        With ``L`` as an axis the ``block`` and ``layer`` dims have the size of the
        largest ``L``; a cell with fewer blocks holds NaN beyond its own.
    chains_per_cell : int
        Independent chains per cell.
    steps, dt, seed : int, float, int
        Step budget, step size and seed, as in :func:`fastspring.simulate`.
    backend : {"cpu", "cuda"}
        ``"cpu"``: the ``prange`` kernels (all Numba threads).  ``"cuda"``: one GPU
        thread per (cell, chain); agrees with ``"cpu"`` to round-off.
    store : str or os.PathLike, optional
        Zarr directory.  Finished cells are written as they complete; rerunning
        the same sweep resumes it, computing only the cells the store lacks.  A
        store made with other settings is refused with ``ValueError``.
    client : distributed.Client or callable, optional
        Run the batches of cells as tasks on this Dask cluster (bit for bit the
        same result as a local run); or a factory of one, called only when cells
        are missing (see :func:`fastspring.grid.run_grid`).
    average_from : int, optional
        Also average positions over the steps after ``average_from``; the metrics
        are then computed from the time-averaged load curves.
    rtol : float, optional
        Relative-change stop, as in :func:`fastspring.simulate`; adds
        ``steps_taken`` and ``converged``.
    tol : float
        Half-width of the "linear" band of the scale-free curvature
        (:func:`analysis.load_curve_metrics`).
    keep_chains : bool
        Keep the per-chain variables; ``False`` keeps only the per-cell summaries
        (for scans of millions of chains, whose per-chain data would not fit).
    progress : bool
        Show a progress bar (chains/s, cells done, ETA).
    batch : int, optional
        Cells per kernel call (per Dask task); default: the grid in about 8
        calls locally, 4 tasks per worker thread on a cluster.
    **model_params
        Fixed parameters of the model (e.g. ``gamma``).

    Returns
    -------
    xarray.Dataset
        Dims: one per grid axis (named and labelled by the parameter), then
        ``chain``, ``block`` (1..L) and ``layer`` (0..L).  Per chain:

        * ``x`` (chain, block): final positions; ``load`` (chain, layer): final
          load curve ``d_l = y - x_l``;
        * ``x_mean``, ``load_mean``: time averages (with ``average_from``);
        * ``steps_taken``, ``converged`` (with ``rtol``);
        * ``v``, ``c``, ``c_rel``, ``phase``: metrics of the chain's load curve
          (the time-averaged one with ``average_from``, else the final one).

        Per cell (kept also with ``keep_chains=False``): ``converged_fraction``
        (with ``rtol``), ``v_mean``, ``c_mean``, ``c_rel_mean`` (means over chains;
        ``c_rel`` over chains with a determined phase), ``c_sem`` (standard error
        of ``c_mean``); ``cell_load`` (layer): the mean load curve over chains, and
        its scale-free curvature ``cell_c_rel`` and ``cell_phase`` (a drop within
        three standard errors of zero is "undetermined").  ``attrs``: the fixed
        parameters, ``fingerprint`` and ``cells_computed``.

    Raises
    ------
    ValueError, TypeError
        An invalid argument or grid point (the message names the parameter and
        the grid point), or a store made with other settings.
    fastspring.errors.GpuUnavailableError
        ``backend="cuda"`` without a GPU (a ``RuntimeError``).
    fastspring.errors.StoreBusyError
        Another process is writing ``store``.

    Examples
    --------
    >>> ds = sweep(Chain(mu_plus=0.1), grid={"sigma": [0.0, 0.05, 0.2],
    ...            "mu_minus": [0.1, 0.3]}, chains_per_cell=64, steps=20_000, dt=0.01)
    >>> ds["cell_phase"].sel(mu_minus=0.3).values
    array(['concave', 'linear', 'convex'], dtype='<U7')
    """
    plan, axes = _plan(
        chain, noise, model, grid, chains_per_cell, steps, dt, seed, backend, average_from,
        rtol, tol, keep_chains, model_params,
    )  # fmt: skip
    if backend == "cuda" and client is None:
        from .backends.cuda import require_gpu

        require_gpu()
    ds = run_grid(
        None,
        axes,
        fingerprint=canonical_fingerprint(plan.fingerprint()),
        store=store,
        client=client,
        progress=progress,
        desc=f"sweep {model}",
        batch=batch,
        batch_fn=functools.partial(run_cells, plan),
        units_per_cell=("chain", plan.chains),
    )
    for name in axes:
        ds[name].attrs["long_name"] = LONG_NAMES.get(name, name)
    return ds


def _plan(chain, noise, model, grid, chains, steps, dt, seed, backend, average_from, rtol,
          tol, keep_chains, model_params):  # fmt: skip
    """Validate the arguments of :func:`sweep` and every grid point; return (plan, axes)."""
    spec, noise = check_model_inputs(chain, noise, model, model_params)
    check_choice("backend", backend, BACKENDS)
    if model not in DRIVERS:
        raise ValueError(f"sweeps support the models {sorted(DRIVERS)}, got {model!r}")
    axes = check_axes(grid)
    allowed = CHAIN_FIELDS + NOISE_FIELDS + RUN_FIELDS + tuple(spec.defaults)
    for name in axes:
        if name not in allowed:
            raise ValueError(
                f"grid axis {name!r} is not a parameter of the chain, the noise, the "
                f"integration or model {model!r}; choose from {list(allowed)}"
            )
    plan = SweepPlan(
        model=model,
        chain=chain,
        noise=noise,
        dt=check_real("dt", dt, low=0.0, low_open=True),
        steps=check_int("steps", steps, low=1),
        chains=check_int("chains_per_cell", chains, low=1, high=2**32 - 1),
        seed=check_int("seed", seed, low=0, high=2**32 - 1),
        average_from=None if average_from is None else check_int("average_from", average_from),
        rtol=None if rtol is None else check_real("rtol", rtol, low=0.0),
        tol=check_real("tol", tol, low=0.0),
        backend=backend,
        keep_chains=_check_bool("keep_chains", keep_chains),
        model_params=dict(model_params),
        axes=tuple(axes),
        max_L=max(axes["L"]).item() if "L" in axes else chain.L,
    )
    points = itertools.product(*(values.tolist() for values in axes.values()))
    cells = [plan.cell(dict(zip(axes, point, strict=True))) for point in points]
    warn_if_rtol_meets_noise(rtol, [cell.noise for cell in cells])
    return plan, axes


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def run_cells(plan, points):
    """Compute the cells at ``points`` (a list of ``{axis: value}``) as one Dataset.

    Its leading dim ``cell`` runs over ``points`` (the batch form of
    :func:`fastspring.grid.run_grid`).  Cells sharing ``(L, steps, seed)`` run in one
    kernel call; the order of ``points`` and the company a cell keeps do not change
    its values.
    """
    cells = [plan.cell(values) for values in points]
    driver = DRIVERS[plan.model]
    if plan.backend == "cuda":
        from .backends import cuda

        run = getattr(cuda, driver.cuda)
    else:
        run = driver.cpu
    groups = {}
    for i, cell in enumerate(cells):
        groups.setdefault(cell.kernel_key, []).append(i)
    parts, order = [], []
    for members in groups.values():
        group = [cells[i] for i in members]
        rows, flags = zip(
            *(driver.table(c.chain, c.noise, c.dt, c.params) for c in group), strict=True
        )
        out = run(np.array(rows), np.array(flags), group[0].chain.L, plan.settings(group[0]))
        overflowed = ~np.isfinite(out["x"]).all(axis=(1, 2))
        if overflowed.any():
            where = points[members[int(np.argmax(overflowed))]]
            raise overflow_error(plan.model, f"the cell {where}")
        parts.append(_batch_dataset(plan, group, out))
        order += members
    ds = parts[0] if len(parts) == 1 else xr.concat(parts, dim=CELL_DIM)
    return ds if order == sorted(order) else ds.isel({CELL_DIM: np.argsort(order)})


def _batch_dataset(plan, cells, out):
    """A kernel call's outputs as one Dataset with a leading dim ``cell`` (vectorised)."""
    y = np.array([c.chain.y for c in cells])[:, None]
    series = {"x": out["x"], "load": load_curve(out["x"], y)}
    if plan.averaged:
        series["x_mean"] = out["x_mean"]
        series["load_mean"] = load_curve(out["x_mean"], y)
    measured = series["load_mean" if plan.averaged else "load"]
    per_chain = load_curve_metrics(measured, tol=plan.tol)
    cell_load = measured.mean(axis=1)
    drop_sem = np.nan_to_num(_sem(per_chain["drop"]))  # one chain: no error bar
    per_cell = load_curve_metrics(cell_load, tol=plan.tol, atol=3.0 * drop_sem)
    pad = plan.max_L - cells[0].chain.L
    coords = {"layer": np.arange(plan.max_L + 1)}
    data = {}
    if plan.keep_chains:
        coords.update(chain=np.arange(plan.chains), block=np.arange(1, plan.max_L + 1))
        for name, values in series.items():
            dims = (CELL_DIM, "chain", "block" if name.startswith("x") else "layer")
            data[name] = (dims, _pad(values, pad), _SERIES_ATTRS[name])
        if plan.rtol is not None:
            data["steps_taken"] = ((CELL_DIM, "chain"), out["steps_taken"])
            data["converged"] = ((CELL_DIM, "chain"), out["converged"])
        for name in ("v", "c", "c_rel", "phase"):
            data[name] = ((CELL_DIM, "chain"), per_chain[name], _METRIC_ATTRS[name])
    if plan.rtol is not None:
        data["converged_fraction"] = (CELL_DIM, out["converged"].mean(axis=1))
    data.update(
        v_mean=(CELL_DIM, per_chain["v"].mean(axis=1), {"long_name": "mean non-uniformity"}),
        c_mean=(CELL_DIM, per_chain["c"].mean(axis=1), {"long_name": "mean curvature"}),
        c_sem=(CELL_DIM, _sem(per_chain["c"]), {"long_name": "standard error of c_mean"}),
        c_rel_mean=(CELL_DIM, _mean_finite(per_chain["c_rel"]), _METRIC_ATTRS["c_rel_mean"]),
        cell_load=((CELL_DIM, "layer"), _pad(cell_load, pad), {"long_name": "mean load curve"}),
        cell_c_rel=(CELL_DIM, per_cell["c_rel"], _METRIC_ATTRS["cell_c_rel"]),
        cell_phase=(CELL_DIM, per_cell["phase"], {"long_name": "phase of the mean load curve"}),
    )
    return xr.Dataset(data, coords=coords, attrs=plan.attrs())


_SERIES_ATTRS = {
    "x": {"long_name": "final block position"},
    "load": {"long_name": "final load curve d_l = y - x_l"},
    "x_mean": {"long_name": "time-averaged block position"},
    "load_mean": {"long_name": "time-averaged load curve"},
}
_METRIC_ATTRS = {
    "v": {"long_name": "non-uniformity std(delta)"},
    "c": {"long_name": "curvature delta_1 - delta_L"},
    "c_rel": {"long_name": "scale-free curvature c / (D_0 - D_L)"},
    "phase": {"long_name": "phase of the load curve"},
    "c_rel_mean": {"long_name": "mean scale-free curvature (determined chains)"},
    "cell_c_rel": {"long_name": "scale-free curvature of the mean load curve"},
}


def _pad(values, pad):
    """``values`` with ``pad`` NaNs appended along the last axis (cells with fewer blocks)."""
    if pad == 0:
        return values
    return np.concatenate([values, np.full(values.shape[:-1] + (pad,), np.nan)], axis=-1)


def _sem(values):
    """Standard error of the mean over axis 1 (NaN for a single chain)."""
    n = values.shape[1]
    if n < 2:
        return np.full(values.shape[0], np.nan)
    return values.std(axis=1, ddof=1) / math.sqrt(n)


def _mean_finite(values):
    """Mean over axis 1 of the finite values (NaN where a row has none)."""
    finite = np.isfinite(values)
    count = finite.sum(axis=1)
    total = np.where(finite, values, 0.0).sum(axis=1)
    return np.divide(total, count, out=np.full(count.shape, np.nan), where=count > 0)
