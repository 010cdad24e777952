"""Friction activation, mean drift under noise, effective friction (issue 4, point 5).

Independent truths: the piecewise definition of phi, Monte Carlo averages with their
standard errors (noise sampled here with NumPy, not with the library), and the
algebra of the effective friction ``mu_bar = mu_plus - min(a, m)``.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from analysis import (
    critical_bound,
    critical_sigma,
    effective_bound,
    effective_equilibrium,
    effective_friction,
    expected_max,
    friction_activation,
    mean_drift,
    predicted_phase,
)
from fastspring import Noise

mus = st.floats(0.0, 1.0)
forces = st.floats(-3.0, 3.0)


@st.composite
def noises(draw, min_ratio=0.0):
    """A fastspring.Noise of any kind; ``min_ratio`` bounds bound/sigma from below."""
    kind = draw(st.sampled_from(["gaussian", "clipped", "truncated"]))
    sigma = draw(st.sampled_from([0.0]) | st.floats(1e-3, 2.0))
    if kind == "gaussian":
        return Noise(sigma=sigma)
    bound = draw(st.floats(0.01, 2.0))
    if kind == "truncated":
        assume(sigma == 0 or bound >= max(min_ratio, 0.01) * sigma)
    return Noise(sigma=sigma, kind=kind, bound=bound)


def sample(noise, n, rng):
    """Draw ``n`` noise values by the definition of each kind."""
    if noise.sigma == 0:
        return np.zeros(n)
    if noise.kind == "gaussian":
        return noise.sigma * rng.normal(size=n)
    if noise.kind == "clipped":
        return np.clip(noise.sigma * rng.normal(size=n), -noise.bound, noise.bound)
    out = np.empty(0)
    while out.size < n:  # rejection: draw again until |eps| <= bound
        e = noise.sigma * rng.normal(size=2 * n)
        out = np.r_[out, e[np.abs(e) <= noise.bound]]
    return out[:n]


@given(forces, mus, mus)
def test_friction_activation_is_the_piecewise_dead_zone(f, mp, mm):
    expected = f - mp if f > mp else (f + mm if f < -mm else 0.0)
    assert friction_activation(f, mp, mm) == expected


@given(st.floats(0, 3), mus, mus, noises())
def test_mean_drift_is_odd_about_c(h, mp, mm, noise):
    c = 0.5 * (mp - mm)
    up = mean_drift(c + h, mp, mm, noise)
    down = mean_drift(c - h, mp, mm, noise)
    assert up == pytest.approx(-down, abs=1e-12 * (1 + h + noise.sigma))
    assert abs(mean_drift(c, mp, mm, noise)) <= 1e-12 * (1 + noise.sigma)
    assert up >= -1e-12  # above c the mean motion is to the right


@given(mus, mus, noises(), st.lists(forces, min_size=2, max_size=40))
def test_mean_drift_is_non_decreasing_in_F(mp, mm, noise, fs):
    F = np.sort(np.array(fs))
    drift = mean_drift(F, mp, mm, noise)
    assert drift.shape == F.shape
    assert np.all(np.diff(drift) >= -1e-13 * (1 + noise.sigma))
    # slope never exceeds that of phi (1), since E phi(F + eps) is a mean of 1-Lipschitz maps
    assert np.all(np.diff(drift) <= np.diff(F) * (1 + 1e-9) + 1e-13)


@given(forces, mus, mus, noises(min_ratio=0.3), st.integers(0, 2**32 - 1))
def test_mean_drift_matches_monte_carlo(F, mp, mm, noise, seed):
    rng = np.random.default_rng(seed)
    n = 40_000
    v = friction_activation(F + sample(noise, n, rng), mp, mm)
    hits = np.count_nonzero(v)
    # the sample standard error is trustworthy only when the block moved often enough
    # (a handful of tail events makes it meaningless); all-or-nothing samples are exact
    assume(hits == 0 and noise.sigma == 0 or hits == n or hits >= 200)
    mc, se = v.mean(), v.std(ddof=1) / math.sqrt(n)
    # 5 standard errors (P ~ 6e-7 per example); exact when the sample has no spread
    assert abs(mean_drift(F, mp, mm, noise) - mc) <= 5 * se + 1e-12 * (1 + abs(F))


def test_mean_drift_reference_values():
    # Gaussian, by hand: g(u) = sigma*pdf(u/sigma) - u*Q(u/sigma); at F = c + h
    s, mp, mm, F = 0.5, 0.1, 0.3, 0.2
    Q = lambda z: 0.5 * math.erfc(z / math.sqrt(2))  # noqa: E731
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    g = lambda u: s * pdf(u / s) - u * Q(u / s)  # noqa: E731  (valid for any real u)
    expected = g(mp - F) - g(F + mm)
    assert mean_drift(F, mp, mm, Noise(sigma=s)) == pytest.approx(expected, rel=1e-13)
    # a plain float is Gaussian noise, None is no noise
    assert mean_drift(F, mp, mm, s) == mean_drift(F, mp, mm, Noise(sigma=s))
    assert mean_drift(F, mp, mm, None) == pytest.approx(0.1)


@given(forces, mus, mus)
def test_small_noise_drift_tends_to_phi(F, mp, mm):
    # |E phi(F + eps) - phi(F)| <= E|eps| = sigma sqrt(2/pi) (phi is 1-Lipschitz)
    s = 1e-6
    assert abs(mean_drift(F, mp, mm, Noise(sigma=s)) - friction_activation(F, mp, mm)) <= (
        s * math.sqrt(2 / math.pi) * (1 + 1e-9)
    )


# -------------------------------------------------------------- effective friction


@pytest.mark.parametrize("T", [2, 10, 100, 1000])
def test_expected_max_matches_monte_carlo(T):
    rng = np.random.default_rng(T)
    n = 200_000 // T * 10
    z = rng.normal(size=(n, T))
    mx = z.max(axis=1)
    se = mx.std(ddof=1) / math.sqrt(n)
    assert abs(expected_max(T) - mx.mean()) <= 5 * se
    b = 0.8 * math.sqrt(2 * math.log(T))  # a bound the maximum often exceeds, often not
    clipped = np.clip(z, -b, b).max(axis=1)
    se = clipped.std(ddof=1) / math.sqrt(n)
    assert 0 < np.mean(mx > b) < 1
    assert abs(expected_max(T, "clipped", b) - clipped.mean()) <= 5 * se
    e = rng.normal(size=4 * n * T)
    e = e[np.abs(e) <= b][: (n // 2) * T].reshape(n // 2, T).max(axis=1)
    se = e.std(ddof=1) / math.sqrt(n // 2)
    assert abs(expected_max(T, "truncated", b) - e.mean()) <= 5 * se


def test_expected_max_known_values():
    assert expected_max(1) == pytest.approx(0.0, abs=1e-10)
    assert expected_max(2) == pytest.approx(1 / math.sqrt(math.pi), rel=1e-9)  # E max of 2
    assert expected_max(3) == pytest.approx(1.5 / math.sqrt(math.pi), rel=1e-9)


@given(
    mus, mus, st.floats(1e-3, 2.0), st.floats(0.01, 2.0), st.sampled_from(["clipped", "truncated"])
)
def test_effective_friction_bounded_noise(mp, mm, sigma, a, kind):
    assume(kind == "clipped" or a >= 0.01 * sigma)
    m, c = 0.5 * (mp + mm), 0.5 * (mp - mm)
    mu_bar = effective_friction(mp, mm, Noise(sigma=sigma, kind=kind, bound=a))
    if a <= m:
        assert mu_bar == pytest.approx(mp - a, abs=1e-15)
    else:
        assert mu_bar == pytest.approx(c, abs=1e-15)
    # mu_bar decreases (weakly) as the noise grows and never leaves [c, mu_plus]
    assert c - 1e-15 <= mu_bar <= mp + 1e-15


@given(mus, mus)
def test_effective_friction_limits(mp, mm):
    c = 0.5 * (mp - mm)
    assert effective_friction(mp, mm, None) == mp
    assert effective_friction(mp, mm, Noise(sigma=0.0)) == mp
    assert effective_friction(mp, mm, Noise(sigma=0.3)) == pytest.approx(c, abs=1e-15)
    # continuity at a = m
    m = 0.5 * (mp + mm)
    if m > 0:
        below = effective_friction(mp, mm, Noise(sigma=1.0, kind="clipped", bound=m * (1 - 1e-9)))
        above = effective_friction(mp, mm, Noise(sigma=1.0, kind="clipped", bound=m * (1 + 1e-9)))
        assert below == pytest.approx(above, abs=1e-8)


def test_effective_friction_finite_window_gaussian():
    mp, mm, s, T = 0.1, 0.3, 0.02, 10_000
    a = effective_bound(Noise(sigma=s), window=T)
    assert a == pytest.approx(s * expected_max(T))
    assert effective_friction(mp, mm, Noise(sigma=s), window=T) == pytest.approx(mp - a)
    crude = effective_bound(Noise(sigma=s), window=T, rule="sqrt2log")
    assert crude == pytest.approx(s * math.sqrt(2 * math.log(T)))
    with pytest.raises(NotImplementedError):
        effective_bound(Noise(sigma=s, decay=0.1))


@given(st.floats(0.0, 0.5), st.floats(0.0, 0.5), st.integers(2, 10**6))
def test_critical_sigma_makes_mu_bar_vanish(mp, mm, T):
    s = critical_sigma(mp, mm, T)
    if mm < mp:
        assert s == math.inf and critical_bound(mp, mm) == math.inf
        return
    assert critical_bound(mp, mm) == mp
    assert effective_friction(mp, mm, Noise(sigma=s), window=T) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("kind", ["clipped", "truncated"])
def test_critical_sigma_bounded_kinds(kind):
    mp, mm, T = 0.1, 0.3, 1000
    s = critical_sigma(mp, mm, T, kind=kind, bound=0.15)
    mu_bar = effective_friction(mp, mm, Noise(sigma=s, kind=kind, bound=0.15), window=T)
    assert mu_bar == pytest.approx(0.0, abs=1e-9)
    assert critical_sigma(mp, mm, T, kind=kind, bound=0.1) == math.inf


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((-0.1, 0.3, 100), {}, r"mu_plus must lie in \[0, inf\), got -0.1"),
        ((0.1, float("nan"), 100), {}, "mu_minus must be finite"),
        ((0.1, 0.3, 1), {}, r"window must lie in \[2, inf\), got 1"),
        ((0.1, 0.3, None), {}, "needs a finite window"),
        ((0.1, 0.3, 100), {"kind": "uniform"}, "kind must be one of"),
        ((0.1, 0.3, 100), {"kind": "clipped", "bound": -0.2}, r"bound must lie in \(0, inf\)"),
    ],
)
def test_critical_sigma_refuses_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        critical_sigma(*args, **kwargs)


@pytest.mark.parametrize("rule", ["expected_max", "sqrt2log"])
@pytest.mark.parametrize(
    ("window", "message"),
    [(0.5, r"window must lie in \[1, inf\), got 0.5"), (math.inf, "window must be finite")],
)
def test_effective_bound_refuses_a_window_outside_one_to_inf(rule, window, message):
    # an infinite window gave a silent NaN bound (expected_max) before
    with pytest.raises(ValueError, match=message):
        effective_bound(Noise(sigma=0.1), window=window, rule=rule)
    with pytest.raises(ValueError, match=message):
        expected_max(window)


def test_predicted_phase_follows_the_sign_of_mu_bar():
    L, k, y, mp, mm = 7, 1.0, 1.0, 0.1, 0.3
    assert predicted_phase(L, k, y, mp, mm, None) == "concave"
    at_critical_bound = Noise(sigma=1.0, kind="clipped", bound=0.1)
    assert predicted_phase(L, k, y, mp, mm, at_critical_bound) == "linear"
    assert predicted_phase(L, k, y, mp, mm, Noise(sigma=1.0)) == "convex"
    # mu_minus < mu_plus: concave at every noise level
    for s in (0.0, 0.01, 0.1, 1.0, 10.0):
        assert predicted_phase(L, k, y, 0.3, 0.1, Noise(sigma=s)) == "concave"
    # mu_plus = 0: linear without noise, convex with it
    assert predicted_phase(L, k, y, 0.0, 0.2, None) == "linear"
    assert predicted_phase(L, k, y, 0.0, 0.2, Noise(sigma=0.05)) == "convex"


def test_effective_equilibrium_regimes():
    # bounded regime: partial mobilisation with mu_plus - a
    eq = effective_equilibrium(7, 1.0, 1.0, 0.1, 0.1, Noise(sigma=1.0, kind="clipped", bound=0.05))
    # mu_bar = 0.05: 0.05 * 5 * 6 / 2 = 0.75 < k y = 1 < 0.05 * 6 * 7 / 2 = 1.05
    assert eq.m == 5
    assert np.all(eq.x[:2] == 0) and np.all(eq.x[2:] > 0)
    # large noise with c > 0: every block mobile, shallow ones at negative positions
    eq = effective_equilibrium(7, 1.0, 1.0, 0.3, 0.1, Noise(sigma=2.0))
    assert eq.m == 7 and eq.x[0] < 0


def test_eq8_warns_where_clipped_noise_also_pushes_resting_blocks_left():
    """a = 0.15 with 3 of 6 blocks mobilised: exact (to round-off) against the simulator
    for mu_minus = 0.15 >= a; for mu_minus = 0.1 < a the resting blocks get pushed left,
    the simulator ends elsewhere, and the prediction warns."""
    from fastspring import Chain, simulate

    noise = Noise(1.0, kind="clipped", bound=0.15)
    errors = {}
    for mu_minus in (0.15, 0.1):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            eq = effective_equilibrium(6, 1.0, 1.0, 0.3, mu_minus, noise)
        assert eq.m == 3
        assert len(caught) == (mu_minus < 0.15)
        run = simulate(Chain(6, 1.0, 1.0, 0.3, mu_minus), noise, steps=20000, chains=4, dt=0.1)
        errors[mu_minus] = np.abs(run.x - eq.x).max()
    assert errors[0.15] < 1e-12 and errors[0.1] > 0.05
    assert "pushed left too" in str(caught[0].message)
