"""Argument checks shared by ``analysis`` and ``fastspring``.

Each error names the parameter and its allowed range.
"""

import math
import numbers

#: the noise distributions (docs/theory.md, "Noise options"; :class:`fastspring.Noise` ``kind``)
NOISE_KINDS = ("gaussian", "clipped", "truncated")


def check_real(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a finite float inside the given range, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    lo_ok = low is None or (value > low if low_open else value >= low)
    hi_ok = high is None or (value < high if high_open else value <= high)
    if not (lo_ok and hi_ok):
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        bracket_l = "(" if low_open or low is None else "["
        bracket_r = ")" if high_open or high is None else "]"
        raise ValueError(
            f"{name} must lie in {bracket_l}{left}, {right}{bracket_r}, got {value:g}"
        )
    return value


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_int(name, value, *, low=None, high=None):
    """Return ``value`` as an int in ``[low, high]``, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        left = "-inf" if low is None else str(low)
        right = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be an integer in [{left}, {right}], got {value}")
    return value
