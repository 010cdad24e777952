"""Data separation of a layer's features: paper Eq. 3, SM Eq. 9 and the regression load (SM S5).

For features ``x_i`` (rows of ``X``, N x d) with class labels, class means ``mu_k``,
class sizes ``n_k`` and global mean ``mu``:

    Sigma_b = (1/N) sum_k n_k (mu_k - mu)(mu_k - mu)^T                       (2)
    Sigma_w = (1/N) sum_k sum_{i in k} (x_i - mu_k)(x_i - mu_k)^T            (2)
    D_trace = log( Tr Sigma_w / Tr Sigma_b )                                  (3)
    D_pinv  = log Tr( Sigma_w Sigma_b^+ )                                  (SM 9)

All sums run in float64 whatever the feature dtype. Smaller D = better separated.

Pseudo-inverse cutoff. Sigma_b has rank at most K - 1 (K classes), so for d >= K it is
singular: its unused directions sit at about 1e-16 of its largest eigenvalue, only a few
times below NumPy's default ``pinv`` cutoff, and letting them through multiplies the
trace by ~1e16 (adds ~37 to D_pinv). We factor Sigma_b = A^T A with
A = diag(sqrt(n_k / N)) (M - mu) (K x d, M the class means), take the SVD A = U S V^T,
and keep the directions whose eigenvalue s_j^2 exceeds ``PINV_RTOL = 1e-10`` times the largest one:

    Sigma_b^+ = sum_{s_j^2 > 1e-10 s_1^2} v_j v_j^T / s_j^2,
    Tr(Sigma_w Sigma_b^+) = sum_j v_j^T Sigma_w v_j / s_j^2.

The result is the symmetric Moore-Penrose pseudo-inverse of Sigma_b up to that cutoff.

Degenerate layers: when the class means coincide (Sigma_b = 0, e.g. a layer whose units
are all dead, so that every feature is 0) the features do not separate the classes at
all and both kinds return ``+inf``; when every class collapses to one point (Sigma_w = 0,
Sigma_b != 0) they return ``-inf``. Features with NaN or inf (a diverged network) give
NaN, here and in :func:`regression_load`.

Invariances (tested): Eq. 3 is invariant under scaling the features, Eq. 9 under any
invertible linear map when Sigma_b is invertible (d <= K - 1) and under orthogonal maps
always; with a singular Sigma_b a non-orthogonal map changes Eq. 9 in general.
"""

import math

import numpy as np

KINDS = ("trace_ratio", "pinv")
PINV_RTOL = 1e-10


def _as_float64(features, labels):
    x = np.asarray(
        features.detach().cpu() if hasattr(features, "detach") else features, dtype=np.float64
    )
    y = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels)
    x = x.reshape(len(x), -1)
    if len(x) != len(y):
        raise ValueError(f"features have {len(x)} rows but labels have {len(y)} entries")
    return x, y


def _class_stats(x, y):
    """Class sizes, centred class means ``mu_k - mu`` and residuals ``x_i - mu_{y_i}``."""
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise ValueError("separation needs at least two classes in the labels")
    onehot = np.zeros((len(classes), len(x)))
    onehot[inverse, np.arange(len(x))] = 1.0
    means = (onehot @ x) / counts[:, None]
    mu = x.mean(axis=0)
    return counts, means - mu, x - means[inverse]


def scatter_matrices(features, labels):
    """Within- and between-class covariances, Eq. (2), in float64.

    Parameters
    ----------
    features : array_like or Tensor, shape (N, ...)
        Flattened to (N, d).
    labels : array_like of int, shape (N,)

    Returns
    -------
    sigma_w, sigma_b : ndarray, shape (d, d)
    """
    x, y = _as_float64(features, labels)
    counts, centred, resid = _class_stats(x, y)
    n = len(x)
    return resid.T @ resid / n, (centred.T * counts) @ centred / n


def separation(features, labels, kind="trace_ratio", *, rtol=PINV_RTOL):
    """Data separation D of one layer (module docstring).

    Parameters
    ----------
    features : array_like or Tensor, shape (N, ...)
        Post-activation features of one layer (flattened to N x d).
    labels : array_like of int, shape (N,)
    kind : {"trace_ratio", "pinv"}
        ``"trace_ratio"``: Eq. 3, ``log(Tr Sigma_w / Tr Sigma_b)``;
        ``"pinv"``: Eq. 9, ``log Tr(Sigma_w Sigma_b^+)``.
    rtol : float
        Relative eigenvalue cutoff of the pseudo-inverse (``"pinv"`` only), in [0, 1).

    Returns
    -------
    float
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}: choose one of {', '.join(KINDS)}")
    if not 0.0 <= rtol < 1.0:
        raise ValueError(f"rtol={rtol!r}: the pseudo-inverse cutoff must lie in [0, 1)")
    x, y = _as_float64(features, labels)
    if not np.all(np.isfinite(x)):  # a diverged network (module docstring)
        return math.nan
    counts, centred, resid = _class_stats(x, y)
    n = len(x)
    if not np.any(centred):  # Sigma_b = 0: no separation at all
        return math.inf
    if kind == "trace_ratio":
        tr_w = np.sum(resid * resid) / n
        tr_b = np.sum(counts * np.sum(centred * centred, axis=1)) / n
        ratio = tr_w / tr_b
    else:
        a = centred * np.sqrt(counts / n)[:, None]
        _, s, vt = np.linalg.svd(a, full_matrices=False)
        eig = s * s
        keep = eig > rtol * eig[0]
        proj = resid @ vt[keep].T  # (N, r): v_j^T (x_i - mu_{y_i})
        ratio = np.sum(np.sum(proj * proj, axis=0) / n / eig[keep])
    return -math.inf if ratio == 0.0 else float(np.log(ratio))


def regression_load(features, targets):
    """Regression load of SM S5: RMSE of the best affine predictor from the features.

    ``min_{W, b} sqrt( (1/(N q)) sum_i || W x_i + b - t_i ||^2 )`` over all entries of
    the ``q`` targets, solved by least squares in float64. For a classification network,
    pass one-hot labels as ``targets``.

    Parameters
    ----------
    features : array_like or Tensor, shape (N, ...)
    targets : array_like, shape (N,) or (N, q)

    Returns
    -------
    float
        NaN for features with NaN or inf (a diverged network).
    """
    x, t = _as_float64(features, targets)
    if not np.all(np.isfinite(x)):
        return math.nan
    t = np.asarray(t, dtype=np.float64).reshape(len(t), -1)
    design = np.hstack([x, np.ones((len(x), 1))])
    coef, *_ = np.linalg.lstsq(design, t, rcond=None)
    resid = design @ coef - t
    return float(np.sqrt(np.mean(resid * resid)))
