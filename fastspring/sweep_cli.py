r"""The ``fastspring sweep`` sub-command: a phase sweep from the command line.

Every parameter of the chain, the noise, the integration and the models is an
option; a value with a colon or a comma makes it a grid axis::

    --sigma 0:0.5:11        11 values from 0 to 0.5 (inclusive, evenly spaced,
                            rounded to 12 significant digits: 0.05, not 0.049999...)
    --mu-minus 0.1,0.2,0.3  these three values
    --mu-plus 0.1           a fixed value

Example::

    fastspring sweep --model overdamped --sigma 0:0.5:11 --mu-minus 0:0.3:7 \
        --chains 64 --steps 20000 --store scan.zarr --plot phase.png
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .params import Chain, Noise

#: option name of each grid-able parameter, when it is not the parameter's own name
_OPTION_NAMES = {"kind": "noise"}
#: the type of each parameter that is not a float
_KINDS = {"L": int, "steps": int, "seed": int, "kind": str, "synchronous": bool}
_RUN_DEFAULTS = {"dt": 0.01, "steps": 10_000, "seed": 0}
_PHASE_LETTERS = {"concave": "(", "linear": "|", "convex": ")", "undetermined": "?"}


#: help of ``--rtol``, shared with ``fastspring simulate``
RTOL_HELP = (
    "stop a chain at the first step that moves no block by more than rtol * max|x| "
    "(one step decides: scale it with dt)"
)


def add_commands(subparsers):
    """Add the ``sweep`` sub-command to an argparse ``subparsers`` object."""
    from .sweep import BACKENDS, CHAIN_FIELDS, LONG_NAMES, NOISE_FIELDS

    p = subparsers.add_parser(
        "sweep",
        help="run a phase sweep over a grid of parameters",
        description="Simulate chains at every point of a parameter grid (CPU threads, a GPU "
        "or a Dask cluster), store the cells in a resumable Zarr store and draw the phase "
        "diagram. A value with ':' (start:stop:num) or ',' (a list) makes a grid axis.",
    )
    p.add_argument("--model", default="overdamped", help="overdamped | inertial | langevin")
    groups = {
        "chain": (CHAIN_FIELDS, Chain()),
        "noise": (NOISE_FIELDS, Noise()),
    }
    for title, (names, defaults) in groups.items():
        group = p.add_argument_group(f"{title} (value, start:stop:num or a,b,c)")
        for name in names:
            default = getattr(defaults, name)
            group.add_argument(_flag(name), dest=name, default=None, metavar="V",
                               help=f"{LONG_NAMES[name]} (default {default})")  # fmt: skip
    run = p.add_argument_group("integration (value, start:stop:num or a,b,c)")
    for name, default in _RUN_DEFAULTS.items():
        run.add_argument(_flag(name), dest=name, default=None, metavar="V",
                         help=f"{LONG_NAMES[name]} (default {default})")  # fmt: skip
    model = p.add_argument_group("model parameters (value, start:stop:num or a,b,c)")
    for name, (default, models) in _model_parameters().items():
        model.add_argument(_flag(name), dest=name, default=None, metavar="V",
                           help=f"{LONG_NAMES.get(name, name)}, models {', '.join(models)} "
                           f"(default {default})")  # fmt: skip
    run.add_argument("--chains", type=int, default=64, help="chains per cell (default 64)")
    run.add_argument("--average-from", type=int, help="average positions after this step")
    run.add_argument("--rtol", type=float, help=RTOL_HELP)
    run.add_argument("--cells-only", action="store_true",
                     help="keep only per-cell summaries, not every chain's data")  # fmt: skip
    where = p.add_argument_group("where it runs and what it writes")
    where.add_argument("--backend", choices=BACKENDS, default="cpu")
    where.add_argument("--scheduler", help="address of a Dask scheduler to run the cells on")
    where.add_argument("--store", help="Zarr store: cells written as they finish; resumable")
    where.add_argument("--out", help="also write the result to this NetCDF file")
    where.add_argument("--plot", help="draw the phase diagram (two grid axes) to this image")
    where.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_sweep)


def _model_parameters():
    """``{name: (default, [models])}`` of every registered model's own parameters."""
    from .models import MODELS

    found = {}
    for spec in MODELS.values():
        for name, default in spec.defaults.items():
            found.setdefault(name, (default, []))[1].append(spec.name)
    return found


def _kind(name):
    """The type of a parameter's values: ints and strings by name or default, else float."""
    if name in _KINDS:
        return _KINDS[name]
    default = _model_parameters().get(name, (0.0,))[0]
    return type(default) if isinstance(default, bool | str) else float


def _flag(name):
    return "--" + _OPTION_NAMES.get(name, name).replace("_", "-")


def parse_values(text, name, kind):
    """Parse an option value: ``v``, ``start:stop:num`` (inclusive) or ``a,b,c``.

    Returns a list of ``kind`` values (a grid axis) for the last two forms, a
    single value for the first.  Errors name the option.
    """
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3 or not parts[2].strip().isdigit() or int(parts[2]) < 1:
                raise ValueError("expected START:STOP:NUM with NUM a whole number >= 1")
            values = np.linspace(float(parts[0]), float(parts[1]), int(parts[2]))
            if kind is int:
                if not np.all(values == np.round(values)):
                    raise ValueError("expected whole numbers")
                return [int(v) for v in values]
            return [float(f"{v:.12g}") for v in values]
        if "," in text:
            return [_scalar(v, kind) for v in text.split(",")]
        return _scalar(text, kind)
    except ValueError as err:
        raise ValueError(f"{_flag(name)}: cannot read {text!r}: {err}") from None


def _scalar(text, kind):
    text = text.strip()
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError("expected true or false")
        return text.lower() in ("true", "1")
    if kind is int:
        value = float(text)
        if not math.isfinite(value) or value != round(value):
            raise ValueError("expected a whole number")
        return int(value)
    return kind(text)


def sweep_arguments(args):
    """The arguments of :func:`fastspring.sweep` an argparse namespace describes."""
    from .sweep import CHAIN_FIELDS, NOISE_FIELDS

    grid, fixed = {}, {}
    for name in CHAIN_FIELDS + NOISE_FIELDS + tuple(_RUN_DEFAULTS) + tuple(_model_parameters()):
        text = getattr(args, name)
        if text is None:
            continue
        value = parse_values(text, name, _kind(name))
        (grid if isinstance(value, list) else fixed)[name] = value
    if not grid:
        raise ValueError("give at least one grid axis, e.g. --sigma 0:0.5:11")
    chain = Chain(**{n: fixed.pop(n) for n in CHAIN_FIELDS if n in fixed})
    noise = Noise(**{n: fixed.pop(n) for n in NOISE_FIELDS if n in fixed})
    run = {n: fixed.pop(n, _RUN_DEFAULTS[n]) for n in _RUN_DEFAULTS}
    if "steps" in grid:
        run["steps"] = max(grid["steps"])
    return dict(
        chain=chain, noise=noise, model=args.model, grid=grid, chains_per_cell=args.chains,
        average_from=args.average_from, rtol=args.rtol, keep_chains=not args.cells_only,
        backend=args.backend,
        store=args.store, progress=not args.no_progress, **run, **fixed,
    )  # fmt: skip


def run_sweep(args):
    """Run the sweep an argparse namespace describes; print a summary; write files."""
    from .sweep import sweep

    kwargs = sweep_arguments(args)
    if args.plot and len(kwargs["grid"]) != 2:  # checked before hours of computing
        raise ValueError(
            f"--plot draws a phase diagram of exactly two grid axes, got {len(kwargs['grid'])} "
            f"({', '.join(kwargs['grid'])})"
        )
    client = None
    if args.scheduler:
        from distributed import Client

        client = functools.partial(Client, args.scheduler)  # connected only if cells are missing
    ds = sweep(client=client, **kwargs)
    total = int(np.prod([ds.sizes[name] for name in kwargs["grid"]]))
    computed = ds.attrs["cells_computed"]
    print(f"{total} cells x {ds.attrs['chains_per_cell']} chains: computed {computed}, "
          f"{total - computed} already in the store")  # fmt: skip
    print(phase_map(ds, list(kwargs["grid"])))
    if args.out:
        ds.to_netcdf(args.out, engine="h5netcdf")
        print(f"wrote {args.out}")
    if args.plot:
        from .plots import save_figure
        from .sweep_plot import phase_figure

        save_figure(phase_figure(ds).figure, args.plot)
        print(f"wrote {args.plot}")
    return 0


def phase_map(ds, axes):
    """The cells' phases as text: one letter per cell, ``(`` concave ``|`` linear ``)`` convex."""
    legend = "phase of the mean load curve: ( concave  | linear  ) convex  ? undetermined"
    phases = ds["cell_phase"]
    if len(axes) == 1:
        return f"{legend}\n{axes[0]}: " + "".join(_PHASE_LETTERS[p] for p in phases.values)
    if len(axes) != 2:
        counts = {p: int((phases == p).sum()) for p in _PHASE_LETTERS}
        return "cells per phase: " + ", ".join(f"{p} {n}" for p, n in counts.items())
    rows, cols = axes
    lines = [legend, f"rows: {rows} (top = largest), columns: {cols} (left = smallest)"]
    for i in reversed(range(ds.sizes[rows])):
        letters = "".join(_PHASE_LETTERS[p] for p in phases.isel({rows: i}).values)
        value = ds[rows].values[i]
        label = f"{value:.4g}" if isinstance(value, float | np.floating) else str(value)
        lines.append(f"{label:>10}  {letters}")
    return "\n".join(lines)
