"""Shared test configuration: hypothesis profiles.

``default`` keeps the suite fast (JIT compilation makes the first example slow,
hence ``deadline=None``); run ``pytest --hypothesis-profile=thorough`` for a
deep search.
"""

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "default", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
