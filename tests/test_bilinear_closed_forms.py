"""Per-step factors on bilinear games against the closed forms of THEORY.md, one singular value at a time."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm

ETA = 0.3


def _random_A(seed, n=4):
    return np.random.default_rng(seed).normal(size=(n, n))


def _factors(solver, A, u, v, steps):
    """Runs from a pair of singular vectors (u, v) and returns ||z_{t+1}|| / ||z_t|| for every step."""
    game = games.bilinear(jnp.asarray(A))
    res = mm.run(game, solver, steps=steps, x0=jnp.asarray(u), y0=jnp.asarray(v))
    d = np.asarray(res.trace["dist"])
    return d[1:] / d[:-1]


CLOSED_FORMS = {
    "simultaneous_gda": (lambda: mm.simultaneous_gda(optax.sgd(ETA)), lambda s: np.sqrt(1 + ETA**2 * s**2)),
    "extragradient": (
        lambda: mm.extragradient(optax.sgd(ETA)),
        lambda s: np.sqrt(1 - ETA**2 * s**2 + ETA**4 * s**4),
    ),
    "proximal_point": (
        lambda: mm.proximal_point(ETA, inner_steps=200),
        lambda s: 1 / np.sqrt(1 + ETA**2 * s**2),
    ),
    # On a bilinear block CGD's step is [[1, -eta s], [eta s, 1]] / (1 + eta^2 s^2): the proximal point factor.
    "competitive_gradient": (
        lambda: mm.competitive_gradient(optax.sgd(ETA), eta=ETA, cg_steps=4),
        lambda s: 1 / np.sqrt(1 + ETA**2 * s**2),
    ),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
@pytest.mark.parametrize("seed", [0, 1])
def test_per_singular_value_factor(x64, name, seed):
    make, closed_form = CLOSED_FORMS[name]
    A = _random_A(seed)
    A = A / np.linalg.norm(A, 2) * 1.5  # sigma_max = 1.5, so eta * sigma_max = 0.45 < 1 (EG and PPM contract)
    U, S, Vt = np.linalg.svd(A)
    solver = make()
    for i, sigma in enumerate(S):
        factors = _factors(solver, A, U[:, i], Vt[i], steps=20)
        np.testing.assert_allclose(factors, closed_form(sigma), rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 3])
def test_alternating_gda_conserves_invariant(x64, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(3, 5))
    alpha, beta = 0.2, 0.1
    sigma = np.linalg.norm(A, 2)
    assert alpha * beta * sigma**2 < 4
    game = games.bilinear(jnp.asarray(A))
    solver = mm.alternating_gda(optax.sgd(alpha), optax.sgd(beta))
    x0, y0 = rng.normal(size=3), rng.normal(size=5)

    def invariant(x, y):
        return beta * jnp.sum(x**2) + alpha * jnp.sum(y**2) - alpha * beta * x @ A @ y

    res = mm.run(game, solver, steps=10_000, x0=jnp.asarray(x0), y0=jnp.asarray(y0),
                 metrics={"V": invariant})
    V = np.asarray(res.trace["V"])
    assert V.shape == (10_001,)
    np.testing.assert_allclose(V, V[0], rtol=1e-11)
    # ... and it neither converges nor diverges: the distance stays within a bounded band away from zero.
    d = np.asarray(res.trace["dist"])
    assert d.min() > 0.05 * d[0] and d.max() < 20 * d[0]
    assert mm.classify(res) == "cycling"


def test_alternating_gda_y_first_conserves_swapped_invariant(x64):
    """With y moving first the roles swap: alpha ||x||^2 ... becomes the same form with the y-step first."""
    rng = np.random.default_rng(7)
    A = rng.normal(size=(2, 2))
    alpha, beta = 0.3, 0.2
    game = games.bilinear(jnp.asarray(A))
    solver = mm.alternating_gda(optax.sgd(alpha), optax.sgd(beta), first="y")

    def invariant(x, y):  # y' = y + beta A^T x, then x' = x - alpha A y'
        return beta * jnp.sum(x**2) + alpha * jnp.sum(y**2) + alpha * beta * x @ A @ y

    res = mm.run(game, solver, steps=2000, x0=jnp.ones(2), y0=jnp.ones(2), metrics={"V": invariant})
    V = np.asarray(res.trace["V"])
    np.testing.assert_allclose(V, V[0], rtol=1e-11)


@pytest.mark.parametrize(
    "make",
    [
        lambda: mm.simultaneous_gda(optax.sgd(ETA)),
        lambda: mm.extragradient(optax.sgd(ETA)),
        lambda: mm.optimistic_gda(optax.sgd(ETA)),
        lambda: mm.past_extragradient(optax.sgd(ETA)),
        lambda: mm.alternating_gda(optax.sgd(ETA)),
        lambda: mm.consensus(optax.sgd(ETA), gamma=0.5),
        lambda: mm.lookahead(mm.simultaneous_gda(optax.sgd(ETA)), k=4, alpha=0.5),
        lambda: mm.proximal_point(ETA, inner_steps=100),
        lambda: mm.competitive_gradient(optax.sgd(ETA), eta=ETA, cg_steps=3),
    ],
    ids=["gda", "eg", "ogda", "past_eg", "alt", "consensus", "lookahead", "ppm", "cgd"],
)
def test_spectral_radius_matches_measured_rate(x64, make):
    rng = np.random.default_rng(11)
    A = rng.normal(size=(3, 3))
    A = A / np.linalg.norm(A, 2)  # sigma_max = 1
    game = games.bilinear(jnp.asarray(A))
    solver = make()
    rho = mm.spectral_radius(game, solver, *game.equilibrium)
    res = mm.run(game, solver, steps=4000, x0=jnp.asarray(rng.normal(size=3)), y0=jnp.asarray(rng.normal(size=3)),
                 record_every=solver.period)
    measured = mm.empirical_rate(res.trace, tail=0.25)
    if rho < 1 and res.trace["dist"][-1] < 1e-25:  # converged to the floor: measure earlier in the run
        res = mm.run(game, solver, steps=200, x0=jnp.asarray(rng.normal(size=3)),
                     y0=jnp.asarray(rng.normal(size=3)), record_every=solver.period)
        measured = mm.empirical_rate(res.trace, tail=0.5)
    assert measured == pytest.approx(rho, abs=2e-3)


def test_ogda_rate_is_the_closed_form_root():
    """OGDA on f = sigma x y: its memory doubles the state; the radius is the largest root of
    mu^2 - (1 - 2 i eta sigma) mu - i eta sigma = 0 (and its conjugate), eigenvalues of the 4x4 linearisation."""
    with jax.enable_x64(True):
        sigma = 0.8
        game = games.bilinear(jnp.array([[sigma]]))
        solver = mm.optimistic_gda(optax.sgd(ETA))
        eig = mm.update_eigenvalues(game, solver, *game.equilibrium)
        assert eig.shape == (4,)
        roots = np.roots([1, -(1 - 2j * ETA * sigma), -1j * ETA * sigma])
        expected = np.sort_complex(np.concatenate([roots, roots.conj()]))
        np.testing.assert_allclose(eig, expected, atol=1e-12)
