"""minimax's XLA compile options: when they apply, that they reach the compiled loop, and that they change no result
beyond float rounding."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm
from minimax import _xla, driver

OPTION = "xla_cpu_experimental_ynn_fusion_type"
ON_CPU = jax.default_backend() == "cpu"


def small_gan():
    return games.gan(games.mlp([2, 64, 64, 2]), games.mlp([2, 64, 64, 1]), games.mixtures.ring(), latent_dim=2,
                     batch_size=256)


@pytest.mark.skipif(not ON_CPU, reason="the options are CPU-only")
def test_cpu_options_and_when_they_are_left_out(monkeypatch):
    monkeypatch.delenv("MINIMAX_XLA_DEFAULTS", raising=False)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    opts = mm.compiler_options()
    if opts is None:
        pytest.skip("this jaxlib does not know the option")
    assert opts == {OPTION: "LIBRARY_FUSION_TYPE_REDUCE"}
    assert mm.compiler_options("gpu") is None
    monkeypatch.setenv("MINIMAX_XLA_DEFAULTS", "0")
    assert mm.compiler_options() is None
    monkeypatch.delenv("MINIMAX_XLA_DEFAULTS")
    monkeypatch.setenv("XLA_FLAGS", f"--{OPTION}=LIBRARY_FUSION_TYPE_DOT")
    assert mm.compiler_options() is None  # the user's own setting wins


def test_an_unknown_option_is_detected_not_raised():
    assert _xla._accepted((("xla_no_such_option_anywhere", "1"),)) is False


def _ynn_dots(hlo: str) -> int:
    """How many YNNPACK fusions in compiled HLO text multiply matrices (``ynn_fusion`` calls whose body has a dot)."""
    called = {line.split("calls=%")[1].split(",")[0] for line in hlo.splitlines()
              if "__ynn_fusion" in line and "calls=%" in line}
    bodies = hlo.split("\n\n")
    return sum(1 for b in bodies if b.split(" ", 1)[0].lstrip("%") in called and " dot(" in b)


@pytest.mark.skipif(not ON_CPU or mm.compiler_options() is None, reason="CPU with a jaxlib that knows the option")
@pytest.mark.slow
def test_the_compiled_loop_carries_the_option():
    """The same loop compiled with XLA's defaults hands matrix products to YNNPACK; minimax's loop hands none."""
    game, solver = small_gan(), mm.simultaneous_gda(optax.adam(1e-3))
    key = jax.random.key(0)
    x0, y0 = game.init(key)
    args = (game, solver, 3, 3, (), None, None, x0, y0, key)
    defaults = jax.jit(driver._run_compiled.__wrapped__, static_argnums=(0, 1, 2, 3, 4, 5, 6)).lower(*args)
    if _ynn_dots(defaults.compile().as_text()) == 0:
        pytest.skip("XLA's defaults use no YNNPACK matrix products on this machine: nothing to move")
    hlo = driver._run_compiled.lower(*args).compile().as_text()
    assert sum(" dot(" in line for line in hlo.splitlines()) >= 6  # forward and backward through hidden layers
    assert _ynn_dots(hlo) == 0


def test_top_level_is_false_inside_transformations():
    assert _xla.top_level() is True
    seen = []
    jax.jit(lambda a: seen.append(_xla.top_level()) or a)(1.0)
    jax.vmap(lambda a: seen.append(_xla.top_level()) or a)(jnp.ones(2))
    assert seen == [False, False]


def test_a_direct_run_compiles_the_top_level_variant_and_a_nested_one_the_plain():
    game, solver = games.bilinear(jnp.eye(3)), mm.extragradient(optax.sgd(0.07))
    fn = driver._run_compiled
    fn._get()  # both variants built
    top = fn._top._cache_size()
    mm.run(game, solver, steps=17, key=jax.random.key(0))
    assert fn._top._cache_size() == top + 1
    # inside a jit the plain variant is staged (a jit with options would be refused there), not the top one
    out = jax.jit(lambda k: mm.run(game, solver, steps=19, key=k).x)(jax.random.key(0))
    assert out.shape == (3,)
    assert fn._top._cache_size() == top + 1 or fn._top is fn._nested


def test_first_calls_from_several_threads():
    """The lazily built jit is built once; threads calling it first all get a result."""
    import threading

    lazy = _xla.LazyJit(lambda a: a * 2.0)
    out, errors = [], []

    def call():
        try:
            out.append(float(lazy(jnp.float32(3.0))))
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and out == [6.0] * 6


@pytest.mark.slow
def test_results_agree_with_xla_defaults_to_float_rounding():
    """The same run compiled by minimax (its options) and inside a plain jax.jit (XLA's defaults). Plain gradient
    steps: Adam would turn a near-zero gradient entry that rounds to the other sign into a whole step."""
    game, solver = small_gan(), mm.extragradient(optax.sgd(0.05))
    key = jax.random.key(3)
    ours = mm.run(game, solver, steps=20, key=key, record_every=None)
    plain = jax.jit(lambda k: mm.run(game, solver, steps=20, key=k, record_every=None))(key)
    for a, b in zip(jax.tree.leaves((ours.x, ours.y)), jax.tree.leaves((plain.x, plain.y))):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-5)
    # and they did move
    moved = max(float(jnp.max(jnp.abs(a - b))) for a, b in
                zip(jax.tree.leaves(ours.x), jax.tree.leaves(game.init(key)[0])))
    assert moved > 5e-3


def test_same_key_same_numbers_under_the_options():
    game, solver = small_gan(), mm.simultaneous_gda(optax.adam(1e-3))
    a = mm.run(game, solver, steps=10, key=jax.random.key(5), record_every=5)
    b = mm.run(game, solver, steps=10, key=jax.random.key(5), record_every=5)
    for u, v in zip(jax.tree.leaves((a.x, a.y, a.trace)), jax.tree.leaves((b.x, b.y, b.trace))):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
