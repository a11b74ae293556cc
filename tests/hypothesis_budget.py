"""How many examples a property test draws: ``max_examples=examples(300)``.

Each property test names its full count.  Under the ``ci`` profile, the default, it draws a third
of it (at least 20), so that the whole suite stays within minutes on two cores; under the
``full`` profile it draws the full count: the same properties over the same strategies, only
more examples::

    HYPOTHESIS_PROFILE=full python -m pytest          # or: python -m pytest --hypothesis-profile=full

The profiles are registered (and the one named by ``HYPOTHESIS_PROFILE`` loaded) in
``tests/conftest.py``.
"""

from __future__ import annotations

from hypothesis import settings

FULL = "full"
CI = "ci"


def examples(full_count: int) -> int:
    """``full_count`` under the full profile, a third of it (at least 20) otherwise."""
    if settings.get_current_profile_name() == FULL:
        return full_count
    return min(full_count, max(20, full_count // 3))
