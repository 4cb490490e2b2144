"""Test configuration: strict NumPy rank promotion, and a float64 fixture."""

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def x64():
    """Runs the test with float64 enabled (games must be built inside the test)."""
    with jax.enable_x64(True):
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    """Frees JAX's compiled programs before an xdist worker reports that it has finished.

    A worker that holds hundreds of compiled programs spent seconds destroying them in the garbage collection that
    pytest runs at its very end, after the controller had told it to shut down; past 5 s execnet sends the worker a
    SIGINT, and the KeyboardInterrupt surfaced inside hypothesis's garbage-collection callback as a
    PytestUnraisableExceptionWarning at the end of the run. Here the worker is still reporting, so there is no
    deadline, and the final collection has nothing heavy left to do."""
    import gc
    import os
    import time

    start = time.perf_counter()
    jax.clear_caches()
    gc.collect()
    if os.environ.get("MINIMAX_TEARDOWN_LOG"):
        with open(os.environ["MINIMAX_TEARDOWN_LOG"], "a") as log:
            log.write(f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')} {time.perf_counter() - start:.2f}\n")
