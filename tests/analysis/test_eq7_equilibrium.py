"""Eq. 7 without a simulator: force balance, mobilisation rule, and a plain NumPy
integration of the noiseless overdamped map as an independent reference."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from analysis import equilibrium, friction_activation, mobilised_count
from tests.reference.chain import forces

Ls = st.integers(1, 30)
ks = st.floats(0.05, 20.0)
ys = st.floats(0.0, 50.0)
mus = st.floats(0.0, 2.0)


@given(Ls, ks, ys, mus)
def test_eq7_is_a_rest_state_with_the_right_mobilised_blocks(L, k, y, mu):
    eq = equilibrium(L, k, y, mu)
    m = int(eq.m)
    assert 0 <= m <= L
    # brute-force definition of m
    expected_m = max([j for j in range(L + 1) if j == 0 or k * y > mu * j * (j + 1) / 2])
    assert m == expected_m == mobilised_count(L, k, y, mu)
    F = forces(eq.x, k, y)
    scale = 1e-12 * (k * y + mu * L * L + 1)
    # every moved block sits exactly at the friction threshold, and moved to the right
    np.testing.assert_allclose(F[L - m :], mu, atol=scale)
    assert np.all(eq.x[L - m :] >= -scale)
    # the blocks that never moved are at 0 and their force does not exceed mu
    assert np.all(eq.x[: L - m] == 0)
    assert np.all(F[: L - m] <= mu + scale)
    np.testing.assert_allclose(eq.d, y - np.r_[0.0, eq.x])


@given(
    st.integers(1, 10**12),
    ks,
    st.floats(0.0, 1e15),
    st.floats(0.0, 2.0) | st.floats(1e-300, 1e-6),
)
def test_mobilised_count_on_long_chains_meets_its_definition(L, k, y, mu):
    # the rule of Eq. 7 in plain Python floats: the deepest j blocks move iff this holds;
    # for mu >= 0 it holds for a prefix j = 1..m, so m is where it stops holding
    def moves(j):
        return k * y > mu * j * (j + 1) / 2

    m = int(mobilised_count(L, k, y, mu))
    assert 0 <= m <= L
    assert m == 0 or moves(m)
    assert m == L or not moves(m + 1)


def test_mobilised_count_at_exact_boundaries_of_a_billion_blocks():
    # k y = mu m (m + 1) / 2 exactly (integers below 2^53): m blocks are one too many
    for m in (1, 2, 10**6, 10**7 + 1):
        y = m * (m + 1) / 2
        assert mobilised_count(10**9, 1.0, y, 1.0) == m - 1
        assert mobilised_count(10**9, 1.0, np.nextafter(y, np.inf), 1.0) == m
    assert mobilised_count(10**9, 1.0, 1e30, 1.0) == 10**9
    assert mobilised_count(10**9, 1.0, 0.0, 0.0) == 0
    assert mobilised_count(10**9, 1.0, 0.0, -1.0) == 10**9


@given(Ls, ks, st.floats(0.01, 50.0), st.floats(-2.0, 2.0))
def test_full_formula_and_partial_false(L, k, y, mu):
    eq = equilibrium(L, k, y, mu, partial=False)
    ell = np.arange(1, L + 1)
    np.testing.assert_allclose(
        eq.x, ell * y / (L + 1) - mu / (2 * k) * ell * (L + 1 - ell), rtol=1e-12, atol=1e-12 * y
    )
    np.testing.assert_allclose(forces(eq.x, k, y), mu, atol=1e-10 * (k * y + abs(mu) * L * L))
    if mu <= 0:  # negative effective friction mobilises everything (Eq. 8, convex)
        assert equilibrium(L, k, y, mu).m == L


def test_reference_defaults_are_partially_mobilised():
    # L = 7, k = y = 1, mu = 0.1: k y = 1 < 0.1 * 28 = 2.8, and only 3 blocks move
    eq = equilibrium(7, 1.0, 1.0, 0.1)
    assert eq.m == 3
    np.testing.assert_allclose(eq.x, [0, 0, 0, 0, 0.1, 0.3, 0.6], atol=1e-15)


def test_vectorised_over_parameters():
    k = np.array([1.0, 2.0])[:, None]
    y = np.array([0.5, 1.0, 20.0])
    eq = equilibrium(5, k, y, 0.1)
    assert eq.x.shape == (2, 3, 5) and eq.d.shape == (2, 3, 6) and eq.m.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            one = equilibrium(5, k[i, 0], y[j], 0.1)
            np.testing.assert_array_equal(one.x, eq.x[i, j])
            assert one.m == eq.m[i, j]


def test_invalid_arguments():
    with pytest.raises(ValueError, match=r"L must be an integer in \[1, inf\], got 0"):
        equilibrium(0, 1.0, 1.0, 0.1)
    for L in (2.5, True, "3"):  # no silent int(2.5) = 2
        with pytest.raises(TypeError, match="L must be an integer"):
            equilibrium(L, 1.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="k must be > 0"):
        equilibrium(3, 0.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="y must be >= 0"):
        equilibrium(3, 1.0, -1.0, 0.1)


@given(
    st.integers(1, 12),
    st.floats(0.5, 2.0),
    st.floats(0.1, 3.0),
    st.floats(0.0, 0.3),
    st.floats(0.1, 0.45),
)
def test_noiseless_map_in_numpy_converges_to_eq7(L, k, y, mu, eta_k):
    """x <- x + eta phi(F(x)), synchronous, from rest: an independent reference."""
    eq = equilibrium(L, k, y, mu)
    # stay away from the mobilisation thresholds, where convergence is arbitrarily slow
    j = np.arange(1, L + 1)
    assume(np.all(np.abs(k * y - mu * j * (j + 1) / 2) > 0.05 * k * y))
    eta = eta_k / k
    x = np.zeros(L)
    for _ in range(40):
        for _ in range(500):
            x = x + eta * friction_activation(forces(x, k, y), mu, mu)
        if np.max(np.abs(x - eq.x)) < 1e-12 * (1 + y):
            break
    np.testing.assert_allclose(x, eq.x, rtol=0, atol=1e-11 * (1 + y))
