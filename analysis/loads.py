"""Load curves, their shape metrics, and the elastic energy of a chain.

The load curve ``d_l = y - x_l`` of a spring-block chain plays the role of the data
separation ``D_l`` of layer ``l`` of a deep network (Shi, Pan & Dokmanic, "A
spring-block theory of feature learning in deep neural networks", arXiv:2407.19353).
Everything here is vectorised over leading axes: plain NumPy, except the per-curve
statistics of :func:`load_curve_metrics`, one small Numba loop over the curves (a
sweep measures millions of 8-point curves, where NumPy's reductions along a short
last axis cost about 0.5 us per curve).
"""

import numpy as np

from ._checks import check_int
from ._jit import jit

__all__ = [
    "DEFAULT_DROP_TOL",
    "DEFAULT_PHASE_TOL",
    "PHASES",
    "elastic_energy",
    "equiseparated",
    "load_curve",
    "load_curve_metrics",
    "minimum_elastic_energy",
]

#: the phase labels, in the order concave < linear < convex of the curvature
PHASES = ("concave", "linear", "convex", "undetermined")

#: default band ``|c_rel| <= tol`` called "linear" (see :func:`load_curve_metrics`)
DEFAULT_PHASE_TOL = 0.05

#: default minimal share of the total variation that must be net drop
DEFAULT_DROP_TOL = 0.5


def load_curve(x, y):
    """Load curve ``d_l = y - x_l`` for ``l = 0..L`` with ``x_0 = 0``.

    Parameters
    ----------
    x : array_like, shape (..., L)
        Block positions ``x_1..x_L``.
    y : float or array_like broadcastable to ``x[..., :1]``
        Position of the pulled end.

    Returns
    -------
    ndarray, shape (..., L + 1)
        ``d_0 = y, d_1, ..., d_L``; ``d_{l-1} - d_l`` is the contribution of layer ``l``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)[..., None] if np.ndim(y) else float(y)
    padded = np.concatenate([np.zeros(x.shape[:-1] + (1,)), x], axis=-1)
    return y - padded


def _extensions(x, y):
    """Spring elongations ``Delta_i = x_i - x_{i-1}``, ``i = 1..L+1``, shape (..., L+1)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)[..., None]
    lead = np.broadcast_shapes(x.shape[:-1], y.shape[:-1])
    x = np.broadcast_to(x, lead + x.shape[-1:])
    y = np.broadcast_to(y, lead + (1,))
    full = np.concatenate([np.zeros(lead + (1,)), x, y], axis=-1)
    return np.diff(full, axis=-1)


def elastic_energy(x, k, y):
    """Elastic energy ``U = (k/2) sum_{i=1}^{L+1} Delta_i**2``.

    ``Delta_i = x_i - x_{i-1}`` with the fixed ends ``x_0 = 0`` and ``x_{L+1} = y``.

    Parameters
    ----------
    x : array_like, shape (..., L)
        Block positions.
    k : float or array_like broadcastable to ``x.shape[:-1]``
        Spring stiffness.
    y : float or array_like broadcastable to ``x.shape[:-1]``
        Position of the pulled end.

    Returns
    -------
    ndarray or float, shape ``x.shape[:-1]``
    """
    ext = _extensions(x, y)
    return 0.5 * np.asarray(k, dtype=float) * np.sum(ext * ext, axis=-1)


def equiseparated(L, y):
    """The equiseparated chain ``x_l = l y / (L + 1)`` (all ``Delta_i = y / (L + 1)``).

    Among all chains with the same end-to-end extension ``y`` it has the lowest
    elastic energy: by Cauchy--Schwarz,
    ``sum Delta_i**2 >= (sum Delta_i)**2 / (L + 1) = y**2 / (L + 1)`` with equality
    iff every ``Delta_i`` is equal.

    Parameters
    ----------
    L : int
        Number of blocks.
    y : float or array_like
        Position of the pulled end; the result has shape ``np.shape(y) + (L,)``.
    """
    L = check_int("L", L, low=1)
    ell = np.arange(1, L + 1, dtype=float)
    return np.asarray(y, dtype=float)[..., None] * ell / (L + 1)


def minimum_elastic_energy(L, k, y):
    """The minimum ``U_min = k y**2 / (2 (L + 1))`` over chains of extension ``y``.

    It is attained by :func:`equiseparated`.
    """
    L = check_int("L", L, low=1)
    y = np.asarray(y, dtype=float)
    return np.asarray(k, dtype=float) * y * y / (2.0 * (L + 1))


def load_curve_metrics(
    D, drop_last=False, tol=DEFAULT_PHASE_TOL, *, drop_tol=DEFAULT_DROP_TOL, noise_z=3.0, atol=0.0
):
    """Shape metrics of load curves ``D_0..D_L``.

    With the contributions ``delta_l = D_{l-1} - D_l`` (``l = 1..L``):

    * non-uniformity ``v = std(delta)`` (population standard deviation, ``ddof=0``);
    * curvature ``c = sum_{l=1}^{L-1} (delta_l - delta_{l+1}) = delta_1 - delta_L``,
      the sum of the discrete second differences ``D_{l+1} - 2 D_l + D_{l-1}``:
      ``c > 0`` means shallow layers contribute more (convex curve, "active"),
      ``c < 0`` that deep layers contribute more (concave, "lazy");
    * scale-free curvature ``c_rel = c / (D_0 - D_L)``; for a monotone decreasing curve
      ``-1 <= c_rel <= 1``;
    * phase: ``"concave"`` if ``c_rel < -tol``, ``"convex"`` if ``c_rel > tol``,
      ``"linear"`` if ``|c_rel| <= tol``, ``"undetermined"`` (with ``c_rel = NaN``)
      when the total drop is not clearly above the noise of the curve (below).

    For the noiseless chain (Eq. 7, all blocks mobilised) ``c = -(mu_plus/k)(L - 1)``.

    **When is a drop "clearly above noise"?** A single curve carries no error bar, so
    the phase is "determined" only when the total drop ``D_0 - D_L`` is positive, exceeds
    the absolute floor ``atol`` (in units of ``D``: pass e.g. three standard errors of
    the drop across seeds when replicates exist) and ``64 eps max|D|`` (round-off), and
    passes at least one of two self-consistency checks:

    * mostly monotone: the drop is at least ``drop_tol`` (default 0.5) times the total
      variation ``sum_l |delta_l|`` (a monotone decreasing curve has ratio 1, even with
      kinks such as partial mobilisation, Eq. 7);
    * smooth: the drop is at least ``noise_z`` (default 3) times ``sqrt(2) s``, where
      ``s`` is the RMS residual (``n - 3`` degrees of freedom) of a least-squares
      quadratic in ``l`` -- the shape Eq. 8 predicts -- taken as the per-point noise.
      This admits smooth, non-monotone curves such as the large-noise chain with
      ``mu_bar > 0``, whose blocks sit at negative positions.

    An untrained network, whose ``D_l`` wander around ``D_0``, fails both and gets
    ``c_rel = NaN`` with phase "undetermined" instead of a huge, meaningless ratio.
    (By chance, independent white noise on 8 points passes in about 1 % of cases and a
    Gaussian random walk in about 18 %: for real decisions supply ``atol`` from
    replicates.)

    **The linear band.** ``tol`` (default 0.05) bounds ``|c_rel|``: a curve is called
    linear when its first and last contributions differ by at most 5 % of the total
    drop. For ``L = 7`` layers that is about a third of the mean contribution; for the
    chain of Eq. 8 near ``mu_bar = 0``, ``c_rel ~ -mu_bar (L - 1)(L + 1)/(k y L)``, so
    the band corresponds to ``|mu_bar| <~ 0.05 k y / L``.

    Parameters
    ----------
    D : array_like, shape (..., n)
        Load curves along the last axis (``n = L + 1`` points), e.g. ``d_0..d_L`` of
        a chain or the data separation of the input and each hidden layer.
    drop_last : bool
        Drop the last point first (the output layer of a DNN, as the reference code
        does).
    tol : float
        Half-width of the "linear" band of ``c_rel``.
    drop_tol : float
        Minimal ratio of net drop to total variation (the "mostly monotone" check), in
        ``[0, 1]``.
    noise_z : float
        Drop in units of the quadratic-fit noise required by the "smooth" check.
    atol : float or array_like
        Absolute noise floor of the drop (broadcast against the leading axes).

    Returns
    -------
    dict
        ``v``, ``c``, ``c_rel``, ``drop`` (``D_0 - D_L``), ``fit_rms`` (the quadratic
        fit's RMS residual ``s`` of the smooth check, 0 for ``n <= 3``): float arrays of
        shape ``D.shape[:-1]`` (NumPy scalars for a single curve); ``phase``: string array of
        that shape; ``delta``: the contributions, shape ``(..., n - 1)``.
        With a single contribution (``n = 2``) the curvature is 0 by definition and the
        phase is "undetermined".
    """
    D = np.asarray(D, dtype=float)
    if D.ndim == 0:
        raise ValueError("D must have at least one axis (the layers)")
    if drop_last:
        D = D[..., :-1]
    if D.shape[-1] < 2:
        raise ValueError(f"a load curve needs at least 2 points, got {D.shape[-1]}")
    tol = float(tol)
    drop_tol = float(drop_tol)
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    if not 0.0 <= drop_tol <= 1.0:
        raise ValueError(f"drop_tol must lie in [0, 1], got {drop_tol}")

    lead, n = D.shape[:-1], D.shape[-1]
    delta = np.empty(lead + (n - 1,))
    stats = np.empty((6, int(np.prod(lead))))
    curves = np.ascontiguousarray(D.reshape(-1, n))
    _curve_statistics(curves, _quadratic_basis(n), delta.reshape(-1, n - 1), stats)
    v, c, drop, variation, s_fit, largest = (row.reshape(lead) for row in stats)
    with np.errstate(invalid="ignore"):
        roundoff = 64 * np.finfo(float).eps * largest
        determined = (
            (drop > np.asarray(atol, dtype=float))
            & ((drop >= drop_tol * variation) | (drop >= noise_z * np.sqrt(2.0) * s_fit))
            & (drop > roundoff)
            & np.isfinite(c)
        )
        if n < 3:
            determined = np.zeros_like(determined)
        safe = np.where(determined, drop, 1.0)
        c_rel = np.where(determined, c / safe, np.nan)
        code = np.where(c_rel > tol, 2, np.where(c_rel < -tol, 0, 1))
        phase = np.asarray(np.asarray(PHASES, dtype="<U12")[np.where(determined, code, 3)])
    return {
        "v": v[()],
        "c": c[()],
        "c_rel": c_rel[()],
        "drop": drop[()],
        "fit_rms": s_fit[()],
        "phase": phase[()],
        "delta": delta,
    }


def _quadratic_basis(n):
    """Orthonormal basis ``(n, 3)`` of quadratics in ``l`` on n points (none if ``n <= 3``)."""
    if n <= 3:
        return np.zeros((n, 0))
    ell = np.linspace(-1.0, 1.0, n)
    q, _ = np.linalg.qr(np.stack([np.ones(n), ell, ell * ell], axis=-1))
    return q


@jit
def _curve_statistics(D, basis, delta, out):
    """Per curve ``D[r]``: ``delta[r]``, ``out[:, r] = (v, c, drop, variation, s_fit, max|D|)``.

    ``delta_l = D_{l-1} - D_l``, ``v = std(delta)``, ``c = delta_1 - delta_L``,
    ``drop = D_0 - D_L``, ``variation = sum |delta_l|`` (see :func:`load_curve_metrics`);
    ``s_fit`` is the RMS residual (``n - 3`` degrees of freedom) of the projection on the
    orthonormal ``basis`` of quadratics (0 without a basis); ``max|D|`` is NaN if the
    curve holds a NaN.
    """
    m, n = D.shape
    for r in range(m):
        d = D[r]
        drop = d[0] - d[n - 1]
        mean = drop / (n - 1)  # the contributions telescope
        squares = 0.0
        variation = 0.0
        for ell in range(n - 1):
            delta[r, ell] = d[ell] - d[ell + 1]
            squares += (delta[r, ell] - mean) * (delta[r, ell] - mean)
            variation += abs(delta[r, ell])
        largest = 0.0
        for i in range(n):
            largest = max(largest, abs(d[i]))
        if not np.isfinite(variation):  # a NaN or inf in the curve
            squares = np.nan
            largest = np.nan if np.isnan(variation) else largest
        residual = 0.0
        if basis.shape[1] == 3:
            a0 = a1 = a2 = 0.0
            for i in range(n):
                a0 += d[i] * basis[i, 0]
                a1 += d[i] * basis[i, 1]
                a2 += d[i] * basis[i, 2]
            for i in range(n):
                e = d[i] - (basis[i, 0] * a0 + basis[i, 1] * a1 + basis[i, 2] * a2)
                residual += e * e
            residual = np.sqrt(residual / (n - 3))
        out[0, r] = np.sqrt(squares / (n - 1))
        out[1, r] = delta[r, 0] - delta[r, n - 2]
        out[2, r] = drop
        out[3, r] = variation
        out[4, r] = residual
        out[5, r] = largest
