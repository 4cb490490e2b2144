"""Input checks asked for in review: every bad input is named and refused before tracing, and helpers are shared."""

import importlib
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm
import minimax.driver as driver
from minimax import cli
comparison = importlib.import_module("minimax.compare")  # the module; mm.compare is the function


# -- 1. one check that a solver fits a game ----------------------------------------------------------------------
def test_run_uses_the_public_solver_fit_check():
    assert not hasattr(driver, "_check_solver_fits")
    game = games.bilinear(jnp.eye(2))
    with pytest.raises(ValueError, match="solver: multiplicative_weights uses the entropic geometry, which needs both "
                                         "players on a Simplex; the game's x_constraint is None"):
        mm.run(game, mm.multiplicative_weights(0.1), steps=3, x0=jnp.ones(2), y0=jnp.ones(2))


def test_cli_refuses_an_entropic_solver_on_an_unconstrained_game(capsys):
    assert cli.main(["compare", "--game", "bilinear", "--solvers", "omwu", "--progress", "never"]) == 2
    assert "--solvers: omwu works only on games whose players are both on a simplex" in capsys.readouterr().err


# -- 2. run checks its input before tracing ----------------------------------------------------------------------
BILINEAR = games.bilinear(jnp.eye(2))
EG = mm.extragradient(optax.sgd(0.1))


@pytest.fixture
def no_tracing(monkeypatch):
    """The error must come from the checks, before the compiled loop is reached."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the compiled loop was reached")

    monkeypatch.setattr(driver, "_run_compiled", forbidden)


def _run(game=BILINEAR, solver=EG, **kwargs):
    args = dict(steps=5, x0=jnp.ones(2), y0=jnp.ones(2))
    args.update(kwargs)
    return mm.run(game, solver, **args)


@pytest.mark.parametrize("kwargs, match", [
    (dict(x0=jnp.array([1.0, jnp.nan])), r"x0: has non-finite entries \(NaN or inf\)"),
    (dict(y0=jnp.array([jnp.inf, 0.0])), r"y0: has non-finite entries \(NaN or inf\)"),
])
def test_non_finite_start(no_tracing, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _run(**kwargs)


def test_non_finite_start_names_the_leaf(no_tracing):
    game = mm.Game(value=lambda x, y: jnp.sum(x["w"]) * y)
    with pytest.raises(ValueError, match=r"x0: \['w'\] has non-finite entries"):
        mm.run(game, EG, steps=3, x0={"w": jnp.array([0.0, -jnp.inf])}, y0=jnp.zeros(()))


def test_non_finite_start_from_init_is_named(no_tracing):
    game = BILINEAR.replace(init=lambda key: (jnp.full(2, jnp.nan), jnp.ones(2)))
    with pytest.raises(ValueError, match="x0: has non-finite entries"):
        mm.run(game, EG, steps=3, key=jax.random.key(0))


def test_integer_start_is_promoted_to_the_default_float():
    as_int = _run(x0=jnp.array([1, 2]), y0=jnp.array([0, 1]), steps=20)
    as_float = _run(x0=jnp.array([1.0, 2.0]), y0=jnp.array([0.0, 1.0]), steps=20)
    assert as_int.x.dtype == jnp.float32 and as_int.y.dtype == jnp.float32
    np.testing.assert_array_equal(as_int.trace["dist"], as_float.trace["dist"])


def test_integer_start_is_promoted_to_float64_under_x64(x64):
    res = mm.run(games.bilinear(jnp.eye(2)), EG, steps=3, x0=jnp.array([1, 2]), y0=jnp.array([0, 1]))
    assert res.x.dtype == jnp.float64 and res.trace["dist"].dtype == jnp.float64


@pytest.mark.parametrize("init, match", [
    (lambda key: (jnp.ones(2), jnp.ones(2), jnp.ones(2)), r"a tuple of 3"),
    (lambda key: jnp.ones(2), r"an array of shape \(2,\)"),
    (lambda key: {"x": jnp.ones(2), "y": jnp.ones(2)}, r"dict"),
])
def test_init_must_return_a_pair(no_tracing, init, match):
    game = BILINEAR.replace(init=init)
    with pytest.raises(TypeError, match=r"init: game.init\(key\) must return a pair \(x0, y0\), but returned " + match):
        mm.run(game, EG, steps=3, key=jax.random.key(0))
    with pytest.raises(TypeError, match="init: game.init"):  # also with a starting point given: init fixes shapes
        mm.run(game, EG, steps=3, key=jax.random.key(0), x0=jnp.ones(2), y0=jnp.ones(2))


@pytest.mark.parametrize("equilibrium, error, match", [
    ((jnp.zeros(3), jnp.zeros(2)), ValueError, r"equilibrium\[0\]: the array has shape \(3,\), but x0 has shape \(2"),
    ((jnp.zeros(2), jnp.zeros((2, 1))), ValueError, r"equilibrium\[1\]: the array has shape \(2, 1\), but y0 has"),
    ((jnp.zeros(2), {"y": jnp.zeros(2)}), TypeError, r"equilibrium\[1\]: the array must be an array or a number, got "
                                                      "dict"),
    ((jnp.zeros(2), "zero"), TypeError, r"equilibrium\[1\]: the array must be an array or a number, got str"),
])
def test_equilibrium_must_match_the_players(no_tracing, equilibrium, error, match):
    game = mm.Game(value=lambda x, y: x @ y, equilibrium=equilibrium)
    with pytest.raises(error, match=match):
        _run(game=game)


def test_equilibrium_structure_must_match_pytree_players(no_tracing):
    game = mm.Game(value=lambda x, y: jnp.sum(x["w"]) * y, equilibrium=(jnp.zeros(2), jnp.zeros(())))
    with pytest.raises(ValueError, match=r"equilibrium\[0\]: its structure PyTreeDef\(\*\) does not match x0's "
                                         r"PyTreeDef\(\{'w': \*\}\)"):
        mm.run(game, EG, steps=3, x0={"w": jnp.ones(2)}, y0=jnp.zeros(()))


def test_equilibrium_given_as_lists_is_accepted():
    game = mm.Game(value=lambda x, y: x @ y, equilibrium=([0.0, 0.0], [0.0, 0.0]))
    res = _run(game=game, steps=1)
    assert float(res.trace["dist"][0]) == pytest.approx(2.0)


@pytest.mark.parametrize("metrics, match", [
    ([("m", lambda x, y: x)], r"metrics: expected a mapping \{name: fn\(x, y\)\}, got list"),
    ({"m": 3.0}, r"metrics\['m'\]: expected a function fn\(x, y\), got float"),
    ({1: lambda x, y: x}, r"metrics: expected string names, got 1 of type int"),
])
def test_metrics_must_map_names_to_functions(no_tracing, metrics, match):
    with pytest.raises(TypeError, match=match):
        _run(metrics=metrics)


def test_metric_that_fails_is_named(no_tracing):
    with pytest.raises(ValueError, match=r"metrics\['bad'\]: calling it on x0 \(2,\) and y0 \(2,\) failed: TypeError"):
        _run(metrics={"bad": lambda x, y: x @ jnp.ones((3, 3))})


def test_solver_that_does_not_fit_the_game_is_named(no_tracing):
    masked = mm.simultaneous_gda(optax.masked(optax.sgd(0.1), {"w": True}))  # a mask for a dict, not an array
    with pytest.raises(ValueError, match=r"solver: simultaneous_gda failed on game 'bilinear' with x0 \(2,\) and "
                                         r"y0 \(2,\): ValueError"):
        _run(solver=masked)


def test_solver_whose_step_changes_shapes_is_named(no_tracing):
    def step(game, x, y, state, key):
        return jnp.concatenate([x, x]), y, state

    bad = mm.Solver(init=lambda x, y: (), step=step, name="doubler")
    with pytest.raises(ValueError, match=r"solver: doubler.step changed x from float32\[2\] to float32\[4\]"):
        _run(solver=bad)
    triple = mm.Solver(init=lambda x, y: (), step=lambda game, x, y, state, key: (x, y), name="pair")
    with pytest.raises(TypeError, match=r"solver: pair.step must return a triple \(x, y, state\), but returned a "
                                        r"tuple of 2"):
        _run(solver=triple)


def test_solver_check_is_traced_once_per_signature():
    driver._check_solver_step_by_skeleton.cache_clear()
    solver = mm.extragradient(optax.sgd(0.05))
    for _ in range(3):
        _run(solver=solver, steps=2)
    info = driver._check_solver_step_by_skeleton.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    _run(solver=solver, steps=2, x0=jnp.ones(2, jnp.int32))  # promoted: the same float32 signature
    assert driver._check_solver_step_by_skeleton.cache_info().hits == 3


RPS = games.rock_paper_scissors()
VERTEX = jnp.array([1.0, 0.0, 0.0])
CENTRE = jnp.full(3, 1 / 3)


@pytest.mark.parametrize("solver", [mm.multiplicative_weights(0.1), mm.optimistic_multiplicative_weights(0.1),
                                    mm.mirror_prox(0.1), mm.lookahead(mm.multiplicative_weights(0.1))])
def test_entropic_solvers_need_a_strictly_positive_start(no_tracing, solver):
    with pytest.raises(ValueError, match=re.escape(f"x0: {solver.name} uses the entropic geometry, which needs a "
                                                   "strictly positive starting point (every entry > 0, inside the "
                                                   "simplex); got an entry 0")):
        mm.run(RPS, solver, steps=3, x0=VERTEX, y0=CENTRE)
    with pytest.raises(ValueError, match="y0: .* strictly positive"):
        mm.run(RPS, solver, steps=3, x0=CENTRE, y0=VERTEX)


def test_euclidean_solvers_may_start_on_the_boundary():
    res = mm.run(RPS, mm.extragradient(optax.sgd(0.1)), steps=3, x0=VERTEX, y0=CENTRE)
    assert res.x.shape == (3,) and bool(RPS.x_constraint.contains(res.x))


def test_entropic_start_is_not_checked_under_vmap():
    starts = jnp.stack([CENTRE, jnp.array([0.2, 0.3, 0.5])])
    res = jax.vmap(lambda x0: mm.run(RPS, mm.multiplicative_weights(0.1), steps=4, x0=x0, y0=CENTRE))(starts)
    assert res.x.shape == (2, 3) and res.trace["gap"].shape == (2, 5)


def test_check_solver_step_is_public_and_names_the_solver():
    bad = mm.Solver(init=lambda x, y: (), step=lambda game, x, y, state, key: (x[:1], y, state), name="cutter")
    with pytest.raises(ValueError, match=r"solver: cutter.step changed x from float32\[2\] to float32\[1\]"):
        driver.check_solver_step(BILINEAR, bad, jnp.ones(2), jnp.ones(2), jax.random.key(0))
    # integer starts are described as run promotes them, and a legacy uint32 key stays a key
    assert driver.check_solver_step(BILINEAR, EG, jnp.ones(2, jnp.int32), jnp.ones(2), jax.random.PRNGKey(0)) is None


def test_cli_names_a_solver_that_cannot_step_on_the_game(capsys, tmp_path):
    path = tmp_path / "callback_game.py"
    path.write_text(
        "import jax, jax.numpy as jnp, numpy as np, minimax as mm\n"
        "def f(x, y):  # evaluates on the host, so JAX cannot differentiate it\n"
        "    return jax.pure_callback(lambda a, b: np.float32(a @ b), jax.ShapeDtypeStruct((), jnp.float32), x, y)\n"
        "def make_game():\n"
        "    return mm.Game(value=f, init=lambda key: (jnp.ones(2), jnp.ones(2)))\n"
    )
    code = cli.main(["compare", "--game", str(path), "--solvers", "extragradient", "--progress", "never"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert ("--solvers: extragradient cannot run on 'make_game': solver: extragradient failed on game 'game' with "
            "x0 (2,) and y0 (2,): ValueError: Pure callbacks do not support JVP") in err


# -- 3. constrained games record the natural residual ------------------------------------------------------------
# f = x y + x - y on [-1, 1]^2: every (x, -1) is a saddle point, and F = (y + 1, 1 - x) does not vanish there.
BOX_GAME = mm.Game(value=lambda x, y: x * y + x - y, x_constraint=mm.Box(-1.0, 1.0), y_constraint=mm.Box(-1.0, 1.0))


def test_constrained_run_records_the_residual_and_is_classified_by_it():
    res = mm.run(BOX_GAME, mm.extragradient(optax.sgd(0.2)), steps=200, x0=jnp.array(0.5), y0=jnp.array(0.5),
                 summary_every=10)
    assert set(res.trace) == {"step", "grad_evals", "grad_norm", "residual", "value"}
    assert float(res.y) == pytest.approx(-1.0)
    assert float(res.trace["residual"][-1]) < 1e-6 < 1.0 < float(res.trace["grad_norm"][-1])
    assert float(res.trace["residual"][-1]) == pytest.approx(float(mm.natural_residual(BOX_GAME, res.x, res.y)),
                                                             abs=1e-7)
    assert float(res.trace["residual"][0]) == pytest.approx(
        float(mm.natural_residual(BOX_GAME, jnp.array(0.5), jnp.array(0.5))))
    assert mm.default_metric(res.trace) == "residual"
    assert mm.classify(res) == "converged"
    assert mm.classify(res, "grad_norm") == "stalled"  # the old default: flat at |1 - x*| > 0
    assert float(res.summary["min"]["residual"]) < 1e-6


def test_unconstrained_run_has_no_residual():
    res = _run(steps=3)
    assert "residual" not in res.trace and mm.default_metric(res.trace) == "dist"


def test_natural_residual_reuses_a_given_field():
    x, y = jnp.array(0.5), jnp.array(0.5)
    field = BOX_GAME.vector_field(x, y)
    assert float(mm.natural_residual(BOX_GAME, x, y, field=field)) == float(mm.natural_residual(BOX_GAME, x, y))


@pytest.mark.parametrize("names, expected", [
    (("grad_norm", "residual", "gap", "dist"), "dist"),
    (("grad_norm", "residual", "gap"), "gap"),
    (("grad_norm", "residual"), "residual"),
    (("grad_norm",), "grad_norm"),
])
def test_default_metric_order(names, expected):
    assert mm.default_metric({name: np.ones(2) for name in names}) == expected


def test_default_metric_names_what_is_missing():
    with pytest.raises(ValueError, match="trace: it has none of 'dist', 'gap', 'residual', 'grad_norm'"):
        mm.default_metric({"value": np.ones(2)})


# -- 4. the comparison: cgd by name, grad_evals from the solver, deterministic ties --------------------------------
def test_cgd_is_a_named_solver():
    solver = comparison.SOLVERS["cgd"](0.1)
    assert solver.name == "competitive_gradient" and solver.grad_evals == 25.0  # 5 + 2 * 10 CG steps


def test_cli_runs_cgd(capsys):
    code = cli.main(["compare", "--game", "bilinear", "--solvers", "cgd", "--steps", "40", "--seeds", "2",
                     "--progress", "never", "--json", "-"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (row,) = json.loads(captured.out)
    assert (row["solver"], row["metric"], row["verdict"], row["grad_evals"]) == ("cgd", "dist", "converged", 1000.0)
    # CGD on a bilinear game contracts by 1 / sqrt(1 + eta^2 sigma^2) per step
    assert row["radius"] == pytest.approx(1 / np.sqrt(1.01), rel=1e-6)
    assert row["rate_step"] == pytest.approx(1 / np.sqrt(1.01), rel=1e-5)
    assert "cgd" in captured.err  # the table


def _batched_result(dist, diverged_step, steps_completed, grad_evals_per_step=2.0):
    dist = np.asarray(dist, np.float32)
    seeds, records = dist.shape
    step = np.arange(records, dtype=np.int32)
    trace = {"step": np.broadcast_to(step, dist.shape), "dist": dist,
             "grad_evals": np.asarray(steps_completed, np.float32)[:, None] * np.float32(grad_evals_per_step)
             * np.ones((1, records), np.float32)}
    zeros = np.zeros((seeds, 1), np.float32)
    return mm.Result(zeros, zeros, (), trace, zeros, zeros, np.asarray(steps_completed, np.int32),
                     np.asarray(diverged_step, np.int32))


def test_summarise_breaks_verdict_ties_the_same_way_in_any_seed_order():
    converging, diverging = [1.0, 1e-2, 1e-4, 1e-8], [1.0, 2.0, 4.0, 8.0]
    game, solver = games.bilinear(jnp.eye(1)), mm.extragradient(optax.sgd(0.1))
    for order in ([converging, converging, diverging, diverging], [diverging, converging, diverging, converging]):
        diverged = [3 if d is diverging else -1 for d in order]
        row = comparison.summarise(game, solver, _batched_result(order, diverged, [3, 3, 3, 3]), radius=None)
        assert row["verdict"] == "converged"
        assert row["verdicts"] == {"converged": 2, "diverged": 2}
        assert row["diverged_at"] == 3


def test_summarise_counts_grad_evals_from_the_solver_in_double_precision():
    game, solver = games.bilinear(jnp.eye(1)), mm.competitive_gradient(optax.sgd(0.1), eta=0.1)
    long_run = 2**24 + 1  # a float32 trace entry of 25 * this is rounded
    result = _batched_result([[1.0, 0.5], [1.0, 0.5]], [-1, -1], [long_run, long_run], grad_evals_per_step=25.0)
    assert float(result.trace["grad_evals"][0, -1]) != 25.0 * long_run
    assert comparison.summarise(game, solver, result, radius=None)["grad_evals"] == 25.0 * long_run
    # seeds that diverged stop counting: the longest-running seed's evaluations
    result = _batched_result([[1.0, 2.0], [1.0, 2.0]], [3, 5], [2, 4])
    assert comparison.summarise(game, mm.extragradient(optax.sgd(0.1)), result, radius=None)["grad_evals"] == 8.0


# -- 5. no dead helpers in minimax._tree ---------------------------------------------------------------------------
def test_every_tree_helper_is_used_by_the_library():
    import inspect
    import pathlib

    from minimax import _tree

    helpers = {name for name, fn in vars(_tree).items() if inspect.isfunction(fn) and fn.__module__ == _tree.__name__}
    package = pathlib.Path(_tree.__file__).parent
    source = "\n".join(p.read_text() for p in package.rglob("*.py") if p.name != "_tree.py")
    unused = sorted(h for h in helpers if f"_tree.{h}(" not in source)
    assert unused == []
    assert {"sub", "is_float", "float_leaves_split"}.isdisjoint(helpers)


# -- 6. one check for integer arguments ----------------------------------------------------------------------------
def _sweep(**kwargs):
    return mm.sweep(BILINEAR, lambda learning_rate: mm.extragradient(optax.sgd(learning_rate)),
                    grid={"learning_rate": [0.1]}, **kwargs)


INTEGER_ARGUMENTS = [
    ("steps", lambda v: _run(steps=v)),
    ("record_every", lambda v: _run(record_every=v)),
    ("summary_every", lambda v: _run(summary_every=v)),
    ("steps", lambda v: _sweep(steps=v)),
    ("chunk_size", lambda v: _sweep(steps=5, chunk_size=v)),
    ("vmap_size", lambda v: _sweep(steps=5, vmap_size=v)),
    ("steps", lambda v: comparison.compare(BILINEAR, ["extragradient"], steps=v)),
    ("seeds", lambda v: comparison.compare(BILINEAR, ["extragradient"], steps=5, seeds=v)),
    ("x_steps", lambda v: mm.alternating_gda(optax.sgd(0.1), x_steps=v)),
    ("cg_steps", lambda v: mm.competitive_gradient(optax.sgd(0.1), eta=0.1, cg_steps=v)),
    ("inner_steps", lambda v: mm.proximal_point(0.1, inner_steps=v)),
    ("k", lambda v: mm.lookahead(EG, k=v)),
]


@pytest.mark.parametrize("name, call", INTEGER_ARGUMENTS)
@pytest.mark.parametrize("value", [True, 2.0, "3"])
def test_integer_arguments_refuse_bools_and_non_integers(no_tracing, name, call, value):
    with pytest.raises(TypeError, match=re.escape(f"{name}: expected a positive integer") + f".*got "
                                        f"{type(value).__name__} {re.escape(repr(value))}"):
        call(value)


@pytest.mark.parametrize("name, call", INTEGER_ARGUMENTS)
def test_integer_arguments_refuse_zero(no_tracing, name, call):
    with pytest.raises(ValueError, match=re.escape(f"{name}: expected a positive integer") + ".*got 0"):
        call(0)


def test_integer_arguments_accept_numpy_integers():
    res = _run(steps=np.int64(4), record_every=np.int32(2))
    assert res.trace["step"].tolist() == [0, 2, 4]
