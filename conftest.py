"""Collection for the whole repository: the image modules' examples need scikit-learn (the ``images`` extra)."""

import importlib.util


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules, i.e. blocked
        return False


# Without scikit-learn the digits cannot be loaded: skip these modules' doctests, as tests/test_digits.py skips.
collect_ignore = [] if _installed("sklearn") else ["games/datasets.py", "games/digit_metrics.py"]
