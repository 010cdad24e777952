"""Run a function over the Cartesian product of parameter axes: labelled, resumable, distributable.

:func:`run_grid` is the one driver behind every parameter scan in fastspring (the
spring-block sweeps and the DNN phase diagrams).  It calls a *cell function* once per
point of the grid (or a *batch function* once per group of points), writes each finished
cell to a Zarr store as soon as it arrives (see :mod:`fastspring.store`), skips the
cells a store already holds, and can hand the cells to a Dask cluster.

The results never depend on how the cells were run: each cell's values come from the
cell function and its arguments alone, so a run split over processes, resumed after a
crash or batched differently equals a plain loop bit for bit.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from fastspring.params import check_int, check_real
from fastspring.store import CELL_DIM, DONE, MemoryCells, ZarrCells, as_text, is_text, jsonable

#: without a client, a batch function is called about this many times per run, so that
#: the store and the progress bar advance in steps of roughly 1/8 of the grid
_LOCAL_PARTS = 8
#: with a client, a batch function gets about this many tasks per worker thread
_TASKS_PER_THREAD = 4


def run_grid(
    cell_fn,
    axes,
    *,
    fingerprint,
    store=None,
    client=None,
    progress=True,
    desc="cells",
    batch=None,
    batch_fn=None,
    units_per_cell=None,
):
    """Compute ``cell_fn`` on every point of a grid and return one labelled Dataset.

    Parameters
    ----------
    cell_fn : callable or None
        ``cell_fn(**{axis: value})`` computes one cell and returns an
        :class:`xarray.Dataset` without grid dims, the same variables with the same
        dims, shapes and dtypes in every cell.  Its coordinates other than the axes
        (e.g. ``layer``) must be the same in every cell; coordinates named after an
        axis are dropped.  Must be picklable to run on a Dask cluster (a module-level
        function or a :func:`functools.partial` of one).  ``None`` if ``batch_fn`` is
        given.
    axes : mapping of str to 1-D sequence
        The grid: ``{name: values}``, in order; the cells are the Cartesian product
        (the last axis varies fastest).  Values are numbers, booleans or strings,
        unique within an axis, and reach ``cell_fn`` as Python scalars.
    fingerprint : str or mapping
        Everything besides the axes that determines the cells (model, parameters,
        seeds, code version...).  A mapping must hold JSON-serialisable values
        (NumPy scalars and arrays are converted); it is stored as canonical JSON.
    store : str or os.PathLike, optional
        Directory of a Zarr store.  Each finished cell is written to it at once; a
        later call with the same store computes only the cells it lacks.  A store made
        with another fingerprint or other axes is refused with ``ValueError``; an
        unfinished store another run is writing (it holds ``<store>.lock``) with
        ``RuntimeError``.
    client : distributed.Client or callable, optional
        Run the cells as tasks on this Dask cluster; the driver writes each result to
        the store as it completes.  A callable is a factory called without arguments
        only when cells are missing, returning a context manager that gives the client
        (or ``None`` to run here), e.g. ``functools.partial(distributed.Client,
        address)``; it is closed when the grid is done.
    progress : bool
        Show a tqdm bar: cells done, rate and ETA.
    desc : str
        Label of the progress bar.
    batch : int, optional
        Cells per call of ``batch_fn``, or per Dask task.  Default: 1 with
        ``cell_fn``; with ``batch_fn``, the missing cells split into about 8 calls
        (locally) or 4 tasks per worker thread (with a client).
    batch_fn : callable, optional
        Vectorised alternative to ``cell_fn``: ``batch_fn([kwargs, ...])`` computes
        several cells at once and returns the list of their Datasets, in order, or one
        Dataset whose leading dim ``"cell"`` (:data:`fastspring.store.CELL_DIM`) runs
        over them (cheaper for many small cells: no Dataset per cell).  Each cell's
        values must not depend on which other cells share its batch.
    units_per_cell : (str, float), optional
        A unit of work and its amount per cell, e.g. ``("chain", 64)``: the progress
        bar then counts and rates that unit (chains/s) and shows cells as a postfix.

    Returns
    -------
    xarray.Dataset
        Dims: the axes (coordinates = their values), then the cells' own dims.
        ``attrs``: the first cell's attrs, plus ``fingerprint`` (the canonical
        string) and ``cells_computed`` (how many cells this call computed; 0 when the
        store already held them all).  String variables come back as fixed-width
        unicode arrays.

    Raises
    ------
    ValueError
        Invalid axes or ``batch``; a store with another fingerprint or other axes;
        a cell whose variables differ from the first cell's.
    fastspring.errors.StoreBusyError
        Another process is writing ``store`` (a ``RuntimeError``); a finished store
        is read even then.
    TypeError
        A ``fingerprint``, cell result or attribute of an unsupported type.
    """
    compute = _group_function(cell_fn, batch_fn)
    axes = check_axes(axes)
    fingerprint = canonical_fingerprint(fingerprint)
    with contextlib.ExitStack() as stack:
        cells = stack.enter_context(
            MemoryCells(axes) if store is None else ZarrCells(store, axes, fingerprint)
        )
        todo = [tuple(int(i) for i in index) for index in np.argwhere(~cells.done)]
        if callable(client):  # a factory: start the cluster only if there is work for it
            client = stack.enter_context(client()) if todo else None
        size = _batch_size(batch, batch_fn, len(todo), client)
        groups = [_describe(axes, todo[i : i + size]) for i in range(0, len(todo), size)]
        results = (
            _local_results(compute, groups)
            if client is None
            else _dask_results(client, compute, groups)
        )
        n_total = int(np.prod(cells.shape))
        with _ProgressBar(progress, desc, n_total, n_total - len(todo), units_per_cell) as bar:
            for group, datasets in results:
                _check_count(datasets, group)
                cells.write([g.index for g in group], datasets, [g.where for g in group])
                bar.advance(len(group))
        ds = cells.to_dataset()
    ds.attrs.update(fingerprint=fingerprint, cells_computed=len(todo))
    return ds


def check_axes(axes):
    """Validate grid axes; return ``{name: 1-D NumPy array}`` (strings as unicode)."""
    if not isinstance(axes, Mapping) or not axes:
        raise ValueError(f"axes must be a non-empty mapping {{name: values}}, got {axes!r}")
    return {
        _check_axis_name(name): _check_axis_values(name, values) for name, values in axes.items()
    }


def _check_axis_name(name):
    if not isinstance(name, str) or not name or name == DONE:
        raise ValueError(
            f"axes: axis names must be non-empty strings other than {DONE!r}, got {name!r}"
        )
    return name


def _check_axis_values(name, values):
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"axis {name!r} must be a non-empty 1-D sequence, got shape {array.shape}"
        )
    if array.dtype.kind == "O" and all(isinstance(v, str) for v in array):
        array = as_text(array)
    if array.dtype.kind not in "biufU":
        raise TypeError(f"axis {name!r} must hold numbers, booleans or strings, got {array.dtype}")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError(f"axis {name!r} must hold finite values")
    if np.unique(array).size != array.size:
        raise ValueError(f"axis {name!r} holds repeated values")
    return as_text(array) if is_text(array.dtype) else array


def canonical_fingerprint(fingerprint):
    """Return ``fingerprint`` as a string: as given, or a mapping as sorted-key JSON."""
    if isinstance(fingerprint, str):
        return fingerprint
    if isinstance(fingerprint, Mapping):
        return json.dumps(jsonable(dict(fingerprint), "fingerprint"), sort_keys=True)
    raise TypeError(
        f"fingerprint must be a str or a mapping of JSON-serialisable values, "
        f"got {type(fingerprint).__name__}"
    )


@dataclass(frozen=True)
class _Cell:
    """One grid point: its index, the arguments of the cell function, a label for errors."""

    index: tuple[int, ...]
    kwargs: dict
    where: str


def _describe(axes, indices):
    cells = []
    for index in indices:
        kwargs = {
            name: values[i].item() for (name, values), i in zip(axes.items(), index, strict=True)
        }
        where = ", ".join(f"{name}={value!r}" for name, value in kwargs.items())
        cells.append(_Cell(index, kwargs, where))
    return cells


@dataclass(frozen=True)
class _EachCell:
    """A batch function that calls a cell function once per cell (picklable)."""

    cell_fn: object

    def __call__(self, kwargs_list):
        return [self.cell_fn(**kwargs) for kwargs in kwargs_list]


def _group_function(cell_fn, batch_fn):
    if (cell_fn is None) == (batch_fn is None):
        raise ValueError("give exactly one of cell_fn and batch_fn")
    function = cell_fn if batch_fn is None else batch_fn
    if not callable(function):
        name = "cell_fn" if batch_fn is None else "batch_fn"
        raise TypeError(f"{name} must be callable, got {function!r}")
    return batch_fn if batch_fn is not None else _EachCell(cell_fn)


def _batch_size(batch, batch_fn, n_todo, client):
    if batch is not None:
        return check_int("batch", batch, low=1)
    if batch_fn is None:
        return 1
    parts = _LOCAL_PARTS if client is None else _TASKS_PER_THREAD * sum(client.nthreads().values())
    return max(1, -(-n_todo // parts))


def _check_count(datasets, group):
    if isinstance(datasets, xr.Dataset):
        if datasets.sizes.get(CELL_DIM) != len(group):
            raise ValueError(
                f"batch_fn returned one Dataset: it needs a leading dim {CELL_DIM!r} of size "
                f"{len(group)}, got dims {dict(datasets.sizes)}"
            )
    elif not isinstance(datasets, list | tuple) or len(datasets) != len(group):
        got = len(datasets) if isinstance(datasets, list | tuple) else type(datasets).__name__
        raise ValueError(f"batch_fn must return a list of {len(group)} Datasets, got {got}")


def _local_results(compute, groups):
    for group in groups:
        yield group, compute([cell.kwargs for cell in group])


def _apply(compute, kwargs_list):
    return compute(kwargs_list)


def _dask_results(client, compute, groups):
    """Yield ``(group, datasets)`` as the cluster finishes them; cancel the rest on exit.

    The function is sent to the workers once (it may carry data, e.g. a
    ``functools.partial`` holding a training set), not with every task.
    """
    from distributed import as_completed

    if not groups:
        return
    [remote] = client.scatter([compute], broadcast=True, hash=False)
    pending = {
        client.submit(_apply, remote, [cell.kwargs for cell in group], pure=False): group
        for group in groups
    }
    try:
        for future in as_completed(list(pending)):
            group = pending.pop(future)
            yield group, future.result()
    finally:
        if pending:
            client.cancel(list(pending))


class _ProgressBar:
    """A tqdm bar over cells, or over a unit of work per cell with cells as a postfix."""

    def __init__(self, enabled, desc, total, done, units_per_cell):
        unit, per_cell = ("cell", 1) if units_per_cell is None else units_per_cell
        if not isinstance(unit, str):
            raise TypeError(f"units_per_cell must be (unit name, amount), got {units_per_cell!r}")
        check_real("units_per_cell amount", per_cell, low=0.0, low_open=True)
        self._scaled = units_per_cell is not None
        self._total = total
        self._bar = tqdm(
            total=total,
            initial=done,
            desc=desc,
            unit=unit,
            unit_scale=per_cell if self._scaled else False,
            disable=not enabled,
            dynamic_ncols=True,
        )
        self._show_cells(done)

    def advance(self, n_cells):
        self._show_cells(self._bar.n + n_cells)
        self._bar.update(n_cells)

    def _show_cells(self, done):
        if self._scaled:
            self._bar.set_postfix_str(f"{done}/{self._total} cells", refresh=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._bar.close()
