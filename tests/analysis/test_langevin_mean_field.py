"""The Langevin variant's mean-field velocity and dynamics (analysis.langevin_drift):
the closed form against the stationary density integrated numerically, its limits,
the simulator's long-run velocity, and the mean-field dynamics' exact limits."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from analysis import (
    critical_sigma_mean_field,
    equilibrium,
    friction_activation,
    langevin_drift,
    load_curve,
    load_curve_metrics,
    mean_drift,
    mean_field_positions,
)
from analysis.mean_field import _noise_std
from fastspring import Chain, Noise, simulate
from tests.reference.chain import forces


def stationary_mean(F, mp, mm, gamma, s):
    """Mean of p(v) ~ exp(-2 U(v) / s^2), U = gamma v^2/2 + mp v+ + mm v- - F v, by quadrature."""

    def u(v):
        return 0.5 * gamma * v * v + (mp * v if v > 0 else -mm * v) - F * v

    a_plus, a_minus = (F - mp) / gamma, (F + mm) / gamma
    modes = [max(a_plus, 0.0), min(a_minus, 0.0)]
    u_min = min(u(v) for v in modes)
    tau = s / math.sqrt(2 * gamma)

    def p(v):
        return math.exp(-2.0 * (u(v) - u_min) / (s * s))

    lo, hi = modes[1] - 40 * tau, modes[0] + 40 * tau
    parts = [(lo, 0.0, modes[1]), (0.0, hi, modes[0])]
    z = sum(integrate.quad(p, a, b, points=[m], epsabs=0, epsrel=1e-11)[0] for a, b, m in parts)
    first = sum(
        integrate.quad(lambda v: v * p(v), a, b, points=[m], epsabs=0, epsrel=1e-11)[0]
        for a, b, m in parts
    )
    return first / z


@given(st.floats(-1.0, 1.0), st.floats(0.0, 0.5), st.floats(0.0, 0.5), st.floats(0.2, 5.0),
       st.floats(0.01, 1.0))  # fmt: skip
def test_drift_is_the_mean_of_the_stationary_velocity_density(F, mp, mm, gamma, s):
    expected = stationary_mean(F, mp, mm, gamma, s)
    scale = s / math.sqrt(gamma) + abs(F) / gamma
    assert langevin_drift(F, mp, mm, gamma, s) == pytest.approx(
        expected, rel=1e-8, abs=1e-10 * scale
    )


@given(st.floats(-1.0, 1.0), st.floats(0.0, 0.5), st.floats(0.0, 0.5), st.floats(0.2, 5.0),
       st.floats(1e-4, 1.0), st.floats(0.0, 0.5))  # fmt: skip
def test_drift_limits_and_symmetry(F, mp, mm, gamma, s, h):
    # no noise: the block slides at phi(F) / gamma
    assert langevin_drift(F, mp, mm, gamma, 0.0) == friction_activation(F, mp, mm) / gamma
    # odd about c: the stationary density is mirrored about 0 when F - c changes sign
    c = 0.5 * (mp - mm)
    up, down = langevin_drift(c + h, mp, mm, gamma, s), langevin_drift(c - h, mp, mm, gamma, s)
    assert up == pytest.approx(-down, rel=1e-12, abs=1e-15)
    assert up >= -1e-15  # (round-off at h = 0)
    # far beyond a threshold the block slides one way at the terminal velocity
    assert langevin_drift(mp + 50 * s, mp, mm, gamma, s) == pytest.approx(50 * s / gamma)
    assert langevin_drift(-mm - 50 * s, mp, mm, gamma, s) == pytest.approx(-50 * s / gamma)


@pytest.mark.parametrize(
    ("F", "mp", "mm", "gamma", "s"),
    [(0.002, 0.003, 0.004, 1.0, 0.004), (0.15, 0.2, 0.1, 0.5, 0.1)],
)
def test_simulator_moves_at_the_stationary_mean_velocity(F, mp, mm, gamma, s):
    """A single block held at (almost) constant force F by a very soft, very long spring.

    The Heun + Euler--Maruyama scheme is biased where the drift jumps (v = 0), by
    O(dt^1/2): for the first setting 2.6 % at dt = 0.05 and 0.9 % at dt = 0.01
    (4000 chains, t = 200). The allowance is 1.5 % of V plus 4 standard errors; a
    wrong noise scale (s sqrt 2 or s / sqrt 2) moves V by 25-35 %.
    """
    k, dt, steps, chains = 1e-6, 0.01, 10_000, 1000
    res = simulate(Chain(1, k, F / k, mp, mm), Noise(s), model="langevin", dt=dt, steps=steps,
                   chains=chains, seed=7, record_every=steps // 10, gamma=gamma)  # fmt: skip
    x, t = res.trajectory[:, :, 0], res.times
    v = (x[-1] - x[1]) / (t[-1] - t[1])  # after a burn-in of 10 relaxation times 1/gamma
    se = v.std(ddof=1) / math.sqrt(chains)
    expected = langevin_drift(F, mp, mm, gamma, s)
    assert abs(v.mean() - expected) <= 4 * se + 0.015 * abs(expected)


@given(st.floats(0.0, 2.0), st.floats(0.01, 1.0), st.floats(0.01, 3.0))
def test_noise_std_of_every_kind(sigma, bound, ratio):
    assert _noise_std(sigma, "gaussian", None) == sigma
    s = ratio * bound
    alpha = bound / s
    truncated = stats.truncnorm(-alpha, alpha, scale=s).std()
    assert _noise_std(s, "truncated", bound) == pytest.approx(truncated, rel=1e-9)
    edge = min(alpha, 12.0)  # inside the bound by quadrature (beyond 12: < 1e-30), tails exactly
    inner = integrate.quad(lambda z: (s * z) ** 2 * stats.norm.pdf(z), -edge, edge)[0]
    second = inner + 2 * bound**2 * stats.norm.sf(alpha)
    assert _noise_std(s, "clipped", bound) == pytest.approx(math.sqrt(second), rel=1e-9)
    assert _noise_std(0.0, "clipped", bound) == 0.0


@given(st.integers(1, 8), st.floats(0.5, 2.0), st.floats(0.1, 3.0), st.floats(0.0, 0.3),
       st.floats(0.0, 0.3), st.floats(0.5, 4.0), st.floats(0.1, 0.45))  # fmt: skip
def test_langevin_mean_field_without_noise_is_the_map_with_step_dt_over_gamma(
    L, k, y, mp, mm, gamma, rate
):
    dt = rate * gamma / k
    x = np.zeros(L)
    for _ in range(150):
        x = x + dt / gamma * friction_activation(forces(x, k, y), mp, mm)
    got = mean_field_positions(L, k, y, mp, mm, None, dt, 150, model="langevin", gamma=gamma)
    np.testing.assert_allclose(got, x, rtol=0, atol=1e-13 * (1 + y))


@given(st.integers(1, 6), st.floats(0.5, 2.0), st.floats(0.1, 2.0), st.floats(0.0, 0.3),
       st.floats(0.0, 0.3), st.floats(0.5, 2.0), st.floats(1.0, 3.0))  # fmt: skip
def test_langevin_large_noise_fixed_point_is_eq8_with_c(L, k, y, mp, mm, gamma, noise_over_m):
    m, c = 0.5 * (mp + mm), 0.5 * (mp - mm)
    dt = 0.4 * gamma / k
    s = noise_over_m * m * math.sqrt(2 * gamma)  # velocity spread tau = noise_over_m * m
    slope = langevin_drift(c + 1e-6, mp, mm, gamma, s) / 1e-6  # V(c) = 0
    lam1 = 2 * k * (1 - math.cos(math.pi / (L + 1)))
    steps = int(35 / (dt * lam1 * slope))
    x = mean_field_positions(L, k, y, mp, mm, s, dt, steps, model="langevin", gamma=gamma)
    expected = equilibrium(L, k, y, c, partial=False).x
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-9 * (1 + y + abs(c) * L * L / k))


@pytest.mark.parametrize("model", ["overdamped", "langevin"])
def test_decay_and_time_average_follow_their_definitions(model):
    L, k, y, mp, mm, dt, steps, gamma, decay = 4, 1.0, 1.0, 0.1, 0.2, 0.1, 60, 2.0, 0.05
    sigma = 0.15
    x = np.zeros(L)
    path = []
    for n in range(steps):
        sig_n = sigma * math.exp(-decay * n * dt)
        f = forces(x, k, y)
        if model == "langevin":
            x = x + dt * langevin_drift(f, mp, mm, gamma, math.sqrt(L) * sig_n)
        else:
            x = x + dt * mean_drift(f, mp, mm, sig_n)
        path.append(x)
    kw = {"model": model, "gamma": gamma, "sync_convention": "sum"}
    noise = Noise(sigma, decay=decay)
    final = mean_field_positions(L, k, y, mp, mm, noise, dt, steps, **kw)
    np.testing.assert_allclose(final, path[-1], rtol=1e-14, atol=1e-15)
    mean = mean_field_positions(L, k, y, mp, mm, noise, dt, steps, average_from=20, **kw)
    np.testing.assert_allclose(mean, np.mean(path[20:], axis=0), rtol=1e-13, atol=1e-15)


def test_langevin_critical_sigma_is_a_zero_of_the_curvature():
    L, k, y, mp, mm, dt, steps = 7, 0.1, 1.0, 0.003, 0.006, 0.05, 3000
    kw = {"model": "langevin", "gamma": 1.0, "sync_convention": "sum"}
    s = critical_sigma_mean_field(L, k, y, mp, mm, dt, steps, decay=0.001, **kw)
    assert np.isfinite(s)
    c_rel = [
        load_curve_metrics(load_curve(mean_field_positions(
            L, k, y, mp, mm, Noise(f * s, decay=0.001), dt, steps, **kw), y))["c_rel"]
        for f in (0.99, 1.01)
    ]  # fmt: skip
    assert c_rel[0] < 0 < c_rel[1]


def test_bad_model_arguments_are_refused():
    with pytest.raises(ValueError, match="model='brownian'"):
        mean_field_positions(3, 1.0, 1.0, 0.1, 0.1, None, 0.1, 10, model="brownian")
    with pytest.raises(ValueError, match="gamma"):
        mean_field_positions(3, 1.0, 1.0, 0.1, 0.1, None, 0.1, 10, model="langevin", gamma=0.0)
    with pytest.raises(ValueError, match="dt \\* k / gamma"):
        mean_field_positions(3, 1.0, 1.0, 0.1, 0.1, None, 0.5, 10, model="langevin", gamma=0.5)
    with pytest.raises(ValueError, match="sync_convention"):
        mean_field_positions(3, 1.0, 1.0, 0.1, 0.1, None, 0.1, 10, sync_convention="mean")
    with pytest.raises(ValueError, match="average_from"):
        mean_field_positions(3, 1.0, 1.0, 0.1, 0.1, None, 0.1, 10, average_from=10)
    with pytest.raises(ValueError, match=r"k must lie in \(0, inf\)"):
        mean_field_positions(3, -1.0, 1.0, 0.1, 0.1, None, -0.1, 10)
    with pytest.raises(ValueError, match=r"mu_minus must lie in \[0, inf\)"):
        mean_field_positions(3, 1.0, 1.0, 0.1, -0.1, None, 0.1, 10)
    with pytest.raises(TypeError, match="L must be an integer"):
        mean_field_positions(2.5, 1.0, 1.0, 0.1, 0.1, None, 0.1, 10)
    with pytest.raises(ValueError, match="rounds >= 1 and grid >= 2"):
        critical_sigma_mean_field(3, 1.0, 1.0, 0.1, 0.2, 0.1, 10, rounds=0)
    with pytest.raises(ValueError, match="intensity"):
        langevin_drift(0.0, 0.1, 0.1, 1.0, -1.0)
