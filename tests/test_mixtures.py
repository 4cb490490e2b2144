"""Mixtures of Gaussians and the mode-coverage metrics of the VEEGAN / PacGAN protocol (../shared/THEORY.md)."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

import games
from games import mixtures

N_PROTOCOL = 2500
HQ_2D = 1 - math.exp(-4.5)  # P(|N(0, I_2)| <= 3) = 0.98889
HQ_1D = stats.norm.cdf(3) - stats.norm.cdf(-3)  # 0.99730

_metrics = jax.jit(mixtures.mode_metrics, static_argnums=1)
RING = mixtures.ring()  # one object, so the jitted metrics compile once for it


def test_ring_and_grid_means_and_std():
    ring = mixtures.ring()
    assert ring.means.shape == (8, 2) and ring.std == 0.02 and ring.modes == 8 and ring.dim == 2
    np.testing.assert_allclose(np.linalg.norm(ring.means, axis=1), 2.0, rtol=1e-6)
    angles = np.sort(np.mod(np.arctan2(ring.means[:, 1], ring.means[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(angles, 2 * np.pi * np.arange(8) / 8, atol=1e-6)

    grid = mixtures.grid()
    assert grid.means.shape == (25, 2) and grid.std == 0.05
    expected = {(float(a), float(b)) for a, b in itertools.product([-4, -2, 0, 2, 4], repeat=2)}
    assert {tuple(float(v) for v in row) for row in np.asarray(grid.means)} == expected

    g1 = mixtures.gaussian_1d(1.5, 0.5)
    assert g1.means.shape == (1, 1) and float(g1.means[0, 0]) == 1.5 and g1.std == 0.5


@pytest.mark.parametrize("mixture", [mixtures.ring(), mixtures.grid(), mixtures.gaussian_1d(-1.0, 2.0)],
                         ids=["ring", "grid", "1d"])
def test_samples_have_the_mixture_statistics(mixture):
    sample = jax.jit(mixture.sample, static_argnums=1)
    x = sample(jax.random.key(0), 20_000)
    assert x.shape == (20_000, mixture.dim)
    np.testing.assert_array_equal(x, sample(jax.random.key(0), 20_000))  # same key, same numbers
    np.testing.assert_allclose(x, mixture.sample(jax.random.key(0), 20_000), atol=1e-6)  # jit or not
    assert not np.allclose(x, sample(jax.random.key(1), 20_000))
    dist = np.linalg.norm(np.asarray(x)[:, None, :] - np.asarray(mixture.means)[None], axis=-1)
    nearest = dist.argmin(1)
    resid = np.asarray(x) - np.asarray(mixture.means)[nearest]
    assert resid.std() == pytest.approx(mixture.std, rel=0.03)
    counts = np.bincount(nearest, minlength=mixture.modes)
    # Equal weights: a chi-square test of uniformity over modes at the 0.1 % level.
    if mixture.modes > 1:
        assert stats.chisquare(counts).pvalue > 1e-3


def test_log_prob_is_a_normalised_density():
    g1 = mixtures.gaussian_1d(0.5, 0.7)
    log_prob = jax.jit(g1.log_prob)
    fn = lambda t: float(jnp.exp(log_prob(jnp.full((1, 1), t, jnp.float32))[0]))  # noqa: E731
    assert integrate.quad(fn, -10, 10)[0] == pytest.approx(1.0, abs=1e-6)
    assert fn(0.5) == pytest.approx(stats.norm.pdf(0.5, 0.5, 0.7), rel=1e-5)
    ring = mixtures.ring(modes=3, radius=1.0, std=0.3)
    pts = jnp.array([[0.1, -0.2], [1.0, 0.0], [-2.0, 1.0]])
    ref = np.mean([stats.multivariate_normal(m, 0.09 * np.eye(2)).pdf(np.asarray(pts)) for m in np.asarray(ring.means)], 0)
    np.testing.assert_allclose(np.exp(ring.log_prob(pts)), ref, rtol=1e-4)


@pytest.mark.parametrize("mixture, hq", [(mixtures.ring(), HQ_2D), (mixtures.grid(), HQ_2D),
                                         (mixtures.gaussian_1d(), HQ_1D)], ids=["ring", "grid", "1d"])
def test_true_samples_score_every_mode_and_the_gaussian_high_quality_fraction(mixture, hq):
    # Metric self-test of THEORY.md: 2500 true samples, 3 sigma.
    keys = jax.random.split(jax.random.key(1), 8)
    m = jax.vmap(lambda k: mixtures.mode_metrics(mixture.sample(k, N_PROTOCOL), mixture))(keys)
    assert np.all(np.asarray(m["modes"]) == mixture.modes)
    sd = math.sqrt(hq * (1 - hq) / (8 * N_PROTOCOL))  # binomial sd of the mean over 8 draws
    assert float(jnp.mean(m["high_quality"])) == pytest.approx(hq, abs=4 * sd)
    # Reverse KL of a multinomial histogram: about (modes - 1) / (2 n), far below log(modes).
    assert float(jnp.max(m["reverse_kl"])) < 5 * mixture.modes / N_PROTOCOL + 1e-6


def test_collapsed_and_off_target_samples():
    grid = mixtures.grid()
    one_mode = jnp.tile(grid.means[7], (100, 1)) + 0.01
    m = _metrics(one_mode, grid)
    assert int(m["modes"]) == 1 and float(m["high_quality"]) == 1.0
    assert float(m["reverse_kl"]) == pytest.approx(math.log(25), rel=1e-6)
    # Half the samples between modes (1.0 away from every centre) are low quality and cover nothing.
    half = jnp.concatenate([one_mode[:50], jnp.tile(jnp.array([[1.0, 1.0]]), (50, 1))])
    m = _metrics(half, grid)
    assert int(m["modes"]) == 1 and float(m["high_quality"]) == 0.5
    far = jnp.full((10, 2), 100.0)
    m = _metrics(far, grid)
    assert int(m["modes"]) == 0 and float(m["high_quality"]) == 0.0 and math.isinf(float(m["reverse_kl"]))
    # Two modes, 3:1: KL(p || uniform) = sum p log(25 p).
    two = jnp.concatenate([jnp.tile(grid.means[0], (30, 1)), jnp.tile(grid.means[24], (10, 1))])
    p = np.array([0.75, 0.25])
    assert float(_metrics(two, grid)["reverse_kl"]) == pytest.approx(float(np.sum(p * np.log(25 * p))), rel=1e-5)


def test_threshold_is_three_standard_deviations_by_default():
    ring = mixtures.ring()
    centre = ring.means[0][None, :]
    inside = centre + jnp.array([[0.059, 0.0]])
    outside = centre + jnp.array([[0.0, 0.061]])
    assert float(mixtures.mode_metrics(inside, ring)["high_quality"]) == 1.0
    assert float(mixtures.mode_metrics(outside, ring)["high_quality"]) == 0.0
    assert float(mixtures.mode_metrics(outside, ring, threshold=3.1)["high_quality"]) == 1.0


@settings(max_examples=25, deadline=None)
@given(chosen=st.lists(st.integers(0, 7), min_size=1, max_size=12),
       noise=st.floats(-0.05, 0.05), seed=st.integers(0, 2**16))
def test_modes_counts_distinct_modes_hit_and_is_permutation_invariant(chosen, noise, seed):
    ring = RING
    pts = np.asarray(ring.means)[chosen] + noise / np.sqrt(2)  # within 3 sigma = 0.06 of its mode
    pts = np.concatenate([pts, np.zeros((12 - len(chosen), 2)) + 5.0])  # padding far away: low quality
    m = _metrics(jnp.asarray(pts, jnp.float32), ring)
    assert int(m["modes"]) == len(set(chosen))
    assert float(m["high_quality"]) == pytest.approx(len(chosen) / 12, abs=1e-6)
    perm = np.random.default_rng(seed).permutation(12)
    m2 = _metrics(jnp.asarray(pts[perm], jnp.float32), ring)
    assert int(m2["modes"]) == int(m["modes"])
    assert float(m2["reverse_kl"]) == pytest.approx(float(m["reverse_kl"]), abs=1e-6)
    assert 0.0 <= float(m["reverse_kl"]) <= math.log(8) + 1e-6


def test_float64(x64):
    ring = mixtures.ring()
    x = ring.sample(jax.random.key(0), 10)
    assert ring.means.dtype == jnp.float64 and x.dtype == jnp.float64
    assert _metrics(x, ring)["high_quality"].dtype == jnp.float64
    assert type(mixtures.mode_metrics(x, ring)["high_quality"]) is float


def test_mode_metrics_are_python_numbers_when_concrete_and_arrays_when_traced():
    ring = RING
    m = mixtures.mode_metrics(ring.sample(jax.random.key(0), 200), ring)
    assert [type(m[k]) for k in ("modes", "high_quality", "reverse_kl")] == [int, float, float]
    assert m["modes"] == 8 and 0.9 < m["high_quality"] <= 1.0 and 0.0 <= m["reverse_kl"] < 0.1
    assert mixtures.mode_metrics(ring.means + 1.0, ring)["reverse_kl"] == math.inf  # no high-quality sample
    jitted = _metrics(ring.sample(jax.random.key(0), 200), ring)
    assert isinstance(jitted["modes"], jax.Array) and int(jitted["modes"]) == m["modes"]
    assert float(jitted["high_quality"]) == m["high_quality"]
    keys = jax.random.split(jax.random.key(0), 3)
    batched = jax.vmap(lambda k: mixtures.mode_metrics(ring.sample(k, 200), ring))(keys)
    assert batched["modes"].shape == (3,) and batched["high_quality"].shape == (3,)


@pytest.mark.parametrize("call, match", [
    (lambda: mixtures.ring(modes=0), "modes"),
    (lambda: mixtures.ring(modes=2.5), "modes"),
    (lambda: mixtures.ring(radius=-1.0), "radius"),
    (lambda: mixtures.ring(std=0.0), "std"),
    (lambda: mixtures.grid(side=True), "side"),
    (lambda: mixtures.grid(spacing=float("nan")), "spacing"),
    (lambda: mixtures.grid(std=-0.1), "std"),
    (lambda: mixtures.gaussian_1d(std=0.0), "std"),
    (lambda: mixtures.gaussian_1d(mean=float("inf")), "mean"),
    (lambda: mixtures.Mixture(jnp.zeros(3), 1.0), "means"),
    (lambda: mixtures.Mixture(jnp.zeros((3, 2)), -1.0), "std"),
    (lambda: mixtures.ring().sample(jax.random.key(0), 0), "n"),
    (lambda: mixtures.mode_metrics(jnp.zeros((5, 3)), mixtures.ring()), "samples"),
    (lambda: mixtures.mode_metrics(jnp.zeros(5), mixtures.ring()), "samples"),
    (lambda: mixtures.mode_metrics(jnp.zeros((5, 2)), mixtures.ring(), threshold=0), "threshold"),
])
def test_bad_arguments_raise_value_error_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_mode_metrics_needs_a_mixture():
    with pytest.raises(TypeError, match="mixture"):
        mixtures.mode_metrics(jnp.zeros((5, 2)), np.zeros((8, 2)))
    assert games.mixtures is mixtures
