"""The ``fastspring`` command line: one sub-command per job.

``simulate`` lives here; the others are registered by the modules that own
them (each exposes ``add_commands(subparsers)``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dnn import cli as dnn_cli

from . import sweep_cli
from .errors import FastspringError
from .params import NOISE_KINDS, Chain, Noise

CHAIN_OPTIONS = {
    "L": (int, 7, "number of blocks (hidden layers), >= 1"),
    "k": (float, 1.0, "spring stiffness, > 0"),
    "y": (float, 1.0, "position of the pulled end (target)"),
    "mu_plus": (float, 0.1, "friction for rightward motion, >= 0"),
    "mu_minus": (float, 0.1, "friction for leftward motion, >= 0"),
}


def add_chain_noise_options(parser):
    """Options shared by every sub-command that builds a Chain and a Noise."""
    chain = parser.add_argument_group("chain")
    for name, (kind, default, text) in CHAIN_OPTIONS.items():
        chain.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default,
                           help=f"{text} (default {default})")  # fmt: skip
    noise = parser.add_argument_group("noise")
    noise.add_argument("--sigma", type=float, default=0.1, help="noise std, >= 0 (default 0.1)")
    noise.add_argument("--noise", choices=NOISE_KINDS, default="gaussian", help="noise kind")
    noise.add_argument("--bound", type=float, help="bound a > 0 for clipped/truncated noise")
    noise.add_argument(
        "--decay", type=float, default=0.0, help="rate of sigma*exp(-decay t) (default 0)"
    )
    noise.add_argument("--synchronous", action="store_true",
                       help="one draw per chain and step, shared by all blocks")  # fmt: skip


def chain_noise_from(args):
    """The Chain and Noise an argparse namespace describes."""
    chain = Chain(**{name: getattr(args, name) for name in CHAIN_OPTIONS})
    noise = Noise(args.sigma, args.noise, args.bound, args.decay, args.synchronous)
    return chain, noise


def _add_simulate(subparsers):
    p = subparsers.add_parser(
        "simulate",
        help="simulate chains and print the final load curve",
        description="Simulate independent spring-block chains from rest and print the mean "
        "final load curve d_0..d_L; optionally write NetCDF and a PNG.",
    )
    p.add_argument("--model", default="overdamped", help="overdamped | inertial | langevin")
    add_chain_noise_options(p)
    run = p.add_argument_group("integration")
    run.add_argument("--dt", type=float, default=0.01, help="step size (default 0.01)")
    run.add_argument("--steps", type=int, default=10_000, help="step budget (default 10000)")
    run.add_argument("--chains", type=int, default=1, help="independent chains (default 1)")
    run.add_argument("--seed", type=int, default=0, help="seed in [0, 2**32) (default 0)")
    run.add_argument("--rtol", type=float, help=sweep_cli.RTOL_HELP)
    run.add_argument("--record-every", type=int, help="record every N steps (default ~100 frames)")
    run.add_argument(
        "--gamma", type=float, help="damping (inertial and langevin models; default 1)"
    )
    out = p.add_argument_group("output")
    out.add_argument("--out", help="write the labelled result to this NetCDF file")
    out.add_argument("--plot", help="write trajectories and the load curve to this PNG")
    p.set_defaults(func=_simulate)


def _simulate(args):
    from .simulation import simulate

    chain, noise = chain_noise_from(args)
    extra = {} if args.gamma is None else {"gamma": args.gamma}
    res = simulate(
        chain, noise, args.model, dt=args.dt, steps=args.steps, chains=args.chains,
        seed=args.seed, rtol=args.rtol, record_every=args.record_every, **extra,
    )  # fmt: skip
    load = res.load.mean(axis=0)
    print(f"model {args.model}, {args.chains} chain(s), steps taken "
          f"{int(res.steps_taken.min())}..{int(res.steps_taken.max())}")  # fmt: skip
    print("layer  load d_l (mean over chains)")
    for layer, d in enumerate(load):
        print(f"{layer:5d}  {d: .10f}")
    if args.out:
        res.to_xarray().to_netcdf(args.out, engine="h5netcdf")
        print(f"wrote {args.out}")
    if args.plot:
        from .plots import run_figure, save_figure

        save_figure(run_figure(res), args.plot)
        print(f"wrote {args.plot}")
    return 0


def _add_reproduce(subparsers):
    p = subparsers.add_parser(
        "reproduce",
        help="reproduce the paper's figures and write report.html",
        description="Run every experiment of the paper on the embedded defaults (no download, "
        "no GPU), store the data as NetCDF/Zarr, draw the figures and write report.html. "
        "An interrupted run resumes where it stopped.",
    )
    p.add_argument("--out", default="results", help="output folder (default ./results)")
    p.add_argument("--quick", action="store_true", help="fewer chains/steps/cells: minutes")
    p.set_defaults(func=_reproduce)


def _reproduce(args):
    from .reproduce import reproduce

    path = reproduce(args.out, quick=args.quick)
    print(f"wrote {path}")
    return 0


def build_parser():
    """The full argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="fastspring",
        description="Spring-block theory of feature learning: fast simulators, closed forms "
        "and deep-network load curves.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_simulate(subparsers)
    sweep_cli.add_commands(subparsers)
    dnn_cli.add_commands(subparsers)
    _add_reproduce(subparsers)
    return parser


def prepare_outputs(args):
    """Before any computing: check the ``--plot`` format and make the output folders.

    A typo in an output path should not surface only after hours of computing.
    """
    plot = getattr(args, "plot", None)
    if plot:
        from matplotlib.figure import Figure

        formats = Figure().canvas.get_supported_filetypes()
        suffix = Path(plot).suffix.lstrip(".").lower()
        if suffix not in formats:
            raise ValueError(
                f"--plot {plot}: unknown image format {suffix!r}; end the name in one of "
                f".{', .'.join(sorted(formats))}"
            )
    for name in ("out", "plot", "store"):
        path = getattr(args, name, None)
        if path and args.command != "reproduce":  # reproduce's --out is a folder it makes
            Path(path).absolute().parent.mkdir(parents=True, exist_ok=True)


def main(argv=None):
    """Entry point of the ``fastspring`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        prepare_outputs(args)
        return args.func(args)
    except (ValueError, TypeError, OSError, FastspringError) as err:
        print(f"fastspring {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        saved = getattr(args, "store", None) or (args.command == "reproduce" and args.out)
        hint = f"; finished work is saved in {saved}: run the same command to resume"
        print(f"fastspring {args.command}: interrupted{hint if saved else ''}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
