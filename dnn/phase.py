"""DNN phase diagrams: a noise axis x LeakyReLU slope x seeds (paper Fig. 1).

Every cell trains one network of the reference setting (paper SM S3; docs/theory.md,
"Deep networks") with one value of the noise axis, one slope ``alpha`` and one seed,
then records its load curves (training and test set, both separation measures), their
shape metrics from :func:`analysis.load_curve_metrics`, its accuracies and its final
training loss.

The grid runs through :func:`fastspring.grid.run_grid`, so it is resumable from a Zarr
store and can run on a Dask cluster. Cells with small batches (``batch_size <=
stack_max_batch``) are trained together by :func:`dnn.batched.train_stacked`: the
``alphas x seeds`` cells of one axis value, in grid order, are split into equal
*stacks* of at most ``stack_size`` networks (:func:`stack_members`),
always the same ones whichever cells a call asks for, so a cell's numbers never depend
on how the grid was split, resumed or distributed. (They may depend, at the level of
float round-off that training amplifies, on the stack, which the grid's ``alphas``,
``seeds`` and ``stack_size`` fix; all are part of the store's fingerprint.) The other
cells train one by one.

The noise axes (paper values; ``PAPER_VALUES``):

* ``label_noise``: label + data noise ``s`` (:mod:`dnn.noise`), 0 .. 0.8;
* ``lr``: Adam learning rate, 1e-4 .. 0.5, 200 epochs in the paper;
* ``dropout``: dropout probability after every hidden activation, 0 .. 0.3;
* ``batch_size``: samples per step, 5 .. 2560 (2560 = full batch).

Seeds: cell seed ``k`` initialises the network and drives its batches, noise and
dropout (the same ``k`` for every ``alpha``, so the slopes are compared on the same
initial weights). Results are bitwise reproducible for a given number of torch threads.
"""

import contextlib
import os
from dataclasses import dataclass, replace
from functools import lru_cache, partial

import numpy as np
import torch
import xarray as xr

from analysis import load_curve_metrics
from fastspring.grid import run_grid
from fastspring.params import check_int

from ._checks import check_count, check_device
from .batched import train_stacked
from .datasets import load_data
from .features import LOADS, evaluate
from .models import build_model, check_alpha, check_dropout
from .separation import KINDS
from .train import TrainConfig, check_batches, train

AXES = ("label_noise", "lr", "dropout", "batch_size")
PAPER_ALPHAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
PAPER_VALUES = {
    "label_noise": tuple(round(0.1 * i, 1) for i in range(9)),
    "lr": (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5),
    "dropout": tuple(round(0.02 * i, 2) for i in range(16)),
    "batch_size": (5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560),
}
PAPER_EPOCHS = {"label_noise": 100, "lr": 200, "dropout": 100, "batch_size": 100}
LONG_NAMES = {
    "label_noise": "label + data noise s",
    "lr": "learning rate",
    "dropout": "dropout probability",
    "batch_size": "batch size",
    "alpha": "LeakyReLU slope alpha",
}
#: largest batch size trained in stacks by default: on a 2-core CPU (one core each) stacks
#: beat one-by-one training about 8.5x at batch 5, 7x at 10, 4x at 20, 3x at 40 and 2x at
#: 80 (benchmarks/bench_dnn.py speedup); above that the gain is small (1.2-1.4x at 160-640)
STACK_MAX_BATCH = 80
#: networks in one CPU stack at most: a layer's weights and weight gradients of 12
#: networks (12 x 2 x 40 KB at width 100) stay in a core's 1 MB L2 cache. On a Zen 5 core
#: stacks of 12 train 1.7x faster per network than one stack of 60 at batch 5, 1.4x at
#: batch 20 and 1.1x at batch 80 (benchmarks/RESULTS.md, eleventh session)
STACK_SIZE = 12
_MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"
#: phase_diagram's defaults of the training knobs that can be its axis
_FIXED_DEFAULTS = {"lr": 1e-3, "batch_size": None, "label_noise": 0.0, "dropout": 0.0}


def stack_members(members, stack_size=STACK_SIZE):
    """Split ``members``, in order, into as few stacks of at most ``stack_size`` as possible.

    The stacks' sizes differ by at most one. ``stack_size=None`` keeps all in one stack
    (what a GPU wants).

    >>> [len(s) for s in stack_members(list(range(60)), 25)]
    [20, 20, 20]
    """
    members = list(members)
    if stack_size is None:
        return [members]
    parts = -(-len(members) // stack_size)
    return [[members[i] for i in part] for part in np.array_split(range(len(members)), parts)]


def check_axis(axis):
    """Normalise an axis name (``label-noise`` -> ``label_noise``) and validate it."""
    name = str(axis).replace("-", "_")
    if name not in AXES:
        raise ValueError(f"axis={axis!r}: choose one of {', '.join(AXES)}")
    return name


@dataclass(frozen=True)
class PhaseSetup:
    """Everything a cell needs besides its axis value, slope and seed (picklable)."""

    axis: str
    alphas: tuple
    seeds: tuple
    base: TrainConfig
    model_options: tuple = ()
    data_options: tuple = ()
    kinds: tuple = KINDS
    stack_max_batch: int = STACK_MAX_BATCH
    stack_size: int = STACK_SIZE
    threads: int | None = 1
    dropout: float = 0.0
    device: str | None = None

    def config(self, value):
        """Training configuration of one axis value."""
        if self.axis == "label_noise":
            return replace(self.base, label_noise=float(value))
        if self.axis == "lr":
            return replace(self.base, lr=float(value))
        if self.axis == "batch_size":
            return replace(self.base, batch_size=int(value))
        return self.base

    def model(self, data, value, alpha, seed):
        """The MLP of one cell, initialised from ``seed``."""
        dropout = float(value) if self.axis == "dropout" else self.dropout
        return build_model(
            "mlp", data, seed=seed, alpha=alpha, dropout=dropout, **dict(self.model_options)
        )

    def on_accelerator(self):
        """Whether cells train on a GPU (or another non-CPU torch device)."""
        return self.device is not None and torch.device(self.device).type != "cpu"

    def stacked(self, config, n):
        """Whether cells with this configuration train in stacks (always on a GPU)."""
        if self.on_accelerator():
            return True
        return (
            config.batch_size is not None
            and config.batch_size < n
            and config.batch_size <= self.stack_max_batch
        )

    def stacks(self):
        """The stacks of one axis value: lists of (alpha, seed), grid order."""
        members = [(a, s) for a in self.alphas for s in self.seeds]
        return stack_members(members, None if self.on_accelerator() else self.stack_size)


def local_cluster(workers):
    """A Dask ``LocalCluster`` of ``workers`` one-thread processes to train cells on.

    Dask's nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (its
    ``distributed.nanny.pre-spawn-environ``): glibc then hands freed memory back at
    once, so every training step maps its activations afresh and page-faults on them,
    and a full-batch training of the reference MLP runs about 1.7x slower than in a plain
    process. These workers start without that variable; Dask's other settings (one
    OpenMP/MKL/OpenBLAS thread per worker) stay. The nanny also writes its pre-spawn
    variables into this process's environment, where any later worker would inherit
    them, so after an ordinary Dask cluster this process holds the variable too: it is
    left out of the environment while these workers spawn, and put back afterwards.

    Parameters
    ----------
    workers : int
        Number of worker processes.

    Returns
    -------
    distributed.LocalCluster
        Connect with ``distributed.Client(cluster)``; close both when done.
    """
    import dask
    from distributed import LocalCluster

    inherited = os.environ.pop(_MALLOC_TRIM, None)
    try:
        with dask.config.set({f"distributed.nanny.pre-spawn-environ.{_MALLOC_TRIM}": None}):
            return LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True)
    finally:
        if inherited is not None:
            os.environ[_MALLOC_TRIM] = inherited


@contextlib.contextmanager
def worker_client(workers=1, scheduler=None):
    """The ``client`` for :func:`phase_diagram`, closed (with its cluster) on exit.

    A :class:`distributed.Client` of the Dask scheduler at ``scheduler`` if one is given;
    else, for ``workers > 1``, one of a :func:`local_cluster`; else ``None`` (cells are
    trained in this process).
    """
    if scheduler is None and workers <= 1:
        yield None
        return
    from distributed import Client

    with contextlib.ExitStack() as stack:
        if scheduler is None:
            scheduler = stack.enter_context(local_cluster(workers))
        yield stack.enter_context(Client(scheduler))


@lru_cache(maxsize=4)
def _data(data_options):
    return load_data(**dict(data_options))


def _cell_dataset(model, result, data, kinds):
    """The Dataset of one trained cell (no grid dims)."""
    ev = evaluate(model, data, kinds, test_curves=True)
    metrics = load_curve_metrics(ev.D_train)
    return xr.Dataset(
        {
            "D": (("kind", "layer"), ev.D_train),
            "D_test": (("kind", "layer"), ev.D_test),
            "v": ("kind", np.asarray(metrics["v"])),
            "c": ("kind", np.asarray(metrics["c"])),
            "c_rel": ("kind", np.asarray(metrics["c_rel"])),
            "phase": ("kind", np.asarray(metrics["phase"])),
            "test_accuracy": ev.test_accuracy,
            "train_accuracy": ev.train_accuracy,
            "final_loss": result.final_loss,
            "epochs_run": result.epochs_run,
        },
        coords={"kind": list(kinds), "layer": np.arange(ev.D_train.shape[1])},
    )


def compute_cells(cells, setup):
    """Batch function of :func:`fastspring.grid.run_grid`: the Datasets of ``cells``.

    Parameters
    ----------
    cells : list of dict
        ``{axis: value, "alpha": a, "seed": s}`` per cell.
    setup : PhaseSetup

    Returns
    -------
    list of xarray.Dataset
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(setup.threads or previous)
    try:
        return _compute(cells, setup)
    finally:
        torch.set_num_threads(previous)


def _compute(cells, setup):
    data = _data(setup.data_options)
    n = len(data.y_train)
    done = {}
    for value in dict.fromkeys(c[setup.axis] for c in cells):
        config = setup.config(value)
        wanted = {(c["alpha"], c["seed"]) for c in cells if c[setup.axis] == value}
        if setup.stacked(config, n):
            for members in setup.stacks():
                if wanted.isdisjoint(members):
                    continue
                models = [setup.model(data, value, a, s) for a, s in members]
                results = train_stacked(
                    models,
                    data,
                    [config] * len(members),
                    [s for _, s in members],
                    device=setup.device,
                )
                for key, model, result in zip(members, models, results, strict=True):
                    if key in wanted:
                        done[(value, *key)] = _cell_dataset(model, result, data, setup.kinds)
        else:
            for a, s in sorted(wanted):
                model = setup.model(data, value, a, s)
                result = train(model, data, config, seed=s)
                done[(value, a, s)] = _cell_dataset(model, result, data, setup.kinds)
    return [done[(c[setup.axis], c["alpha"], c["seed"])] for c in cells]


def phase_diagram(
    axis="label_noise",
    values=None,
    alphas=PAPER_ALPHAS,
    seeds=10,
    epochs=None,
    *,
    lr=_FIXED_DEFAULTS["lr"],
    batch_size=_FIXED_DEFAULTS["batch_size"],
    label_noise=_FIXED_DEFAULTS["label_noise"],
    dropout=_FIXED_DEFAULTS["dropout"],
    optimizer="adam",
    width=100,
    depth=8,
    batchnorm=True,
    init="default",
    dataset="mnist5k",
    data_root=None,
    download=False,
    size=10,
    n_train=2560,
    split_seed=0,
    kinds=KINDS,
    stack_max_batch=STACK_MAX_BATCH,
    stack_size=STACK_SIZE,
    threads=1,
    device=None,
    store=None,
    client=None,
    progress=True,
):
    """Train the grid ``axis x alpha x seed`` and return its load curves and metrics.

    Parameters
    ----------
    axis : {"label_noise", "lr", "dropout", "batch_size"}
        The noise axis (module docstring); ``-`` may replace ``_``.
    values : sequence, optional
        Its values; default ``PAPER_VALUES[axis]``.
    alphas : sequence of float
        LeakyReLU slopes in [0, 1].
    seeds : int or sequence of int
        Seeds, or how many (``range(seeds)``).
    epochs : int, optional
        Default ``PAPER_EPOCHS[axis]`` (200 for ``lr``, else 100).
    lr, batch_size, label_noise, dropout, optimizer : optional
        Values of the training knobs that are not the axis (paper defaults).
    width, depth, batchnorm, init
        MLP options (:class:`dnn.models.MLP`).
    dataset, data_root, download, size, n_train, split_seed
        Data (:func:`dnn.datasets.load_data`; ``split_seed`` is its ``seed``).
    kinds : sequence of {"trace_ratio", "pinv", "regression"}
        Per-layer loads recorded (:func:`dnn.features.layer_load`).
    stack_max_batch : int
        Batch sizes up to this train in stacks (module docstring).
    stack_size : int
        Networks per stack at most, on the CPU (:func:`stack_members`).
    threads : int or None
        Torch threads while computing cells (restored afterwards); ``None`` leaves
        torch's setting. Default 1: these small networks gain little from threads
        within one training (about 20 % for a full batch on 2 idle cores) and lose
        badly on a busy CPU; run cells in parallel processes instead (``client``).
    device : str, optional
        ``"cuda"`` (or another accelerator) trains every cell in stacks of
        ``alphas x seeds`` networks on that device, full batches included; default: the
        CPU, with stacks only for small batches.
    store : str or PathLike, optional
        Zarr store: resumable.
    client : distributed.Client or callable, optional
        Run on this Dask cluster, best one of :func:`local_cluster` (or with workers
        started without ``MALLOC_TRIM_THRESHOLD_``, which slows training 1.7x); or a
        factory called only when cells are missing, such as
        ``functools.partial(worker_client, workers)``, which starts the cluster then.
    progress : bool
        Progress bar.

    Returns
    -------
    xarray.Dataset
        Dims ``(axis, alpha, seed, kind, layer)``; variables ``D`` and ``D_test``
        (separation per layer, layer 0 = normalised input), ``v``, ``c``, ``c_rel``,
        ``phase`` (per training curve, from :func:`analysis.load_curve_metrics`),
        ``test_accuracy``, ``train_accuracy``, ``final_loss``, ``epochs_run``.
        Summarise over seeds with :func:`summarize`.
    """
    axis = check_axis(axis)
    values = tuple(PAPER_VALUES[axis] if values is None else values)
    alphas = tuple(check_alpha(a) for a in alphas)
    seeds = (
        tuple(range(check_count("seeds", seeds, 1)))
        if np.ndim(seeds) == 0
        else tuple(check_count("seeds", s, 0) for s in seeds)
    )
    epochs = PAPER_EPOCHS[axis] if epochs is None else epochs
    for v in values if axis == "dropout" else ():
        check_dropout(v)
    fixed = {"lr": lr, "batch_size": batch_size, "label_noise": label_noise, "dropout": dropout}
    if fixed[axis] != _FIXED_DEFAULTS[axis]:
        raise ValueError(
            f"{axis}={fixed[axis]!r} has no effect: {axis} is this diagram's axis, so its "
            "values come from values (--values)"
        )
    kinds = tuple(kinds)
    for kind in kinds:
        if kind not in LOADS:
            raise ValueError(f"kinds: {kind!r} is not one of {', '.join(LOADS)}")
    base = TrainConfig(
        epochs=epochs, lr=lr, optimizer=optimizer, batch_size=batch_size, label_noise=label_noise
    )
    for v in values if axis != "dropout" else ():
        replace(base, **{axis: v})  # validates the axis values
    model_options = (("width", width), ("depth", depth), ("batchnorm", batchnorm), ("init", init))
    data_options = (
        ("name", dataset),
        ("root", None if data_root is None else str(data_root)),
        ("download", download),
        ("size", size),
        ("n_train", n_train),
        ("seed", split_seed),
    )
    setup = PhaseSetup(
        axis,
        alphas,
        seeds,
        base,
        model_options,
        data_options,
        kinds,
        check_int("stack_max_batch", stack_max_batch, low=1),
        check_int("stack_size", stack_size, low=1),
        None if threads is None else check_count("threads", threads, 1),
        check_dropout(dropout),
        check_device(device),
    )
    data = _data(data_options)
    build_model("mlp", data, **dict(model_options))  # validates the MLP options
    for v in values:
        check_batches(data, setup.config(v))  # now, not when the value's cells start
    n = len(data.y_train)
    stacking = any(setup.stacked(setup.config(v), n) for v in values)
    fingerprint = {
        "what": "dnn.phase_diagram/2",
        "axis": axis, "train": {k: getattr(base, k) for k in base.__dataclass_fields__},
        "model": dict(model_options), "dropout": setup.dropout,
        "data": {k: v for k, v in data_options if k != "download"}, "kinds": list(kinds),
        "stack_max_batch": setup.stack_max_batch, "alphas": list(alphas), "seeds": list(seeds),
        "torch": torch.__version__, "device": str(torch.device(device or "cpu")),
    }  # fmt: skip
    if stacking:  # the stacks' make-up (stores of unstacked grids stay valid without it)
        fingerprint["stack_size"] = setup.stack_size
    if axis == "dropout" or setup.dropout > 0:  # masks from dnn.dropout since its format 1
        fingerprint["dropout_masks"] = "dnn.dropout/1"
    ds = run_grid(
        None, {axis: list(values), "alpha": list(alphas), "seed": list(seeds)},
        fingerprint=fingerprint, store=store, client=client, progress=progress,
        desc=f"dnn {axis}", batch_fn=partial(compute_cells, setup=setup),
        batch=len(alphas) * len(seeds) if stacking else 1,
    )  # fmt: skip
    for name in (axis, "alpha"):
        ds[name].attrs["long_name"] = LONG_NAMES[name]
    ds.attrs.update(axis=axis, epochs=base.epochs)
    return ds


def summarize(ds, kind="trace_ratio"):
    """Seed averages of a phase diagram and the shape of the seed-mean load curve.

    The phase of each cell is that of the mean curve over seeds, judged with
    ``atol`` = three standard errors of the total drop ``D_0 - D_L`` across seeds
    (see :func:`analysis.load_curve_metrics`). A seed whose curve holds a NaN (a
    diverged network) is left out of the curve, its metrics and ``c_rel_seed_mean``,
    but not of the accuracies and losses; ``n_curves`` counts the seeds used.

    Returns
    -------
    xarray.Dataset
        Dims ``(axis, alpha[, layer])``: ``D`` (mean curve), ``n_curves``, ``v``,
        ``c``, ``c_rel``, ``phase`` (of the mean curve), ``c_rel_seed_mean`` (mean of
        the per-seed ``c_rel`` that are not NaN), ``test_accuracy`` and
        ``test_accuracy_std``, ``final_loss``.
    """
    if kind not in ds["kind"].values:
        raise ValueError(f"kind={kind!r}: this Dataset holds {list(ds['kind'].values)}")
    d = ds["D"].sel(kind=kind)
    whole = d.notnull().all("layer")
    d = d.where(whole)
    n_curves = whole.sum("seed")
    mean = d.mean("seed")
    drop = d.isel(layer=0) - d.isel(layer=-1)
    se = (drop.std("seed", ddof=1) / np.sqrt(n_curves)).fillna(0.0).values  # 0 for 1 curve
    metrics = load_curve_metrics(mean.values, atol=3 * se)
    dims = mean.dims[:-1]
    out = xr.Dataset(
        {
            "D": mean,
            "n_curves": n_curves,
            **{k: (dims, np.asarray(metrics[k])) for k in ("v", "c", "c_rel", "phase")},
            "c_rel_seed_mean": ds["c_rel"].sel(kind=kind).mean("seed", skipna=True),
            "test_accuracy": ds["test_accuracy"].mean("seed"),
            "test_accuracy_std": ds["test_accuracy"].std("seed"),
            "final_loss": ds["final_loss"].mean("seed"),
        }
    )
    out["c_rel"].attrs["long_name"] = "scale-free curvature c_rel of the mean load curve"
    out["test_accuracy"].attrs["long_name"] = "test accuracy"
    out.attrs.update(ds.attrs, kind=kind)
    return out.drop_vars("kind", errors="ignore")
