r"""The ``dnn-phase`` and ``dnn-curve`` sub-commands of the ``fastspring`` command line.

Examples::

    fastspring dnn-phase --axis label-noise --values 0:0.8:9 --alphas 0:1:6 --seeds 3 \
        --epochs 100 --store dnn.zarr --plot fig1a.png
    fastspring dnn-curve --alpha 0 --label-noise 0.5 --epochs 100 --record-every 10 \
        --plot curves.png

A value with ``:`` (``start:stop:num``, inclusive) or ``,`` (a list) is a list of values.
The shipped MNIST subset needs no files; ``--dataset mnist|fashionmnist|cifar10`` reads
torchvision files under ``--data-root`` and downloads only with ``--download``.
"""

import argparse
import functools
import math
import os

from fastspring.sweep_cli import parse_values, phase_map

from .datasets import NAMES, load_data, orthogonal_data
from .features import LOADS, evaluate
from .models import INITS, MODELS, build_model
from .phase import AXES, STACK_MAX_BATCH, STACK_SIZE, phase_diagram, summarize, worker_client
from .separation import KINDS
from .train import OPTIMIZERS, TrainConfig, train


def _int_at_least(low):
    """An argparse type: an integer ``>= low`` (argparse names the option in its error)."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value

    return parse


positive_int = _int_at_least(1)
nonnegative_int = _int_at_least(0)


def add_commands(subparsers):
    """Add ``dnn-phase`` and ``dnn-curve`` to an argparse ``subparsers`` object."""
    _add_phase(subparsers)
    _add_curve(subparsers)


def _add_data_options(p, names=NAMES):
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset", default="mnist5k", help=f"{' | '.join(names)} (default mnist5k, shipped)"
    )
    data.add_argument("--data-root", help="torchvision root holding MNIST/, CIFAR10/ ...")
    data.add_argument(
        "--download",
        action="store_true",
        help="let torchvision download a missing data set into --data-root",
    )
    data.add_argument(
        "--size", type=positive_int, default=10, help="images resized to SIZE x SIZE (default 10)"
    )
    data.add_argument("--n-train", type=positive_int, help="training samples (default 2560)")
    data.add_argument(
        "--split-seed",
        type=nonnegative_int,
        default=0,
        help="seed of the train/test split (default 0)",
    )


def _add_train_options(p, exclude=()):
    train_ = p.add_argument_group("training")
    options = {
        "lr": (float, 1e-3, "learning rate"),
        "batch_size": (int, None, "samples per step (default: full batch)"),
        "label_noise": (float, 0.0, "label + data noise s in [0, 1]"),
        "dropout": (float, 0.0, "dropout probability after every hidden activation"),
    }
    for name, (kind, default, text) in options.items():
        if name not in exclude:
            train_.add_argument(
                f"--{name.replace('_', '-')}",
                type=kind,
                default=default,
                help=text if default is None else f"{text} (default {default})",
            )
    train_.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="(default adam)")
    train_.add_argument(
        "--epochs", type=positive_int, help="epochs (default 100; 200 for dnn-phase --axis lr)"
    )
    train_.add_argument(
        "--threads",
        type=positive_int,
        help="torch threads per training (dnn-phase default 1 per worker; "
        "dnn-curve default: torch's choice)",
    )


def _add_model_options(p):
    model = p.add_argument_group("model (MLP of the paper unless said otherwise)")
    model.add_argument(
        "--width", type=positive_int, default=100, help="hidden width (default 100)"
    )
    model.add_argument(
        "--depth",
        type=positive_int,
        help="linear layers of the MLP (default 8) or conv blocks of the CNN (default 7)",
    )
    model.add_argument("--no-batchnorm", action="store_true", help="MLP without BatchNorm")
    model.add_argument(
        "--init",
        choices=INITS,
        default="default",
        help="weight initialisation (default: PyTorch's default)",
    )


def _add_phase(subparsers):
    p = subparsers.add_parser(
        "dnn-phase",
        help="DNN phase diagram: noise axis x LeakyReLU slope (paper Fig. 1)",
        description="Train the reference MLP on a grid of one noise axis x LeakyReLU slope "
        "alpha x seeds; record per-layer data separation, load-curve curvature, test "
        "accuracy and final loss; resumable with --store, distributable with --scheduler "
        "or --workers.",
    )
    p.add_argument(
        "--axis", required=True, choices=[a.replace("_", "-") for a in AXES], help="the noise axis"
    )
    p.add_argument("--values", help="axis values, start:stop:num or a,b,c (default: paper's)")
    p.add_argument("--alphas", default="0:1:6", help="LeakyReLU slopes (default 0:1:6)")
    p.add_argument("--seeds", default="10", help="number of seeds, or a,b,c (default 10)")
    _add_train_options(p)
    _add_model_options(p)
    _add_data_options(p)
    run = p.add_argument_group("where it runs and what it writes")
    run.add_argument(
        "--kind",
        choices=LOADS,
        default="trace_ratio",
        help="load of the summary and the plot (default trace_ratio; regression: also recorded)",
    )
    run.add_argument(
        "--stack-max-batch",
        type=positive_int,
        default=STACK_MAX_BATCH,
        help=f"train batch sizes up to this in stacks (default {STACK_MAX_BATCH})",
    )
    run.add_argument(
        "--stack-size",
        type=positive_int,
        default=STACK_SIZE,
        help=f"networks per stack at most, on the CPU (default {STACK_SIZE})",
    )
    run.add_argument("--device", help="e.g. cuda: train every cell in stacks on that device")
    run.add_argument("--store", help="Zarr store: cells written as they finish; resumable")
    run.add_argument("--scheduler", help="address of a Dask scheduler to run the cells on")
    run.add_argument(
        "--workers",
        type=positive_int,
        default=os.cpu_count(),
        help="train in this many local processes (a Dask LocalCluster; default: "
        "one per CPU core; 1 = in this process)",
    )
    run.add_argument("--out", help="also write the result to this NetCDF file")
    run.add_argument("--plot", help="draw the phase diagram to this image")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_phase)


def _seeds(text):
    value = parse_values(text, "seeds", int)
    if isinstance(value, list):
        return value
    if value < 1:
        raise ValueError(f"--seeds: need at least one seed, got {value}")
    return value


def _values(text, name, kind):
    value = parse_values(text, name, kind)
    return value if isinstance(value, list) else [value]


def run_phase(args):
    """Run ``dnn-phase`` from its argparse namespace."""
    axis = args.axis.replace("-", "_")
    kind = int if axis == "batch_size" else float
    values = None if args.values is None else _values(args.values, "values", kind)
    alphas = _values(args.alphas, "alphas", float)
    ds = phase_diagram(
        axis, values, alphas, _seeds(args.seeds), args.epochs,
        lr=args.lr, batch_size=args.batch_size, label_noise=args.label_noise,
        dropout=args.dropout, optimizer=args.optimizer, width=args.width,
        depth=args.depth or 8, batchnorm=not args.no_batchnorm, init=args.init,
        dataset=args.dataset, data_root=args.data_root, download=args.download,
        size=args.size, n_train=args.n_train or 2560, split_seed=args.split_seed,
        kinds=_kinds(args.kind), stack_max_batch=args.stack_max_batch,
        stack_size=args.stack_size,
        threads=args.threads or 1, device=args.device, store=args.store,
        client=functools.partial(worker_client, args.workers, args.scheduler),
        progress=not args.no_progress,
    )  # fmt: skip
    summary = summarize(ds, args.kind)
    total = ds.sizes[axis] * ds.sizes["alpha"] * ds.sizes["seed"]
    print(
        f"{total} networks: trained {ds.attrs['cells_computed']}, "
        f"{total - ds.attrs['cells_computed']} already in the store"
    )
    print(phase_map(summary.rename(phase="cell_phase"), ["alpha", axis]))
    print(_table(summary, axis))
    _write(ds, args, "phase_figure")
    return 0


def _write(ds, args, figure):
    """Write ``ds`` to ``--out`` (NetCDF) and its figure (``dnn.plots.<figure>``) to ``--plot``."""
    if args.out:
        ds.to_netcdf(args.out, engine="h5netcdf")
        print(f"wrote {args.out}")
    if args.plot:
        from fastspring.plots import save_figure

        from . import plots

        save_figure(getattr(plots, figure)(ds, args.kind).figure, args.plot)
        print(f"wrote {args.plot}")


def _kinds(kind):
    """The recorded loads: both separation measures, plus ``kind`` if it is another."""
    return KINDS if kind in KINDS else (*KINDS, kind)


def _table(summary, axis):
    """Seed-mean c_rel and test accuracy per cell as text."""
    lines = [f"{'alpha':>6} {axis:>12} {'c_rel':>8} {'phase':>12} {'test acc':>9}"]
    for a in summary["alpha"].values:
        for v in summary[axis].values:
            cell = summary.sel({"alpha": a, axis: v})
            lines.append(
                f"{a:6.2f} {v:12.4g} {float(cell['c_rel']):8.3f} "
                f"{str(cell['phase'].values):>12} "
                f"{float(cell['test_accuracy']):9.4f}"
            )
    return "\n".join(lines)


def _add_curve(subparsers):
    p = subparsers.add_parser(
        "dnn-curve",
        help="train one network and record its load curves over epochs (paper Fig. 4)",
        description="Train one network and print/plot its layer-wise data separation "
        "over epochs. '--model linear --dataset orthogonal --optimizer sgd' is the linear "
        "setting of paper Fig. 5(a).",
    )
    p.add_argument("--model", choices=MODELS, default="mlp")
    p.add_argument("--alpha", type=float, default=0.0, help="LeakyReLU slope (default 0)")
    p.add_argument("--channels", type=positive_int, default=16, help="CNN channels (default 16)")
    p.add_argument(
        "--seed",
        type=nonnegative_int,
        default=0,
        help="initialisation and training seed (default 0)",
    )
    p.add_argument(
        "--record-every", type=positive_int, default=1, help="record every N epochs (default 1)"
    )
    p.add_argument(
        "--kind", choices=LOADS, default="trace_ratio", help="load printed (default trace_ratio)"
    )
    _add_train_options(p)
    _add_model_options(p)
    _add_data_options(p, names=(*NAMES, "orthogonal"))
    p.add_argument("--out", help="write the curves to this NetCDF file")
    p.add_argument("--plot", help="draw the curves over epochs to this image")
    p.set_defaults(func=run_curve)


def _curve_data(args):
    if args.dataset == "orthogonal":
        dim = args.size * args.size
        return orthogonal_data(args.n_train or dim, dim, seed=args.split_seed)
    return load_data(
        args.dataset,
        size=args.size,
        n_train=args.n_train or 2560,
        seed=args.split_seed,
        root=args.data_root,
        download=args.download,
    )


def _model_options(args):
    if args.model == "linear":
        return {"depth": args.depth or 8, "dropout": args.dropout}
    if args.model == "cnn":
        return {
            "channels": args.channels,
            "depth": args.depth or 7,
            "alpha": args.alpha,
            "dropout": args.dropout,
        }
    return {
        "width": args.width,
        "depth": args.depth or 8,
        "alpha": args.alpha,
        "batchnorm": not args.no_batchnorm,
        "dropout": args.dropout,
        "init": args.init,
    }


def run_curve(args):
    """Run ``dnn-curve`` from its argparse namespace."""
    import torch

    from analysis import load_curve_metrics

    if args.threads:
        torch.set_num_threads(args.threads)
    data = _curve_data(args)
    options = _model_options(args)
    model = build_model(args.model, data, seed=args.seed, **options)
    config = TrainConfig(
        epochs=args.epochs or 100,
        lr=args.lr,
        optimizer=args.optimizer,
        batch_size=args.batch_size,
        label_noise=args.label_noise,
    )
    kinds = _kinds(args.kind)
    result = train(
        model, data, config, seed=args.seed, record_every=args.record_every, kinds=kinds
    )
    ev = evaluate(model, data, kinds, test_curves=True)
    k = kinds.index(args.kind)
    metrics = load_curve_metrics(ev.D_train[k])
    print(
        f"{data!r}; {args.model}; {result.epochs_run} epochs; final loss "
        f"{result.final_loss:.4g}; train accuracy {ev.train_accuracy:.4f}; "
        f"test accuracy {ev.test_accuracy:.4f}"
    )
    if not math.isfinite(result.final_loss):
        print(f"training diverged (loss {result.final_loss}): try a smaller --lr")
    print(
        f"load curve ({args.kind}): c = {float(metrics['c']):.4f}, c_rel = "
        f"{float(metrics['c_rel']):.3f}, phase {metrics['phase']}"
    )
    print("epoch  " + " ".join(f"{'D_' + str(i):>7}" for i in range(ev.D_train.shape[1])))
    for epoch, curve in zip(result.curve_epochs, result.curves[:, k], strict=True):
        print(f"{epoch:5d}  " + " ".join(f"{d:7.3f}" for d in curve))
    print(" test  " + " ".join(f"{d:7.3f}" for d in ev.D_test[k]))
    ds = result.to_xarray()
    ds["D_test_final"] = (("kind", "layer"), ev.D_test)
    ds.attrs.update(
        test_accuracy=ev.test_accuracy,
        train_accuracy=ev.train_accuracy,
        model=args.model,
        dataset=data.name,
        seed=args.seed,
        **{k: getattr(config, k) for k in ("lr", "optimizer", "label_noise", "epochs")},
        **{k: int(v) if isinstance(v, bool) else v for k, v in options.items()},
    )
    _write(ds, args, "curve_figure")
    return 0


def build_parser():
    """A stand-alone parser with the two sub-commands (for ``python -m dnn.cli``)."""
    parser = argparse.ArgumentParser(prog="dnn")
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


if __name__ == "__main__":
    import sys

    namespace = build_parser().parse_args()
    sys.exit(namespace.func(namespace))
