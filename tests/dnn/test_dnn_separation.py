"""Data separation: Eq. 3 and Eq. 9 against direct NumPy, hand-made cases and invariances."""

import numpy as np
import pytest
import torch

from dnn.separation import PINV_RTOL, regression_load, scatter_matrices, separation


def _direct(x, y):
    """Eq. 2 straight from the definition, in float64 loops over classes."""
    x = np.asarray(x, dtype=np.float64)
    mu = x.mean(axis=0)
    d = x.shape[1]
    sb, sw = np.zeros((d, d)), np.zeros((d, d))
    for k in np.unique(y):
        xk = x[y == k]
        mk = xk.mean(axis=0)
        sb += len(xk) * np.outer(mk - mu, mk - mu)
        sw += (xk - mk).T @ (xk - mk)
    return sw / len(x), sb / len(x)


@pytest.fixture
def features():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 600)
    x = rng.normal(size=(600, 30)) + 0.7 * rng.normal(size=(10, 30))[y]
    return x.astype(np.float32), y


def test_scatter_matrices_match_the_definition(features):
    x, y = features
    sw, sb = scatter_matrices(x, y)
    sw_ref, sb_ref = _direct(x, y)
    np.testing.assert_allclose(sw, sw_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(sb, sb_ref, rtol=1e-12, atol=1e-13)


def test_both_kinds_match_numpy(features):
    x, y = features
    sw, sb = _direct(x, y)
    assert separation(x, y) == pytest.approx(np.log(np.trace(sw) / np.trace(sb)), rel=1e-12)
    ref = np.log(np.trace(sw @ np.linalg.pinv(sb, rcond=PINV_RTOL, hermitian=True)))
    assert separation(x, y, "pinv") == pytest.approx(ref, rel=1e-10)


def test_torch_tensors_and_numpy_agree(features):
    x, y = features
    assert separation(torch.from_numpy(x), torch.from_numpy(y), "pinv") == separation(x, y, "pinv")


def test_hand_made_two_classes():
    """Class 0 at (-1, 0), class 1 at (1, 0), each spread (+-b, +-a): Sigma_b = diag(1, 0),
    Sigma_w = diag(b^2, a^2), so D_trace = log(a^2 + b^2) and D_pinv = log(b^2)."""
    a, b = 0.5, 0.25
    offsets = np.array([[b, a], [b, -a], [-b, a], [-b, -a]])
    x = np.vstack([offsets + [-1, 0], offsets + [1, 0]])
    y = np.repeat([0, 1], 4)
    assert separation(x, y) == pytest.approx(np.log(a * a + b * b), rel=1e-13)
    assert separation(x, y, "pinv") == pytest.approx(np.log(b * b), rel=1e-13)


def test_two_gaussian_classes_with_known_covariances():
    """Means +-m e_1, within-class covariance diag(s^2): D_trace -> log(sum s^2 / m^2),
    D_pinv -> log(s_1^2 / m^2) (Sigma_b = m^2 e_1 e_1^T)."""
    rng = np.random.default_rng(2)
    m, s = 1.5, np.array([0.5, 1.0, 2.0, 0.3])
    n = 40_000
    y = np.repeat([0, 1], n // 2)
    x = rng.normal(size=(n, 4)) * s
    x[:, 0] += np.where(y == 0, -m, m)
    assert separation(x, y) == pytest.approx(np.log(np.sum(s**2) / m**2), abs=0.03)
    assert separation(x, y, "pinv") == pytest.approx(np.log(s[0] ** 2 / m**2), abs=0.03)


def test_trace_ratio_is_invariant_to_scaling_and_shifts(features):
    x, y = features
    base = separation(x, y)
    assert separation(3.7 * x.astype(np.float64) + 11.0, y) == pytest.approx(base, rel=1e-12)


def test_pinv_is_invariant_to_invertible_maps_when_sigma_b_is_invertible(features):
    """d = 6 <= K - 1 = 9: Sigma_b has full rank and Eq. 9 is invariant under any
    invertible linear map."""
    x, y = features
    x = x[:, :6].astype(np.float64)
    g = np.random.default_rng(3).normal(size=(6, 6))
    assert separation(x @ g.T, y, "pinv") == pytest.approx(separation(x, y, "pinv"), rel=1e-9)


def test_pinv_is_invariant_to_orthogonal_maps_always(features):
    x, y = features
    q, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(30, 30)))
    assert separation(x.astype(np.float64) @ q.T, y, "pinv") == pytest.approx(
        separation(x, y, "pinv"), rel=1e-9
    )


def test_pinv_is_not_invariant_to_general_maps_when_sigma_b_is_singular(features):
    """d = 30 > K - 1: the pseudo-inverse does not commute with non-orthogonal maps."""
    x, y = features
    g = np.random.default_rng(5).normal(size=(30, 30))
    assert abs(separation(x.astype(np.float64) @ g.T, y, "pinv") - separation(x, y, "pinv")) > 0.05


def test_pinv_ignores_directions_sigma_b_does_not_use(features):
    """Appending exact copies of columns adds only round-off directions to Sigma_b;
    the cutoff drops them, so D_pinv is that of the features seen through the
    injective map [I; I] / sqrt(2) (an isometry): unchanged."""
    x, y = features
    x = x.astype(np.float64)
    doubled = np.hstack([x, x]) / np.sqrt(2)
    assert separation(doubled, y, "pinv") == pytest.approx(separation(x, y, "pinv"), rel=1e-8)


def test_regression_load():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(200, 5))
    t = x @ rng.normal(size=(5, 2)) + 0.3
    assert regression_load(x, t) < 1e-12
    constant = np.ones((200, 3))
    target = rng.normal(size=200)
    assert regression_load(constant, target) == pytest.approx(np.std(target), rel=1e-12)


@pytest.mark.parametrize("kind", ["trace_ratio", "pinv"])
def test_degenerate_layers_give_infinities_not_nan(kind):
    y = np.repeat([0, 1, 2], 4)
    dead = np.zeros((12, 5))  # every unit dead: Sigma_w = Sigma_b = 0
    assert separation(dead, y, kind) == np.inf
    same_means = np.tile([[1.0, 2.0], [-1.0, -2.0]], (6, 1))  # each class: +-(1, 2)
    assert separation(same_means, y, kind) == np.inf
    points = np.eye(3)[y] * 2.0  # each class one point: Sigma_w = 0
    assert separation(points, y, kind) == -np.inf
    diverged = np.where(np.arange(12)[:, None] == 5, np.nan, same_means[:, :1])
    assert np.isnan(separation(diverged, y, kind))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_regression_load_of_a_diverged_layer_is_nan(bad):
    """A non-finite feature gives NaN, not a LinAlgError from the least squares."""
    x = np.random.default_rng(8).normal(size=(30, 4))
    x[7, 2] = bad
    assert np.isnan(regression_load(x, np.eye(3)[np.arange(30) % 3]))


def test_errors_name_the_problem(features):
    x, y = features
    with pytest.raises(ValueError, match="kind='trace'"):
        separation(x, y, "trace")
    with pytest.raises(ValueError, match="two classes"):
        separation(x, np.zeros(len(y)))
    with pytest.raises(ValueError, match="rows"):
        separation(x, y[:-1])
    for rtol in (np.nan, -1e-10, 1.0):
        with pytest.raises(ValueError, match=r"rtol=.*\[0, 1\)"):
            separation(x, y, "pinv", rtol=rtol)


def test_regression_kind_of_load_curves():
    from dnn.features import layer_load

    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, 300)
    perfect = np.eye(3)[y] + 0.0
    assert layer_load(perfect, y, "regression") < 1e-12
    assert layer_load(rng.normal(size=(300, 4)), y, "regression") > 0.4
    with pytest.raises(ValueError, match="kind='mse'.*regression"):
        layer_load(perfect, y, "mse")
