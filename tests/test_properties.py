"""Properties over random games and points (hypothesis; small shapes, no deadline)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from hypothesis import given, settings
from hypothesis import strategies as st

import games
import minimax as mm

SETTINGS = settings(max_examples=25, deadline=None)


# Games built from traced matrices inside jit: one compilation per shape, not one per example.
@jax.jit
def _gda_norms(A, x0, y0, eta):
    res = mm.run(games.bilinear(A), mm.simultaneous_gda(optax.sgd(eta)), steps=20, x0=x0, y0=y0,
                 metrics={"norm": _norm})
    return res.trace["norm"]


@jax.jit
def _eg_norms(A, x0, y0, eta):
    return mm.run(games.bilinear(A), mm.extragradient(optax.sgd(eta)), steps=20, x0=x0, y0=y0,
                  metrics={"norm": _norm}).trace["norm"]


@jax.jit
def _ppm_norms(A, x0, y0, eta):
    return mm.run(games.bilinear(A), mm.proximal_point(eta, inner_steps=60), steps=10, x0=x0, y0=y0,
                  metrics={"norm": _norm}).trace["norm"]


def _f32(*arrays):
    return [jnp.asarray(a, jnp.float32) for a in arrays]


@st.composite
def bilinear_problem(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 4))
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, m)), rng.normal(size=n), rng.normal(size=m)


@SETTINGS
@given(problem=bilinear_problem(), eta=st.floats(1e-3, 2.0))
def test_simultaneous_gda_never_shrinks_the_distance(problem, eta):
    """||z - eta M z||^2 = ||z||^2 + eta^2 ||M z||^2 for the antisymmetric M of a bilinear game."""
    A, x0, y0 = problem
    norms = np.asarray(_gda_norms(*_f32(A, x0, y0), eta), np.float64)
    assert np.all(norms[1:] >= norms[:-1] * (1 - 1e-5))


def _norm(x, y):
    return jnp.sqrt(jnp.sum(x**2) + jnp.sum(y**2))


@SETTINGS
@given(problem=bilinear_problem(), frac=st.floats(0.05, 0.99))
def test_extragradient_never_grows_the_distance_below_the_step_limit(problem, frac):
    A, x0, y0 = problem
    eta = frac / max(np.linalg.norm(A, 2), 1e-3)  # eta * sigma_max < 1
    norms = np.asarray(_eg_norms(*_f32(A, x0, y0), eta), np.float64)
    assert np.all(norms[1:] <= norms[:-1] * (1 + 1e-5))


@jax.jit
def _alternating_invariant(A, x0, y0, alpha, beta):
    def V(x, y):
        return beta * x @ x + alpha * y @ y - alpha * beta * x @ A @ y

    res = mm.run(games.bilinear(A), mm.alternating_gda(optax.sgd(alpha), optax.sgd(beta)), steps=200, x0=x0, y0=y0,
                 metrics={"V": V})
    return res.trace["V"]


@jax.jit
def _omwu_feasibility(A, lr, key):
    res = mm.run(games.matrix_game(A), mm.optimistic_multiplicative_weights(lr), steps=30, key=key,
                 metrics={"min": lambda x, y: jnp.minimum(x.min(), y.min()),
                          "sum": lambda x, y: jnp.abs(x.sum() - 1) + jnp.abs(y.sum() - 1)})
    return res.trace["min"].min(), res.trace["sum"].max()


@SETTINGS
@given(problem=bilinear_problem(), alpha=st.floats(0.01, 0.5), beta=st.floats(0.01, 0.5))
def test_alternating_gda_invariant(problem, alpha, beta):
    A, x0, y0 = problem
    sigma = np.linalg.norm(A, 2)
    A = A / max(sigma, 1e-3)  # sigma_max = 1 so alpha * beta * sigma^2 < 4
    with jax.enable_x64(True):
        V = np.asarray(_alternating_invariant(jnp.asarray(A), jnp.asarray(x0), jnp.asarray(y0), alpha, beta))
    np.testing.assert_allclose(V, V[0], rtol=1e-9, atol=1e-12)


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 6), scale=st.floats(0.1, 10.0))
def test_simplex_projection_is_feasible_and_idempotent(seed, n, scale):
    v = jnp.asarray(np.random.default_rng(seed).normal(size=n) * scale, jnp.float32)
    simplex = mm.Simplex()
    p = simplex.project(v)
    assert bool(simplex.contains(p, atol=1e-5))
    np.testing.assert_allclose(simplex.project(p), p, atol=1e-6)


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 5), lr=st.floats(0.01, 5.0))
def test_multiplicative_weights_stay_strictly_inside_the_simplex(seed, n, lr):
    A = np.random.default_rng(seed).normal(size=(n, n))
    low, err = _omwu_feasibility(jnp.asarray(A, jnp.float32), lr, jax.random.key(seed % 1000))
    assert float(low) >= 0
    assert float(err) < 1e-5


@SETTINGS
@given(problem=bilinear_problem(), frac=st.floats(0.05, 0.9))
def test_proximal_point_never_grows_the_distance(problem, frac):
    A, x0, y0 = problem
    eta = frac / max(np.linalg.norm(A, 2), 1e-3)
    norms = np.asarray(_ppm_norms(*_f32(A, x0, y0), eta), np.float64)
    assert np.all(norms[1:] <= norms[:-1] * (1 + 1e-5))
