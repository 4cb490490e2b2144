"""Collection for the whole repository: the image modules' examples need scikit-learn (the ``images`` extra)."""

import importlib.util

# Without scikit-learn the digits cannot be loaded: skip these modules' doctests, as tests/test_digits.py skips.
collect_ignore = [] if importlib.util.find_spec("sklearn") else ["games/datasets.py", "games/digit_metrics.py"]
