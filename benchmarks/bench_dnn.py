"""Benchmarks of the dnn package (issue 5, "Measure and record").

Four measurements, each printing what it ran, the machine load and the numbers::

    python benchmarks/bench_dnn.py cell [--label-noise 0.5] [--threads 1] [--repeats 5]
        What one cell of a full-batch panel costs in this process: seconds of one
        training of the reference MLP (100 epochs, full batch) and of its evaluation
        (features in evaluation mode, train and test load curves), per repeat, after one
        untimed warm-up training.

    python benchmarks/bench_dnn.py speedup [--epochs 1] [--batch-sizes 5,10,...]
        [--stack-size 12]
        Stacked vs one-by-one training, per batch size: seconds per network-epoch of the
        alphas x seeds networks in the stacks phase_diagram forms (at most stack-size
        networks each) and of one network alone, their ratio, and the
        extrapolated batch-size panel (10 seeds x 6 alphas x 100 epochs) both ways.

    python benchmarks/bench_dnn.py panel --axis label_noise [--seeds 10] [--workers 2]
        [--store PATH] [--device cuda] [--threads N]
        Wall time of a phase-diagram panel (paper values and epochs, full batch unless
        the axis is the batch size), then the qualitative table below. With ``--device
        cuda`` every axis value trains as one stack on the GPU in this process (the
        cells' evaluation, the noise draws and ``--threads`` torch threads stay on the CPU).

    python benchmarks/bench_dnn.py table --store PATH
        The paper's qualitative finding on a finished panel: per cell the seed-mean
        curvature c_rel, phase and test accuracy; ReLU without noise concave? noise
        >= 0.5 linear or convex? are the most linear cells the most accurate?
"""

import argparse
import os
import time

import numpy as np
import torch

from dnn import PAPER_ALPHAS, PAPER_VALUES, build_model, evaluate, load_data, summarize
from dnn.batched import train_stacked
from dnn.phase import STACK_MAX_BATCH, STACK_SIZE, phase_diagram, stack_members, worker_client
from dnn.train import TrainConfig, train


def _load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cell(args):
    torch.set_num_threads(args.threads)
    data = load_data()
    config = TrainConfig(label_noise=args.label_noise)
    print(
        f"load average before: {_load()}; torch threads {args.threads}; label noise "
        f"{args.label_noise}, alpha 0.2, {config.epochs} epochs, full batch"
    )
    train(build_model("mlp", data, seed=0, alpha=0.2), data, config, seed=0)  # warm-up
    for seed in range(1, args.repeats + 1):
        model = build_model("mlp", data, seed=seed, alpha=0.2)
        t = time.perf_counter()
        train(model, data, config, seed=seed)
        trained = time.perf_counter()
        evaluate(model, data, test_curves=True)
        print(
            f"seed {seed}: training {trained - t:.3f} s, evaluation "
            f"{time.perf_counter() - trained:.3f} s"
        )
    print(f"load average after: {_load()}")


def speedup(args):
    torch.set_num_threads(1)
    data = load_data()
    alphas, seeds = PAPER_ALPHAS, range(args.seeds)
    members = [(a, s) for a in alphas for s in seeds]
    print(
        f"load average before: {_load()}; torch threads 1; {len(members)} networks (6 "
        f"alphas x {args.seeds} seeds) in stacks of <= {args.stack_size} networks; "
        f"{args.epochs} epoch(s) timed"
    )
    print(
        f"{'batch':>6} {'stacks':>7} {'stacked s/net-epoch':>20} "
        f"{'one-by-one s/net-epoch':>23} {'speed-up':>9}"
    )
    totals = {"stacked": 0.0, "single": 0.0, "mixed": 0.0}
    small = {"stacked": 0.0, "single": 0.0}  # the cells phase_diagram trains stacked
    warm = TrainConfig(epochs=1, batch_size=1280)  # loads the compiled kernels, untimed
    train_stacked([build_model("mlp", data) for _ in range(2)], data, [warm] * 2, [0, 1])
    train(build_model("mlp", data), data, warm)
    for bs in args.batch_sizes:
        config = TrainConfig(epochs=args.epochs, batch_size=bs)
        stacks = stack_members(members, args.stack_size)
        t = time.perf_counter()
        for stack in stacks:  # as phase_diagram trains them
            models = [build_model("mlp", data, seed=s, alpha=a) for a, s in stack]
            train_stacked(models, data, [config] * len(models), [s for _, s in stack])
        stacked = (time.perf_counter() - t) / (len(members) * args.epochs)
        single_runs = []
        for a, s in members[:: max(1, len(members) // args.singles)][: args.singles]:
            model = build_model("mlp", data, seed=s, alpha=a)
            t = time.perf_counter()
            train(model, data, config, seed=s)
            single_runs.append((time.perf_counter() - t) / args.epochs)
        single = float(np.mean(single_runs))
        print(f"{bs:6d} {len(stacks):7d} {stacked:20.4f} {single:23.4f} {single / stacked:9.2f}")
        panel = 60 * 100  # network-epochs of one batch size in the paper's panel
        totals["stacked"] += stacked * panel
        totals["single"] += single * panel
        totals["mixed"] += min(stacked, single) * panel
        if bs <= STACK_MAX_BATCH:
            small["stacked"] += stacked
            small["single"] += single
    print(f"load average after: {_load()}")
    if small["stacked"] > 0:
        print(
            f"cells trained stacked (batch <= {STACK_MAX_BATCH}): one-by-one / stacked = "
            f"{small['single'] / small['stacked']:.2f} (target >= 5)"
        )
    print(
        "extrapolated batch-size panel (60 networks x 100 epochs per batch size, one core): "
        f"one-by-one {totals['single'] / 60:.1f} min, stacked {totals['stacked'] / 60:.1f} "
        f"min, best of both per batch size {totals['mixed'] / 60:.1f} min"
    )


def panel(args):
    values = PAPER_VALUES[args.axis] if args.values is None else args.values
    where = (
        f"device {args.device}, {args.threads} torch thread(s)"
        if args.device
        else f"{args.workers} worker process(es) x {args.threads} thread(s)"
    )
    print(
        f"load average before: {_load()}; axis {args.axis}, {len(values)} values x "
        f"{len(PAPER_ALPHAS)} alphas x {args.seeds} seeds; {where}"
    )
    t = time.perf_counter()
    with worker_client(1 if args.device else args.workers) as client:
        ds = phase_diagram(
            args.axis,
            values,
            PAPER_ALPHAS,
            args.seeds,
            store=args.store,
            client=client,
            device=args.device,
            threads=args.threads,
        )
    wall = time.perf_counter() - t
    print(
        f"wall time {wall:.1f} s for {ds.attrs['cells_computed']} trainings "
        f"({wall / max(ds.attrs['cells_computed'], 1):.3f} s each); load average after: "
        f"{_load()}"
    )
    _table(ds)


def _table(ds):
    axis = ds.attrs["axis"]
    for kind in ("trace_ratio", "pinv"):
        s = summarize(ds, kind)
        print(f"\nD = {kind}: seed-mean c_rel / phase / test accuracy (rows alpha, cols {axis})")
        print(f"{'alpha':>6} " + " ".join(f"{v:>16.4g}" for v in s[axis].values))
        for a in s["alpha"].values:
            row = s.sel(alpha=a)
            print(
                f"{a:6.2f} "
                + " ".join(
                    f"{c:6.2f} {p[:4]:>4} {acc:.3f}"
                    for c, p, acc in zip(
                        row["c_rel"].values,
                        row["phase"].values,
                        row["test_accuracy"].values,
                        strict=True,
                    )
                )
            )
        relu = s.sel(alpha=0.0).isel({axis: 0})
        print(
            f"ReLU, {axis}={float(s[axis][0]):g}: c_rel {float(relu['c_rel']):.3f} "
            f"({relu['phase'].values})"
        )
        flat = s.stack(cell=(axis, "alpha"))
        finite = np.isfinite(flat["c_rel"].values)
        order = np.argsort(np.abs(flat["c_rel"].values[finite]))
        acc = flat["test_accuracy"].values[finite]
        k = max(1, len(order) // 5)
        linear, rest = acc[order[:k]].mean(), acc[order[k:]].mean()
        print(
            f"most linear fifth of the cells (|c_rel| smallest, {k} cells): mean test "
            f"accuracy {linear:.4f}; the other cells {rest:.4f}; best cell {acc.max():.4f}"
        )
        rho = np.corrcoef(np.abs(flat["c_rel"].values[finite]), acc)[0, 1]
        print(f"correlation of |c_rel| with test accuracy over cells: {rho:.3f}")


def table(args):
    import xarray as xr

    ds = xr.open_zarr(args.store, consolidated=False)
    ds.attrs["axis"] = next(d for d in ds["D"].dims if d not in ("alpha", "seed", "kind", "layer"))
    _table(ds.load())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("cell")
    p.add_argument("--label-noise", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.set_defaults(func=cell)
    p = sub.add_parser("speedup")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--singles", type=int, default=2, help="one-by-one runs timed per batch size")
    p.add_argument(
        "--stack-size",
        type=int,
        default=STACK_SIZE,
        help="networks per stack at most (a huge value: one stack)",
    )
    p.add_argument(
        "--batch-sizes",
        type=lambda t: [int(v) for v in t.split(",")],
        default=list(PAPER_VALUES["batch_size"]),
    )
    p.set_defaults(func=speedup)
    p = sub.add_parser("panel")
    p.add_argument("--axis", default="label_noise")
    p.add_argument("--values", type=lambda t: [float(v) for v in t.split(",")])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--store")
    p.add_argument("--device", help="torch device to train on, e.g. cuda (default: the CPU)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.set_defaults(func=panel)
    p = sub.add_parser("table")
    p.add_argument("--store", required=True)
    p.set_defaults(func=table)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
