"""The Langevin variant (model C) against plain NumPy, the paper's sdeint run and closed forms."""

import math

import numpy as np
import pytest
import sdeint
from hypothesis import given, settings
from hypothesis import strategies as st

from fastspring import Chain, Noise, simulate
from fastspring.models.langevin import heun_step_bound
from fastspring.models.noise import chain_noise
from fastspring.rng import normal, standard_normal
from tests.reference.langevin import heun_em, sdeint_system

CASES = [
    (Chain(7, 0.1, 1.0, 0.003, 0.004), Noise(0.003, decay=0.001, synchronous=True), "sum"),
    (Chain(7, 0.1, 1.0, 0.003, 0.004), Noise(0.003, synchronous=True), "shared"),
    (Chain(5, 1.0, 2.0, 0.1, 0.05), Noise(0.3), "shared"),
    (Chain(4, 0.5, -1.0, 0.2, 0.0), Noise(0.5, kind="clipped", bound=0.2, decay=0.2), "shared"),
]


def increments(noise, dt, xi, L, convention):
    """Langevin velocity increments (docs/theory.md): sqrt(dt) scale clip(sigma(t) xi, a)."""
    steps = xi.shape[0]
    sig = noise.sigma * np.exp(-noise.decay * dt * np.arange(steps))
    eps = sig[:, None, None] * (xi[..., None] if noise.synchronous else xi)
    if noise.kind == "clipped":
        eps = np.clip(eps, -noise.bound, noise.bound)
    scale = math.sqrt(L) if convention == "sum" else 1.0
    return math.sqrt(dt) * scale * eps * np.ones((1, 1, L))


@pytest.mark.parametrize(("chain", "noise", "convention"), CASES)
def test_matches_numpy_heun_euler_maruyama(chain, noise, convention):
    steps, chains, dt = 4000, 3, 0.05
    shape = (steps, chains) if noise.synchronous else (steps, chains, chain.L)
    xi = np.random.default_rng(0).standard_normal(shape)
    res = simulate(chain, noise, model="langevin", gamma=1.0, sync_convention=convention, dt=dt,
                   steps=steps, chains=chains, record_every=1, noise_values=xi)  # fmt: skip
    x, v = heun_em(chain, 1.0, dt, increments(noise, dt, xi, chain.L, convention))
    np.testing.assert_allclose(res.trajectory, x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.extras["v"][1], v, rtol=0, atol=1e-12)


def test_reproduces_the_papers_sdeint_run():
    # the public reference: L = 7, gamma = 1, k = 0.1, sigma = 0.003, lambda = 0.001,
    # one noise shared by all blocks through sdeint's diffusion matrix (the "sum"
    # convention); its grid is linspace(0, 700, 14000), cut here to 3000 points
    chain, gamma, sigma, decay = Chain(7, 0.1, 1.0, 0.003, 0.004), 1.0, 0.003, 0.001
    tspan = np.linspace(0, 700, 14000)[:3000]
    h = tspan[1] - tspan[0]
    f, G = sdeint_system(chain, gamma, sigma, decay)
    dw = np.random.default_rng(3).standard_normal((tspan.size - 1, 14)) * math.sqrt(h)
    want = sdeint.itoSRI2(f, G, np.zeros(14), tspan, dW=dw, I=np.zeros((tspan.size - 1, 14, 14)))
    xi = dw[:, 7:].sum(axis=1) / math.sqrt(7 * h)  # the shared increment, in units of N(0, 1)
    res = simulate(chain, Noise(sigma, decay=decay, synchronous=True), model="langevin",
                   gamma=gamma, sync_convention="sum", dt=h, steps=tspan.size - 1,
                   record_every=1, noise_values=xi[:, None])  # fmt: skip
    np.testing.assert_allclose(res.trajectory[:, 0], want[:, :7], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.extras["v"][1][:, 0], want[:, 7:], rtol=0, atol=1e-12)
    assert np.max(np.abs(want[:, :7])) > 0.1  # the chain really moved


def test_sum_convention_is_shared_noise_with_sqrt_L_times_sigma():
    chain = Chain(6, 0.5, 1.0, 0.01, 0.02)
    kw = dict(model="langevin", gamma=1.0, dt=0.05, steps=2000, chains=3, seed=5)
    summed = simulate(chain, Noise(0.01, synchronous=True), sync_convention="sum", **kw)
    shared = simulate(chain, Noise(0.01 * math.sqrt(6), synchronous=True), **kw)
    np.testing.assert_allclose(summed.trajectory, shared.trajectory, rtol=0, atol=1e-12)


def test_static_rule_holds_blocks_whose_spring_force_is_in_the_band():
    # without noise, blocks start only when F leaves [-mu_minus, mu_plus]: k y = 0.5 < mu_plus,
    # so nothing ever moves, exactly
    res = simulate(Chain(5, 1.0, 0.5, 0.6, 0.1), model="langevin", dt=0.05, steps=500,
                   record_every=1)  # fmt: skip
    assert np.all(res.trajectory == 0.0) and np.all(res.extras["v"][1] == 0.0)
    # a stronger pull frees the deepest block first; the shallow ones wait, exactly at 0
    res = simulate(Chain(5, 1.0, 1.0, 0.6, 0.1), model="langevin", dt=0.05, steps=40,
                   record_every=1)  # fmt: skip
    assert res.x[0, -1] > 0 and np.all(res.trajectory[:, 0, :3] == 0.0)


def test_internal_generator_equals_its_draws():
    chain, noise = Chain(5, 1, 1, 0.1, 0.05), Noise(0.2)
    kw = dict(model="langevin", dt=0.05, steps=400, chains=4)
    res = simulate(chain, noise, seed=7, **kw)
    xi = standard_normal(seed=7, chains=4, steps=400, n=5)
    again = simulate(chain, noise, noise_values=xi, **kw)
    np.testing.assert_array_equal(res.trajectory, again.trajectory)


@pytest.mark.parametrize("kind", ["gaussian", "clipped", "truncated"])
def test_chain_noise_draws_the_numbers_of_every_model(kind):
    # draw i of step n of chain c: standard_normal (the overdamped kernel's draws);
    # truncated noise redraws from streams 1, 2, ... of the same counter
    sig, bound, seed, chain, rows = 1.0, 0.5, 11, 3, 7
    bound_value = math.inf if kind == "gaussian" else bound
    code = ("gaussian", "clipped", "truncated").index(kind)
    for step in range(20):
        eps = np.empty(8)
        chain_noise(eps, rows, sig, bound_value, code, np.uint64(seed), np.uint64(chain),
                    np.uint64(step), np.zeros(1), False)  # fmt: skip
        z = standard_normal(seed, chain + 1, step + 1, rows)[step, chain]
        for i in range(rows):
            attempt = 1
            while kind == "truncated" and abs(sig * z[i]) > bound:
                z[i] = normal(np.uint64(seed), np.uint64(chain), np.uint64(step), i, attempt)
                attempt += 1
        np.testing.assert_array_equal(eps[:rows], np.clip(sig * z, -bound_value, bound_value))


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 20),
    st.floats(1e-2, 1e2),
    st.floats(1e-2, 1e2),
)
def test_heun_step_bound_is_the_stability_edge(L, k, gamma):
    # the bound uses the extreme modes only; the growth check below uses every mode
    bound = heun_step_bound(L, k, gamma)
    m = np.arange(1, L + 1)
    omega2 = np.concatenate([4 * k * np.sin(np.arange(1, j + 1) * np.pi / (2 * (j + 1))) ** 2
                             for j in m])  # fmt: skip

    def growth(h):
        roots = np.concatenate([np.roots([1.0, gamma, w]) for w in omega2])
        z = h * roots
        return np.max(np.abs(1 + z + z * z / 2))

    assert growth(bound * (1 - 1e-9)) <= 1 + 1e-12
    assert growth(bound * (1 + 1e-6)) > 1
    assert heun_step_bound(L, k, 0.0) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(gamma=0.0), "unstable without damping"),
        (dict(gamma=1.0, dt=2.0), r"dt must satisfy dt < 0\.78"),
        (dict(gamma=-1.0), r"gamma must lie in \[0, inf\)"),
        (dict(sync_convention="paper"), "sync_convention must be one of"),
        (dict(sync_convention="sum"), "needs synchronous noise"),
    ],
)
def test_validation(kwargs, match):
    kwargs = {"dt": 0.05, **kwargs}
    with pytest.raises(ValueError, match=match):
        simulate(Chain(7, 1.0), Noise(0.1), model="langevin", steps=1, **kwargs)


def test_noiseless_convergence_in_dt():
    # Heun is second order while no block changes friction state and drops to first
    # order around the switches of (C2); here (strong damping, few switches) the
    # error at a fixed time falls by 3.4 to 4.6 per halving against dt/16
    chain, horizon = Chain(4, 1.0, 2.0, 0.1, 0.15), 8.0

    def final(dt):
        steps = round(horizon / dt)
        return simulate(chain, model="langevin", gamma=3.0, dt=dt, steps=steps,
                        record_every=steps).x[0]  # fmt: skip

    dts = [0.2, 0.1, 0.05, 0.025]
    ref = final(dts[-1] / 16)
    errors = np.array([np.max(np.abs(final(dt) - ref)) for dt in dts])
    ratios = errors[:-1] / errors[1:]
    assert np.all((ratios > 3.4) & (ratios < 4.6)), ratios
