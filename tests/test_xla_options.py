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


@pytest.mark.skipif(not ON_CPU or mm.compiler_options() is None, reason="CPU with a jaxlib that knows the option")
def test_the_compiled_loop_carries_the_option():
    """YNNPACK fusions show in compiled HLO as ``ynn_fusion``: none of them a dot in minimax's loop."""
    game, solver = small_gan(), mm.simultaneous_gda(optax.adam(1e-3))
    key = jax.random.key(0)
    x0, y0 = game.init(key)
    hlo = driver._run_compiled.lower(game, solver, 3, 3, (), None, None, x0, y0, key).compile().as_text()
    dots = [line for line in hlo.splitlines() if " dot(" in line]
    assert len(dots) >= 6  # forward and backward through the hidden layers
    ynn = {line.split("calls=%")[1].split(",")[0] for line in hlo.splitlines() if "__ynn_fusion" in line}
    bodies = hlo.split("\n\n")
    assert not any(b.split(" ", 1)[0].lstrip("%") in ynn and " dot(" in b for b in bodies)


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
