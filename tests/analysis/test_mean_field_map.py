"""The noise-averaged map: its exact limits (no noise: the map itself, Eq. 7; noise
above m: the unique fixed point of Eq. 8 with mu_bar = c) and its sweep machinery."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from analysis import (
    critical_sigma_mean_field,
    equilibrium,
    friction_activation,
    load_curve,
    load_curve_metrics,
    mean_field_positions,
)
from fastspring import Noise
from tests.reference.chain import forces


@given(st.integers(1, 10), st.floats(0.5, 2.0), st.floats(0.1, 3.0), st.floats(0.0, 0.3),
       st.floats(0.0, 0.3), st.floats(0.1, 0.45))  # fmt: skip
def test_without_noise_it_is_the_map(L, k, y, mp, mm, dtk):
    dt = dtk / k
    x = np.zeros(L)
    for _ in range(200):
        x = x + dt * friction_activation(forces(x, k, y), mp, mm)
    np.testing.assert_allclose(
        mean_field_positions(L, k, y, mp, mm, None, dt, 200), x, rtol=0, atol=1e-13 * (1 + y)
    )


@given(st.integers(1, 8), st.floats(0.5, 2.0), st.floats(0.1, 2.0), st.floats(0.0, 0.3),
       st.floats(0.0, 0.3), st.floats(1.0, 3.0))  # fmt: skip
def test_large_noise_fixed_point_is_eq8_with_c(L, k, y, mp, mm, sigma_over_m):
    m, c = 0.5 * (mp + mm), 0.5 * (mp - mm)
    assume(m > 0.01)
    dt = 0.4 / k
    # the slowest mode relaxes at rate >= dt * lambda_1 * P(|eps| > m) per step
    lam1 = 2 * k * (1 - math.cos(math.pi / (L + 1)))
    p = math.erfc(1 / sigma_over_m / math.sqrt(2))
    steps = int(35 / (dt * lam1 * p))
    x = mean_field_positions(L, k, y, mp, mm, Noise(sigma=sigma_over_m * m), dt, steps)
    expected = equilibrium(L, k, y, c, partial=False).x
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-9 * (1 + y + abs(c) * L * L / k))


def test_sweep_equals_single_runs():
    sigmas = np.array([0.0, 0.01, 0.05, 0.3])
    for kind, bound in (("gaussian", None), ("clipped", 0.08), ("truncated", 0.08)):
        sweep = mean_field_positions(
            5, 1.0, 1.0, 0.1, 0.2, Noise(sigma=1.0, kind=kind, bound=bound), 0.1, 300, sigmas
        )
        assert sweep.shape == (4, 5)
        for i, s in enumerate(sigmas):
            one = mean_field_positions(
                5, 1.0, 1.0, 0.1, 0.2, Noise(sigma=s, kind=kind, bound=bound), 0.1, 300
            )
            np.testing.assert_allclose(sweep[i], one, rtol=1e-14, atol=1e-15)


def test_critical_sigma_mean_field_is_a_zero_of_the_curvature():
    L, k, y, mp, mm, dt, steps = 7, 1.0, 1.0, 0.1, 0.2, 0.1, 2000
    s = critical_sigma_mean_field(L, k, y, mp, mm, dt, steps)
    assert np.isfinite(s)
    c_rel = [
        load_curve_metrics(
            load_curve(mean_field_positions(L, k, y, mp, mm, Noise(sigma=f * s), dt, steps), y)
        )["c_rel"]
        for f in (0.99, 1.01)
    ]
    assert c_rel[0] < 0 < c_rel[1]  # concave just below, convex just above
    assert math.isnan(critical_sigma_mean_field(L, k, y, 0.2, 0.1, dt, steps))
    assert critical_sigma_mean_field(L, k, y, 0.0, 0.1, dt, steps) == 0.0


def test_unstable_step_is_refused():
    with pytest.raises(ValueError):
        mean_field_positions(3, 1.0, 1.0, 0.1, 0.1, None, 0.5, 10)
