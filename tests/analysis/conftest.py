"""Hypothesis profiles for the analysis suite.

The default profile is fast (``deadline=None`` because the simulators compile on
first use, few examples); ``pytest tests/analysis --hypothesis-profile=thorough``
runs a deep search. The project-wide ``tests/conftest.py`` registers the same two
names; they are registered here only when it has not, so that this folder also
works on its own. Tests that run simulations scale their example counts from the
active profile's ``max_examples``.
"""

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis.errors import InvalidArgument  # noqa: E402

try:
    settings.get_profile("thorough")
except InvalidArgument:
    for _name, _examples in {"default": 15, "thorough": 400}.items():
        settings.register_profile(
            _name,
            max_examples=_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
