"""Stacked training equals one-by-one training for the same seeds, up to float round-off.

Tolerances: the two paths compute the same arithmetic in other summation orders
(batched vs. unbatched matrix products, hand-written vs. autograd BatchNorm backward),
so they start equal to ~1e-7 relative. Training amplifies round-off (chaotically with
label noise), so runs are kept short: without label noise the epoch losses agree to
1e-5 relative after 3 epochs of 20 steps; with label noise the first epoch agrees to
1e-4. The load curves agree to 5e-3 only: the linear biases in front of a BatchNorm get
pure round-off gradients, which Adam turns into steps of size ~lr in directions that
differ between the two paths; training-mode BatchNorm cancels them exactly, but the
evaluation-mode running means lag behind them by O(lr).
"""

import math

import numpy as np
import pytest
import torch

from dnn import _stacked_cpu as kernels
from dnn.batched import StackedMLP, train_stacked
from dnn.dropout import DROPOUT_KEY, MaskSource
from dnn.features import evaluate
from dnn.models import build_model
from dnn.train import TrainConfig, attach_dropout, train
from fastspring import rng

SPECS = [  # (seed, alpha, dropout)
    (0, 0.0, 0.0),
    (1, 0.5, 0.1),
    (2, 1.0, 0.0),
]


def _models(data, specs, **options):
    return [
        build_model("mlp", data, seed=s, alpha=a, dropout=p, width=24, depth=4, **options)
        for s, a, p in specs
    ]


def _compare(data, configs, specs=SPECS, **options):
    stacked = _models(data, specs, **options)
    results = train_stacked(stacked, data, configs, [s for s, _, _ in specs])
    single = _models(data, specs, **options)
    singles = [
        train(m, data, c, seed=s) for m, c, (s, _, _) in zip(single, configs, specs, strict=True)
    ]
    return stacked, results, single, singles


@pytest.mark.parametrize(
    ("options", "dropout"), [({}, 0.0), ({}, 0.3), ({"batchnorm": False, "bias": False}, 0.2)]
)
def test_fused_cpu_step_equals_the_torch_ops_step(small_data, options, dropout):
    """One step through dnn._stacked_cpu's kernels vs the same step as torch ops.

    Same inputs, masks and parameters: the two differ only in summation order (the
    kernels accumulate the batch reductions in float64). Excluded: the gradients of the
    linear biases in front of a BatchNorm and of the input BatchNorm's shift, which are
    zero up to round-off (BatchNorm's backward centres dz over the batch).
    """
    specs = [(s, a, dropout) for s, a in [(0, 0.0), (1, 0.3), (2, 1.0)]]
    idx = torch.randint(
        0, len(small_data.y_train), (3, 9), generator=torch.Generator().manual_seed(5)
    )
    steps = []
    for fused in (False, True):
        stack = StackedMLP(_models(small_data, specs, **options), fused=fused)
        loss = stack.loss_and_grads(small_data.x_train[idx], small_data.y_train[idx])
        steps.append((loss, stack))
    (loss_t, torch_ops), (loss_f, fused_ops) = steps
    np.testing.assert_allclose(loss_f, loss_t, rtol=1e-6)
    round_off = ("input_norm.bias", *(f"linears.{k}.bias" for k in range(3)))
    compared = 0
    for name, p in torch_ops.params.items():
        if options or name not in round_off:
            scale = p.grad.abs().max()
            assert (fused_ops.params[name].grad - p.grad).abs().max() <= 1e-5 * scale, name
            compared += 1
    assert compared == len(torch_ops.params) - (0 if options else len(round_off))
    for name, buf in torch_ops.buffers.items():
        torch.testing.assert_close(fused_ops.buffers[name], buf, rtol=1e-6, atol=1e-7)


def test_flat_adam_follows_torch_adam():
    """dnn._stacked_cpu.adam_step against torch.optim.Adam (single-tensor loop) for 6 steps."""
    gen = torch.Generator().manual_seed(3)
    start = torch.randn(1000, generator=gen)
    grads = [torch.randn(1000, generator=gen) * 10.0**-k for k in range(6)]
    ref = start.clone().requires_grad_()
    opt = torch.optim.Adam([ref], lr=0.01, foreach=False)
    p, m, v = start.numpy().copy(), np.zeros(1000, np.float32), np.zeros(1000, np.float32)
    for step, g in enumerate(grads, start=1):
        ref.grad = g.clone()
        opt.step()
        kernels.adam_step(p, g.numpy(), m, v, 0.01, 0.9, 0.999, 1e-8, step)
    moved = ref.detach().numpy() - start.numpy()
    assert np.abs(moved).min() > 1e-5  # every entry moved
    np.testing.assert_allclose(p - start.numpy(), moved, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(v, opt.state[ref]["exp_avg_sq"].numpy(), rtol=1e-6)


def test_torch_and_flat_optimizers_update_the_stack_alike(small_data):
    """The torch-ops stack (what a GPU runs) steps torch's Adam over views of the flat buffer.

    Without BatchNorm and biases, so that no gradient is pure round-off (see the module
    docstring) and the two paths stay within float round-off of each other.
    """
    idx = torch.arange(60).view(3, 20)
    flats = []
    for fused in (False, True):
        stack = StackedMLP(_models(small_data, SPECS, batchnorm=False, bias=False), fused=fused)
        opt = stack.optimizer(TrainConfig(lr=0.01))
        assert isinstance(opt, torch.optim.Adam) != fused
        before = stack.flat.clone()
        for _ in range(3):
            stack.loss_and_grads(small_data.x_train[idx], small_data.y_train[idx])
            opt.step()
        assert torch.equal(stack.params["head.weight"].flatten(), stack.flat[-3 * 10 * 24 :])
        flats.append(stack.flat - before)
    torch.testing.assert_close(flats[1], flats[0], rtol=0, atol=1e-6)
    assert flats[0].abs().max() > 1e-2


def test_a_step_loss_is_not_overwritten_by_the_next_step(small_data):
    stack = StackedMLP(_models(small_data, SPECS))
    first = stack.loss_and_grads(
        small_data.x_train[:60].view(3, 20, -1), small_data.y_train[:60].view(3, 20)
    )
    kept = first.clone()
    stack.loss_and_grads(
        small_data.x_train[60:120].view(3, 20, -1), small_data.y_train[60:120].view(3, 20)
    )
    assert torch.equal(first, kept)


def test_fused_kernels_run_on_the_cpu_only(small_data):
    with pytest.raises(ValueError, match="fused=True: the fused kernels run on the CPU"):
        StackedMLP(_models(small_data, SPECS), device="meta", fused=True)


def test_stacked_equals_one_by_one_without_label_noise(small_data):
    configs = [TrainConfig(epochs=3, batch_size=20)] * len(SPECS)
    stacked, results, single, singles = _compare(small_data, configs)
    for ms, rs, m1, r1 in zip(stacked, results, single, singles, strict=True):
        np.testing.assert_allclose(rs.losses, r1.losses, rtol=1e-5)
        np.testing.assert_allclose(
            evaluate(ms, small_data).D_train, evaluate(m1, small_data).D_train, atol=5e-3
        )
        for name in ("linears.2.weight", "norms.2.running_var", "head.weight"):
            a, b = ms.state_dict()[name], m1.state_dict()[name]
            assert torch.allclose(a, b, atol=1e-4), name
        assert int(ms.norms[0].num_batches_tracked) == int(m1.norms[0].num_batches_tracked)


def test_stacked_equals_one_by_one_with_label_noise_for_one_epoch(small_data):
    configs = [TrainConfig(epochs=1, batch_size=40, label_noise=s) for s in (0.0, 0.3, 0.8)]
    _, results, _, singles = _compare(small_data, configs)
    for rs, r1 in zip(results, singles, strict=True):
        np.testing.assert_allclose(rs.losses, r1.losses, rtol=1e-4)


def test_stacked_without_batchnorm_and_bias(small_data):
    configs = [TrainConfig(epochs=2, batch_size=50, optimizer="sgd", lr=0.05)] * 2
    _, results, _, singles = _compare(
        small_data, configs, specs=SPECS[:2], batchnorm=False, bias=False
    )
    for rs, r1 in zip(results, singles, strict=True):
        np.testing.assert_allclose(rs.losses, r1.losses, rtol=1e-5)


def test_early_stopped_networks_are_copied_out_at_their_epoch(small_data):
    configs = [TrainConfig(epochs=30, batch_size=40, lr=1e-2, loss_tol=0.8)] * 2
    _, results, _, singles = _compare(small_data, configs, specs=SPECS[:2])
    for rs, r1 in zip(results, singles, strict=True):
        assert rs.epochs_run == r1.epochs_run < 30
        np.testing.assert_allclose(rs.losses, r1.losses, rtol=1e-3)


def test_a_stack_is_deterministic(small_data):
    configs = [TrainConfig(epochs=2, batch_size=20, label_noise=0.2)] * len(SPECS)
    runs = []
    for _ in range(2):
        models = _models(small_data, SPECS)
        train_stacked(models, small_data, configs, [0, 1, 2])
        runs.append(torch.cat([p.flatten() for m in models for p in m.parameters()]))
    assert torch.equal(*runs)


def test_stack_requirements(small_data):
    with pytest.raises(ValueError, match="one architecture"):
        StackedMLP(_models(small_data, SPECS[:1]) + [build_model("mlp", small_data, width=8)])
    configs = [TrainConfig(batch_size=20), TrainConfig(batch_size=40)]
    with pytest.raises(ValueError, match="share batch_size"):
        train_stacked(_models(small_data, SPECS[:2]), small_data, configs, [0, 1])
    with pytest.raises(ValueError, match="as many configs"):
        train_stacked(_models(small_data, SPECS[:2]), small_data, configs[:1], [0, 1])


def test_explicit_cpu_device_is_the_default(small_data):
    configs = [TrainConfig(epochs=1, batch_size=40, label_noise=0.2)] * 2
    a, b = _models(small_data, SPECS[:2]), _models(small_data, SPECS[:2])
    ra = train_stacked(a, small_data, configs, [0, 1])
    rb = train_stacked(b, small_data, configs, [0, 1], device="cpu")
    assert [r.losses.tolist() for r in ra] == [r.losses.tolist() for r in rb]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_stack_matches_cpu_one_by_one(small_data):
    """Batches, label noise and dropout masks are the same draws on both devices."""
    configs = [TrainConfig(epochs=1, batch_size=40, label_noise=s) for s in (0.0, 0.3, 0.8)]
    models = _models(small_data, SPECS)
    results = train_stacked(models, small_data, configs, [0, 1, 2], device="cuda")
    singles = [
        train(m, small_data, c, seed=s)
        for m, c, s in zip(_models(small_data, SPECS), configs, [0, 1, 2], strict=True)
    ]
    for rs, r1 in zip(results, singles, strict=True):
        np.testing.assert_allclose(rs.losses, r1.losses, rtol=1e-3)
    assert next(models[0].parameters()).device.type == "cpu"


def reference_mask(seed, draw, p, size):
    """Mask ``draw`` of a run, entry by entry from the Philox words (dnn.dropout's rule)."""
    threshold = math.floor((1.0 - p) * 2**32 + 0.5)
    scale = np.float32(1.0) / np.float32(1.0 - p)
    out = np.empty(size, dtype=np.float32)
    for e in range(size):
        words = rng.philox4x32_10(*(np.uint64(v) for v in (draw, 0, e // 4, 0, DROPOUT_KEY, seed)))
        out[e] = scale if int(words[e % 4]) < threshold else 0.0
    return out


@pytest.mark.parametrize(("seed", "p"), [(0, 0.1), (7, 0.5), (2**32 - 1, 0.3)])
def test_masks_follow_the_philox_rule(seed, p):
    source = MaskSource([seed], [p])
    for draw in range(2):
        got = source.draw((3, 5))
        assert got.shape == (1, 3, 5) and source.draws == draw + 1
        np.testing.assert_array_equal(got.numpy().ravel(), reference_mask(seed, draw, p, 15))


DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    ),
]


@pytest.mark.parametrize("device", DEVICES)
def test_dropout_masks_are_drawn_where_the_stack_computes(small_data, device):
    """A stack's masks: on its device, Bernoulli(1 - p) scaled by 1/(1 - p), the same bits
    on every device, and the masks of one-by-one training (the Dropout module)."""
    n, d, seeds = 400, 250, [0, 1, 2]  # SPECS: dropout 0, 0.1, 0
    stack = StackedMLP(_models(small_data, SPECS), seeds, device)
    masks = stack.masks.draw((n, d))
    assert masks.device.type == device and masks.shape == (3, n, d)
    assert torch.all(masks[0] == 1) and torch.all(masks[2] == 1)
    scale = torch.tensor(1.0) / torch.tensor(0.9)
    assert set(torch.unique(masks[1]).tolist()) == {0.0, scale.item()}
    kept = (masks[1] > 0).double().mean().item()
    assert abs(kept - 0.9) < 4 * (0.9 * 0.1 / (n * d)) ** 0.5
    on_cpu = StackedMLP(_models(small_data, SPECS), seeds).masks.draw((n, d))
    assert torch.equal(masks.cpu(), on_cpu)
    single = _models(small_data, SPECS[1:2])[0]
    attach_dropout(single, 1)
    single.train()
    assert torch.equal(single.drops[0](torch.ones(n, d)), on_cpu[1])


def test_dropout_inputs_are_checked(small_data):
    with pytest.raises(ValueError, match=r"seeds must be integers in \[0, 2\*\*32\)"):
        MaskSource([-1], [0.1])
    model = _models(small_data, SPECS[1:2])[0]
    model.drops[1].p = 0.3
    with pytest.raises(ValueError, match=r"must share p, got \[0.1, 0.3\]"):
        attach_dropout(model, 0)
