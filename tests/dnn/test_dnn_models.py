"""Models: structure, initialisation, load-curve points, validation."""

import pytest
import torch

from dnn.datasets import orthogonal_data
from dnn.dropout import MaskSource
from dnn.features import layer_features
from dnn.models import CNN, MLP, Dropout, build_model, linear_network


def test_reference_mlp_shape_and_feature_points(small_data):
    model = build_model("mlp", small_data, seed=0)
    assert len(model.linears) == 7 and model.head.out_features == 10
    feats, logits = layer_features(model, small_data.x_train)
    assert len(feats) == 8  # normalised input + 7 hidden layers; logits dropped
    assert [f.shape[1] for f in feats] == [36] + [100] * 7
    assert logits.shape == (400, 10)
    assert model.training  # mode restored


def test_features_are_read_in_evaluation_mode(small_data):
    model = build_model("mlp", small_data, seed=0, dropout=0.5)
    a, _ = layer_features(model, small_data.x_train)
    b, _ = layer_features(model, small_data.x_train)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_build_model_is_seeded_and_leaves_global_rng_alone(small_data):
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    m1 = build_model("mlp", small_data, seed=7)
    after = torch.rand(3)
    m2 = build_model("mlp", small_data, seed=7)
    assert torch.equal(before, after)
    assert all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters(), strict=True))


def test_orthogonal_init_and_linear_network():
    model = linear_network(dim=20, n_classes=2, depth=4)
    for lin in model.linears:
        assert torch.allclose(lin.weight @ lin.weight.T, torch.eye(20), atol=1e-5)
        assert lin.bias is None
    x, y = torch.randn(5, 20), torch.randn(5, 20)
    model.eval()
    assert torch.allclose(model(2 * x - 3 * y), 2 * model(x) - 3 * model(y), atol=1e-5)
    data = orthogonal_data(20, 20)
    assert len(layer_features(model, data.x_train)[0]) == 4


def test_kaiming_init_and_no_batchnorm():
    model = MLP(10, 3, width=8, depth=3, alpha=0.2, batchnorm=False, init="kaiming")
    assert isinstance(model.input_norm, torch.nn.Identity)
    assert all(not lin.bias.detach().any() for lin in model.linears)


def test_cnn_keeps_shapes(small_data):
    model = build_model("cnn", small_data, seed=0, channels=4, depth=3)
    feats, logits = layer_features(model, small_data.x_train[:50])
    assert [f.shape[1] for f in feats] == [36, 4 * 9, 4 * 9, 4 * 9]
    assert logits.shape == (50, 10)
    with pytest.raises(ValueError, match="even"):
        CNN((1, 5, 5))


def test_dropout_draws_from_its_mask_source():
    drop = Dropout(0.3)
    x = torch.ones(50, 40)
    drop.source = MaskSource([1], [0.3])
    a, b = drop(x), drop(x)  # consecutive masks of the run differ
    assert not torch.equal(a, b) and drop.source.draws == 2
    drop.source = MaskSource([1], [0.3])
    assert torch.equal(a, drop(x))  # the same seed and counter: the same mask
    assert torch.unique(a).tolist() == pytest.approx([0.0, 1 / 0.7])
    drop.eval()
    assert torch.equal(drop(x), x) and drop.source.draws == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": -0.1}, "alpha=-0.1"),
        ({"alpha": 1.5}, "alpha=1.5"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"init": "xavier"}, "init='xavier'"),
        ({"depth": 1}, "depth=1"),
        ({"width": 0}, "width=0: must be an integer >= 1"),
        ({"width": float("nan")}, "width=nan: must be an integer >= 1"),
        ({"depth": 2.5}, "depth=2.5: must be an integer >= 2"),
    ],
)
def test_invalid_options_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(10, 2, **kwargs)


def test_unknown_model_name(small_data):
    with pytest.raises(ValueError, match="unknown model 'resnet'.*mlp, cnn, linear"):
        build_model("resnet", small_data)
