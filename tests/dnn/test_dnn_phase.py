"""Phase diagrams: labelled result, resumable store, stacked cells, summary, figure, CLI."""

import numpy as np
import pytest
import torch
import xarray as xr
import zarr
from hypothesis import given
from hypothesis import strategies as st

from dnn.cli import build_parser
from dnn.phase import phase_diagram, stack_members, summarize
from dnn.plots import curve_figure, phase_figure

TINY = dict(width=16, depth=4, size=6, n_train=300, progress=False)


@pytest.fixture(scope="module")
def label_noise_grid():
    return phase_diagram("label-noise", [0.0, 0.5], [0.0, 1.0], seeds=2, epochs=3, **TINY)


def test_dataset_layout(label_noise_grid):
    ds = label_noise_grid
    assert ds["D"].dims == ("label_noise", "alpha", "seed", "kind", "layer")
    assert ds.sizes == {"label_noise": 2, "alpha": 2, "seed": 2, "kind": 2, "layer": 4}
    for name in ("D_test", "v", "c", "c_rel", "phase", "test_accuracy", "final_loss"):
        assert name in ds
    assert ds["phase"].dims == ("label_noise", "alpha", "seed", "kind")
    assert np.all(np.isfinite(ds["D"].values))
    assert ds.attrs["axis"] == "label_noise" and ds.attrs["cells_computed"] == 8
    # curvature metrics are those of analysis.load_curve_metrics on each curve
    from analysis import load_curve_metrics

    curve = ds["D"].isel(label_noise=1, alpha=0, seed=1, kind=0).values
    assert ds["c"].isel(label_noise=1, alpha=0, seed=1, kind=0) == pytest.approx(
        float(load_curve_metrics(curve)["c"])
    )


def test_cells_do_not_depend_on_the_grid(label_noise_grid):
    one = phase_diagram("label_noise", [0.5], [1.0], seeds=[1], epochs=3, **TINY)
    xr.testing.assert_equal(
        one["D"].isel(label_noise=0, alpha=0, seed=0),
        label_noise_grid["D"].sel(label_noise=0.5, alpha=1.0, seed=1),
    )


def test_resume_from_store_with_stacked_cells(tmp_path):
    """Batch sizes 20 (stacked) and 300 (full batch); a second call computes nothing and
    a store missing some cells recomputes exactly the same numbers."""
    args = dict(axis="batch_size", values=[20, 300], alphas=[0.0, 0.5], seeds=2, epochs=2)
    store = tmp_path / "grid.zarr"
    first = phase_diagram(**args, store=store, **TINY)
    again = phase_diagram(**args, store=store, **TINY)
    assert again.attrs["cells_computed"] == 0
    xr.testing.assert_equal(first["D"], again["D"])
    fresh = phase_diagram(**args, **TINY)
    xr.testing.assert_equal(first["D"], fresh["D"])
    partial = phase_diagram(**{**args, "alphas": [0.5]}, **TINY)
    xr.testing.assert_equal(partial["D"].sel(alpha=0.5), first["D"].sel(alpha=0.5))
    # an interrupted run: two cells, one of each kind, lost their data and done flags
    group = zarr.open_group(store, mode="r+")
    lost = ([0, 1], [0, 1], [0, 1])  # (batch 20, alpha 0, seed 0), (batch 300, alpha 0.5, seed 1)
    group["_cell_done"].vindex[lost] = False
    d = group["D"][...]
    d[lost] = np.nan
    group["D"][...] = d
    resumed = phase_diagram(**args, store=store, **TINY)
    assert resumed.attrs["cells_computed"] == 2
    xr.testing.assert_equal(first["D"], resumed["D"])


@given(n=st.integers(1, 200), size=st.integers(1, 300))
def test_stack_members_splits_in_order_into_as_few_equal_stacks_as_fit(n, size):
    members = [(i % 7, i) for i in range(n)]
    stacks = stack_members(members, size)
    assert [m for stack in stacks for m in stack] == members
    sizes = [len(stack) for stack in stacks]
    assert max(sizes) - min(sizes) <= 1
    assert max(sizes) <= size
    if len(stacks) > 1:  # no fewer stacks would do
        assert -(-n // (len(stacks) - 1)) > size
    assert stack_members(members, None) == [members]


def test_stack_members_on_the_paper_panel():
    members = list(range(60))
    sizes = {k: [len(s) for s in stack_members(members, k)] for k in (12, 25, 60, 100)}
    assert sizes == {12: [12] * 5, 25: [20] * 3, 60: [60], 100: [60]}


def test_cells_agree_whatever_the_stack_size():
    """One network per stack vs all in one stack: the same training up to float round-off."""
    args = dict(axis="batch_size", values=[20], alphas=[0.0, 0.5], seeds=2, epochs=2, **TINY)
    one_each = phase_diagram(**args, stack_size=1)
    together = phase_diagram(**args, stack_size=10**6)
    np.testing.assert_allclose(one_each["D"], together["D"], atol=5e-3)
    np.testing.assert_allclose(one_each["final_loss"], together["final_loss"], rtol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_cells_agree_with_cpu_cells(label_noise_grid):
    """On a GPU every axis value trains as one stack; on the CPU these cells train one by one.

    The sums run in other orders, and the load curves of the ReLU cells amplify that
    round-off: on the CPU, stacked and one-by-one training of these cells give losses
    equal to 1e-7 but ReLU curves up to 0.7 % (trace ratio) and 16 % (pinv, last layer)
    apart, and an H200 gave the same picture (pinv 9.33 vs 8.47). The losses and the
    linear cells (alpha = 1, equal to 1e-7 on the CPU) are well conditioned.
    """
    gpu = phase_diagram(
        "label-noise", [0.0, 0.5], [0.0, 1.0], seeds=2, epochs=3, device="cuda", **TINY
    )
    np.testing.assert_allclose(gpu["final_loss"], label_noise_grid["final_loss"], rtol=1e-3)
    np.testing.assert_allclose(
        gpu["D"].sel(alpha=1.0), label_noise_grid["D"].sel(alpha=1.0), atol=5e-3
    )


def test_summary_and_figure(label_noise_grid):
    s = summarize(label_noise_grid, "pinv")
    assert s["c_rel"].dims == ("label_noise", "alpha")
    assert s["D"].dims == ("label_noise", "alpha", "layer")
    assert set(np.unique(s["phase"].values)) <= {"concave", "linear", "convex", "undetermined"}
    ax = phase_figure(label_noise_grid)
    assert ax.get_xlabel().startswith("label + data noise")
    with pytest.raises(ValueError, match="kind='eq3'"):
        summarize(label_noise_grid, "eq3")


def test_summary_leaves_out_diverged_seeds_and_counts_them(label_noise_grid):
    from analysis import load_curve_metrics

    ds = label_noise_grid.copy(deep=True)
    ds["D"][1, 0, 0, 0, 2] = np.nan  # seed 0 of (label_noise 0.5, alpha 0) diverged
    s = summarize(ds)
    assert s["n_curves"].values.tolist() == [[2, 2], [1, 2]]
    kept = ds["D"].sel(kind="trace_ratio").isel(label_noise=1, alpha=0, seed=1).values
    np.testing.assert_array_equal(s["D"].isel(label_noise=1, alpha=0).values, kept)
    alone = load_curve_metrics(kept)
    for name in ("v", "c", "c_rel", "phase"):  # c_rel may be NaN: undetermined
        np.testing.assert_equal(s[name].isel(label_noise=1, alpha=0).values, alone[name])
    both = ds["D"].sel(kind="trace_ratio").isel(label_noise=0, alpha=1).values
    drop = both[:, 0] - both[:, -1]
    expected = load_curve_metrics(both.mean(0), atol=3 * drop.std(ddof=1) / np.sqrt(2))
    assert s["phase"].isel(label_noise=0, alpha=1) == expected["phase"]
    np.testing.assert_array_equal(s["D"].isel(label_noise=0, alpha=1).values, both.mean(0))
    assert s["test_accuracy"].isel(label_noise=1, alpha=0) == pytest.approx(
        float(ds["test_accuracy"].isel(label_noise=1, alpha=0).mean())
    )


def test_bad_axis():
    with pytest.raises(ValueError, match="axis='noise'.*label_noise, lr, dropout, batch_size"):
        phase_diagram("noise")
    with pytest.raises(ValueError, match="alpha=2.0"):
        phase_diagram("lr", [1e-3], alphas=[2.0])
    with pytest.raises(ValueError, match="dropout=1.5"):
        phase_diagram("dropout", [1.5])
    with pytest.raises(ValueError, match=r"stack_size must be an integer in \[1, inf\], got 0"):
        phase_diagram("batch_size", [5], stack_size=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 2.5}, "epochs=2.5: must be an integer >= 1"),
        ({"seeds": [1.7]}, "seeds=1.7: must be an integer >= 0"),
        ({"seeds": 0}, "seeds=0: must be an integer >= 1"),
        ({"threads": -1}, "threads=-1: must be an integer >= 1"),
        ({"width": float("nan")}, "width=nan"),
        ({"device": "foo"}, "device='foo': not a torch device"),
        ({"batch_size": 40}, "batch_size=40 has no effect: batch_size is this diagram's axis"),
        # 2560 % 3 == 1: refused before any cell trains, though batch 5 comes first
        ({"values": [5, 3]}, "batch_size=3 leaves a last batch of one sample"),
    ],
)
def test_bad_arguments_are_refused_before_training(kwargs, match, monkeypatch):
    """Each error names the parameter; no cell starts training."""
    monkeypatch.setattr("dnn.phase.run_grid", lambda *a, **k: pytest.fail("grid started"))
    with pytest.raises(ValueError, match=match):
        phase_diagram("batch_size", **{"values": [5], **kwargs})


def test_cli_phase_and_curve(tmp_path, capsys):
    parser = build_parser()
    args = parser.parse_args(
        (
            "dnn-phase --axis dropout --values 0,0.2 --alphas 0,1 --seeds 2 --epochs 2 "
            "--width 16 --depth 3 --size 6 --n-train 200 --workers 1 --no-progress"
        ).split()
        + ["--out", str(tmp_path / "p.nc"), "--plot", str(tmp_path / "p.png")]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "8 networks: trained 8" in out and (tmp_path / "p.png").exists()
    assert xr.open_dataset(tmp_path / "p.nc")["D"].sizes["dropout"] == 2
    args = parser.parse_args(
        (
            "dnn-curve --epochs 4 --record-every 2 --width 16 --depth 3 --size 6 "
            "--n-train 200 --label-noise 0.2 --kind regression"
        ).split()
        + ["--out", str(tmp_path / "c.nc"), "--plot", str(tmp_path / "c.png")]
    )
    assert args.func(args) == 0
    ds = xr.open_dataset(tmp_path / "c.nc")
    assert ds["record"].values.tolist() == [0, 2, 4]
    assert curve_figure(ds).get_xlabel().startswith("layer")


def test_cli_linear_setting(capsys):
    parser = build_parser()
    args = parser.parse_args(
        (
            "dnn-curve --model linear --dataset orthogonal --optimizer sgd --lr 0.01 "
            "--epochs 3 --depth 3 --size 5"
        ).split()
    )
    assert args.func(args) == 0
    assert "orthogonal" in capsys.readouterr().out


def test_cli_rejects_bad_values():
    parser = build_parser()
    args = parser.parse_args(["dnn-phase", "--axis", "lr", "--values", "1e-3:x:3"])
    with pytest.raises(ValueError, match="--values"):
        args.func(args)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dnn-curve", "--epochs", "0"], "argument --epochs: must be an integer >= 1, got 0"),
        (["dnn-curve", "--width", "-1"], "argument --width: must be an integer >= 1, got -1"),
        (["dnn-curve", "--split-seed", "-1"], "argument --split-seed: must be an integer >= 0"),
        (["dnn-phase", "--axis", "lr", "--workers", "0"], "argument --workers: must be"),
        (["dnn-phase", "--stack-max-batch", "0"], "argument --stack-max-batch: must be"),
    ],
)
def test_cli_refuses_counts_out_of_range_instead_of_using_defaults(argv, message, capsys):
    """Counts of 0 once fell back to the defaults (``args.epochs or 100``) silently."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def _worker_malloc_trim():
    import os

    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_local_cluster_workers_equal_the_local_run(label_noise_grid, monkeypatch):
    """Cells trained on worker_client's local_cluster processes are the same bits, and
    the workers run without Dask's MALLOC_TRIM_THRESHOLD_ (it slows training 1.7x), also
    when this process holds it (an ordinary Dask cluster started earlier writes it here)."""
    from dnn.phase import worker_client

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with worker_client(2) as client:
        assert set(client.run(_worker_malloc_trim).values()) == {None}
        assert _worker_malloc_trim() == "65536"  # this process's own setting is kept
        remote = phase_diagram("label-noise", [0.0, 0.5], [0.0, 1.0], seeds=2, epochs=3,
                               client=client, **TINY)  # fmt: skip
    xr.testing.assert_equal(remote["D"], label_noise_grid["D"])
    xr.testing.assert_equal(remote["test_accuracy"], label_noise_grid["test_accuracy"])


def test_cuda_device_without_a_gpu_is_refused_by_name(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device='cuda': torch finds no CUDA GPU here"):
        phase_diagram("batch_size", [5], device="cuda")
