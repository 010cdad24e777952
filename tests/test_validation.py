"""Bad input gets a clear error naming the parameter and its allowed range."""

import math

import numpy as np
import pytest

from fastspring import Chain, Noise, simulate

GOOD = {"L": 3, "k": 1.0, "y": 1.0, "mu_plus": 0.1, "mu_minus": 0.1}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("L", 0, r"L must be an integer in \[1, inf\], got 0"),
        ("L", 2.5, "L must be an integer"),
        ("k", -1.0, r"k must lie in \(0, inf\), got -1"),
        ("k", 0.0, r"k must lie in \(0, inf\)"),
        ("y", math.nan, "y must be finite"),
        ("y", math.inf, "y must be finite"),
        ("mu_plus", -0.1, r"mu_plus must lie in \[0, inf\)"),
        ("mu_minus", math.nan, "mu_minus must be finite"),
        ("k", "1", "k must be a real number"),
    ],
)
def test_chain_rejects(field, value, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Chain(**{**GOOD, field: value})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigma": -0.1}, r"sigma must lie in \[0, inf\)"),
        ({"sigma": math.nan}, "sigma must be finite"),
        ({"kind": "uniform"}, "kind must be one of"),
        ({"kind": "clipped"}, "needs a bound > 0"),
        ({"kind": "clipped", "bound": 0.0}, r"bound must lie in \(0, inf\)"),
        ({"kind": "gaussian", "bound": 1.0}, "bound is only used with"),
        ({"sigma": 1.0, "kind": "truncated", "bound": 1e-4}, "bound must be >= 0.01 \\* sigma"),
        ({"decay": -1.0}, r"decay must lie in \[0, inf\)"),
        ({"synchronous": 1}, "synchronous must be True or False"),
    ],
)
def test_noise_rejects(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Noise(**kwargs)


CHAIN = Chain(**GOOD)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dt": 0.5}, r"dt \* k < 1/2 .* choose dt < 0.5"),
        ({"dt": -0.01}, r"dt must lie in \(0, inf\)"),
        ({"dt": math.nan}, "dt must be finite"),
        ({"steps": 0}, r"steps must be an integer in \[1, inf\]"),
        ({"chains": 0}, "chains must be an integer in"),
        ({"seed": -1}, r"seed must be an integer in \[0, 4294967295\]"),
        ({"record_every": 0}, "record_every must be an integer"),
        ({"rtol": -1e-3}, r"rtol must lie in \[0, inf\)"),
        ({"average_from": 10}, r"average_from must be an integer in \[0, 9\]"),
        ({"model": "underdamped"}, "model must be one of"),
        ({"gamma": 1.0}, "model 'overdamped' takes parameters"),
        ({"noise_values": np.zeros((10, 1, 2))}, r"noise_values must have shape \(10, 1, 3\)"),
        ({"noise_values": np.full((10, 1, 3), np.nan)}, "noise_values must be finite"),
        ({"chains": 10**6, "steps": 10**5, "record_every": 1}, "choose record_every >= "),
    ],
)
def test_simulate_rejects(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        simulate(CHAIN, Noise(0.1), **{"steps": 10, **kwargs})


def test_simulate_rejects_wrong_types_and_truncated_values():
    with pytest.raises(TypeError, match="chain must be a fastspring.Chain"):
        simulate({"L": 3}, Noise(0.1))
    with pytest.raises(TypeError, match="noise must be a fastspring.Noise"):
        simulate(CHAIN, 0.1)
    noise = Noise(1.0, kind="truncated", bound=0.5)
    with pytest.raises(ValueError, match=r"\|sigma \* value\| <= bound"):
        simulate(CHAIN, noise, steps=2, noise_values=np.ones((2, 1, 3)))
    with pytest.raises(TypeError, match="must hold real numbers, got dtype complex128"):
        simulate(CHAIN, Noise(0.1), steps=2, noise_values=np.ones((2, 1, 3)) + 1j)
    with pytest.raises(TypeError, match="must hold real numbers, got dtype object"):
        simulate(CHAIN, Noise(0.1), steps=2, noise_values=np.full((2, 1, 3), None))
    masked = np.ma.masked_array(np.zeros((2, 1, 3)), mask=np.zeros((2, 1, 3), dtype=bool))
    masked[0, 0, 1] = np.ma.masked
    with pytest.raises(TypeError, match="noise_values must be a plain array"):
        simulate(CHAIN, Noise(0.1), steps=2, noise_values=masked)


@pytest.mark.parametrize("model", ["overdamped", "langevin", "inertial"])
def test_overflowing_finite_arguments_raise_instead_of_returning_nan(model):
    from fastspring.errors import NonFiniteResultError

    with pytest.raises(NonFiniteResultError, match=f"the {model} run overflowed"):
        simulate(CHAIN, Noise(1e308), model, steps=50)
    # the largest sensible noise still runs
    assert np.all(np.isfinite(simulate(CHAIN, Noise(1e3), model, steps=50).x))
