"""Test configuration: strict NumPy rank promotion, and a float64 fixture."""

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def x64():
    """Runs the test with float64 enabled (games must be built inside the test)."""
    with jax.enable_x64(True):
        yield
