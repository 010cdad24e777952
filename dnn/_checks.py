"""Argument check shared by the ``dnn`` modules; the error names the parameter."""

import math
import numbers


def check_count(name, value, low, hint=""):
    """Return ``value`` as an int ``>= low``; whole floats such as ``100.0`` are accepted.

    ``hint`` is appended to the error message.

    Raises
    ------
    ValueError
        For NaN, infinities, fractions, non-numbers and values below ``low``.
    """
    whole = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value == int(value)
    )
    if not whole or value < low:
        raise ValueError(f"{name}={value!r}: must be an integer >= {low}{hint}")
    return int(value)
