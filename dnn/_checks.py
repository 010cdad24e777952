"""Argument checks shared by the ``dnn`` modules; each error names the parameter."""

import math
import numbers

import torch


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


def check_device(device):
    """Return ``device`` if torch knows it and, for ``"cuda"``, finds a GPU; else raise.

    ``None`` (the CPU) passes unchanged.
    """
    if device is None:
        return None
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={device!r}: not a torch device ({err})") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r}: torch finds no CUDA GPU here; leave it unset to use the CPU"
        )
    return device
