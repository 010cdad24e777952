"""One-by-one training: it learns, it is reproducible, noise and stopping work as stated."""

import math

import numpy as np
import pytest
import torch

from dnn.features import evaluate
from dnn.models import build_model
from dnn.noise import corrupt, run_generator
from dnn.train import TrainConfig, train


def _run(data, seed=0, record_every=None, **config):
    model = build_model("mlp", data, seed=seed, width=32, depth=4, alpha=0.2)
    result = train(model, data, TrainConfig(**config), seed=seed, record_every=record_every)
    return model, result


def test_short_run_lowers_the_loss_and_separates(small_data):
    model, result = _run(small_data, epochs=30, lr=1e-2, record_every=10)
    assert result.losses[-1] < 0.5 * result.losses[0]
    assert result.curve_epochs.tolist() == [0, 10, 20, 30]
    assert result.curves.shape == (4, 2, 4)
    ev = evaluate(model, small_data)
    assert ev.train_accuracy > 0.6 and ev.test_accuracy > 0.4  # chance: 0.1
    trained, initial = result.curves[-1, 0], result.curves[0, 0]
    assert trained[-1] < initial[-1] - 0.5  # the deepest layer separates better


def test_same_seed_same_curves_other_seed_other_curves(small_data):
    options = dict(epochs=5, batch_size=50, label_noise=0.3, record_every=5)
    _, a = _run(small_data, **options)
    _, b = _run(small_data, **options)
    _, c = _run(small_data, seed=1, **options)
    assert np.array_equal(a.losses, b.losses) and np.array_equal(a.curves, b.curves)
    assert not np.array_equal(a.curves, c.curves)


def test_early_stopping(small_data):
    _, result = _run(small_data, epochs=50, loss_tol=1.5)
    assert result.epochs_run < 50 and result.losses[-1] < 1.5 <= result.losses[-2]


def test_a_diverged_run_stops_at_its_first_non_finite_loss(small_data):
    _, result = _run(small_data, epochs=20, lr=1e12, optimizer="sgd", batch_size=50)
    assert not np.isfinite(result.losses[-1]) and np.all(np.isfinite(result.losses[:-1]))
    assert result.epochs_run < 20


def test_to_xarray(small_data):
    _, result = _run(small_data, epochs=4, record_every=2)
    ds = result.to_xarray()
    assert ds["D"].dims == ("record", "kind", "layer")
    assert ds["record"].values.tolist() == [0, 2, 4] and ds.sizes["epoch"] == 4


def test_label_and_data_noise():
    g = torch.Generator().manual_seed(0)
    x, y = torch.zeros(200, 30), torch.zeros(200, dtype=torch.int64)
    xn, yn = corrupt(x, y, 0.25, 2.0, 10, g)
    # round(s n) = 50 labels reset to uniform classes (about 1 in 10 stays 0)
    assert 35 <= int((yn != 0).sum()) <= 50
    assert float(xn.std()) == pytest.approx(0.25 * 2.0, rel=0.05)
    assert torch.equal(y, torch.zeros(200, dtype=torch.int64))  # inputs untouched
    same = corrupt(x, y, 0.0, 2.0, 10, g)
    assert same[0] is x and same[1] is y


@pytest.mark.parametrize(("n", "s", "k"), [(200, 0.25, 50), (5, 0.5, 3), (4, 0.3, 1), (7, 1.0, 7)])
def test_label_noise_resets_round_s_n_labels(n, s, k):
    """k = round(s n) labels, halves rounded up; 2**62 classes make a reset label differ."""
    y = torch.zeros(n, dtype=torch.int64)
    _, yn = corrupt(torch.zeros(n, 3), y, s, 1.0, 2**62, torch.Generator().manual_seed(1))
    assert int((yn != 0).sum()) == k


def test_run_noise_is_not_the_initialisation_stream(small_data):
    """The run generator's draws differ from those that initialised the weights."""
    model = build_model("mlp", small_data, seed=3, width=32, depth=4)
    first = model.linears[0].weight.detach().flatten()[:8]
    bound = 1.0 / math.sqrt(small_data.in_dim)
    replay = torch.empty(8).uniform_(-bound, bound, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(first, replay)  # build_model seeds torch with the seed
    ours = torch.empty(8).uniform_(-bound, bound, generator=run_generator(3))
    assert not torch.allclose(first, ours)
    again = [torch.rand(4, generator=run_generator(3)) for _ in range(2)]
    assert torch.equal(*again)


def test_noise_into_buffers_is_the_same_noise():
    x, y = torch.randn(50, 7), torch.randint(0, 10, (50,))
    fresh = corrupt(x, y, 0.3, 1.5, 10, torch.Generator().manual_seed(4))
    out = (torch.empty_like(x), torch.empty_like(y))
    buffered = corrupt(
        x.clone(), y.clone(), 0.3, 1.5, 10, torch.Generator().manual_seed(4), out=out
    )
    assert buffered[0] is out[0] and buffered[1] is out[1]
    assert torch.equal(fresh[0], buffered[0]) and torch.equal(fresh[1], buffered[1])


def test_in_place_activations_train_bit_for_bit_like_out_of_place_ones(small_data):
    runs = []
    for inplace in (True, False):
        model = build_model("mlp", small_data, seed=2, width=32, depth=4, alpha=0.3, dropout=0.1)
        for act in model.acts:
            act.inplace = inplace
        result = train(model, small_data, TrainConfig(epochs=5, label_noise=0.4), seed=2)
        runs.append((result.losses, model.state_dict()))
    (losses_a, state_a), (losses_b, state_b) = runs
    assert np.array_equal(losses_a, losses_b)
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs=0"),
        ({"epochs": 2.5}, "epochs=2.5: must be an integer >= 1"),
        ({"epochs": float("nan")}, "epochs=nan"),
        ({"batch_size": float("nan")}, "batch_size=nan: must be an integer >= 2"),
        ({"lr": 0.0}, "lr=0.0"),
        ({"lr": float("inf")}, "lr=inf: must be a finite number"),
        ({"optimizer": "rmsprop"}, "optimizer='rmsprop'.*adam, sgd"),
        ({"batch_size": 1}, "batch_size=1"),
        ({"label_noise": 1.2}, "label_noise=1.2"),
    ],
)
def test_config_errors_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_single_sample_last_batch_is_refused(small_data):
    with pytest.raises(ValueError, match="batch_size=3 leaves a last batch of one"):
        _run(small_data, epochs=1, batch_size=3)


def test_sgd_linear_setting_runs():
    from dnn.datasets import orthogonal_data

    data = orthogonal_data(32, 32, seed=0)
    model = build_model("linear", data, seed=0, depth=4)
    result = train(
        model, data, TrainConfig(epochs=20, lr=0.05, optimizer="sgd", loss_tol=0), seed=0
    )
    assert result.losses[-1] < result.losses[0]


def test_cnn_trains(small_data):
    model = build_model("cnn", small_data, seed=0, channels=4, depth=3)
    result = train(model, small_data, TrainConfig(epochs=3, lr=1e-2), seed=0)
    assert result.losses[-1] < result.losses[0]
    assert evaluate(model, small_data).D_train.shape == (2, 4)
