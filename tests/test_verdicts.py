"""The verdicts of ``mm.classify``: each label on constructed traces, and the same verdict at every run length for
runs that settle on a level (the stall game's consensus and proximal point runs, a stochastic game's noise floor).
"""

import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minimax as mm

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "examples"))
import stall_game  # noqa: E402

STEPS = np.arange(0, 2001, 10)


def _trace(dist, steps=STEPS):
    return {"step": np.asarray(steps), "dist": np.asarray(dist, np.float64)}


def test_the_labels():
    assert mm.VERDICTS == ("converged", "stalled", "cycling", "noise floor", "diverged", "non-finite")


# -- constructed traces ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, dist, expected", [
    ("geometric fall", 0.999 ** STEPS, "converged"),
    ("below the floor", np.where(STEPS < 1000, 1.0, 1e-7), "converged"),
    ("power law 1/t", 1.0 / (1.0 + STEPS), "converged"),
    ("power law 1/sqrt(t)", 1.0 / np.sqrt(1.0 + STEPS), "converged"),
    ("power law 1/t^(1/4)", (1.0 + STEPS) ** -0.25, "converged"),
    ("slow geometric fall, 10 % in all", 0.99995 ** STEPS, "converged"),
    ("approach to a plateau, still showing", 0.07 + 0.9 * 0.997 ** STEPS, "stalled"),
    ("flat", np.full(STEPS.shape, 0.3), "stalled"),
    ("fell, then flat", np.maximum(0.999 ** STEPS, 0.2), "stalled"),
    ("fell, then rises slowly", 0.2 + 0.8 * 0.995 ** STEPS + 1e-5 * STEPS, "diverged"),
    ("orbit", 1.5 * (1 + 0.05 * np.sin(0.2 * STEPS)), "cycling"),
    ("geometric growth", 1.001 ** STEPS, "diverged"),
    ("slow growth that decelerates", np.log(10.0 + STEPS), "diverged"),
    ("non-finite", np.where(STEPS < 1500, 1.0, np.inf), "diverged"),
])
def test_constructed_traces(name, dist, expected):
    assert mm.classify(_trace(dist)) == expected, name


def test_a_plateau_is_stalled_at_every_run_length():
    """The old rule called c + d q^t "converged" while the approach showed in the second half of the run."""
    for n in (2_000, 20_000, 200_000):
        steps = np.linspace(0, n, 201)
        assert mm.classify(_trace(0.07 + 0.9 * 0.998 ** steps, steps)) == "stalled", n
        assert mm.classify(_trace(0.9 * 0.998 ** steps, steps)) == "converged", n  # the same fall, to zero


def test_noise_floor_needs_a_stochastic_game():
    rng = np.random.default_rng(0)
    dist = 0.2 * np.exp(0.3 * rng.standard_normal(STEPS.shape))  # fluctuates around 0.2
    assert mm.classify(_trace(dist)) == "cycling"
    assert mm.classify(_trace(dist), stochastic=True) == "noise floor"
    falling = 0.998 ** STEPS * np.exp(0.1 * rng.standard_normal(STEPS.shape))  # still falling through the noise
    assert mm.classify(_trace(falling), stochastic=True) == "converged"


def test_batched_traces_and_argument_checks():
    dist = np.stack([0.999 ** STEPS, np.full(STEPS.shape, 0.3), 1.001 ** STEPS])
    labels = mm.classify({"step": np.broadcast_to(STEPS, dist.shape), "dist": dist})
    assert labels.tolist() == ["converged", "stalled", "diverged"]
    with pytest.raises(TypeError, match="stochastic: expected a bool"):
        mm.classify(_trace(dist[0]), stochastic="yes")
    with pytest.raises(ValueError, match=r"plateau: expected a fraction in \(0, 1\)"):
        mm.classify(_trace(dist[0]), plateau=1.5)


# -- runs -----------------------------------------------------------------------------------------------------------
GAME = stall_game.make_game()
KEYS = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(jnp.arange(4))


def _runs(game, solver, steps, keys=KEYS):
    return jax.vmap(lambda k: mm.run(game, solver, steps=steps, key=k, record_every=steps // 200,
                                     on_divergence="ignore"))(keys)


@pytest.mark.parametrize("solver, radius, level", [
    (mm.consensus(optax.sgd(0.5), gamma=0.5), 1.000649, 0.093),
    (mm.proximal_point(0.5), 1.000889, 0.074),
], ids=["consensus", "proximal_point"])
def test_stalled_runs_are_stalled_after_2000_and_20000_steps(solver, radius, level):
    zero = jnp.zeros(())
    assert mm.spectral_radius(GAME, solver, zero, zero) == pytest.approx(radius, abs=2e-6)
    for steps in (2_000, 20_000):
        runs = _runs(GAME, solver, steps)
        ok = np.asarray(runs.diverged_step) < 0
        final = np.asarray(runs.trace["dist"][:, -1])[ok]
        assert np.all(np.abs(final - level) < 0.01), (steps, final)  # near the level, far from the equilibrium
        labels = mm.classify(runs).tolist()
        assert [v for v, good in zip(labels, ok) if good] == ["stalled"] * int(ok.sum()), (steps, labels)
        assert [v for v, good in zip(labels, ok) if not good] == ["diverged"] * int((~ok).sum())


def _noisy_bilinear():
    def value(x, y, key):  # f = xy with additive gradient noise of sd 0.05 per player
        xi = jax.random.normal(key, (2,))
        return x * y + 0.05 * (xi[0] * x - xi[1] * y)

    zero = jnp.zeros(())
    return mm.Game(value=value, init=lambda key: (jax.random.normal(key, ()), jnp.ones(())),
                   equilibrium=(zero, zero), stochastic=True, name="noisy_bilinear")


def test_a_stochastic_run_at_its_noise_floor():
    game = _noisy_bilinear()
    for steps in (1_000, 2_000):
        runs = _runs(game, mm.extragradient(optax.sgd(0.1)), steps)
        assert np.all(np.asarray(runs.trace["dist"][:, -1]) > 0.02)  # EG alone would be at 1e-2 and falling
        assert mm.classify(runs, stochastic=True).tolist() == ["noise floor"] * 4, steps
