"""Load-curve metrics, load curves and elastic energy (issue 4, point 6).

Expected values come from independent algebra: for a quadratic curve
``D_l = a + b l + q l**2`` the contributions are ``delta_l = -b - q (2 l - 1)``, so
``c = delta_1 - delta_L = 2 q (L - 1)`` and ``D_0 - D_L = -b L - q L**2``.
"""

import math
import statistics

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from analysis import (
    DEFAULT_PHASE_TOL,
    elastic_energy,
    equiseparated,
    load_curve,
    load_curve_metrics,
    minimum_elastic_energy,
)

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
n_points = st.integers(3, 31)


@st.composite
def curves(draw, n=None):
    n = draw(n_points) if n is None else n
    vals = draw(st.lists(st.floats(-10, 10), min_size=n, max_size=n))
    return np.array(vals)


@given(curves(), finite)
def test_constant_shift_changes_neither_v_nor_c(D, shift):
    a = load_curve_metrics(D)
    b = load_curve_metrics(D + shift)
    scale = 1e-12 * (np.max(np.abs(D)) + abs(shift) + 1)
    assert abs(a["v"] - b["v"]) <= 4 * scale
    assert abs(a["c"] - b["c"]) <= 4 * scale


@given(n_points, finite, st.floats(0.01, 100))
def test_linear_curve_has_zero_curvature_and_is_linear(n, intercept, slope):
    ell = np.arange(n)
    D = intercept - slope * ell
    r = load_curve_metrics(D)
    scale = 1e-12 * (abs(intercept) + slope * n)
    assert abs(r["c"]) <= scale
    assert r["v"] <= scale
    assert r["phase"] == "linear"
    assert abs(r["c_rel"]) <= scale / (slope * (n - 1)) + 1e-15


@given(n_points, st.floats(-5, 5), st.floats(1e-3, 10), st.floats(-5, 5))
def test_quadratic_curve_gets_the_label_of_its_curvature(n, a, drop, q):
    L = n - 1
    b = -(drop + q * L**2) / L  # so that D_0 - D_L = drop > 0
    ell = np.arange(n, dtype=float)
    D = a + b * ell + q * ell**2
    c_expected = 2 * q * (L - 1)
    r = load_curve_metrics(D)
    scale = abs(a) + abs(b) * L + abs(q) * L**2 + 1
    assert r["c"] == pytest.approx(c_expected, rel=1e-9, abs=1e-12 * scale)
    assert r["drop"] == pytest.approx(drop, rel=1e-9, abs=1e-12 * scale)
    # a quadratic is smooth, so any clear positive drop gives a determined phase
    assume(drop > 1e-9 * scale)
    c_rel = c_expected / drop
    assert r["c_rel"] == pytest.approx(c_rel, rel=1e-6, abs=1e-9)
    if c_rel > 1.01 * DEFAULT_PHASE_TOL:
        assert r["phase"] == "convex"
    elif c_rel < -1.01 * DEFAULT_PHASE_TOL:
        assert r["phase"] == "concave"
    elif abs(c_rel) < 0.99 * DEFAULT_PHASE_TOL:
        assert r["phase"] == "linear"
    # sign convention: q > 0 is convex (shallow layers learn more: delta_1 > delta_L)
    if abs(q) > 1e-9 * scale:
        assert np.sign(r["c"]) == np.sign(q)


@given(curves(), st.floats(1e-3, 1e3))
def test_positive_rescaling_keeps_c_rel_and_phase(D, s):
    a = load_curve_metrics(D)
    b = load_curve_metrics(s * D)
    assert a["phase"] == b["phase"]
    if np.isfinite(a["c_rel"]):
        assert b["c_rel"] == pytest.approx(a["c_rel"], rel=1e-9, abs=1e-12)
    assert b["v"] == pytest.approx(s * a["v"], rel=1e-9, abs=1e-300)


@given(st.integers(2, 6), st.integers(1, 4), st.integers(3, 12), st.data())
def test_vectorised_over_leading_axes_equals_loop(n0, n1, n, data):
    D = np.array(
        data.draw(st.lists(st.floats(-5, 5), min_size=n0 * n1 * n, max_size=n0 * n1 * n))
    ).reshape(n0, n1, n)
    r = load_curve_metrics(D)
    for key in ("v", "c", "c_rel", "drop"):
        assert r[key].shape == (n0, n1)
    assert r["phase"].shape == (n0, n1)
    for i in range(n0):
        for j in range(n1):
            one = load_curve_metrics(D[i, j])
            assert one["phase"] == r["phase"][i, j]
            for key in ("v", "c", "c_rel"):
                np.testing.assert_allclose(one[key], r[key][i, j], rtol=1e-12, atol=1e-14)


def reference_metrics(D, tol=DEFAULT_PHASE_TOL, drop_tol=0.5, noise_z=3.0):
    """One curve, straight from the definitions in the docstring (plain Python + polyfit)."""
    D = [float(d) for d in D]
    n = len(D)
    delta = [D[i] - D[i + 1] for i in range(n - 1)]
    v = statistics.pstdev(delta)
    c = delta[0] - delta[-1]
    drop = D[0] - D[-1]
    variation = sum(abs(d) for d in delta)
    if n > 3:
        ell = np.arange(n)
        resid = np.array(D) - np.polyval(np.polyfit(ell, D, 2), ell)
        s_fit = math.sqrt(float(resid @ resid) / (n - 3))
    else:
        s_fit = 0.0
    margins = (drop - drop_tol * variation, drop - noise_z * math.sqrt(2.0) * s_fit)
    determined = (
        n >= 3 and drop > 64 * np.finfo(float).eps * max(abs(d) for d in D) and max(margins) >= 0
    )
    c_rel = c / drop if determined else math.nan
    if not determined:
        phase = "undetermined"
    else:
        phase = "convex" if c_rel > tol else "concave" if c_rel < -tol else "linear"
    borderline = min(abs(m) for m in margins) < 1e-9 * max(1.0, variation) or (
        determined and abs(abs(c_rel) - tol) < 1e-9
    )
    want = {"v": v, "c": c, "c_rel": c_rel, "drop": drop, "fit_rms": s_fit, "phase": phase}
    return want, borderline


@given(st.integers(1, 5), st.integers(2, 12), st.data())
def test_metrics_equal_a_per_curve_reference(m, n, data):
    """The compiled per-curve statistics against the definitions, curve by curve."""
    values = data.draw(st.lists(st.floats(-5, 5), min_size=m * n, max_size=m * n))
    D = np.array(values).reshape(m, n)
    D[0] = np.sort(D[0])[::-1]  # at least one monotone (determined) curve
    r = load_curve_metrics(D)
    for i in range(m):
        want, borderline = reference_metrics(D[i])
        for key in ("v", "c", "drop"):
            assert r[key][i] == pytest.approx(want[key], rel=1e-12, abs=1e-12)
        assert r["fit_rms"][i] == pytest.approx(want["fit_rms"], rel=1e-9, abs=1e-12)
        if not borderline:
            assert r["phase"][i] == want["phase"]
            np.testing.assert_allclose(r["c_rel"][i], want["c_rel"], rtol=1e-10, atol=1e-12)


def test_definitions_on_a_hand_computed_curve():
    D = np.array([5.0, 3.0, 2.0, 1.5])  # contributions 2, 1, 0.5
    r = load_curve_metrics(D)
    np.testing.assert_allclose(r["delta"], [2.0, 1.0, 0.5])
    mean = 3.5 / 3
    var = ((2 - mean) ** 2 + (1 - mean) ** 2 + (0.5 - mean) ** 2) / 3
    assert r["v"] == pytest.approx(np.sqrt(var))
    assert r["c"] == pytest.approx(1.5)
    assert r["c_rel"] == pytest.approx(1.5 / 3.5)
    assert r["phase"] == "convex"
    # drop_last removes the output layer before anything else
    r2 = load_curve_metrics(np.r_[D, 100.0], drop_last=True)
    assert r2["c"] == r["c"] and r2["phase"] == "convex"


def test_eq7_curve_has_closed_form_curvature():
    # full mobilisation: delta_l = y/(L+1) + (mu/2k)(2l - L - 2), so c = -(mu/k)(L-1)
    L, k, y, mu = 9, 2.0, 10.0, 0.3
    ell = np.arange(L + 1)
    d = y * (L + 1 - ell) / (L + 1) + mu / (2 * k) * ell * (L + 1 - ell)
    r = load_curve_metrics(d)
    assert r["c"] == pytest.approx(-(mu / k) * (L - 1), rel=1e-12)
    assert r["phase"] == "concave"


@pytest.mark.parametrize(
    "D",
    [
        np.zeros(8),  # untrained: no drop at all
        np.full(8, 3.0) + 1e-17,
        np.linspace(0.0, 1.0, 8),  # separation grows: not a load curve
        np.array([1.0, 1.3, 0.7, 1.25, 0.8, 1.2, 0.85, 0.98]),  # wiggles, net drop 0.02
        np.array([2.0, 1.0]),  # one contribution: no curvature to speak of
    ],
)
def test_undetermined_when_drop_is_not_clearly_above_noise(D):
    r = load_curve_metrics(D)
    assert r["phase"] == "undetermined"
    assert np.isnan(r["c_rel"])


def test_atol_floor_and_nan_input():
    D = np.array([1.0, 0.9, 0.8, 0.7])
    assert load_curve_metrics(D, atol=0.5)["phase"] == "undetermined"
    assert load_curve_metrics(D, atol=0.2)["phase"] == "linear"
    D[2] = np.nan
    assert load_curve_metrics(D)["phase"] == "undetermined"


def test_kinked_and_non_monotone_physical_curves_are_determined():
    # partial mobilisation (only the deepest block moved): flat, then one drop
    assert load_curve_metrics([1, 1, 1, 1, 1, 1, 1, 0.6])["phase"] == "concave"
    # large noise with mu_bar > 0: blocks at negative positions, the curve first rises
    L, mu_bar = 7, 0.075
    ell = np.arange(L + 1)
    d = (L + 1 - ell) / (L + 1) + mu_bar / 2 * ell * (L + 1 - ell)
    assert d[1] > d[0]
    assert load_curve_metrics(d)["phase"] == "concave"


def test_white_noise_is_rarely_determined():
    # the documented false-positive rate of the noise guard (about 1 % for 8 points)
    rng = np.random.default_rng(12345)
    phases = load_curve_metrics(rng.normal(size=(20000, 8)))["phase"]
    rate = np.mean(phases != "undetermined")
    assert rate < 0.03


# ------------------------------------------------------------------------ energy


@given(st.integers(1, 30), st.floats(0.01, 10), st.floats(0.0, 10), st.data())
def test_equiseparated_chain_minimises_elastic_energy(L, k, y, data):
    x = np.array(data.draw(st.lists(st.floats(-10, 10), min_size=L, max_size=L)))
    u_min = minimum_elastic_energy(L, k, y)
    assert u_min == pytest.approx(k * y**2 / (2 * (L + 1)))
    xe = equiseparated(L, y)
    assert elastic_energy(xe, k, y) == pytest.approx(u_min, rel=1e-12, abs=1e-300)
    assert elastic_energy(x, k, y) >= u_min * (1 - 1e-12)
    # direct sum over springs
    full = np.r_[0.0, x, y]
    assert elastic_energy(x, k, y) == pytest.approx(0.5 * k * np.sum(np.diff(full) ** 2))


def test_energy_and_load_curve_broadcast():
    x = np.arange(12.0).reshape(2, 2, 3)
    y = np.array([10.0, 20.0])
    U = elastic_energy(x, 1.5, y)
    assert U.shape == (2, 2)
    for i in range(2):
        for j in range(2):
            full = np.r_[0.0, x[i, j], y[j]]
            assert U[i, j] == pytest.approx(0.75 * np.sum(np.diff(full) ** 2))
    d = load_curve(x, y)
    assert d.shape == (2, 2, 4)
    np.testing.assert_array_equal(d[1, 0], [10.0, 10 - 6, 10 - 7, 10 - 8])
