"""The run loop (issue 11): free trace metrics, evaluation counts, numbers as data (no recompilation)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm
from minimax import _xla, driver

A = jnp.array([[1.0, 0.5], [-0.3, 2.0]])


def _quadratic_general_sum():
    def loss_x(x, y):
        return 0.5 * jnp.sum(x**2) + jnp.dot(x, y) + 0.1 * jnp.sum(jnp.sin(x))

    def loss_y(x, y):
        return 0.5 * jnp.sum(y**2) - 0.7 * jnp.dot(x, y)

    return mm.Game(losses=(loss_x, loss_y), init=lambda key: (jnp.ones(2), -jnp.ones(2)), name="general")


def _nonlinear_zero_sum():
    def value(x, y):
        return jnp.sum(jnp.tanh(x) * (A @ y)) + 0.05 * jnp.sum(x**2) - 0.05 * jnp.sum(y**2)

    return mm.Game(value=value, init=lambda key: (jnp.array([0.8, -0.4]), jnp.array([0.3, 0.9])), name="tanh",
                   equilibrium=(jnp.zeros(2), jnp.zeros(2)))


SOLVERS = {
    "simultaneous": lambda: mm.simultaneous_gda(optax.sgd(0.1)),
    "simultaneous_adam": lambda: mm.simultaneous_gda(optax.adam(0.05, b1=0.5)),
    "alternating": lambda: mm.alternating_gda(optax.sgd(0.1)),
    "extragradient": lambda: mm.extragradient(optax.sgd(0.1)),
    "optimistic": lambda: mm.optimistic_gda(optax.sgd(0.1)),
    "past_extragradient": lambda: mm.past_extragradient(optax.sgd(0.1)),
    "consensus": lambda: mm.consensus(optax.sgd(0.1), gamma=0.3),
    "sga": lambda: mm.sga(optax.sgd(0.1), lam=0.5),
    "cgd": lambda: mm.competitive_gradient(optax.sgd(0.1), eta=0.1, cg_steps=3),
    "proximal_point": lambda: mm.proximal_point(0.1, inner_steps=4),
    "lookahead": lambda: mm.lookahead(mm.extragradient(optax.sgd(0.1)), k=3, alpha=0.5),
    "fast_extragradient": lambda: mm.fast_extragradient(0.1, rho=-0.01),
    "eag_v": lambda: mm.anchored_extragradient(0.1, variant="varying", lipschitz=2.0),
}
FREE = {"simultaneous", "simultaneous_adam", "extragradient", "optimistic", "consensus", "sga", "cgd",
        "proximal_point", "lookahead", "fast_extragradient", "eag_v"}


def _evaluated_the_old_way(solver):
    """The same solver without its observation: the driver evaluates every trace metric itself."""
    return solver._replace(observing_step=None)


# Every solver on the zero-sum game; the general-sum game and the running summaries on a few (compiling a run with
# summaries costs seconds, and the code paths do not depend on the solver beyond its observation).
CASES = [(name, "zero_sum", {"record_every": 3}) for name in SOLVERS] + [
    (name, "general_sum", {"record_every": 3}) for name in ("simultaneous", "alternating", "consensus")] + [
    (name, "zero_sum", {"record_every": 3, "summary_every": 2}) for name in ("extragradient", "past_extragradient")]


@pytest.mark.parametrize("name, game_kind, kwargs", CASES)
def test_free_metrics_equal_the_evaluated_ones(name, game_kind, kwargs):
    game = _nonlinear_zero_sum() if game_kind == "zero_sum" else _quadratic_general_sum()
    solver = SOLVERS[name]()
    assert (solver.observing_step is not None) == (name in FREE)
    key = jax.random.key(3)
    res = mm.run(game, solver, steps=11, key=key, **kwargs)
    ref = mm.run(game, _evaluated_the_old_way(solver), steps=11, key=key, **kwargs)
    assert set(res.trace) == set(ref.trace)
    np.testing.assert_array_equal(res.trace["step"], [0, 3, 6, 9, 11])
    for metric in res.trace:
        np.testing.assert_allclose(res.trace[metric], ref.trace[metric], rtol=1e-6, atol=1e-7, err_msg=metric)
    # The same iterates up to rounding: XLA may fuse the step differently when the metrics come from it (Adam
    # differs in the last bit of one entry).
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-6, atol=1e-7)
    if "summary_every" in kwargs:  # observed at 0, 2 | 3, 5 | 6, 8 | 9 and 11
        assert int(res.summary["observations"]) == int(ref.summary["observations"]) == 8
        for reduction in ("min", "max", "mean"):
            for metric, v in res.summary[reduction].items():
                np.testing.assert_allclose(v, ref.summary[reduction][metric], rtol=1e-6, atol=1e-7)


def test_free_metrics_on_a_constrained_game_include_the_residual():
    game = games.matrix_game(jnp.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]]))
    for solver in (mm.extragradient(optax.sgd(0.1)), mm.mirror_prox(0.1), mm.optimistic_multiplicative_weights(0.1)):
        res = mm.run(game, solver, steps=20, key=jax.random.key(0))
        ref = mm.run(game, _evaluated_the_old_way(solver), steps=20, key=jax.random.key(0))
        for metric in ("residual", "grad_norm", "value", "gap"):
            np.testing.assert_allclose(res.trace[metric], ref.trace[metric], rtol=1e-6, atol=1e-7)


def test_the_recorded_point_is_the_iterate_of_that_step():
    """Every metric at record t refers to z_t, the iterate after t steps, whichever solver supplies it."""
    game = _nonlinear_zero_sum()
    for name in ("simultaneous", "alternating", "extragradient"):
        res = mm.run(game, SOLVERS[name](), steps=6, key=jax.random.key(0), checkpoint_every=1)
        for t, (x, y, _) in enumerate(res.checkpoints):
            (f, _), field = game.losses_and_vector_field(x, y)
            assert float(res.trace["value"][t]) == pytest.approx(float(f), rel=1e-5, abs=1e-7)
            norm = np.linalg.norm(np.concatenate([np.asarray(field[0]), np.asarray(field[1])]))
            assert float(res.trace["grad_norm"][t]) == pytest.approx(float(norm), rel=1e-5)
            assert float(res.trace["dist"][t]) == pytest.approx(float(jnp.sqrt(jnp.sum(x**2) + jnp.sum(y**2))),
                                                                rel=1e-6)


def test_stochastic_games_record_the_field_on_the_steps_own_sample():
    """Documented: a free metric of a stochastic game comes from the mini-batch the step drew (key of step t+1)."""
    def value(x, y, key):
        noise = jax.random.normal(key, (2,))
        return jnp.dot(x + noise, y)

    game = mm.Game(value=value, init=lambda key: (jnp.ones(2), jnp.ones(2)), stochastic=True)
    key = jax.random.key(5)
    res = mm.run(game, mm.simultaneous_gda(optax.sgd(0.1)), steps=3, key=key)
    step_key = jax.random.fold_in(jax.random.fold_in(key, 1), 0)
    gx, gy = game.vector_field(jnp.ones(2), jnp.ones(2), step_key)
    expected = np.linalg.norm(np.concatenate([np.asarray(gx), np.asarray(gy)]))
    assert float(res.trace["grad_norm"][0]) == pytest.approx(float(expected), rel=1e-6)


# -- evaluations per step in the compiled loop ----------------------------------------------------------------------
_CALLS = [0]


def _tick():
    _CALLS[0] += 1


def _counting_value(x, y):
    jax.debug.callback(_tick)
    return jnp.dot(jnp.tanh(x), A @ y)


COUNTING = mm.Game(value=_counting_value, init=lambda key: (jnp.ones(2), jnp.ones(2)), name="counting")


def _calls(solver, **kwargs):
    _CALLS[0] = 0
    res = mm.run(COUNTING, solver, steps=10, key=jax.random.key(0), **kwargs)
    jax.block_until_ready(res)
    jax.effects_barrier()
    return _CALLS[0]


@pytest.mark.parametrize("name", list(SOLVERS))
def test_the_trace_adds_no_evaluation_to_the_solvers_own(name):
    solver = SOLVERS[name]()
    thinned, default = _calls(solver, record_every=None), _calls(solver)
    # Forward evaluations of the value per step: the solver's gradient evaluations, where one player's gradient
    # alone (alternating GDA) evaluates f once for half an evaluation.
    per_step = {"alternating": 2}.get(name, solver.grad_evals)
    if name in ("simultaneous", "simultaneous_adam", "extragradient", "optimistic", "past_extragradient",
                "alternating", "proximal_point", "lookahead"):
        # The ten steps and an eleventh, whose update is discarded, that observes the final iterate (one compiled
        # copy of the step); a solver without an observation evaluates the start and final records itself.
        evaluated_records = 0 if name in FREE else 2
        assert thinned == 11 * per_step + evaluated_records
    if name in FREE:
        assert default == thinned  # records 1..9 come from the steps themselves
    else:
        assert default == thinned + 9  # one evaluation per further record, as documented


# -- numbers as data: one compilation for every step size -----------------------------------------------------------
FACTORIES = {
    "extragradient": lambda v: mm.extragradient(optax.sgd(v)),
    "adam": lambda v: mm.simultaneous_gda(optax.adam(v, b1=0.5)),
    "momentum": lambda v: mm.alternating_gda(optax.sgd(0.1, momentum=-v)),
    "optimism": lambda v: mm.optimistic_gda(optax.sgd(0.1), optimism=v),
    "consensus": lambda v: mm.consensus(optax.sgd(0.1), gamma=v),
    "lookahead": lambda v: mm.lookahead(mm.simultaneous_gda(optax.sgd(0.1)), k=2, alpha=v),
    "proximal": lambda v: mm.proximal_point(v, inner_steps=3),
    "schedule": lambda v: mm.extragradient(optax.sgd(optax.linear_schedule(v, 0.01, 50))),
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_ten_values_of_a_number_compile_once(name, monkeypatch):
    make = FACTORIES[name]
    game = games.bilinear(A)
    values = [0.05 + 0.04 * i for i in range(10)]
    make(values[0])  # the factory itself may compile optax helpers
    key = jax.random.key(1)
    before = driver._run_compiled._cache_size()
    results = [mm.run(game, make(v), steps=30, key=key) for v in values]
    assert driver._run_compiled._cache_size() - before == 1
    # Bit for bit what a fresh compilation gives, and different values give different runs. The fresh one comes
    # from a new jit of the same loop (its own empty cache), not from jax.clear_caches(), which would throw away
    # every compilation this worker's later tests reuse.
    loop = driver._run_compiled.__wrapped__
    fresh_loop = _xla.LazyJit(functools.wraps(loop)(lambda *a, **k: loop(*a, **k)), **driver._run_compiled._kwargs)
    monkeypatch.setattr(driver, "_run_compiled", fresh_loop)
    for i in (0, 7):
        fresh = mm.run(game, make(values[i]), steps=30, key=key)
        np.testing.assert_array_equal(fresh.x, results[i].x)
        np.testing.assert_array_equal(fresh.trace["dist"], results[i].trace["dist"])
    assert fresh_loop._cache_size() == 1
    assert not np.array_equal(results[0].x, results[7].x)


def test_equal_solvers_and_games_are_equal_and_share_a_compilation():
    assert mm.extragradient(optax.sgd(0.1)) == mm.extragradient(optax.sgd(0.1))
    assert mm.extragradient(optax.sgd(0.1)) != mm.extragradient(optax.sgd(0.2))
    assert mm.extragradient(optax.sgd(0.1)) != mm.optimistic_gda(optax.sgd(0.1))
    assert hash(mm.simultaneous_gda(optax.adam(1e-3))) == hash(mm.simultaneous_gda(optax.adam(1e-3)))
    assert games.bilinear(A) == games.bilinear(A)
    assert games.bilinear(A) != games.bilinear(2 * A)
    before = driver._run_compiled._cache_size()
    for _ in range(3):
        mm.run(games.bilinear(A), mm.extragradient(optax.sgd(0.1)), steps=5, key=jax.random.key(0))
    assert driver._run_compiled._cache_size() - before == 1


def test_an_optimizer_that_branches_on_its_number_still_runs():
    """A user's optimizer whose update uses a float in Python control flow cannot take it as data: it compiles
    with the number as a constant, as before, and gives the same result as the plain optimizer."""

    def branching_sgd(lr):
        def init(params):
            return optax.EmptyState()

        def update(grads, state, params=None):
            scale = -lr if lr > 0.05 else -2 * lr  # a Python branch on the number
            return jax.tree.map(lambda g: scale * g, grads), state

        return optax.GradientTransformation(init, update)

    game = games.bilinear(A)
    for lr in (0.1, 0.2):
        res = mm.run(game, mm.extragradient(branching_sgd(lr)), steps=20, key=jax.random.key(0))
        ref = mm.run(game, mm.extragradient(optax.sgd(lr)), steps=20, key=jax.random.key(0))
        np.testing.assert_allclose(res.x, ref.x, rtol=1e-6)


def test_numbers_as_data_keep_the_float64_dtype_and_the_closed_form():
    with jax.enable_x64(True):
        sigma = np.array([1.0, 2.0])
        game = games.bilinear(jnp.diag(jnp.asarray(sigma)))
        x0, y0 = jnp.array([1.0, -0.5]), jnp.array([0.25, 2.0])
        eta, steps = 0.3, 50
        res = mm.run(game, mm.extragradient(optax.sgd(eta)), steps=steps, x0=x0, y0=y0)
        assert res.x.dtype == jnp.float64 and res.trace["dist"].dtype == jnp.float64
        # Each singular value's pair contracts by sqrt(1 - e^2 s^2 + e^4 s^4) per step, exactly.
        rate = np.sqrt(1 - eta**2 * sigma**2 + eta**4 * sigma**4)
        t = np.arange(steps + 1)[:, None]
        expected = np.sqrt(np.sum(rate ** (2 * t) * (np.asarray(x0) ** 2 + np.asarray(y0) ** 2), axis=1))
        np.testing.assert_allclose(np.asarray(res.trace["dist"]), expected, rtol=1e-12)


def test_a_gan_rebuilt_inline_three_times_compiles_once():
    """As a notebook user writes it: a new game and a new solver on every call, built from equal arguments."""
    def inline():
        return mm.run(games.gan(games.mlp([2, 8, 2]), games.mlp([2, 8, 1]), games.mixtures.ring(), latent_dim=2,
                                batch_size=16),
                      mm.simultaneous_gda(optax.adam(1e-3, b1=0.5)), steps=3, key=jax.random.key(0))

    before = driver._run_compiled._cache_size()
    results = [inline() for _ in range(3)]
    assert driver._run_compiled._cache_size() - before == 1
    for res in results[1:]:
        np.testing.assert_array_equal(res.trace["value"], results[0].trace["value"])
    # A different network size is a different program.
    other = games.gan(games.mlp([2, 9, 2]), games.mlp([2, 8, 1]), games.mixtures.ring(), latent_dim=2, batch_size=16)
    assert other != games.gan(games.mlp([2, 8, 2]), games.mlp([2, 8, 1]), games.mixtures.ring(), latent_dim=2,
                              batch_size=16)


def test_a_cached_call_does_not_trace_the_game_again():
    traces = [0]

    def value(x, y):
        traces[0] += 1  # runs when the value is traced, not when the compiled loop runs
        return jnp.dot(x, A @ y)

    game = mm.Game(value=value, init=lambda key: (jnp.ones(2), jnp.ones(2)))
    solver = mm.extragradient(optax.sgd(0.1))
    mm.run(game, solver, steps=4, key=jax.random.key(0))
    first = traces[0]
    for seed in range(3):  # a new key, the same shapes: nothing is traced
        mm.run(game, solver, steps=4, key=jax.random.key(seed))
    mm.run(game, mm.extragradient(optax.sgd(0.3)), steps=4, key=jax.random.key(0))  # a new step size neither
    assert traces[0] == first


def test_run_inside_a_users_jit_accepts_a_concrete_start_captured_from_outside():
    """Inside ``jax.jit`` even captured concrete arrays come back from the start's finiteness check as tracers."""
    game = games.bilinear(A)
    x0, y0 = jnp.array([1.0, -0.5]), jnp.array([0.3, 0.2])
    solver = mm.extragradient(optax.sgd(0.1))
    inside = jax.jit(lambda k: mm.run(game, solver, steps=7, key=k, x0=x0, y0=y0).x)(jax.random.key(0))
    np.testing.assert_array_equal(inside, mm.run(game, solver, steps=7, key=jax.random.key(0), x0=x0, y0=y0).x)


def test_the_default_key_built_under_a_trace_does_not_leak():
    driver._default_key.cache_clear()  # the first run without a key is traced: the cached key must be concrete
    game, solver = games.bilinear(A), mm.extragradient(optax.sgd(0.1))
    start = jnp.array([[1.0, -0.5], [0.3, 0.2]])
    batched = jax.vmap(lambda x: mm.run(game, solver, steps=4, x0=x, y0=x).x)(start)
    eager = mm.run(game, solver, steps=4, x0=start[1], y0=start[1]).x
    np.testing.assert_allclose(batched[1], eager, rtol=1e-6)


def test_progress_true_draws_the_librarys_bar_and_compiles_once(monkeypatch, capsys):
    from minimax import progress as progress_module

    original = progress_module.ProgressBar.__init__  # drawn at once, so that the short run shows it
    monkeypatch.setattr(progress_module.ProgressBar, "__init__",
                        lambda self, label="", **kw: original(self, label, delay=0.0, interval=0.0))
    game, solver = games.bilinear(A), mm.extragradient(optax.sgd(0.1))
    start = dict(steps=50, x0=jnp.ones(2), y0=jnp.ones(2), record_every=10)
    plain = mm.run(game, solver, **start)
    before = driver._run_compiled._cache_size()
    runs = [mm.run(game, solver, progress=True, **start) for _ in range(2)]
    assert driver._run_compiled._cache_size() - before == 1  # one compilation for both bars
    np.testing.assert_array_equal(runs[1].x, plain.x)
    assert "50/50 100%" in capsys.readouterr().err
    with pytest.raises(TypeError, match="progress: expected True, False, None or a function"):
        mm.run(game, solver, progress="yes", **start)
