"""The GAN game v(g, d) = E log d(x) + E log(1 - d(g(z))) against theory (../shared/THEORY.md): constant
discriminators, the optimal discriminator D* = p_data / (p_data + p_g) and max_d v = -log 4 + 2 JSD for 1-D
Gaussians (by quadrature), the R1/R2 penalties, the non-saturating variant, networks from other libraries, and
training through mm.run with jit, vmap and float64."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import integrate, stats

import games
import minimax as mm
from games import mixtures

LOG4 = math.log(4.0)


# -- small players with closed forms ------------------------------------------------------------------------------
def affine_generator(mu, s):
    """g(z) = mu + s z on a 1-D latent; params (mu, s), so N(mu, s^2) exactly."""
    return games.Network(lambda key: jnp.array([mu, s]), lambda p, z: p[0] + p[1] * z)


def constant_discriminator():
    """logit(x) = c for every x; params c (a scalar)."""
    return games.Network(lambda key: jnp.zeros(()), lambda c, x: jnp.full((x.shape[0],), c))


def quadratic_discriminator():
    """logit(x) = a x^2 + b x + c: represents log p_data/p_g of two 1-D Gaussians exactly."""
    return games.Network(lambda key: jnp.zeros(3), lambda p, x: p[0] * x**2 + p[1] * x + p[2])


def linear_discriminator(dim):
    """logit(x) = w.x + b, whose input gradient is w everywhere."""
    return games.Network(lambda key: {"w": jnp.zeros(dim), "b": jnp.zeros(())},
                         lambda p, x: x @ p["w"] + p["b"])


# -- the value ----------------------------------------------------------------------------------------------------
def test_constant_discriminator_value_for_any_generator():
    ring = mixtures.ring()
    game = games.gan(games.mlp([3, 16, 2]), constant_discriminator(), ring, latent_dim=3, batch_size=64)
    value = jax.jit(game.value)
    vfield = jax.jit(game.vector_field)
    cs = [0.0, -2.5, 0.7, 30.0, 1e4, -1e4]
    for i, c in enumerate(cs):
        g = game.init(jax.random.key(i))[0]  # a different random generator each time
        v = float(value(g, jnp.asarray(c), jax.random.key(100 + i)))
        expected = float(jax.nn.log_sigmoid(c) + jax.nn.log_sigmoid(-c))  # = -c - 2 log(1 + e^-c), stable
        assert v == pytest.approx(expected, rel=1e-6, abs=1e-6)
        gx, gy = vfield(g, jnp.asarray(c), jax.random.key(7))
        assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves((gx, gy)))
        assert float(gy) == pytest.approx(-(1 - 2 * float(jax.nn.sigmoid(c))), abs=1e-6)  # -dv/dc = -(1 - 2 s(c))
    assert float(value(g, jnp.asarray(0.0), jax.random.key(0))) == pytest.approx(-LOG4, abs=1e-6)
    assert float(value(g, jnp.asarray(1e4), jax.random.key(0))) == pytest.approx(-1e4, rel=1e-6)


def test_value_is_the_batch_mean_drawn_from_the_documented_keys():
    data = mixtures.grid()
    gen, disc = games.mlp([2, 8, 2]), games.mlp([2, 8, 1])
    game = games.gan(gen, disc, data, latent_dim=2, batch_size=32)
    g, d = game.init(jax.random.key(3))
    key = jax.random.key(11)
    real = data.sample(jax.random.fold_in(key, 0), 32)
    z = jax.random.normal(jax.random.fold_in(key, 1), (32, 2))
    expected = np.mean(np.log(jax.nn.sigmoid(disc.apply(d, real)))) + np.mean(
        np.log(1 - jax.nn.sigmoid(disc.apply(d, gen.apply(g, z)))))
    assert float(game.value(g, d, key)) == pytest.approx(float(expected), rel=1e-5)
    assert float(game.value(g, d, key)) != float(game.value(g, d, jax.random.key(12)))
    # init: generator from fold_in(key, 0), discriminator from fold_in(key, 1)
    chex_g, chex_d = gen.init(jax.random.fold_in(jax.random.key(3), 0)), disc.init(jax.random.fold_in(jax.random.key(3), 1))
    np.testing.assert_array_equal(g[0]["w"], chex_g[0]["w"])
    np.testing.assert_array_equal(d[1]["w"], chex_d[1]["w"])


def test_array_data_is_sampled_with_replacement():
    pts = jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    game = games.gan(games.mlp([2, 2]), linear_discriminator(2), pts, latent_dim=2, batch_size=200)
    key = jax.random.key(0)
    real = pts[jax.random.randint(jax.random.fold_in(key, 0), (200,), 0, 3)]
    g, d = game.init(key)
    d = {"w": jnp.array([0.3, -0.1]), "b": jnp.asarray(0.2)}
    expected = jnp.mean(jax.nn.log_sigmoid(real @ d["w"] + d["b"]))
    z = jax.random.normal(jax.random.fold_in(key, 1), (200, 2))
    expected += jnp.mean(jax.nn.log_sigmoid(-(games.mlp([2, 2]).apply(g, z) @ d["w"] + d["b"])))
    assert float(game.value(g, d, key)) == pytest.approx(float(expected), rel=1e-5)


IMAGES = jax.random.uniform(jax.random.key(9), (6, 8, 8, 1), minval=-1.0, maxval=1.0)


def flat_linear_discriminator(shape):
    """logit(x) = <w, x> + b over all pixels of an image of ``shape``."""
    return games.Network(lambda key: {"w": jnp.zeros(shape), "b": jnp.zeros(())},
                         lambda p, x: jnp.tensordot(x, p["w"], axes=len(shape)) + p["b"])


def test_image_arrays_are_sampled_with_replacement():
    gen = games.dcgan_generator(3, width=4)
    game = games.gan(gen, flat_linear_discriminator((8, 8, 1)), IMAGES, latent_dim=3, batch_size=50)
    key = jax.random.key(4)
    g, _ = game.init(key)
    d = {"w": jax.random.normal(jax.random.key(1), (8, 8, 1)), "b": jnp.asarray(0.3)}
    real = IMAGES[jax.random.randint(jax.random.fold_in(key, 0), (50,), 0, 6)]
    fake = gen.apply(g, jax.random.normal(jax.random.fold_in(key, 1), (50, 3)))
    logit = lambda x: jnp.tensordot(x, d["w"], axes=3) + d["b"]  # noqa: E731
    expected = jnp.mean(jax.nn.log_sigmoid(logit(real))) + jnp.mean(jax.nn.log_sigmoid(-logit(fake)))
    assert float(game.value(g, d, key)) == pytest.approx(float(expected), rel=1e-5)


def _pick_images(key, n):
    """A sampler function: images of IMAGES flipped left-right at random."""
    idx = jax.random.randint(jax.random.fold_in(key, 0), (n,), 0, IMAGES.shape[0])
    flip = jax.random.bernoulli(jax.random.fold_in(key, 1), 0.5, (n, 1, 1, 1))
    return jnp.where(flip, IMAGES[idx][:, :, ::-1], IMAGES[idx])


def test_a_sampler_function_is_data():
    gen = games.dcgan_generator(3, width=4)
    game = games.gan(gen, flat_linear_discriminator((8, 8, 1)), _pick_images, latent_dim=3, batch_size=40)
    key = jax.random.key(6)
    g, _ = game.init(key)
    d = {"w": jax.random.normal(jax.random.key(2), (8, 8, 1)), "b": jnp.asarray(-0.2)}
    real = _pick_images(jax.random.fold_in(key, 0), 40)  # the documented key of the real batch
    fake = gen.apply(g, jax.random.normal(jax.random.fold_in(key, 1), (40, 3)))
    logit = lambda x: jnp.tensordot(x, d["w"], axes=3) + d["b"]  # noqa: E731
    expected = jnp.mean(jax.nn.log_sigmoid(logit(real))) + jnp.mean(jax.nn.log_sigmoid(-logit(fake)))
    assert float(jax.jit(game.value)(g, d, key)) == pytest.approx(float(expected), rel=1e-5)


def _shifted_normal(centre):
    return lambda key, n: jnp.reshape(centre, (1, -1)) + jax.random.normal(key, (n, 2))


def test_games_with_equal_sampler_functions_are_equal_and_share_a_compilation():
    from minimax import driver

    make = lambda data: games.gan(G, D, data, latent_dim=2, batch_size=16)  # noqa: E731
    sampler = _shifted_normal(jnp.zeros(2))
    assert make(sampler) == make(sampler) and hash(make(sampler)) == hash(make(sampler))
    # two closures with the same code over equal arrays describe the same sampler; other arrays, another one
    a, b = make(_shifted_normal(jnp.array([1.0, 2.0]))), make(_shifted_normal(jnp.array([1.0, 2.0])))
    assert a == b and hash(a) == hash(b)
    assert a != make(_shifted_normal(jnp.array([1.0, 3.0])))
    assert make(jnp.arange(12.0).reshape(6, 2)) == make(jnp.arange(12.0).reshape(6, 2))
    solver = mm.simultaneous_gda(optax.sgd(1e-2))
    mm.run(a, solver, steps=3, key=jax.random.key(0))
    before = driver._run_compiled._cache_size()
    res = mm.run(b, solver, steps=3, key=jax.random.key(1))
    assert driver._run_compiled._cache_size() == before
    assert bool(jnp.all(jnp.isfinite(res.trace["value"])))


# -- the optimal discriminator for 1-D Gaussians ------------------------------------------------------------------
def _jsd(p, q):
    m = lambda x: 0.5 * (p(x) + q(x))  # noqa: E731
    kl = lambda a: integrate.quad(lambda x: a(x) * math.log(a(x) / m(x)) if a(x) > 0 else 0.0, -40, 40, limit=200)[0]  # noqa
    return 0.5 * kl(p) + 0.5 * kl(q)


def test_discriminator_trained_alone_reaches_d_star_and_minus_log4_plus_2jsd():
    mu, s = 1.0, 1.5
    data = mixtures.gaussian_1d(0.0, 1.0)
    game = games.gan(affine_generator(mu, s), quadratic_discriminator(), data, latent_dim=1, batch_size=8192)
    schedule = optax.exponential_decay(0.05, transition_steps=400, decay_rate=0.5)
    solver = mm.simultaneous_gda(optax.set_to_zero(), optax.adam(schedule))  # the generator stays put
    res = mm.run(game, solver, steps=3000, key=jax.random.key(0), record_every=None)
    np.testing.assert_array_equal(res.x, [mu, s])
    a, b, c = (float(v) for v in res.y)

    p_data = lambda x: stats.norm.pdf(x, 0.0, 1.0)  # noqa: E731
    p_g = lambda x: stats.norm.pdf(x, mu, s)  # noqa: E731
    xs = np.linspace(-4.0, 5.0, 181)
    d_star = p_data(xs) / (p_data(xs) + p_g(xs))
    d = 1 / (1 + np.exp(-(a * xs**2 + b * xs + c)))
    assert np.max(np.abs(d - d_star)) < 1e-2

    v_star = -LOG4 + 2 * _jsd(p_data, p_g)
    assert v_star == pytest.approx(-1.18771, abs=1e-4)  # the quadrature itself, for the record
    logit = lambda x: a * x * x + b * x + c  # noqa: E731
    ls = lambda t: -np.logaddexp(0.0, -t)  # log sigmoid  # noqa: E731
    v_trained = integrate.quad(lambda x: p_data(x) * ls(logit(x)), -40, 40)[0] + integrate.quad(
        lambda x: p_g(x) * ls(-logit(x)), -40, 40)[0]
    assert v_trained == pytest.approx(v_star, abs=1e-2)
    assert v_trained <= v_star + 1e-9  # D* maximises v
    assert float(res.trace["value"][-1]) == pytest.approx(v_star, abs=1e-2)  # the game's own mini-batch estimate


def test_value_at_p_g_equal_p_data_is_minus_log4_at_d_star():
    data = mixtures.gaussian_1d(0.5, 2.0)
    game = games.gan(affine_generator(0.5, 2.0), quadratic_discriminator(), data, latent_dim=1, batch_size=16)
    # D* = 1/2 everywhere: zero logit; the generator gradient vanishes there (an equilibrium of the game)
    g, d = jnp.array([0.5, 2.0]), jnp.zeros(3)
    (v, _), (gx, gy) = jax.jit(game.losses_and_vector_field)(g, d, jax.random.key(1))
    assert float(v) == pytest.approx(-LOG4, abs=1e-6)
    np.testing.assert_allclose(gx, 0.0, atol=1e-6)


# -- penalties and the non-saturating loss ------------------------------------------------------------------------
def test_r1_and_r2_penalties_for_a_linear_discriminator():
    ring = mixtures.ring()
    gen = games.mlp([2, 8, 2])
    w = jnp.array([0.6, -0.8])
    g = gen.init(jax.random.key(0))
    d = {"w": w, "b": jnp.asarray(0.1)}
    key = jax.random.key(5)
    plain = games.gan(gen, linear_discriminator(2), ring, latent_dim=2, batch_size=64)
    (v, _), (gx, gy) = jax.jit(plain.losses_and_vector_field)(g, d, key)
    for r1, r2 in [(2.0, 0.0), (1.5, 0.5)]:
        pen = games.gan(gen, linear_discriminator(2), ring, latent_dim=2, batch_size=64, r1=r1, r2=r2)
        (v_pen, _), (gx_pen, gy_pen) = jax.jit(pen.losses_and_vector_field)(g, d, key)
        # grad_x logit = w for every sample, so each penalty is (gamma / 2) ||w||^2 = gamma / 2
        assert float(v_pen) == pytest.approx(float(v) - 0.5 * (r1 + r2), rel=1e-5)
        # The generator does not see the penalties (R2 enters through stop_gradient) ...
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), gx_pen, gx)
        # ... and the discriminator's descent direction gains (r1 + r2) w.
        np.testing.assert_allclose(gy_pen["w"] - gy["w"], (r1 + r2) * w, rtol=1e-5, atol=1e-6)


def test_non_saturating_game_is_general_sum_with_the_documented_losses():
    data = mixtures.ring()
    gen, disc = games.mlp([2, 8, 2]), games.mlp([2, 8, 1])
    ns = games.gan(gen, disc, data, latent_dim=2, batch_size=32, loss="non_saturating")
    zs = games.gan(gen, disc, data, latent_dim=2, batch_size=32)
    assert not ns.zero_sum and zs.zero_sum
    g, d = zs.init(jax.random.key(0))
    key = jax.random.key(4)
    z = jax.random.normal(jax.random.fold_in(key, 1), (32, 2))
    expected_x = -jnp.mean(jax.nn.log_sigmoid(disc.apply(d, gen.apply(g, z))[:, 0]))
    (lx, ly), (_, gy_ns) = jax.jit(ns.losses_and_vector_field)(g, d, key)
    (v, _), (_, gy_zs) = jax.jit(zs.losses_and_vector_field)(g, d, key)
    assert float(lx) == pytest.approx(float(expected_x), rel=1e-5)
    assert float(ly) == pytest.approx(-float(v), rel=1e-6)
    # The discriminator's gradient is the zero-sum one; the generator's differs (it no longer saturates).
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), gy_ns, gy_zs)


# -- no wasted work -----------------------------------------------------------------------------------------------
def test_zero_sum_vector_field_runs_each_network_forward_once():
    calls = {"gen": 0, "disc": 0}
    base_g, base_d = games.mlp([2, 8, 2]), games.mlp([2, 8, 1])

    def g_apply(p, z):
        calls["gen"] += 1  # counted while tracing
        return base_g.apply(p, z)

    def d_apply(p, x):
        calls["disc"] += 1
        return base_d.apply(p, x)

    game = games.gan((base_g.init, g_apply), (base_d.init, d_apply), mixtures.ring(), latent_dim=2, batch_size=16)
    g, d = game.init(jax.random.key(0))
    calls.update(gen=0, disc=0)
    jax.make_jaxpr(game.vector_field)(g, d, jax.random.key(1))
    assert calls == {"gen": 1, "disc": 2}  # one generator pass; the discriminator on real, then on fake


# -- any network library ------------------------------------------------------------------------------------------
def test_an_equinox_module_plugs_in_and_matches_the_same_mlp():
    eqx = pytest.importorskip("equinox")

    def eqx_network(in_size, out_size, width):
        template = eqx.nn.MLP(in_size, out_size, width, depth=1, activation=jax.nn.relu, key=jax.random.key(0))
        params, static = eqx.partition(template, eqx.is_array)

        def init(key):
            return eqx.partition(eqx.nn.MLP(in_size, out_size, width, depth=1, activation=jax.nn.relu, key=key),
                                 eqx.is_array)[0]

        def apply(p, x):
            return jax.vmap(eqx.combine(p, static))(x)

        return init, apply

    def to_mlp_params(p):  # equinox Linear stores (out, in) weights
        return tuple({"w": layer.weight.T, "b": layer.bias} for layer in p.layers)

    ring = mixtures.ring()
    eg, ed = eqx_network(4, 2, 16), eqx_network(2, 1, 16)
    game = games.gan(eg, ed, ring, latent_dim=4, batch_size=64)
    ref = games.gan(games.mlp([4, 16, 2]), games.mlp([2, 16, 1]), ring, latent_dim=4, batch_size=64)
    g, d = game.init(jax.random.key(1))
    key = jax.random.key(2)
    (v, _), (gx, gy) = jax.jit(game.losses_and_vector_field)(g, d, key)
    (v_ref, _), (gx_ref, gy_ref) = jax.jit(ref.losses_and_vector_field)(to_mlp_params(g), to_mlp_params(d), key)
    assert float(v) == pytest.approx(float(v_ref), rel=1e-5)
    assert type(gx).__name__ == "MLP"  # gradients come back as an equinox pytree, ready for any optax optimizer
    for ours, theirs in ((gx, gx_ref), (gy, gy_ref)):
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), to_mlp_params(ours), theirs)


def test_a_flax_module_plugs_in():
    nn = pytest.importorskip("flax.linen")

    class Disc(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(1)(nn.relu(nn.Dense(16)(x)))

    module = Disc()
    disc = (lambda key: module.init(key, jnp.zeros((1, 2))), module.apply)
    game = games.gan(games.mlp([2, 16, 2]), disc, mixtures.ring(), latent_dim=2, batch_size=32)
    res = mm.run(game, mm.extragradient(optax.adam(1e-3)), steps=5, key=jax.random.key(0))
    assert res.trace["value"].shape == (6,) and bool(jnp.all(jnp.isfinite(res.trace["value"])))


# -- training through mm.run --------------------------------------------------------------------------------------
TINY = dict(latent_dim=2, batch_size=32)


def _tiny_game(**kw):
    return games.gan(games.mlp([2, 16, 2]), games.mlp([2, 16, 1]), mixtures.ring(), **TINY, **kw)


def test_training_is_compiled_vmapped_over_seeds_and_reproducible():
    game = _tiny_game()
    solver = mm.optimistic_gda(optax.adam(1e-3, b1=0.5))
    run = jax.jit(jax.vmap(lambda k: mm.run(game, solver, steps=20, key=k, record_every=10)))
    keys = jax.random.split(jax.random.key(0), 2)
    res = run(keys)
    assert res.trace["value"].shape == (2, 3)
    assert res.trace["step"].tolist() == [[0, 10, 20]] * 2
    assert jax.tree.leaves(res.x)[0].shape[0] == 2
    again = run(keys)
    jax.tree.map(np.testing.assert_array_equal, res.x, again.x)  # same keys, same numbers
    assert not np.allclose(res.x[0]["w"][0], res.x[0]["w"][1])  # seeds differ
    assert not np.allclose(res.trace["value"][0, 1:], res.trace["value"][1, 1:])


def test_gan_with_r1_converges_to_the_data_mean_and_d_equal_one_half():
    # Generator N(mu, 0.5^2) with a learnt mean, data N(1.5, 0.5^2), quadratic discriminator: the equilibrium is
    # mu = 1.5 with logit = 0 (D* = 1/2) and value -log 4. With R1 (Mescheder et al. 2018) simultaneous Adam gets
    # there from mu = 0.
    data = mixtures.gaussian_1d(1.5, 0.5)
    gen = games.Network(lambda key: jnp.zeros(()), lambda mu, z: mu + 0.5 * z)
    game = games.gan(gen, quadratic_discriminator(), data, latent_dim=1, batch_size=512, r1=1.0)
    solver = mm.simultaneous_gda(optax.adam(optax.exponential_decay(0.05, 500, 0.5)))
    res = mm.run(game, solver, steps=2000, key=jax.random.key(0), record_every=1000)
    assert float(res.x) == pytest.approx(1.5, abs=0.02)
    np.testing.assert_allclose(res.y, 0.0, atol=0.01)
    assert float(res.trace["value"][-1]) == pytest.approx(-LOG4, abs=2e-3)


def test_float64(x64):
    game = _tiny_game(r1=0.1)
    g, d = game.init(jax.random.key(0))
    (v, _), (gx, gy) = jax.jit(game.losses_and_vector_field)(g, d, jax.random.key(1))
    assert v.dtype == jnp.float64
    assert all(leaf.dtype == jnp.float64 for leaf in jax.tree.leaves((g, d, gx, gy)))


def test_gan_samples_uses_the_games_latent_distribution():
    gen = games.mlp([3, 8, 2])
    params = gen.init(jax.random.key(0))
    x = games.gan_samples(gen, params, jax.random.key(1), 100, latent_dim=3)
    z = jax.random.normal(jax.random.key(1), (100, 3))
    np.testing.assert_allclose(x, gen.apply(params, z), rtol=1e-6)
    with pytest.raises(ValueError, match="latent_dim"):
        games.gan_samples(gen, params, jax.random.key(1), 100, latent_dim=0)


# -- bad input, refused before tracing ----------------------------------------------------------------------------
RING = mixtures.ring()
G, D = games.mlp([2, 8, 2]), games.mlp([2, 8, 1])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(generator=lambda key: 0), TypeError, "generator"),
    (dict(discriminator=(1, 2)), TypeError, "discriminator"),
    (dict(data="ring"), TypeError, "data"),
    (dict(data=jnp.zeros(5)), ValueError, "data"),
    (dict(data=jnp.zeros((5, 2), jnp.int32)), TypeError, "data"),
    (dict(latent_dim=0), ValueError, "latent_dim"),
    (dict(latent_dim=2.0), TypeError, "latent_dim"),
    (dict(batch_size=True), TypeError, "batch_size"),
    (dict(batch_size=-3), ValueError, "batch_size"),
    (dict(loss="wasserstein"), ValueError, "loss"),
    (dict(r1=-1.0), ValueError, "r1"),
    (dict(r2=float("inf")), ValueError, "r2"),
    (dict(name=3), TypeError, "name"),
    (dict(generator=games.mlp([2, 8, 3])), ValueError, "generator: produces samples of shape"),
    (dict(generator=games.mlp([5, 8, 2])), ValueError, "generator: apply"),
    (dict(discriminator=games.mlp([2, 8, 2])), ValueError, "discriminator: must return one logit"),
    (dict(discriminator=games.mlp([3, 8, 1])), ValueError, "discriminator: apply"),
    (dict(generator=(lambda: None, G.apply)), ValueError, "generator: init"),
    (dict(data=jnp.zeros((0, 8, 8, 1))), ValueError, r"data: expected an \(N, dim\) array"),
    (dict(data=jnp.zeros((5, 8, 8, 1))), ValueError, "generator: produces samples of shape"),
    (dict(data=lambda key: jnp.zeros((16, 2))), ValueError, r"data: sample\(key, 16\) failed: TypeError"),
    (dict(data=lambda key, n: (jnp.zeros((n, 2)), jnp.zeros(n))), TypeError, "data: .* one array of samples"),
    (dict(data=lambda key, n: None), TypeError, "data: .* one array of samples"),
    (dict(data=lambda key, n: jnp.zeros(n)), ValueError, r"data: .* shape \(16, dim\)"),
    (dict(data=lambda key, n: jnp.zeros((n + 1, 2))), ValueError, r"data: .* got float32\[17, 2\]"),
    (dict(data=lambda key, n: jnp.zeros((n, 2), jnp.int32)), ValueError, "data: .* floating-point"),
    (dict(data=lambda key, n: "ring"), ValueError, "data: sample"),
])
def test_bad_arguments_are_refused_with_their_name(kwargs, error, match):
    args = dict(generator=G, discriminator=D, data=RING, latent_dim=2, batch_size=16)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        games.gan(args.pop("generator"), args.pop("discriminator"), args.pop("data"), **args)


@pytest.mark.parametrize("call, error, match", [
    (lambda: games.mlp([2]), ValueError, "sizes"),
    (lambda: games.mlp([2, 0, 1]), ValueError, "sizes"),
    (lambda: games.mlp([2, 1], activation="relu"), TypeError, "activation"),
    (lambda: games.mlp([2, 1], final_activation=3), TypeError, "final_activation"),
    (lambda: games.mlp([2, 1], dtype=jnp.int32), TypeError, "dtype"),
    (lambda: games.as_network(object(), "generator"), TypeError, "generator"),
])
def test_bad_network_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- convolutional players --------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_players_shapes_and_init_scale(channels):
    gen, disc = games.dcgan_generator(5, channels, width=8), games.dcgan_discriminator(channels, width=8)
    g, d = jax.eval_shape(gen.init, jax.random.key(0)), jax.eval_shape(disc.init, jax.random.key(0))
    assert {k: v["w"].shape for k, v in g.items()} == {
        "dense": (5, 256), "up": (4, 4, 16, 8), "out": (3, 3, 8, channels)}
    assert {k: v["w"].shape for k, v in d.items()} == {
        "conv1": (4, 4, channels, 8), "conv2": (4, 4, 8, 16), "dense": (64, 1)}
    images = jax.eval_shape(gen.apply, g, jax.ShapeDtypeStruct((7, 5), jnp.float32))
    assert images.shape == (7, 8, 8, channels)
    assert jax.eval_shape(disc.apply, d, images).shape == (7,)
    if channels == 1:
        w = disc.init(jax.random.key(1))["conv2"]["w"]
        assert float(jnp.std(w)) == pytest.approx(1 / math.sqrt(4 * 4 * 8), rel=0.1)  # LeCun normal


@pytest.mark.slow  # 10 s on the 2-core CPU (the README's slow step runs it)
def test_dcgan_players_images_in_range_and_every_weight_gets_a_gradient():
    gen, disc = games.dcgan_generator(5, 3, width=8), games.dcgan_discriminator(3, width=8)
    data = jax.random.uniform(jax.random.key(3), (20, 8, 8, 3), minval=-1, maxval=1)
    game = games.gan(gen, disc, data, latent_dim=5, batch_size=8)
    g, d = game.init(jax.random.key(0))

    @jax.jit
    def check(g, d, key):
        images = gen.apply(g, 10 * jax.random.normal(key, (7, 5)))
        return images, game.vector_field(g, d, key)

    images, (gx, gy) = check(g, d, jax.random.key(4))
    assert images.shape == (7, 8, 8, 3) and float(jnp.max(jnp.abs(images))) <= 1.0
    norms = [float(jnp.linalg.norm(leaf)) for leaf in jax.tree.leaves((gx, gy)) if leaf.ndim > 1]
    assert len(norms) == 6 and all(0 < n < float("inf") for n in norms)


CONV_CASES = [((2, 8, 8, 3), 4, 2, 5),  # the discriminator's layers, the generator's transposed one
              ((2, 8, 8, 6), 3, 1, 2),  # stride 1 with fewer outputs than inputs: multiplied first
              ((1, 5, 6, 2), 2, 3, 3)]  # odd sizes, a kernel smaller than the stride (phases no tap reaches)


@pytest.mark.parametrize("shape, k, stride, cout", CONV_CASES)
def test_the_players_convolutions_equal_lax_values_and_gradients(x64, shape, k, stride, cout):
    from games import _conv
    dn = ("NHWC", "HWIO", "NHWC")
    pairs = {"conv": (_conv.conv, lambda x, w, s: jax.lax.conv_general_dilated(x, w, (s, s), "SAME",
                                                                              dimension_numbers=dn)),
             "conv_transpose": (_conv.conv_transpose, lambda x, w, s: jax.lax.conv_transpose(
                 x, w, (s, s), "SAME", dimension_numbers=dn))}
    x = jax.random.normal(jax.random.key(0), shape, jnp.float64)
    w = jax.random.normal(jax.random.key(1), (k, k, shape[-1], cout), jnp.float64)

    @jax.jit
    def both(x, w):  # ours and lax's: values, and the gradients of a probe of them
        out = {}
        for name, fns in pairs.items():
            for who, f in zip(("ours", "lax"), fns):
                probe = jnp.cos(jnp.arange(f(x, w, stride).size, dtype=x.dtype)).reshape(f(x, w, stride).shape)
                out[name, who] = (f(x, w, stride),
                                  jax.grad(lambda x, w: jnp.sum(jnp.sin(f(x, w, stride)) * probe), (0, 1))(x, w))
        return out

    out = both(x, w)
    for name in pairs:
        (value, grads), (want, want_grads) = out[name, "ours"], out[name, "lax"]
        assert value.shape == want.shape, name
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12, err_msg=name)
        for a, b in zip(grads, want_grads):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11, err_msg=name)


def test_dcgan_float64(x64):
    gen, disc = games.dcgan_generator(4), games.dcgan_discriminator()
    g, d = jax.eval_shape(gen.init, jax.random.key(0)), jax.eval_shape(disc.init, jax.random.key(1))
    assert all(leaf.dtype == jnp.float64 for leaf in jax.tree.leaves((g, d)))
    assert jax.eval_shape(lambda g, d: disc.apply(d, gen.apply(g, jnp.ones((2, 4)))), g, d).dtype == jnp.float64


@pytest.mark.parametrize("call, error, match", [
    (lambda: games.dcgan_generator(0), ValueError, "latent_dim"),
    (lambda: games.dcgan_generator(4, channels=2.0), TypeError, "channels"),
    (lambda: games.dcgan_generator(4, width=-1), ValueError, "width"),
    (lambda: games.dcgan_generator(4, dtype=jnp.int32), TypeError, "dtype"),
    (lambda: games.dcgan_discriminator(channels=0), ValueError, "channels"),
    (lambda: games.dcgan_discriminator(slope=1.5), ValueError, "slope"),
    (lambda: games.gan(games.dcgan_generator(4), games.dcgan_discriminator(channels=3), IMAGES, latent_dim=4,
                       batch_size=8), ValueError, r"discriminator: apply.*\(n, 8, 8, 3\)"),
    (lambda: games.gan(games.dcgan_generator(4), games.dcgan_discriminator(), IMAGES, latent_dim=3,
                       batch_size=8), ValueError, r"generator: apply.*\(n, 4\)"),
])
def test_bad_dcgan_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.slow  # 5 s on the 2-core CPU (the README's slow step runs it)
def test_an_equinox_convolution_plugs_in_for_images():
    eqx = pytest.importorskip("equinox")

    def eqx_discriminator():
        def build(key):
            k1, k2 = jax.random.split(key)
            return (eqx.nn.Conv2d(1, 4, 3, stride=2, padding=1, key=k1), eqx.nn.Linear(4 * 4 * 4, 1, key=k2))

        static = eqx.partition(build(jax.random.key(0)), eqx.is_array)[1]

        def apply(p, x):  # equinox convolutions are channels-first and unbatched
            conv, lin = eqx.combine(p, static)
            one = lambda im: lin(jax.nn.relu(conv(jnp.moveaxis(im, -1, 0))).reshape(-1))[0]  # noqa: E731
            return jax.vmap(one)(x)

        return lambda key: eqx.partition(build(key), eqx.is_array)[0], apply

    game = games.gan(games.dcgan_generator(4, width=4), eqx_discriminator(), IMAGES, latent_dim=4, batch_size=8)
    g, d = game.init(jax.random.key(0))
    (v, _), (gx, gy) = jax.jit(game.losses_and_vector_field)(g, d, jax.random.key(1))
    assert math.isfinite(float(v)) and type(gy[0]).__name__ == "Conv2d"
    assert float(jnp.linalg.norm(gy[0].weight)) > 0


def test_mlp_shapes_init_scale_and_dtype():
    net = games.mlp([3, 64, 64, 2], final_activation=jnp.tanh, dtype=jnp.float32)
    params = net.init(jax.random.key(0))
    assert [p["w"].shape for p in params] == [(3, 64), (64, 64), (64, 2)]
    assert all(float(jnp.max(jnp.abs(p["b"]))) == 0.0 for p in params)
    assert float(jnp.std(params[1]["w"])) == pytest.approx(1 / 8, rel=0.05)  # LeCun normal: 1/sqrt(fan_in)
    out = jax.jit(net.apply)(params, jnp.ones((7, 3)) * 100)
    assert out.shape == (7, 2) and float(jnp.max(jnp.abs(out))) <= 1.0
