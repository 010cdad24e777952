"""Errors of the run environment that a user can act on (the CLI prints them in one line).

Bad arguments raise ``ValueError`` or ``TypeError`` where they are checked; the classes
here are for states outside the arguments: a store another process is writing, a GPU
that is not there, a run whose numbers left the range of float64.
"""


class FastspringError(RuntimeError):
    """A run cannot go ahead for a reason the message explains."""


class StoreBusyError(FastspringError):
    """Another run is writing the store."""


class GpuUnavailableError(FastspringError):
    """The CUDA backend was asked for on a machine without a usable GPU."""


class NonFiniteResultError(FastspringError):
    """A run produced NaN or inf: finite arguments too large for float64 arithmetic."""
