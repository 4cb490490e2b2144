"""Long runs in constant memory: trace thinning, on-device running summaries, and what the compiled loop holds."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm
import minimax.driver as driver

GAME = games.bilinear(jnp.array([[1.0, 0.3], [0.0, 0.8]]))
START = dict(x0=jnp.array([1.0, -0.5]), y0=jnp.array([0.5, 1.0]))


def _observed(full, steps, every, record_every):
    """The records of a record_every=1 run at the observation steps: every record and every `every`-th step after."""
    record_every = min(record_every or steps, steps)
    records = sorted(set(range(0, steps + 1, record_every)) | {steps})
    idx = set(records)
    for start, end in zip(records[:-1], records[1:]):
        idx |= set(range(start + every, end, every))
    idx = sorted(idx)
    return idx, {k: np.asarray(v)[idx] for k, v in full.trace.items()}


GDA, EG = mm.simultaneous_gda(optax.sgd(0.2)), mm.extragradient(optax.sgd(0.2))  # spirals out, converges


@pytest.mark.parametrize("solver, steps, every, record_every", [
    (GDA, 50, 1, None), (EG, 50, 7, None), (GDA, 48, 4, 12), (EG, 50, 4, 10), (EG, 50, 3, 1)])
def test_summary_equals_reductions_of_the_full_trace(solver, steps, every, record_every):
    full = mm.run(GAME, solver, steps=steps, record_every=1, **START)
    res = mm.run(GAME, solver, steps=steps, record_every=record_every, summary_every=every, **START)
    idx, obs = _observed(full, steps, every, record_every)
    s = res.summary
    assert int(s["observations"]) == len(idx)
    assert set(s["min"]) == set(full.trace) - {"step", "grad_evals"}
    for name in s["min"]:
        np.testing.assert_allclose(s["min"][name], obs[name].min(), rtol=1e-6)
        np.testing.assert_allclose(s["max"][name], obs[name].max(), rtol=1e-6)
        np.testing.assert_allclose(s["mean"][name], obs[name].mean(), rtol=1e-5, atol=1e-6 * np.abs(obs[name]).max())
        assert int(s["argmin"][name]) == idx[int(np.argmin(obs[name]))]
        assert int(s["argmax"][name]) == idx[int(np.argmax(obs[name]))]
    # summaries change nothing else: the same iterate (up to XLA fusing a differently nested loop), the same records
    np.testing.assert_allclose(res.x, full.x, rtol=1e-6)
    kept = np.asarray(res.trace["step"])
    np.testing.assert_allclose(res.trace["dist"], np.asarray(full.trace["dist"])[kept], rtol=1e-6)


def test_summary_of_array_metrics_is_elementwise():
    res = mm.run(GAME, mm.simultaneous_gda(optax.sgd(0.2)), steps=20, record_every=None, summary_every=1,
                 metrics={"x": lambda x, y: x}, **START)
    full = mm.run(GAME, mm.simultaneous_gda(optax.sgd(0.2)), steps=20, metrics={"x": lambda x, y: x}, **START)
    xs = np.asarray(full.trace["x"])
    np.testing.assert_allclose(res.summary["max"]["x"], xs.max(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(res.summary["argmin"]["x"], xs.argmin(axis=0))
    assert res.trace["x"].shape == (2, 2)  # only the start and the end are stacked


def test_summary_is_none_by_default_and_vmaps():
    assert mm.run(GAME, mm.extragradient(optax.sgd(0.1)), steps=5, **START).summary is None
    keys = jax.random.split(jax.random.key(0), 3)
    res = jax.vmap(lambda k: mm.run(GAME, mm.extragradient(optax.sgd(0.1)), steps=30, key=k, summary_every=3,
                                    record_every=None))(keys)
    assert res.summary["min"]["dist"].shape == (3,)
    assert res.summary["observations"].tolist() == [11, 11, 11]


def test_summary_stays_float64(x64):
    game = games.bilinear(jnp.eye(2))
    res = mm.run(game, mm.extragradient(optax.sgd(0.1)), steps=10, summary_every=2, record_every=5,
                 key=jax.random.key(0))
    assert res.summary["mean"]["dist"].dtype == jnp.float64 and res.summary["min"]["value"].dtype == jnp.float64


def test_summary_after_divergence_holds_the_last_finite_metrics():
    game = games.bilinear(jnp.eye(2))
    with pytest.warns(mm.DivergenceWarning):
        res = mm.run(game, mm.simultaneous_gda(optax.sgd(1e3)), steps=100, summary_every=1, record_every=None,
                     x0=jnp.ones(2), y0=jnp.ones(2))
    assert np.isfinite(float(res.summary["max"]["dist"]))
    assert float(res.summary["max"]["dist"]) == pytest.approx(float(res.trace["dist"][-1]))


@pytest.mark.parametrize("summary_every, error", [(0, ValueError), (2.0, TypeError), (True, TypeError)])
def test_bad_summary_every(summary_every, error):
    with pytest.raises(error, match="summary_every: expected a positive integer"):
        mm.run(GAME, mm.extragradient(optax.sgd(0.1)), steps=20, summary_every=summary_every, **START)


def _compiled_memory(steps, record_every, summary_every=None, metrics=()):
    solver = mm.extragradient(optax.sgd(0.1))
    lowered = driver._run_compiled.lower(GAME, solver, steps, record_every, metrics, None, None,
                                         START["x0"], START["y0"], jax.random.key(0), summary_every=summary_every)
    return lowered.compile().memory_analysis()


def test_a_long_run_holds_no_copy_per_step():
    """XLA's own accounting of the compiled loop: without records in between, memory does not grow with steps."""
    short, long = _compiled_memory(1_000, 1_000), _compiled_memory(1_000_000, 1_000_000)
    assert long.output_size_in_bytes == short.output_size_in_bytes
    assert long.temp_size_in_bytes == short.temp_size_in_bytes
    summarised = _compiled_memory(1_000_000, 1_000_000, summary_every=1)
    assert summarised.temp_size_in_bytes < 4096 and summarised.output_size_in_bytes < 4096
    # thinning: the stacked trace grows with the number of records, not of steps
    metrics = (("x", lambda x, y: x),)
    every_step, thinned = _compiled_memory(100_000, 1, metrics=metrics), _compiled_memory(100_000, 1000, metrics=metrics)
    record_bytes = 4 * (6 + 2)  # six float32/int32 scalars and x in R^2
    assert every_step.output_size_in_bytes >= 100_000 * record_bytes
    assert thinned.output_size_in_bytes < 101 * record_bytes + 1024
