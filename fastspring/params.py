"""Immutable, validated parameter objects: the chain and its noise.

Every check names the parameter and its allowed range, so that nothing
unchecked ever reaches a kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from analysis._checks import NOISE_KINDS, check_choice, check_int, check_real

#: the smallest bound/sigma ratio accepted for truncated noise (acceptance of one draw ~0.8 %)
MIN_TRUNCATION_RATIO = 0.01


@dataclass(frozen=True)
class Chain:
    """A chain of ``L`` unit blocks between a wall at 0 and a pulled end at ``y``.

    Parameters
    ----------
    L : int
        Number of blocks (hidden layers), ``L >= 1``.
    k : float
        Spring stiffness, ``k > 0``.
    y : float
        Position of the pulled end (the target), finite. The paper pulls, ``y > 0``
        (and :mod:`analysis`'s closed forms need it); ``y <= 0`` pushes the chain left
        against ``mu_minus``, which the simulators handle alike.
    mu_plus, mu_minus : float
        Friction (sliding = maximal static) for rightward / leftward motion, ``>= 0``.
    """

    L: int = 7
    k: float = 1.0
    y: float = 1.0
    mu_plus: float = 0.1
    mu_minus: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "L", check_int("L", self.L, low=1))
        object.__setattr__(self, "k", check_real("k", self.k, low=0.0, low_open=True))
        object.__setattr__(self, "y", check_real("y", self.y))
        object.__setattr__(self, "mu_plus", check_real("mu_plus", self.mu_plus, low=0.0))
        object.__setattr__(self, "mu_minus", check_real("mu_minus", self.mu_minus, low=0.0))


@dataclass(frozen=True)
class Noise:
    """The force noise ``eps = sigma(t) * xi`` (docs/theory.md, "Noise options").

    Parameters
    ----------
    sigma : float
        Standard deviation of the underlying Gaussian, ``>= 0``.
    kind : {"gaussian", "clipped", "truncated"}
        ``clipped`` sets draws beyond ``+-bound`` to ``+-bound``; ``truncated``
        draws again until ``|eps| <= bound``.
    bound : float, optional
        The bound ``a > 0``; required for clipped and truncated noise.
    decay : float
        Rate ``lambda >= 0`` of ``sigma(t) = sigma * exp(-lambda t)``.
    synchronous : bool
        One draw per chain and step, shared by all blocks (paper Fig. 4).
    """

    sigma: float = 0.0
    kind: str = "gaussian"
    bound: float | None = None
    decay: float = 0.0
    synchronous: bool = False

    def __post_init__(self):
        object.__setattr__(self, "sigma", check_real("sigma", self.sigma, low=0.0))
        check_choice("kind", self.kind, NOISE_KINDS)
        if self.kind == "gaussian":
            if self.bound is not None:
                raise ValueError("bound is only used with kind='clipped' or 'truncated'")
        else:
            if self.bound is None:
                raise ValueError(f"kind={self.kind!r} needs a bound > 0")
            bound = check_real("bound", self.bound, low=0.0, low_open=True)
            object.__setattr__(self, "bound", bound)
            if self.kind == "truncated" and bound < MIN_TRUNCATION_RATIO * self.sigma:
                raise ValueError(
                    f"bound must be >= {MIN_TRUNCATION_RATIO} * sigma for truncated noise "
                    f"(else nearly every draw is rejected), got bound={bound:g}, "
                    f"sigma={self.sigma:g}"
                )
        object.__setattr__(self, "decay", check_real("decay", self.decay, low=0.0))
        if not isinstance(self.synchronous, bool):
            raise TypeError(f"synchronous must be True or False, got {self.synchronous!r}")

    @property
    def kind_code(self) -> int:
        """The integer code the kernels use for ``kind``."""
        return NOISE_KINDS.index(self.kind)

    @property
    def bound_value(self) -> float:
        """``bound`` as a float (infinite for Gaussian noise)."""
        return math.inf if self.bound is None else self.bound
