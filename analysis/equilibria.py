"""Equilibrium of a chain pulled from rest (paper Eq. 7) and its noisy re-equilibration (Eq. 8).

Without noise the chain settles at the equilibrium of paper Eq. 7; with noise it
re-equilibrates with an effective friction (paper Eq. 8).

Reference: Shi, Pan & Dokmanic, "A spring-block theory of feature learning in deep
neural networks", arXiv:2407.19353 (Phys. Rev. Lett. 2025), Eqs. 7-8.
"""

from typing import NamedTuple

import numpy as np

from ._checks import check_int

__all__ = ["Equilibrium", "equilibrium", "mobilised_count"]


class Equilibrium(NamedTuple):
    """The equilibrium state returned by :func:`equilibrium`.

    Attributes
    ----------
    x : ndarray, shape (..., L)
        Block positions ``x_1..x_L``.
    d : ndarray, shape (..., L + 1)
        Load curve ``d_l = y - x_l``, ``l = 0..L`` (``d_0 = y``).
    m : ndarray of int, shape (...)
        Number of mobilised blocks (the deepest ``m`` blocks moved; the shallow
        ``L - m`` stayed at 0).
    """

    x: np.ndarray
    d: np.ndarray
    m: np.ndarray


def _broadcast(k, y, mu):
    k, y, mu = np.broadcast_arrays(
        np.asarray(k, dtype=float), np.asarray(y, dtype=float), np.asarray(mu, dtype=float)
    )
    if np.any(~(k > 0)):
        raise ValueError("k must be > 0")
    if np.any(~(y >= 0)):
        raise ValueError("y must be >= 0 (the chain is pulled to the right)")
    if np.any(~np.isfinite(mu)) or np.any(~np.isfinite(y)) or np.any(~np.isfinite(k)):
        raise ValueError("k, y and mu must be finite")
    return k, y, mu


def mobilised_count(L, k, y, mu):
    """Number of blocks that move when a chain at rest is pulled to ``y`` (Eq. 7).

    ``m = max{ m <= L : k y > mu m (m + 1) / 2 }`` (``m = 0`` if no ``m >= 1``
    qualifies). For ``mu <= 0`` and ``y > 0`` every block moves. The deepest block
    starts moving iff ``k y > mu``; block ``L - j`` joins the ``j`` deeper ones when
    the ``j + 1`` blocks can all move, which needs ``k y > mu (j + 1)(j + 2) / 2``.

    Parameters
    ----------
    L : int
        Number of blocks.
    k, y, mu : float or array_like
        Stiffness (> 0), pull (>= 0), friction (``mu_plus``, or an effective friction
        of either sign); broadcast together.

    Returns
    -------
    ndarray of int (NumPy integer for scalar input)
    """
    L = check_int("L", L, low=1)
    k, y, mu = _broadcast(k, y, mu)
    pull = k * y

    def moves(m):  # the deepest m blocks can all move (1 <= m <= L)
        return (m >= 1) & (m <= L) & (pull > mu * m * (m + 1) / 2)

    # mu > 0: the root of mu m (m + 1) / 2 = k y, rounded down; mu <= 0 (y >= 0): the rule
    # is tightest at m = 1, so all blocks move or none. O(1) in L.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        root = np.floor((np.sqrt(1 + 8 * (pull / mu)) - 1) / 2)
    m = np.where(mu > 0, np.clip(np.nan_to_num(root, posinf=L), 0, L), np.where(pull > mu, L, 0))
    # the square root is off by a few ulp at most: one step either way settles the boundary
    m = np.where(moves(m) | (m == 0), m, m - 1)
    m = np.where(moves(m + 1), m + 1, m)
    return m.astype(np.int64)[()]


def equilibrium(L, k, y, mu, *, partial=True):
    """Equilibrium of a chain pulled from rest against friction ``mu`` (paper Eq. 7).

    Without noise blocks only move right, and every block that moved ends with
    elastic force ``F_l = mu``. If all blocks move,

    ``x_l = l y / (L + 1) - (mu / 2k) l (L + 1 - l)``,
    ``d_l = y (L + 1 - l) / (L + 1) + (mu / 2k) l (L + 1 - l)``   (concave for mu > 0).

    All blocks move iff ``k y > mu L (L + 1) / 2``; otherwise only the deepest ``m``
    blocks move (:func:`mobilised_count`), the shallow ``L - m`` stay at 0 and the
    moving part follows the same formula on the sub-chain between ``x_{L-m} = 0`` and
    ``y`` (``L -> m``, ``l -> l - (L - m)``).

    With ``mu`` replaced by an effective friction ``mu_bar`` this is paper Eq. 8 (see
    :func:`analysis.effective_friction`); ``mu_bar < 0`` gives a convex load curve.

    Parameters
    ----------
    L : int
        Number of blocks, ``>= 1``.
    k : float or array_like
        Spring stiffness, ``> 0``.
    y : float or array_like
        Position of the pulled end, ``>= 0``.
    mu : float or array_like
        Friction opposing rightward motion (``mu_plus``), or ``mu_bar`` of Eq. 8.
    partial : bool
        Apply the partial-mobilisation rule (default). ``False`` gives the plain
        formula for every block, which is the large-noise limit of Eq. 8, where
        blocks move both ways and may sit at negative positions.

    Returns
    -------
    Equilibrium
        ``(x, d, m)`` with shapes ``S + (L,)``, ``S + (L + 1,)`` and ``S``, ``S`` the
        broadcast shape of ``k, y, mu``.
    """
    L = check_int("L", L, low=1)
    k, y, mu = _broadcast(k, y, mu)
    if partial:
        m = np.asarray(mobilised_count(L, k, y, mu))
    else:
        m = np.full(k.shape, L)
    ell = np.arange(1, L + 1)
    # position of block l inside the moving sub-chain: j = l - (L - m), 1..m
    j = (ell - (L - m)[..., None]).astype(float)
    mf = m[..., None].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        moving = j * y[..., None] / (mf + 1) - (mu / (2 * k))[..., None] * j * (mf + 1 - j)
    x = np.where(j >= 1, moving, 0.0)
    d = y[..., None] - np.concatenate([np.zeros(x.shape[:-1] + (1,)), x], axis=-1)
    return Equilibrium(x=x, d=d, m=m[()])
