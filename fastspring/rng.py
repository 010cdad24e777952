r"""Counter-based random numbers shared by every backend.

The generator is Philox4x32-10 (Salmon et al., SC'11), checked against the
Random123 known-answer vectors.  A draw is a pure function of

* the key ``(chain, seed)`` -- one independent stream per chain, and
* the counter ``(step, group, stream)`` -- ``step`` is the time step (64 bit),
  ``group`` numbers blocks of four draws inside one step, ``stream`` separates
  independent uses at the same step (0: the noise itself; 1, 2, ...: re-draws
  of truncated noise; other models use further streams).

So the same (seed, chain) gives the same noise whatever the number of chains,
threads or backend, and the order in which chains are computed.

Normals come from the Box--Muller transform, one logarithm per two normals,
evaluated with branch-free polynomials (fdlibm's minimax kernels for ``log``,
``sin`` and ``cos``, in Horner form with fused multiply-adds, see
:mod:`fastspring._fma`) so that LLVM can vectorise a loop over chains; calls to
``math.log``/``math.cos`` would block that and cost an order of magnitude.

Every product that enters a sum or difference does so inside an explicit ``fma``.
A CUDA compiler (NVVM, then ptxas) fuses a plain product and sum into a fused
multiply-add by default, which rounds once instead of twice; a plain pair would
therefore give other bits on a GPU than on the CPU (where nothing is fused), and
the explicit form leaves it nothing to fuse (checked on the PTX in
``tests/test_cuda.py``).

Accuracy and range (measured in ``tests/test_rng.py``): each normal agrees
with the same transform evaluated by ``math.log``/``math.sin``/``math.cos`` to
a few units in the last place (relative error < 1e-15 for |z| > 1e-3).
Uniforms are ``u1 = (2 w + 1) / 2**33`` and ``u2 = (w + 1/2) / 2**32`` for a
32-bit word ``w``, so ``u1`` is never 0 and the largest possible
``|z| = sqrt(2 * 33 * ln 2) = 6.7637`` (to within one rounding); a true
standard normal exceeds that with probability 1.3e-11.
"""

import math

import numpy as np

from ._fma import fma
from ._jit import device, jit

_MASK = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)

_MANTISSA_BITS = np.uint64(52)
_MANTISSA = np.uint64(0x000FFFFFFFFFFFFF)
_EXPONENT_ONE = np.uint64(0x3FF0000000000000)
# fdlibm e_log.c
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_SQRT2 = 1.4142135623730951
# fdlibm k_sin.c / k_cos.c, valid on [-pi/4, pi/4]
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11
_PI_4_UNIT = math.pi / 4.0 * 2.0**-29  # pi/4 per unit of the 29-bit offset (exact scaling)

#: the largest |z| the generator can produce (rounded up by one ulp)
MAX_ABS_NORMAL = math.nextafter(math.sqrt(2.0 * 33.0 * math.log(2.0)), math.inf)


@device
def _philox_round(c0, c1, c2, c3, k0, k1):
    p0 = _M0 * c0
    p1 = _M1 * c2
    return (
        (p1 >> _SHIFT) ^ c1 ^ k0,
        p1 & _MASK,
        (p0 >> _SHIFT) ^ c3 ^ k1,
        p0 & _MASK,
    )


@device
def _bump(k0, k1):
    return (k0 + _W0) & _MASK, (k1 + _W1) & _MASK


@device
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32 with 10 rounds.

    All arguments and results are ``uint64`` holding 32-bit words.  The loop
    has a constant trip count and is fully unrolled by the compiler.
    """
    for _ in range(9):
        c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
        k0, k1 = _bump(k0, k1)
    return _philox_round(c0, c1, c2, c3, k0, k1)


@device
def _log_odd(w):
    """``log((2 w + 1) / 2**33)`` for a 32-bit word ``w``, branch-free (fdlibm log)."""
    # 2 w + 1 is an odd integer in [1, 2**33), exact in float64: split it into
    # exponent e and mantissa m in [1, 2) through its bits
    bits = np.float64(fma(2.0, np.float64(w), 1.0)).view(np.uint64)
    e = np.float64(np.int64(bits >> _MANTISSA_BITS) - 1023)
    m = np.uint64((bits & _MANTISSA) | _EXPONENT_ONE).view(np.float64)
    big = m > _SQRT2  # m in [1, 2): bring it into [sqrt(1/2), sqrt(2)]
    f = fma(m, 0.5 if big else 1.0, -1.0)  # m - 1 after halving a big m, exact
    e = e + (1.0 if big else 0.0) - 33.0
    s = f / (2.0 + f)
    z = s * s
    w2 = z * z
    t1 = fma(w2, fma(w2, _LG6, _LG4), _LG2)
    t2 = fma(w2, fma(w2, fma(w2, _LG7, _LG5), _LG3), _LG1)
    half_f = 0.5 * f
    r = fma(z, t2, fma(w2, t1, half_f * f))  # hfsq + w2 t1 + z t2, hfsq = f^2 / 2
    # e ln2_hi - ((hfsq - (s r + e ln2_lo)) - f); see the module docstring on fma
    return fma(e, _LN2_HI, -(fma(half_f, f, -fma(s, r, e * _LN2_LO)) - f))


@device
def _sin_cos_turn(w):
    """``sin`` and ``cos`` of ``2 pi (w + 1/2) / 2**32``, branch-free.

    The turn is split into eighths: the top three bits pick the octant, the
    remaining 29 bits give the offset ``a`` in (-pi/4, pi/4) from the nearest
    multiple of pi/2, where fdlibm's polynomial kernels are accurate.
    """
    octant = w >> np.uint64(29)
    # the offset in units of 2**-29 eighths: (w mod 2**29) - 2**29 in odd octants;
    # exact, and so is the half-unit shift, leaving one rounding in the product
    odd = (octant & np.uint64(1)) == np.uint64(1)
    units = np.int64(w & np.uint64(0x1FFFFFFF)) - (np.int64(1) << 29 if odd else np.int64(0))
    a = (np.float64(units) + 0.5) * _PI_4_UNIT
    quadrant = ((octant + np.uint64(1)) >> np.uint64(1)) & np.uint64(3)
    z = a * a
    sa = fma(a * z, fma(z, fma(z, fma(z, fma(z, fma(z, _S6, _S5), _S4), _S3), _S2), _S1), a)
    r = z * fma(z, fma(z, fma(z, fma(z, fma(z, _C6, _C5), _C4), _C3), _C2), _C1)
    one_minus = fma(-0.5, z, 1.0)  # 1 - z/2 (exact product: as in fdlibm)
    ca = one_minus + fma(z, r, fma(-0.5, z, 1.0 - one_minus))
    swap = (quadrant & np.uint64(1)) == np.uint64(1)
    s0 = ca if swap else sa
    c0 = sa if swap else ca
    sin_sign = -1.0 if quadrant >= np.uint64(2) else 1.0
    cos_sign = -1.0 if (quadrant == np.uint64(1) or quadrant == np.uint64(2)) else 1.0
    return sin_sign * s0, cos_sign * c0


@device
def box_muller(w_radius, w_angle):
    """Two independent standard normals from two 32-bit words."""
    r = math.sqrt(-2.0 * _log_odd(w_radius))
    s, c = _sin_cos_turn(w_angle)
    return r * c, r * s


@device
def words4(seed, chain, step, group, stream):
    """The four 32-bit Philox words for (seed, chain) at counter (step, group, stream)."""
    return philox4x32_10(
        np.uint64(step) & _MASK,
        np.uint64(step) >> _SHIFT,
        np.uint64(group),
        np.uint64(stream),
        np.uint64(chain),
        np.uint64(seed),
    )


@device
def normals4(seed, chain, step, group, stream):
    """Four standard normals for (seed, chain) at counter (step, group, stream)."""
    w0, w1, w2, w3 = words4(seed, chain, step, group, stream)
    z0, z1 = box_muller(w0, w1)
    z2, z3 = box_muller(w2, w3)
    return z0, z1, z2, z3


@device
def normal(seed, chain, step, index, stream):
    """The ``index``-th standard normal of (seed, chain) at (step, stream).

    Equals component ``index % 4`` of ``normals4(seed, chain, step, index // 4, stream)``.
    """
    z0, z1, z2, z3 = normals4(seed, chain, step, index // 4, stream)
    j = index % 4
    return z0 if j == 0 else (z1 if j == 1 else (z2 if j == 2 else z3))


@jit
def fill_normals(out, words, seed, chain0, step, stream):
    """``out[i, c]`` = normal ``i`` of chain ``chain0 + c`` at (step, stream).

    ``out`` has shape ``(n, chains)`` with ``n`` a multiple of 4 (draws come in
    groups of four); ``words`` is ``uint64`` scratch of the same shape.  The
    loops over chains are innermost so that they vectorise.  Two passes, the
    Philox words first and then the Box--Muller pairs: each loop alone fits
    the vector registers, which makes the whole 15 % faster than one fused
    loop on AVX-512; the numbers are the same as :func:`normals4`.
    """
    n, chains = out.shape
    for g in range(n // 4):
        i = 4 * g
        for c in range(chains):
            w0, w1, w2, w3 = words4(seed, chain0 + np.uint64(c), step, g, stream)
            words[i, c] = w0
            words[i + 1, c] = w1
            words[i + 2, c] = w2
            words[i + 3, c] = w3
    for p in range(n // 2):
        i = 2 * p
        for c in range(chains):
            out[i, c], out[i + 1, c] = box_muller(words[i, c], words[i + 1, c])


def standard_normal(seed, chains, steps, n, stream=0, chain0=0):
    """The draws the kernels use, as a NumPy array of shape ``(steps, chains, n)``.

    A convenience for inspection and tests; kernels generate the same numbers
    on the fly.
    """
    padded = 4 * ((n + 3) // 4)
    out = np.empty((steps, padded, chains))
    words = np.empty((padded, chains), dtype=np.uint64)
    for s in range(steps):
        fill_normals(
            out[s], words, np.uint64(seed), np.uint64(chain0), np.uint64(s), np.uint64(stream)
        )
    return np.ascontiguousarray(out[:, :n, :].transpose(0, 2, 1))
