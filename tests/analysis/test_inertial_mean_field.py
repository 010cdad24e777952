"""The inertial model's mean-field velocity (analysis.inertial_drift): the one-step
motion against the event-driven simulator fed the same draws, the stationary velocity
against the simulator's long-run velocity, exact limits, and the mean-field dynamics."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import (
    critical_sigma_mean_field,
    equilibrium,
    friction_activation,
    inertial_drift,
    load_curve,
    load_curve_metrics,
    mean_field_positions,
)
from analysis.inertial_drift import DriftTable, _step_motion
from fastspring import Chain, Noise, simulate
from tests.reference.chain import forces


@settings(deadline=None, max_examples=40)
@given(st.floats(-0.6, 0.6), st.floats(0.0, 0.3), st.floats(0.0, 0.3), st.floats(0.05, 5.0),
       st.floats(0.01, 0.5), st.floats(0.0, 0.4), st.integers(0, 2**31))  # fmt: skip
def test_step_motion_is_the_simulators_motion(F, mp, mm, gamma, dt, sigma, seed):
    """One block at (almost) constant force: a spring so soft that moving changes the
    force by < 1e-8, fed the same draws; positions agree to round-off."""
    k, steps = 1e-9, 25
    draws = np.random.default_rng(seed).standard_normal((steps, 1, 1))
    res = simulate(Chain(1, k, F / k, mp, mm), Noise(sigma), model="inertial", dt=dt,
                   steps=steps, record_every=1, noise_values=draws, gamma=gamma)  # fmt: skip
    v, x, path = 0.0, 0.0, []
    for n in range(steps):
        v, moved = _step_motion(v, F + sigma * draws[n, 0, 0], mp, mm, gamma, dt)
        x += moved
        path.append(x)
    scale = (abs(F) + mp + mm + 3 * sigma) / gamma * dt * steps
    np.testing.assert_allclose(res.trajectory[1:, 0, 0], path, rtol=0, atol=1e-7 * scale + 1e-12)


@pytest.mark.parametrize(
    ("F", "mp", "mm", "gamma", "dt", "noise"),
    [
        (0.05, 0.1, 0.2, 1.0, 0.1, Noise(0.09)),  # the S13 figure's setting, near the band
        (0.12, 0.1, 0.2, 4.0, 0.1, Noise(0.06)),
        (0.0, 0.05, 0.15, 0.5, 0.2, Noise(0.1, kind="clipped", bound=0.12)),
    ],
)
def test_simulator_moves_at_the_stationary_mean_velocity(F, mp, mm, gamma, dt, noise):
    """The long-run velocity of a block held at constant force, 4000 chains for t = 400
    after a burn-in of 10 relaxation times; the grid's error is about 0.3 % of V."""
    k, steps, chains = 1e-9, int(400 / dt), 4000
    burn = int(10 / (gamma * dt))
    res = simulate(Chain(1, k, F / k, mp, mm), noise, model="inertial", dt=dt,
                   steps=burn + steps, chains=chains, seed=3, record_every=1,
                   average_from=None, gamma=gamma)  # fmt: skip
    x = res.trajectory[:, :, 0]
    v = (x[-1] - x[burn]) / (steps * dt)
    se = v.std(ddof=1) / math.sqrt(chains)
    expected = inertial_drift(F, mp, mm, gamma, dt, noise)
    assert abs(v.mean() - expected) <= 4 * se + 0.005 * abs(expected)
    assert 4 * se < 0.1 * abs(expected)  # the check has teeth


@settings(deadline=None, max_examples=15)
@given(st.floats(-0.5, 0.5), st.floats(0.0, 0.3), st.floats(0.0, 0.3), st.floats(0.2, 4.0),
       st.floats(0.02, 0.3), st.floats(0.01, 0.2), st.floats(0.0, 0.3))  # fmt: skip
def test_drift_limits_and_symmetry(F, mp, mm, gamma, dt, sigma, h):
    # no noise: the block slides at phi(F) / gamma
    assert inertial_drift(F, mp, mm, gamma, dt, None) == friction_activation(F, mp, mm) / gamma
    # odd about c: the model is symmetric under F - c -> c - F, v -> -v
    c = 0.5 * (mp - mm)
    pair = inertial_drift(np.array([c + h, c - h]), mp, mm, gamma, dt, sigma)
    assert pair[0] == pytest.approx(-pair[1], rel=1e-12)  # (2 c - (c - h) rounds)
    # beyond the noise's reach the block never stops: the mean terminal velocity
    far = mp + 9 * sigma
    assert inertial_drift(far, mp, mm, gamma, dt, sigma) == pytest.approx((far - mp) / gamma)
    # bounded noise a inside the band: blocks with -mm + a < F < mp - a never move
    a = 0.4 * min(mp, mm)
    if a > 0:
        inside = np.linspace(-mm + a, mp - a, 7)[1:-1]  # (at the edges round-off decides)
        clipped = Noise(sigma, "clipped", a)
        assert np.all(inertial_drift(inside, mp, mm, gamma, dt, clipped) == 0.0)


@settings(deadline=None, max_examples=8)
@given(st.floats(0.0, 0.3), st.floats(0.0, 0.3), st.floats(0.5, 4.0), st.floats(0.02, 0.3),
       st.floats(0.02, 0.2))  # fmt: skip
def test_table_interpolates_the_drift(mp, mm, gamma, dt, sigma):
    table = DriftTable([sigma, 0.0], mp, mm, gamma, dt)
    F = np.linspace(-mm - 10 * sigma, mp + 10 * sigma, 97)
    got = table(np.stack([F, F]))
    np.testing.assert_allclose(got[1], friction_activation(F, mp, mm) / gamma, rtol=0, atol=1e-15)
    # the spline's error, about 2e-4 sigma / gamma at 49 force nodes
    expected = inertial_drift(F, mp, mm, gamma, dt, sigma)
    np.testing.assert_allclose(got[0], expected, rtol=0, atol=1e-3 * sigma / gamma)


@given(st.integers(1, 8), st.floats(0.5, 2.0), st.floats(0.1, 3.0), st.floats(0.0, 0.3),
       st.floats(0.0, 0.3), st.floats(0.5, 4.0), st.floats(0.1, 2.0))  # fmt: skip
def test_mean_field_without_noise_is_the_map_in_substeps(L, k, y, mp, mm, gamma, rate):
    """The inertial model has no step limit: its mean field splits a step of rate
    dt k / gamma into ceil(rate / 0.25) stable sub-steps of the map with step dt/gamma."""
    dt = rate * gamma / k
    sub = max(math.ceil(rate / 0.25), 1)
    x = np.zeros(L)
    for _ in range(60 * sub):
        x = x + dt / gamma / sub * friction_activation(forces(x, k, y), mp, mm)
    got = mean_field_positions(L, k, y, mp, mm, None, dt, 60, model="inertial", gamma=gamma)
    np.testing.assert_allclose(got, x, rtol=0, atol=1e-13 * (1 + y))


def test_large_noise_fixed_point_is_eq8_with_c():
    L, k, y, mp, mm, gamma, dt = 4, 1.0, 0.5, 0.05, 0.15, 1.0, 0.1
    c, sigma = 0.5 * (mp - mm), 0.3
    slope = inertial_drift(c + 1e-3, mp, mm, gamma, dt, sigma) / 1e-3  # V(c) = 0
    lam1 = 2 * k * (1 - math.cos(math.pi / (L + 1)))
    steps = int(30 / (dt * lam1 * slope))
    x = mean_field_positions(L, k, y, mp, mm, sigma, dt, steps, model="inertial", gamma=gamma)
    expected = equilibrium(L, k, y, c, partial=False).x
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-9)


def test_inertial_critical_sigma_is_a_zero_of_the_curvature():
    L, k, y, mp, mm, dt, steps = 5, 1.0, 1.0, 0.1, 0.2, 0.1, 600
    kw = {"model": "inertial", "gamma": 1.0, "average_from": 300}
    s = critical_sigma_mean_field(L, k, y, mp, mm, dt, steps, grid=8, rounds=3, **kw)
    assert np.isfinite(s)
    c_rel = [
        load_curve_metrics(load_curve(mean_field_positions(
            L, k, y, mp, mm, f * s, dt, steps, **kw), y))["c_rel"]
        for f in (0.99, 1.01)
    ]  # fmt: skip
    assert c_rel[0] < 0 < c_rel[1]
    assert math.isnan(critical_sigma_mean_field(L, k, y, 0.2, 0.1, dt, steps, **kw))


def test_bad_inertial_arguments_are_refused():
    with pytest.raises(ValueError, match="constant noise"):
        mean_field_positions(3, 1.0, 1.0, 0.1, 0.1, Noise(0.1, decay=0.01), 0.1, 10,
                             model="inertial")  # fmt: skip
    with pytest.raises(ValueError, match="gamma"):
        inertial_drift(0.0, 0.1, 0.1, 0.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="dt"):
        inertial_drift(0.0, 0.1, 0.1, 1.0, -0.1, 0.1)
    with pytest.raises(ValueError, match="mu_minus"):
        inertial_drift(0.0, 0.1, -0.1, 1.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="F must be finite"):
        inertial_drift(np.nan, 0.1, 0.1, 1.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="nodes"):
        inertial_drift(0.0, 0.1, 0.1, 1.0, 0.1, 0.1, nodes=2)
