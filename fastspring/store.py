"""Where the cells of a grid go while it runs: in memory, or a resumable Zarr store.

A grid (see :func:`fastspring.grid.run_grid`) fills a batch of cells at a time.  Every
cell is an :class:`xarray.Dataset` without grid dimensions (or a batch comes as one
Dataset whose leading dim :data:`CELL_DIM` runs over its cells); :class:`CellLayout`
records what the first cell held (variables, their dims, shapes and dtypes,
grid-invariant coordinates, attributes) and checks every later cell against it.

:class:`ZarrCells` persists the cells in a Zarr (format 3) group so that a run that
dies can be resumed:

* one process, the driver, writes the store, and it writes a cell's data before
  setting the cell's flag in the boolean mask ``_cell_done``;
* Zarr writes every chunk (data, mask or metadata) to a temporary file and renames
  it into place (zarr >= 3.1.3), so a chunk on disk is always a complete old or new
  version.  A chunk holds a run of cells along the last grid axis (at most about
  256 KiB), so the store has few files even for large grids.

A process killed at any instant therefore leaves every flagged cell intact and at
worst cells whose data are written but whose flag is unset; those are recomputed
on resume.  One writer at a time: while a store is open for writing its driver holds
an exclusive lock on the file ``<store>.lock`` beside it (``flock``; the operating
system releases it when the process ends, also after SIGKILL), and a second run on
the same store is refused with a message naming the holder's process id (unless the
store is finished: then nothing will be written and it is read without the lock).

The group's attributes hold the fingerprint and axis names, the axis values are
coordinate arrays, and a resume with other ones is refused.

Layout of the store (``xarray.open_zarr`` can read it; strings are variable-length)::

    scan.zarr/
      zarr.json          attributes: format, fingerprint, axes, variables, coords, cell_attrs
      <axis>             one coordinate array per grid axis
      <coordinate>       grid-invariant coordinates of a cell (e.g. ``layer``)
      <variable>         grid dims + cell dims
      _cell_done         grid dims, bool, set after a cell's data are written
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import xarray as xr
import zarr

from .errors import StoreBusyError

try:
    import fcntl
except ImportError:  # Windows: no flock; stores go unlocked there
    fcntl = None

FORMAT = "fastspring.grid/1"
DONE = "_cell_done"
#: the leading dim of a batch of cells returned as one Dataset
CELL_DIM = "cell"
_TEXT_KINDS = "UOT"
_DATA_KINDS = "biufc" + _TEXT_KINDS
#: the largest chunk worth aiming for: fewer files, yet cheap to rewrite for one cell
_CHUNK_BYTES = 1 << 18
#: bytes per string assumed when sizing chunks
_TEXT_ITEMSIZE = 16


def is_text(dtype):
    """Whether ``dtype`` holds strings (fixed-width, object or NumPy ``StringDType``)."""
    return np.dtype(dtype).kind in _TEXT_KINDS


def as_text(values):
    """Return ``values`` as a fixed-width unicode array of the smallest sufficient width."""
    values = np.asarray(values)
    if values.dtype.kind not in "UT":  # T: NumPy's StringDType, as Zarr returns text
        return values.astype(object).astype(str)
    width = int(np.strings.str_len(values).max(initial=1))
    if values.dtype == np.dtype(f"<U{width}"):
        return values
    return values.astype(f"<U{width}")


def jsonable(value, what):
    """Return ``value`` with NumPy scalars and arrays turned into plain JSON types.

    Raises ``TypeError`` naming ``what`` when the result is not JSON-serialisable.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v, f"{what}[{k!r}]") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, what) for v in value]
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    try:
        json.dumps(value)
    except TypeError:
        raise TypeError(f"{what} must be JSON-serialisable, got {type(value).__name__}") from None
    return value


@dataclass(frozen=True)
class VariableSpec:
    """The dims, shape, dtype (``object`` for strings) and attributes of one cell variable."""

    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: np.dtype
    attrs: dict


@dataclass(frozen=True)
class CellLayout:
    """What every cell of a grid holds: the layout of the first cell computed.

    Parameters
    ----------
    variables : dict of str to VariableSpec
        The data variables, in order.
    coords : dict of str to xarray.Variable
        Coordinates of a cell other than the grid axes; the same in every cell.
    attrs : dict
        The first cell's ``Dataset.attrs`` (JSON types).
    """

    variables: dict[str, VariableSpec]
    coords: dict[str, xr.Variable]
    attrs: dict

    @classmethod
    def from_cell(cls, cell, axis_names, where):
        """The layout of ``cell`` (computed at ``where``, a description used in errors)."""
        cell = _without_axis_coords(cell, axis_names, f"the cell at {where}")
        if not cell.data_vars:
            raise ValueError(f"the cell at {where} returned a Dataset without data variables")
        clash = sorted((set(axis_names) | {DONE}) & (set(cell.dims) | set(cell.variables)))
        if clash:
            raise ValueError(
                f"the cell at {where} uses the reserved or grid axis name(s) {clash} for "
                "its own dims or variables; rename them"
            )
        variables = {
            name: _variable_spec(name, var, where) for name, var in cell.data_vars.items()
        }
        coords = {
            name: xr.Variable(
                var.dims, as_stored(var.values), jsonable(dict(var.attrs), f"attrs of {name!r}")
            )
            for name, var in cell.coords.items()
        }
        return cls(variables, coords, jsonable(dict(cell.attrs), "cell attrs"))

    def extract(self, cell, axis_names, where, cells=None):
        """Check ``cell`` against the layout and return its variables as NumPy arrays.

        With ``cells`` (an int), ``cell`` is a batch of that many cells along a
        leading dim :data:`CELL_DIM`, and the arrays have that leading axis.
        ``where`` describes the cell(s) in errors ("the cell at ...").
        """
        lead_dims, lead_shape = ((), ()) if cells is None else ((CELL_DIM,), (cells,))
        cell = _without_axis_coords(cell, axis_names, where)
        if set(cell.data_vars) != set(self.variables):
            raise ValueError(
                f"{where} returned variables {list(cell.data_vars)}, "
                f"the grid holds {list(self.variables)}"
            )
        for name, coord in self.coords.items():
            if (
                name not in cell.coords
                or cell.coords[name].dims != coord.dims
                or not np.array_equal(as_stored(cell.coords[name].values), coord.values)
            ):
                raise ValueError(f"coordinate {name!r} of {where} differs from the other cells'")
        return {
            name: self._values(name, cell[name], where, lead_dims, lead_shape)
            for name in self.variables
        }

    def _values(self, name, var, where, lead_dims, lead_shape):
        spec = self.variables[name]
        dims, shape = lead_dims + spec.dims, lead_shape + spec.shape
        if var.dims != dims or var.shape != shape:
            raise ValueError(
                f"variable {name!r} of {where} has dims {var.dims} and shape "
                f"{var.shape}; the grid holds dims {dims}, shape {shape}"
            )
        if is_text(spec.dtype):
            if not is_text(var.dtype):
                raise TypeError(f"variable {name!r} of {where} is not text")
            return as_text(var.values)
        if var.dtype != spec.dtype:
            raise TypeError(
                f"variable {name!r} of {where} has dtype {var.dtype}; the grid holds {spec.dtype}"
            )
        return np.asarray(var.values)


def _without_axis_coords(cell, axis_names, where):
    if not isinstance(cell, xr.Dataset):
        raise TypeError(f"{where} returned {type(cell).__name__}, not an xarray.Dataset")
    return cell.drop_vars([name for name in axis_names if name in cell.coords])


def _variable_spec(name, var, where):
    if var.dtype.kind not in _DATA_KINDS:
        raise TypeError(
            f"variable {name!r} of the cell at {where} has dtype {var.dtype}; "
            "only bool, integer, float, complex and string variables can be stored"
        )
    dtype = np.dtype(object) if is_text(var.dtype) else var.dtype
    return VariableSpec(
        var.dims, var.shape, dtype, jsonable(dict(var.attrs), f"attrs of {name!r}")
    )


class _Cells:
    """The cells of one grid: a done mask, the layout, and per-variable arrays."""

    def __init__(self, axes, done, layout):
        self.axes = axes
        self.done = done
        self.layout = layout

    @property
    def shape(self):
        return tuple(len(values) for values in self.axes.values())

    def write(self, indices, cells, descriptions):
        """Write ``cells`` at the grid ``indices`` (tuples), then mark them done.

        ``cells`` is a list of Datasets, one per index, or one Dataset whose
        leading dim :data:`CELL_DIM` runs over them; ``descriptions`` name the
        cells in errors.
        """
        axis_names = list(self.axes)
        batched = isinstance(cells, xr.Dataset)
        if self.layout is None:
            first = cells.isel({CELL_DIM: 0}) if batched else cells[0]
            self.layout = CellLayout.from_cell(first, axis_names, descriptions[0])
            self._allocate(self.layout)
        if batched:
            where = f"the cells from {descriptions[0]} to {descriptions[-1]}"
            values = self.layout.extract(cells, axis_names, where, cells=len(indices))
        else:
            each = [
                self.layout.extract(cell, axis_names, f"the cell at {where}")
                for cell, where in zip(cells, descriptions, strict=True)
            ]
            values = {name: np.stack([v[name] for v in each]) for name in self.layout.variables}
        for selection, members in _runs(indices):
            for name, array in values.items():
                self._put(name, selection, array[members.start : members.stop])
        self._mark_done(indices)

    def close(self):
        """Release what the cells hold (nothing here; see :class:`ZarrCells`)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def to_dataset(self):
        """All cells as one Dataset: grid dims first, then each variable's own dims."""
        coords = {name: (name, values) for name, values in self.axes.items()}
        coords.update(self.layout.coords)
        grid_dims = tuple(self.axes)
        data = {
            name: (grid_dims + spec.dims, self._read(name, spec), spec.attrs)
            for name, spec in self.layout.variables.items()
        }
        return xr.Dataset(data, coords=coords, attrs=dict(self.layout.attrs))


def _runs(indices):
    """Split grid indices into runs along the last axis, for one write per run.

    Yields ``(selection, members)``: the selection (the leading indices, then a
    slice of the last axis) covering the cells at positions ``members`` of
    ``indices``.  Cells in C order form few runs, so a batch costs few writes.
    """
    start = 0
    for stop in range(1, len(indices) + 1):
        if stop == len(indices) or indices[stop] != indices[stop - 1][:-1] + (
            indices[stop - 1][-1] + 1,
        ):
            first, last = indices[start], indices[stop - 1]
            yield first[:-1] + (slice(first[-1], last[-1] + 1),), range(start, stop)
            start = stop


class MemoryCells(_Cells):
    """Cells held in NumPy arrays, for a grid run without a store.

    Parameters
    ----------
    axes : dict of str to numpy.ndarray
        The grid axes, in order.
    """

    def __init__(self, axes):
        super().__init__(axes, np.zeros([len(v) for v in axes.values()], dtype=bool), None)
        self._arrays = {}

    def _allocate(self, layout):
        for name, spec in layout.variables.items():
            dtype = "<U1" if is_text(spec.dtype) else spec.dtype  # text widens as it comes
            self._arrays[name] = np.empty(self.shape + spec.shape, dtype=dtype)

    def _put(self, name, selection, values):
        array = self._arrays[name]
        if values.dtype.kind == "U" and values.dtype.itemsize > array.dtype.itemsize:
            array = self._arrays[name] = array.astype(values.dtype)
        array[selection] = values

    def _mark_done(self, indices):
        for index in indices:
            self.done[index] = True

    def _read(self, name, spec):
        values = self._arrays[name]
        return as_text(values) if is_text(spec.dtype) else values


class ZarrCells(_Cells):
    """Cells persisted in a Zarr group; opening an existing store resumes it.

    Parameters
    ----------
    path : str or os.PathLike
        Directory of the store; created when absent.
    axes : dict of str to numpy.ndarray
        The grid axes, in order.
    fingerprint : str
        Everything, besides the axes, that determines the cells' values.

    Raises
    ------
    ValueError
        If ``path`` holds something other than a grid store, or a grid store made
        with a different fingerprint or different axes.
    """

    def __init__(self, path, axes, fingerprint):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"store must be a path (str or os.PathLike), got {path!r}")
        self.path = os.fspath(path)
        if not self.path.strip():
            # zarr would take "" for the current folder and clear it
            raise ValueError(f"store must be a non-empty path, got {path!r}")
        try:
            self._lock = _StoreLock(self.path)
        except StoreBusyError:
            if not _finished(self.path):
                raise
            self._lock = None  # a finished store is only read: readers need no lock
        try:
            self._group = _open_or_create(self.path, axes, fingerprint)
        except BaseException:
            self.close()
            raise
        self._done = self._group[DONE]
        layout = _stored_layout(self._group, len(axes))
        # opened once: looking an array up in the group re-reads its metadata from disk
        self._arrays = {} if layout is None else {n: self._group[n] for n in layout.variables}
        super().__init__(axes, np.asarray(self._done[...], dtype=bool), layout)

    def close(self):
        """Release the store's writer lock (another run may then open it)."""
        if self._lock is not None:
            self._lock.release()

    def _allocate(self, layout):
        grid_dims = list(self.axes)
        for name, spec in layout.variables.items():
            itemsize = _TEXT_ITEMSIZE if is_text(spec.dtype) else spec.dtype.itemsize
            self._arrays[name] = self._group.create_array(
                name,
                shape=self.shape + spec.shape,
                chunks=grid_chunks(self.shape, itemsize * int(np.prod(spec.shape))) + spec.shape,
                dtype=str if is_text(spec.dtype) else spec.dtype,
                dimension_names=grid_dims + list(spec.dims),
                attributes=spec.attrs,
                overwrite=True,
            )
        for name, coord in layout.coords.items():
            _write_array(self._group, name, coord.values, list(coord.dims), coord.attrs)
        # the commit point of the layout: arrays exist before the attributes name them
        self._group.attrs.update(
            variables=list(layout.variables), coords=list(layout.coords), cell_attrs=layout.attrs
        )

    def _put(self, name, selection, values):
        self._arrays[name][selection] = values

    def _mark_done(self, indices):
        self._done.vindex[tuple(np.array(indices).T)] = True
        for index in indices:
            self.done[index] = True

    def _read(self, name, spec):
        values = self._arrays[name][...]
        return as_text(values) if is_text(spec.dtype) else np.asarray(values)


def _finished(path):
    """Whether ``path`` holds a grid store with every cell done."""
    try:
        group = zarr.open_group(path, mode="r")
        return DONE in group and bool(np.all(group[DONE][...]))
    except (OSError, ValueError, KeyError):
        return False


class _StoreLock:
    """An exclusive ``flock`` on ``<path>.lock``, taken without waiting (POSIX only).

    The file stays after release (removing it would let two processes lock two
    different files of the same name); it holds the last holder's process id.
    """

    def __init__(self, path):
        self.path = os.path.abspath(path) + ".lock"
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._fd = None
        if fcntl is None:
            return
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            self._fd = None
            raise StoreBusyError(
                f"store {path!r} is being written by another run (process {holder}, lock "
                f"{self.path!r}); wait for it to finish, or use another store"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self):
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None


def grid_chunks(shape, cell_bytes):
    """Chunk shape over the grid dims: 1 along each but the last, a run of cells along it."""
    along_last = max(1, min(shape[-1], _CHUNK_BYTES // max(cell_bytes, 1)))
    return (1,) * (len(shape) - 1) + (along_last,)


def _write_array(group, name, values, dims, attrs):
    values = np.asarray(values)
    array = group.create_array(
        name,
        shape=values.shape,
        dtype=str if is_text(values.dtype) else values.dtype,
        dimension_names=dims,
        attributes=attrs,
        overwrite=True,
    )
    array[...] = values


def _open_or_create(path, axes, fingerprint):
    if not os.path.exists(path):
        return _create(path, axes, fingerprint)
    try:
        group = zarr.open_group(path, mode="r+")
    except (OSError, ValueError) as err:
        raise ValueError(f"store {path!r} exists but is not a fastspring grid store") from err
    if group.attrs.get("format") != FORMAT:
        raise ValueError(f"store {path!r} exists but is not a fastspring grid store")
    if DONE not in group:
        # a run died while creating the store, before any cell was done: start afresh
        return _create(path, axes, fingerprint)
    _check_fingerprint(path, group.attrs["fingerprint"], fingerprint)
    _check_axes(path, {name: as_stored(group[name][...]) for name in group.attrs["axes"]}, axes)
    return group


def _create(path, axes, fingerprint):
    attrs = {"format": FORMAT, "fingerprint": fingerprint, "axes": list(axes)}
    group = zarr.open_group(path, mode="w", attributes=attrs)
    for name, values in axes.items():
        _write_array(group, name, values, [name], {})
    grid_dims, shape = list(axes), [len(values) for values in axes.values()]
    group.create_array(
        DONE,
        shape=shape,
        chunks=grid_chunks(shape, 1),
        dtype=bool,
        fill_value=False,
        dimension_names=grid_dims,
    )
    return group


def as_stored(values):
    """``values`` as they read back from a store: strings as fixed-width unicode."""
    values = np.asarray(values)
    return as_text(values) if is_text(values.dtype) else values


def _stored_layout(group, n_axes):
    if "variables" not in group.attrs:
        return None
    variables = {}
    for name in group.attrs["variables"]:
        array = group[name]
        dtype = np.dtype(object) if is_text(array.dtype) else np.dtype(array.dtype)
        dims = tuple(array.metadata.dimension_names[n_axes:])
        variables[name] = VariableSpec(dims, array.shape[n_axes:], dtype, dict(array.attrs))
    coords = {
        name: xr.Variable(
            tuple(group[name].metadata.dimension_names),
            as_stored(group[name][...]),
            dict(group[name].attrs),
        )
        for name in group.attrs["coords"]
    }
    return CellLayout(variables, coords, dict(group.attrs["cell_attrs"]))


def _check_fingerprint(path, stored, requested):
    if stored != requested:
        raise ValueError(
            f"store {path!r} was made with a different fingerprint "
            f"({fingerprint_difference(stored, requested)}); "
            "use another store path or delete this one"
        )


def fingerprint_difference(stored, requested):
    """Describe how two canonical fingerprints differ, key by key for JSON objects."""
    try:
        old, new = json.loads(stored), json.loads(requested)
    except ValueError:
        return f"{stored!r} in the store, {requested!r} now"
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return f"{stored} in the store, {requested} now"
    absent = "<absent>"
    return "; ".join(
        f"{key}: {old.get(key, absent)!r} in the store, {new.get(key, absent)!r} now"
        for key in sorted(set(old) | set(new))
        if old.get(key, absent) != new.get(key, absent)
    )


def _check_axes(path, stored, requested):
    difference = axes_difference(stored, requested)
    if difference:
        raise ValueError(
            f"store {path!r} was made for other grid axes ({difference}); "
            "use another store path or delete this one"
        )


def axes_difference(stored, requested):
    """Describe how two sets of grid axes differ; the empty string if they are equal."""
    if list(stored) != list(requested):
        return f"axes {list(stored)} in the store, {list(requested)} now"
    for name, old in stored.items():
        new = requested[name]
        if old.dtype.kind != new.dtype.kind and not (is_text(old.dtype) and is_text(new.dtype)):
            return f"axis {name!r}: dtype {old.dtype} in the store, {new.dtype} now"
        if not np.array_equal(old, new):
            return f"axis {name!r}: {_summary(old)} in the store, {_summary(new)} now"
    return ""


def _summary(values):
    shown = ", ".join(str(v) for v in values[:4]) + (", ..." if len(values) > 4 else "")
    return f"{len(values)} values [{shown}]"
