"""The counter-based generator: known answers, accuracy, distribution, independence."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from fastspring import rng
from fastspring._fma import fma
from fastspring._jit import jit

U = np.uint64

# Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter, key, expected
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("ctr", "key", "expected"), KAT)
def test_philox_known_answers(ctr, key, expected):
    got = rng.philox4x32_10(*(U(v) for v in ctr), *(U(v) for v in key))
    assert tuple(int(v) for v in got) == expected


def _reference_box_muller(w0, w1):
    """The same transform with libm: u1 = (2 w0 + 1) / 2**33, u2 = (w1 + 1/2) / 2**32."""
    r = math.sqrt(-2.0 * math.log((2 * w0 + 1) / 2**33))
    t = 2.0 * math.pi * ((w1 + 0.5) / 2**32)
    return r * math.cos(t), r * math.sin(t)


def test_box_muller_matches_libm():
    words = np.random.default_rng(7).integers(0, 2**32, size=(20_000, 2))
    edge = [(0, 0), (2**32 - 1, 2**32 - 1), (1, 2**29), (2**31, 2**29 - 1), (5, 2**30)]
    worst = 0.0
    for w0, w1 in list(map(tuple, words)) + edge:
        got = rng.box_muller(U(w0), U(w1))
        want = _reference_box_muller(int(w0), int(w1))
        radius = math.hypot(*want)
        worst = max(worst, *(abs(g - w) / radius for g, w in zip(got, want, strict=True)))
    # errors relative to the radius r (z = r cos t, r sin t): a few ulp; the
    # reference's own rounding of its angle 2 pi u contributes most of it
    assert worst < 2e-15


def test_largest_normal_is_documented_bound():
    z0, _ = rng.box_muller(U(0), U(0))
    assert math.hypot(*rng.box_muller(U(0), U(0))) == pytest.approx(rng.MAX_ABS_NORMAL, rel=1e-15)
    assert abs(z0) <= rng.MAX_ABS_NORMAL
    assert rng.MAX_ABS_NORMAL == pytest.approx(6.7637, abs=1e-4)


def test_normals_are_standard_normal():
    z = rng.standard_normal(seed=3, chains=500, steps=40, n=8).ravel()  # 160 000 draws
    n = z.size
    assert abs(z.mean()) < 4 / math.sqrt(n)
    assert abs(z.var() - 1) < 4 * math.sqrt(2 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # pairs from one word pair are uncorrelated
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) < 4 / math.sqrt(n / 2)


def test_streams_depend_only_on_seed_and_chain():
    many = rng.standard_normal(seed=11, chains=300, steps=3, n=5)
    alone = rng.standard_normal(seed=11, chains=1, steps=3, n=5, chain0=123)
    np.testing.assert_array_equal(many[:, 123], alone[:, 0])
    other_seed = rng.standard_normal(seed=12, chains=300, steps=3, n=5)
    assert not np.any(many == other_seed)


def test_normal_picks_component_of_group():
    z = rng.normals4(U(5), U(9), U(77), U(2), U(0))
    for j in range(4):
        assert rng.normal(U(5), U(9), U(77), 8 + j, 0) == z[j]


@jit
def _fma_compiled(a, b, c):
    return fma(a, b, c)


def test_fma_rounds_once_on_every_backend():
    # (1 + 2^-30)(1 - 2^-30) - 1 = -2^-60 exactly; a separate multiply rounds the
    # product to 1.0 and the sum to 0
    a, b = 1.0 + 2.0**-30, 1.0 - 2.0**-30
    assert a * b - 1.0 == 0.0
    assert fma(a, b, -1.0) == _fma_compiled(a, b, -1.0) == -(2.0**-60)


@settings(max_examples=200, deadline=None)
@given(*(st.floats(-1e150, 1e150, allow_subnormal=False) for _ in range(3)))
def test_fma_compiled_equals_exact_rational_rounding(a, b, c):
    # the CUDA simulator runs the pure-Python body, Numba the LLVM intrinsic
    assert _fma_compiled(a, b, c) == fma(a, b, c)
