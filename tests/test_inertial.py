"""The exact stick--slip integrator (model B) against independent truths."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.integrate import quad, solve_ivp

from fastspring import Chain, Noise, simulate
from fastspring.models.inertial import propagator
from fastspring.rng import standard_normal
from tests.reference.chain import forces
from tests.reference.stick_slip import event_driven, linear_chain, single_block


def energy(res):
    """Kinetic + elastic energy at the recording times, shape (n_rec, chains)."""
    return res.extras["kinetic"][1] + res.extras["elastic"][1]


def ledger_gap(res):
    """``E(0) - E(t) - W_damping - W_friction + W_noise`` at the recording times."""
    e = energy(res)
    work = {name: res.extras[f"work_{name}"][1] for name in ("damping", "friction", "noise")}
    return e[0] - e - work["damping"] - work["friction"] + work["noise"]


SINGLE = [
    # (k, y, mu_plus, mu_minus, gamma): underdamped with reversals, undamped,
    # exactly critical (2k = 4 = gamma^2/4), overdamped, pulled left, mu_plus = 0
    (1.0, 1.0, 0.1, 0.1, 0.2),
    (1.0, 1.0, 0.1, 0.1, 0.0),
    (2.0, 1.0, 0.1, 0.1, 4.0),
    (1.0, 1.0, 0.1, 0.1, 5.0),
    (2.0, -3.0, 0.3, 0.05, 0.7),
    (0.5, 2.0, 0.0, 0.4, 0.01),
]


@pytest.mark.parametrize(("k", "y", "mu_plus", "mu_minus", "gamma"), SINGLE)
def test_single_block_follows_piecewise_closed_form(k, y, mu_plus, mu_minus, gamma):
    res = simulate(Chain(1, k, y, mu_plus, mu_minus), model="inertial", gamma=gamma,
                   dt=0.037, steps=1500, record_every=1)  # fmt: skip
    x, v, stop = single_block(k, y, mu_plus, mu_minus, gamma, res.times)
    np.testing.assert_allclose(res.trajectory[:, 0, 0], x, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.extras["v"][1][:, 0, 0], v, rtol=0, atol=1e-10)
    last = res.extras["last_stick_time"][1][0, 0]
    if math.isinf(stop):
        assert math.isnan(last) and res.extras["sticks"][1][0, 0] == 0
    else:
        assert abs(last - stop) <= 1e-10
        assert res.extras["sticks"][1][0, 0] == 1


@given(
    k=st.floats(0.2, 3.0), y=st.floats(-3.0, 3.0), mu_plus=st.floats(1e-3, 0.5),
    mu_minus=st.floats(1e-3, 0.5), gamma=st.floats(0.0, 6.0),
)  # fmt: skip
def test_single_block_property(k, y, mu_plus, mu_minus, gamma):
    # (a band of zero width makes "sticks" a matter of round-off: mu = 0 is a case above)
    res = simulate(Chain(1, k, y, mu_plus, mu_minus), model="inertial", gamma=gamma,
                   dt=0.1, steps=400, record_every=1)  # fmt: skip
    x, v, stop = single_block(k, y, mu_plus, mu_minus, gamma, res.times)
    np.testing.assert_allclose(res.trajectory[:, 0, 0], x, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.extras["v"][1][:, 0, 0], v, rtol=0, atol=1e-10)
    if 0 < stop < res.times[-1]:  # (stop = 0: never moved)
        # a turning point whose force lies on the edge of the friction band (e.g.
        # k y = 2 mu_plus + mu_minus without damping) sticks or creeps on by round-off:
        # the stop time is then undefined, not wrong
        (x_stop,), _, _ = single_block(k, y, mu_plus, mu_minus, gamma, [stop])
        force = k * (y - 2 * x_stop)
        assume(min(abs(force - mu_plus), abs(force + mu_minus)) > 1e-9)
        # v = 0 is located to the round-off of v over |v'|: ill-conditioned when the
        # block creeps to a stop (near-critical damping), so allow for that
        _, before, _ = single_block(k, y, mu_plus, mu_minus, gamma, [stop - 1e-6])
        slope = abs(before[0]) / 1e-6
        resolution = 4 * np.finfo(float).eps * np.max(np.abs(v)) / slope
        assert abs(res.extras["last_stick_time"][1][0, 0] - stop) <= 1e-10 + resolution


def test_stop_time_on_the_record_grid():
    k, y, mu, gamma = 1.0, 1.0, 0.1, 0.2
    *_, stop = single_block(k, y, mu, mu, gamma, [100.0])
    res = simulate(Chain(1, k, y, mu, mu), model="inertial", gamma=gamma, dt=stop / 64,
                   steps=80, record_every=1)  # fmt: skip
    x, _, _ = single_block(k, y, mu, mu, gamma, [stop])
    assert abs(res.trajectory[64, 0, 0] - x[0]) <= 1e-10
    assert abs(res.extras["v"][1][64, 0, 0]) <= 1e-10
    np.testing.assert_array_equal(res.trajectory[65:, 0, 0], res.trajectory[65, 0, 0])


@pytest.mark.parametrize("gamma", [0.0, 0.3, 2.0, 30.0])
def test_frictionless_chain_matches_matrix_exponential(gamma):
    # mu = 0: the chain is linear (blocks reverse freely), the whole-chain expm is exact
    L, k, y = 5, 1.0, 2.0
    res = simulate(Chain(L, k, y, 0.0, 0.0), model="inertial", gamma=gamma, dt=0.1,
                   steps=300, record_every=10)  # fmt: skip
    x, v = linear_chain(L, k, y, np.zeros(L), gamma, res.times)
    np.testing.assert_allclose(res.trajectory[:, 0], x, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.extras["v"][1][:, 0], v, rtol=0, atol=1e-10)


@given(st.floats(-14.0, 2.0), st.floats(0.0, 6.0), st.floats(-4.0, 0.7))
def test_propagator_q_is_the_integral_of_w(log_om2, gamma, log_tau):
    """Every branch (series, oscillatory, critical, both overdamped forms) of q = int w."""
    om2, tau = 10.0**log_om2, 10.0**log_tau
    q, w, _ = propagator(om2, gamma, tau)
    integral = quad(lambda s: propagator(om2, gamma, s)[1], 0.0, tau, epsabs=0, epsrel=1e-13)[0]
    assert q == pytest.approx(integral, rel=1e-12, abs=1e-14 * tau * tau)  # (q ~ tau^2 / 2)


@given(st.floats(-15.0, -3.0), st.floats(0.0, 5.0), st.floats(0.01, 0.5), st.floats(-1.0, 1.0))
def test_weak_springs_lose_no_precision(log_k, gamma, dt, G):
    """One frictionless block under an almost constant force G moves G (gamma dt - 1 +
    exp(-gamma dt)) / gamma^2 in a step; the distance to the spring's equilibrium (G / k)
    must not enter the arithmetic (it cost 8 % at k = 1e-12 before)."""
    k = 10.0**log_k
    res = simulate(Chain(1, k, G / k, 0.0, 0.0), model="inertial", gamma=gamma, dt=dt,
                   steps=1, record_every=1)  # fmt: skip
    g = gamma * dt
    # (g + expm1(-g)) / g^2 by its series where the closed form would cancel
    series = 0.5 - g / 6 + g**2 / 24 - g**3 / 120 + g**4 / 720
    exact = G * dt * dt * (series if g < 1e-2 else (g + math.expm1(-g)) / (g * g))
    # the spring changes the force by 2 k x during the step: relative O(k dt^2)
    assert res.trajectory[1, 0, 0] == pytest.approx(exact, rel=1e-12 + 2 * k * dt * dt)


@pytest.mark.parametrize(
    ("chain", "gamma", "sigma"),
    [
        (Chain(4, 1.0, 3.0, 0.1, 0.15), 0.3, 0.0),
        (Chain(4, 1.0, 3.0, 0.1, 0.15), 0.3, 0.3),
        (Chain(3, 2.0, 1.5, 0.2, 0.1), 0.0, 0.2),
        (Chain(5, 0.5, 2.0, 0.05, 0.3), 4.0, 0.5),
    ],
)
def test_matches_solve_ivp_with_events(chain, gamma, sigma):
    dt, steps = 0.25, 60
    xi = np.random.default_rng(1).standard_normal((steps, 1, chain.L))
    res = simulate(chain, Noise(sigma), model="inertial", gamma=gamma, dt=dt, steps=steps,
                   record_every=1, noise_values=xi)  # fmt: skip
    ref = event_driven(chain.L, chain.k, chain.y, chain.mu_plus, chain.mu_minus, gamma, dt,
                       sigma * xi[:, 0, :])  # fmt: skip
    np.testing.assert_allclose(res.trajectory[:, 0], ref, rtol=0, atol=1e-9)
    assert res.extras["sticks"][1].sum() > 0
    assert res.extras["unresolved_events"][1][0] == 0


@given(
    L=st.integers(1, 5), k=st.floats(0.3, 3.0), y=st.floats(-3.0, 3.0),
    mu_plus=st.floats(0.01, 0.4), mu_minus=st.floats(0.01, 0.4), gamma=st.floats(0.0, 6.0),
    sigma=st.floats(0.0, 0.6), seed=st.integers(0, 1000),
)  # fmt: skip
def test_matches_solve_ivp_with_events_property(L, k, y, mu_plus, mu_minus, gamma, sigma, seed):
    dt, steps = 0.25, 40
    xi = np.random.default_rng(seed).standard_normal((steps, 1, L))
    res = simulate(Chain(L, k, y, mu_plus, mu_minus), Noise(sigma), model="inertial",
                   gamma=gamma, dt=dt, steps=steps, record_every=1, noise_values=xi)  # fmt: skip
    ref = event_driven(L, k, y, mu_plus, mu_minus, gamma, dt, sigma * xi[:, 0, :])
    np.testing.assert_allclose(res.trajectory[:, 0], ref, rtol=0, atol=1e-9)


@given(
    L=st.integers(1, 6), k=st.floats(0.3, 3.0),
    y=st.floats(-4.0, 4.0).filter(lambda y: abs(y) > 0.1), mu_plus=st.floats(0.01, 0.5),
    mu_minus=st.floats(0.01, 0.5), gamma=st.floats(0.0, 8.0),
)  # fmt: skip
def test_noiseless_energy_and_static_invariant(L, k, y, mu_plus, mu_minus, gamma):
    chain = Chain(L, k, y, mu_plus, mu_minus)
    res = simulate(chain, model="inertial", gamma=gamma, dt=0.1, steps=600, record_every=1)
    e0 = 0.5 * k * y * y
    e = energy(res)[:, 0]
    assert np.all(np.diff(e) <= 1e-12 * e0)
    assert np.max(np.abs(ledger_gap(res))) <= 1e-9 * e0
    # blocks at rest after an interval (v == 0 exactly: stuck) are held by static friction
    f = forces(res.trajectory[1:, 0], chain.k, chain.y)
    stuck = res.extras["v"][1][1:, 0] == 0.0
    assert np.all(f[stuck] <= mu_plus + 1e-12) and np.all(f[stuck] >= -mu_minus - 1e-12)


def test_chain_comes_to_rest_and_stuck_blocks_do_not_move():
    chain = Chain(7, 1.0, 4.0, 0.1, 0.2)
    res = simulate(chain, model="inertial", gamma=0.4, dt=0.5, steps=400, record_every=1)
    v = res.extras["v"][1][:, 0]
    rest = 1 + np.flatnonzero(np.all(v[1:] == 0.0, axis=1))[0]
    assert rest < 400 and np.all(v[rest:] == 0.0)
    assert np.all(res.trajectory[rest:, 0] == res.trajectory[-1, 0])  # frozen to the bit
    f = forces(res.x[0], chain.k, chain.y)
    assert np.all(f <= chain.mu_plus + 1e-12) and np.all(f >= -chain.mu_minus - 1e-12)
    assert np.all(res.extras["sticks"][1] >= 1)


def test_blocks_that_never_break_away_stay_at_zero_bit_for_bit():
    # the paper's defaults: k y = 1 < mu_plus L (L+1)/2, the shallow blocks are never pulled free
    res = simulate(Chain(7, 1, 1, 0.1, 0.1), model="inertial", gamma=3.0, dt=0.05, steps=2000,
                   record_every=1)  # fmt: skip
    never = res.extras["breakaways"][1][0] == 0
    assert never[:3].all() and not never[-1]
    assert np.all(res.trajectory[:, 0, never] == 0.0)
    assert np.all(res.extras["v"][1][:, 0, never] == 0.0)


NOISES = [
    Noise(0.3),
    Noise(0.4, synchronous=True),
    Noise(0.5, kind="clipped", bound=0.2, decay=0.1),
    Noise(0.5, kind="truncated", bound=0.3),
]


@pytest.mark.parametrize("noise", NOISES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 10.0])
def test_energy_ledger_closes_with_noise(noise, gamma):
    chain = Chain(7, 1.0, 3.0, 0.1, 0.2)
    res = simulate(chain, noise, model="inertial", gamma=gamma, dt=0.05, steps=2000, chains=4,
                   record_every=50, seed=3)  # fmt: skip
    e0 = 0.5 * chain.k * chain.y**2
    assert np.max(np.abs(ledger_gap(res))) <= 1e-9 * e0
    assert res.extras["breakaways"][1].sum() > 100  # the noise really moved the blocks


def test_exact_in_interval_result_does_not_depend_on_dt():
    # a fixed piecewise-constant forcing (here none): splitting the intervals changes nothing
    chain = Chain(5, 1.0, 2.5, 0.1, 0.2)
    coarse = simulate(chain, model="inertial", gamma=0.3, dt=0.4, steps=100, record_every=1)
    for split in (2, 4, 16):
        fine = simulate(chain, model="inertial", gamma=0.3, dt=0.4 / split, steps=100 * split,
                        record_every=split)  # fmt: skip
        np.testing.assert_allclose(fine.trajectory, coarse.trajectory, rtol=0, atol=1e-12)


def test_sampled_smooth_forcing_converges_at_first_order():
    # the only discretisation is the noise: a smooth force eps(t) sampled at the
    # interval starts (held constant over each interval) converges at order 1 in dt
    chain, horizon = Chain(4, 1.0, 2.0, 0.1, 0.15), 8.0
    shape = np.array([1.0, -0.5, 0.7, 0.2])

    def final(dt):
        steps = round(horizon / dt)
        xi = np.sin(1.3 * dt * np.arange(steps))[:, None, None] * shape
        res = simulate(chain, Noise(0.3), model="inertial", gamma=0.7, dt=dt, steps=steps,
                       record_every=steps, noise_values=xi)  # fmt: skip
        return res.x[0]

    dts = [0.2, 0.1, 0.05, 0.025]
    ref = final(dts[-1] / 16)
    errors = [np.max(np.abs(final(dt) - ref)) for dt in dts]
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 1.8) & (ratios < 2.3)), ratios


def test_large_gamma_approaches_overdamped_continuum():
    # time rescaled by gamma: x(gamma s) -> solution of dx/ds = phi(F(x)); the gap is O(1/gamma^2)
    chain = Chain(4, 1.0, 3.0, 0.1, 0.2)

    def rhs(_, x):
        f = forces(x, chain.k, chain.y)
        return np.maximum(f - chain.mu_plus, 0) + np.minimum(f + chain.mu_minus, 0)

    s = np.linspace(0, 6, 61)
    ref = solve_ivp(rhs, (0, 6), np.zeros(4), t_eval=s, method="DOP853", rtol=1e-13,
                    atol=1e-15).y.T  # fmt: skip
    gaps = []
    for gamma in (20.0, 40.0, 80.0, 160.0):
        res = simulate(chain, model="inertial", gamma=gamma, dt=0.1 * gamma, steps=60,
                       record_every=1)  # fmt: skip
        gaps.append(np.max(np.abs(res.trajectory[:, 0] - ref)))
    gaps = np.array(gaps)
    assert np.all(np.abs(gaps[:-1] / gaps[1:] - 4.0) < 0.3)  # halves twice per doubling
    assert gaps[-1] < 1e-4


def test_internal_generator_equals_its_draws_and_chains_are_independent():
    chain, noise = Chain(5, 1, 1, 0.1, 0.05), Noise(0.3)
    kw = dict(model="inertial", gamma=1.0, steps=300, dt=0.05)
    res = simulate(chain, noise, chains=5, seed=9, **kw)
    xi = standard_normal(seed=9, chains=5, steps=300, n=5)
    again = simulate(chain, noise, chains=5, noise_values=xi, **kw)
    np.testing.assert_array_equal(res.trajectory, again.trajectory)
    alone = simulate(chain, noise, chains=4, seed=9, **kw)
    np.testing.assert_array_equal(alone.trajectory, res.trajectory[:, :4])


def test_thread_count_does_not_change_results():
    import numba

    chain, noise = Chain(5, 1, 1, 0.1, 0.2), Noise(0.2, synchronous=True)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(chain, noise, model="inertial", steps=200, chains=40, seed=2)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = simulate(chain, noise, model="inertial", steps=200, chains=40, seed=2)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.x, many.x)


def test_extras_are_labelled():
    res = simulate(Chain(3, 1, 1, 0.0, 0.1), Noise(0.2), model="inertial", steps=50, chains=2)
    ds = res.to_xarray()
    assert ds["v"].dims == ("time", "chain", "block")
    for name in ("kinetic", "elastic", "work_damping", "work_friction", "work_noise"):
        assert ds[name].dims == ("time", "chain")
    for name in ("sticks", "breakaways", "reversals", "last_stick_time"):
        assert ds[name].dims == ("chain", "block")
    assert ds.attrs["gamma"] == 1.0 and ds.attrs["model"] == "inertial"


@pytest.mark.parametrize(
    ("gamma", "error", "match"),
    [
        (-0.1, ValueError, r"gamma must lie in \[0, inf\)"),
        (math.inf, ValueError, "gamma must be finite"),
        (math.nan, ValueError, "gamma must be finite"),
        ("1", TypeError, "gamma must be a real number"),
    ],
)
def test_gamma_validation(gamma, error, match):
    with pytest.raises(error, match=match):
        simulate(Chain(), model="inertial", gamma=gamma, steps=1)


def test_unknown_parameter_is_refused():
    with pytest.raises(TypeError, match="takes parameters"):
        simulate(Chain(), model="inertial", eta=0.1, steps=1)
