"""The driver: reproducibility, jit and vmap, float64, trace thinning, divergence, general-sum games, pytrees."""

import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm
import minimax.driver as driver


def noisy_bilinear():
    """A stochastic game: f = x^T y + noise(key) . x."""

    def value(x, y, key):
        return x @ y + jax.random.normal(key, x.shape) @ x * 0.1

    return mm.Game(value=value, init=lambda key: tuple(jax.random.normal(k, (3,)) for k in jax.random.split(key)),
                   stochastic=True, equilibrium=(jnp.zeros(3), jnp.zeros(3)), name="noisy")


def test_same_key_gives_bit_identical_results():
    game, solver = noisy_bilinear(), mm.extragradient(optax.adam(1e-2))
    a = mm.run(game, solver, steps=200, key=jax.random.key(42))
    b = mm.run(game, solver, steps=200, key=jax.random.key(42))
    chex.assert_trees_all_equal(a, b)
    c = mm.run(game, solver, steps=200, key=jax.random.key(43))
    assert not np.array_equal(a.x, c.x)


def test_legacy_uint32_keys_work():
    game = noisy_bilinear()
    res = mm.run(game, mm.simultaneous_gda(optax.sgd(0.01)), steps=5, key=jax.random.PRNGKey(0))
    assert res.x.shape == (3,)


def test_jit_of_run_matches_eager():
    game, solver = noisy_bilinear(), mm.optimistic_gda(optax.sgd(0.05))
    eager = mm.run(game, solver, steps=50, key=jax.random.key(1))
    jitted = jax.jit(lambda k: mm.run(game, solver, steps=50, key=k))(jax.random.key(1))
    chex.assert_trees_all_close(eager, jitted, rtol=1e-6, atol=1e-6)


def test_vmap_over_keys_matches_single_runs():
    game, solver = noisy_bilinear(), mm.extragradient(optax.sgd(0.1))
    keys = jax.random.split(jax.random.key(0), 5)
    batched = jax.vmap(lambda k: mm.run(game, solver, steps=100, key=k))(keys)
    assert batched.x.shape == (5, 3)
    assert batched.trace["dist"].shape == (5, 101)
    assert batched.diverged_step.shape == (5,)
    for i in (0, 3):
        single = mm.run(game, solver, steps=100, key=keys[i])
        np.testing.assert_allclose(batched.x[i], single.x, rtol=1e-5, atol=1e-6)


def test_vmap_over_starting_points_and_step_sizes():
    game = games.bilinear(jnp.eye(2))

    def one(x0, lr):
        return mm.run(game, mm.extragradient(optax.sgd(lr)), steps=100, x0=x0, y0=jnp.ones(2), record_every=100)

    res = jax.vmap(one)(jnp.ones((4, 2)), jnp.array([0.05, 0.1, 0.2, 0.4]))
    d = np.asarray(res.trace["dist"][:, -1])
    assert np.all(np.diff(d) < 0)  # larger steps (all below 1/sigma) converge faster


def test_float64_stays_float64(x64):
    game = games.quadratic(jnp.array([[1.0, 0.5]]), jnp.eye(1), jnp.eye(2))
    res = mm.run(game, mm.optimistic_gda(optax.adam(1e-2)), steps=20, key=jax.random.key(0))
    for leaf in jax.tree.leaves((res.x, res.y, res.x_avg, res.state)):
        if jnp.issubdtype(leaf.dtype, jnp.floating):
            assert leaf.dtype == jnp.float64
    for name, values in res.trace.items():
        if name != "step":
            assert values.dtype == jnp.float64, name


def test_float32_by_default():
    res = mm.run(games.dirac_gan(), mm.extragradient(optax.sgd(0.1)), steps=5, key=jax.random.key(0))
    assert res.x.dtype == jnp.float32 and res.trace["dist"].dtype == jnp.float32


@pytest.mark.parametrize("steps, every, expected", [
    (10, 1, list(range(11))),
    (10, 3, [0, 3, 6, 9, 10]),
    (10, 5, [0, 5, 10]),
    (10, None, [0, 10]),
    (4, 100, [0, 4]),
])
def test_trace_thinning(steps, every, expected):
    res = mm.run(games.bilinear(jnp.eye(1)), mm.extragradient(optax.sgd(0.1)), steps=steps, record_every=every,
                 x0=jnp.ones(1), y0=jnp.ones(1))
    assert res.trace["step"].tolist() == expected
    np.testing.assert_allclose(res.trace["grad_evals"], 2.0 * np.asarray(expected))
    # the last record is the final iterate
    assert float(res.trace["dist"][-1]) == pytest.approx(float(jnp.sqrt(jnp.sum(res.x**2) + jnp.sum(res.y**2))))


def test_trace_has_the_documented_metrics():
    res = mm.run(games.rock_paper_scissors(), mm.mirror_prox(0.1), steps=3, key=jax.random.key(0))
    # simplex players: the natural residual too, since the vector-field norm need not vanish at the equilibrium
    assert set(res.trace) == {"step", "grad_evals", "grad_norm", "residual", "value", "dist", "dist_avg", "gap",
                              "gap_avg"}
    res = mm.run(games.dirac_gan(), mm.simultaneous_gda(optax.sgd(0.1)), steps=3, key=jax.random.key(0))
    assert set(res.trace) == {"step", "grad_evals", "grad_norm", "value", "dist", "dist_avg"}


def test_running_average():
    game = games.bilinear(jnp.eye(1))
    res = mm.run(game, mm.simultaneous_gda(optax.sgd(0.1)), steps=3, x0=jnp.ones(1), y0=jnp.zeros(1))
    xs, x, y = [], 1.0, 0.0
    for _ in range(3):
        x, y = x - 0.1 * y, y + 0.1 * x
        xs.append(x)
    assert float(res.x_avg[0]) == pytest.approx(np.mean(xs), rel=1e-6)


def test_vector_field_norm_is_recorded():
    game = games.bilinear(jnp.array([[2.0]]))
    res = mm.run(game, mm.simultaneous_gda(optax.sgd(0.0)), steps=1, x0=jnp.array([3.0]), y0=jnp.array([4.0]))
    assert float(res.trace["grad_norm"][0]) == pytest.approx(10.0)  # ||(2 * 4, -2 * 3)||


def _exploding():
    return games.bilinear(jnp.eye(2)), mm.simultaneous_gda(optax.sgd(1e3))


def test_divergence_keeps_last_finite_iterate_and_reports_the_step():
    game, solver = _exploding()
    with pytest.warns(mm.DivergenceWarning, match=r"run diverged: step (\d+) produced"):
        res = mm.run(game, solver, steps=100, x0=jnp.ones(2), y0=jnp.ones(2))
    k = int(res.diverged_step)
    assert 5 < k < 100
    assert bool(res.diverged)
    assert int(res.steps_completed) == k - 1
    chex.assert_tree_all_finite((res.x, res.y, res.x_avg, res.trace["dist"], res.trace["grad_norm"]))
    # the held iterate is the one after step k-1: stepping it once more overflows
    factor = np.sqrt(1 + 1e6)
    assert float(res.trace["dist"][-1]) == pytest.approx(2 * factor ** (k - 1), rel=1e-3)


def test_divergence_can_raise_or_be_ignored():
    game, solver = _exploding()
    with pytest.raises(mm.DivergenceError, match="step"):
        mm.run(game, solver, steps=100, x0=jnp.ones(2), y0=jnp.ones(2), on_divergence="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = mm.run(game, solver, steps=100, x0=jnp.ones(2), y0=jnp.ones(2), on_divergence="ignore")
    assert int(res.diverged_step) > 0


def test_divergence_of_nan_from_the_payoff():
    game = mm.Game(value=lambda x, y: jnp.sqrt(x) * y)  # x goes negative -> NaN gradient -> NaN iterate
    with pytest.warns(mm.DivergenceWarning):
        res = mm.run(game, mm.simultaneous_gda(optax.sgd(0.5)), steps=20, x0=jnp.array(1.0), y0=jnp.array(2.0))
    assert bool(jnp.isfinite(res.x)) and int(res.diverged_step) > 0


def test_max_norm_counts_as_divergence():
    game = games.bilinear(jnp.eye(1))
    with pytest.warns(mm.DivergenceWarning):
        res = mm.run(game, mm.simultaneous_gda(optax.sgd(0.5)), steps=100, x0=jnp.ones(1), y0=jnp.ones(1),
                     max_norm=10.0)
    assert float(jnp.sqrt(res.x[0] ** 2 + res.y[0] ** 2)) <= 10.0
    assert int(res.diverged_step) == int(res.steps_completed) + 1


def test_vmapped_divergence_is_reported_per_run():
    game = games.bilinear(jnp.eye(1))
    lrs = jnp.array([0.1, 1e3])
    res = jax.vmap(lambda lr: mm.run(game, mm.simultaneous_gda(optax.sgd(lr)), steps=50, x0=jnp.ones(1),
                                     y0=jnp.ones(1)))(lrs)
    assert int(res.diverged_step[0]) == -1 and int(res.diverged_step[1]) > 0
    chex.assert_tree_all_finite(res.x)


def test_general_sum_game_with_zero_sum_losses_matches_the_zero_sum_game():
    f = lambda x, y: x @ jnp.array([[1.0, 2.0], [0.0, 1.0]]) @ y + 0.1 * jnp.sum(x**2)  # noqa: E731
    zero_sum = mm.Game(value=f)
    general = mm.Game(losses=(f, lambda x, y: -f(x, y)))
    solver = mm.extragradient(optax.sgd(0.1))
    a = mm.run(zero_sum, solver, steps=50, x0=jnp.ones(2), y0=jnp.ones(2))
    b = mm.run(general, solver, steps=50, x0=jnp.ones(2), y0=jnp.ones(2))
    np.testing.assert_allclose(a.x, b.x, rtol=1e-6)
    assert "loss_x" in b.trace and "loss_y" in b.trace and "value" not in b.trace
    np.testing.assert_allclose(b.trace["loss_x"], -b.trace["loss_y"], rtol=1e-6)


def test_general_sum_game_converges_to_its_nash_point():
    # x minimises (x - y)^2, y minimises (y - 1)^2 + x y: Nash point solves x = y, 2(y - 1) + x = 0 -> (2/3, 2/3)
    game = mm.Game(losses=(lambda x, y: (x - y) ** 2, lambda x, y: (y - 1) ** 2 + x * y),
                   equilibrium=(jnp.array(2 / 3), jnp.array(2 / 3)))
    res = mm.run(game, mm.simultaneous_gda(optax.sgd(0.1)), steps=500, x0=jnp.array(0.0), y0=jnp.array(0.0))
    assert float(res.trace["dist"][-1]) < 1e-5


def test_pytree_players():
    def value(x, y):
        hidden = jnp.tanh(x["w"] @ y["v"] + x["b"])
        return jnp.sum(hidden) - 0.5 * jnp.sum(y["v"] ** 2) + 0.5 * jnp.sum(x["w"] ** 2) + 0.5 * jnp.sum(x["b"] ** 2)

    def init(key):
        k1, k2 = jax.random.split(key)
        return {"w": jax.random.normal(k1, (4, 3)), "b": jnp.zeros(4)}, {"v": jax.random.normal(k2, (3,))}

    game = mm.Game(value=value, init=init)
    res = mm.run(game, mm.extragradient(optax.adam(1e-2)), steps=300, key=jax.random.key(0))
    chex.assert_trees_all_equal_shapes(res.x, init(jax.random.key(1))[0])
    assert res.trace["grad_norm"][-1] < 0.2 * res.trace["grad_norm"][0]


def test_value_with_and_without_key_are_equivalent():
    a = mm.Game(value=lambda x, y: x * y)
    b = mm.Game(value=lambda x, y, key: x * y)
    solver = mm.extragradient(optax.sgd(0.1))
    ra = mm.run(a, solver, steps=10, x0=jnp.array(1.0), y0=jnp.array(1.0))
    rb = mm.run(b, solver, steps=10, x0=jnp.array(1.0), y0=jnp.array(1.0))
    chex.assert_trees_all_equal(ra.x, rb.x)


def test_progress_callback_sees_every_record():
    seen = []
    mm.run(games.dirac_gan(), mm.extragradient(optax.sgd(0.1)), steps=100, record_every=25, key=jax.random.key(0),
           progress=lambda step, total: seen.append((int(step), int(total))))
    jax.effects_barrier()
    assert sorted(seen) == [(0, 100), (25, 100), (50, 100), (75, 100), (100, 100)]


def test_no_recompilation_when_only_numbers_change():
    game, solver = games.bilinear(jnp.eye(2)), mm.extragradient(optax.sgd(0.1))
    mm.run(game, solver, steps=30, key=jax.random.key(0))
    before = driver._run_compiled._cache_size()
    mm.run(game, solver, steps=30, key=jax.random.key(1))
    mm.run(game, solver, steps=30, x0=jnp.zeros(2), y0=jnp.ones(2), key=jax.random.key(2))
    assert driver._run_compiled._cache_size() == before

    @jax.jit
    @chex.assert_max_traces(n=1)
    def by_step_size(lr, key):
        return mm.run(game, mm.extragradient(optax.sgd(lr)), steps=30, key=key).x

    by_step_size(0.1, jax.random.key(0))
    by_step_size(0.2, jax.random.key(1))  # a new step size and seed: no new trace


def test_result_is_a_pytree():
    res = mm.run(games.dirac_gan(), mm.extragradient(optax.sgd(0.1)), steps=3, key=jax.random.key(0))
    leaves = jax.tree.leaves(res)
    assert all(isinstance(leaf, jax.Array) for leaf in leaves)
    assert int(res.steps_completed) == 3 and int(res.diverged_step) == -1 and not bool(res.diverged)
