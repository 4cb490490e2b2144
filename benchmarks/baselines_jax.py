"""Hand-written JAX baselines, with no minimax in between.

* The *naive JAX loop*: a Python ``for`` over a jitted step, the way most game-dynamics code is written. Each step
  is one dispatch from Python.
* The *hand-fused scan* of the ring GAN: the whole training loop as one ``lax.scan`` over a hand-written step
  (networks, value, Adam by hand). It is the floor that minimax's abstractions should cost nothing over.

The GAN code draws its mini-batches with the same keys and in the same way as ``games.gan`` and
``games.mixtures.ring`` (step t uses ``fold_in(fold_in(key, 1), t)``; extragradient's two evaluations fold in 0
and 1; real points from ``fold_in(k, 0)``, latents from ``fold_in(k, 1)``), so from the same parameters it
computes the same numbers as ``mm.run`` and the two can be checked against each other.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp


# -- workloads 1 and 2: extragradient with plain SGD steps on a bilinear payoff -----------------------------------
def eg_step(value: Callable, lr: float) -> Callable:
    """A jitted extragradient step ``(x, y) -> (x, y)`` on ``value(x, y)`` (x descends, y ascends)."""
    grad = jax.grad(value, argnums=(0, 1))

    @jax.jit
    def step(x, y):
        gx, gy = grad(x, y)
        xh, yh = x - lr * gx, y + lr * gy
        gx, gy = grad(xh, yh)
        return x - lr * gx, y + lr * gy

    return step


def python_loop(step: Callable, x, y, steps: int):
    """The naive loop: one dispatch per step."""
    for _ in range(steps):
        x, y = step(x, y)
    return jax.block_until_ready((x, y))


# -- workload 3: the ring GAN --------------------------------------------------------------------------------------
def mlp_apply(params, h):
    for i, layer in enumerate(params):
        h = h @ layer["w"] + layer["b"]
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    return h


def gan_value(g, d, real, z):
    """v(g, d) on one batch; g minimises, d maximises."""
    fake = mlp_apply(g, z)
    return (jnp.mean(jax.nn.log_sigmoid(mlp_apply(d, real)[:, 0]))
            + jnp.mean(jax.nn.log_sigmoid(-mlp_apply(d, fake)[:, 0])))


def ring_batch(key, means, std, batch, latent):
    """The real batch and the latents, drawn as ``games.gan`` draws them."""
    k_real, k_z = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
    k_mode, k_noise = jax.random.split(k_real)
    idx = jax.random.randint(k_mode, (batch,), 0, means.shape[0])
    real = means[idx] + std * jax.random.normal(k_noise, (batch, means.shape[1]), means.dtype)
    return real, jax.random.normal(k_z, (batch, latent), means.dtype)


def adam_init(params):
    zeros = jax.tree.map(jnp.zeros_like, params)
    return (zeros, zeros, jnp.zeros((), jnp.int32))


def adam_update(grads, state, lr, b1, b2=0.999, eps=1e-8):
    """Adam's update ``-lr * m_hat / (sqrt(v_hat) + eps)`` and the new state."""
    m, v, count = state
    m = jax.tree.map(lambda m_, g: b1 * m_ + (1 - b1) * g, m, grads)
    v = jax.tree.map(lambda v_, g: b2 * v_ + (1 - b2) * g * g, v, grads)
    count = count + 1
    c1, c2 = 1 - b1 ** count.astype(jnp.float32), 1 - b2 ** count.astype(jnp.float32)
    update = jax.tree.map(lambda m_, v_: -lr * (m_ / c1) / (jnp.sqrt(v_ / c2) + eps), m, v)
    return update, (m, v, count)


def gan_step(solver: str, means, std, batch, latent, lr, b1):
    """One training step ``(params, opt_state, key_t) -> (params, opt_state)``, by hand."""
    field = jax.grad(gan_value, argnums=(0, 1))
    add = lambda p, u: jax.tree.map(jnp.add, p, u)  # noqa: E731

    def updates(g, d, sg, sd, key):
        gg, gd = field(g, d, *ring_batch(key, means, std, batch, latent))
        gd = jax.tree.map(jnp.negative, gd)  # d maximises v
        ug, sg = adam_update(gg, sg, lr, b1)
        ud, sd = adam_update(gd, sd, lr, b1)
        return ug, ud, sg, sd

    def simultaneous(params, opt, key):
        (g, d), (sg, sd) = params, opt
        ug, ud, sg, sd = updates(g, d, sg, sd, key)
        return (add(g, ug), add(d, ud)), (sg, sd)

    def extragradient(params, opt, key):  # Extra-Adam: the state advances at both half-steps
        (g, d), (sg, sd) = params, opt
        ug, ud, sg, sd = updates(g, d, sg, sd, jax.random.fold_in(key, 0))
        ug, ud, sg, sd = updates(add(g, ug), add(d, ud), sg, sd, jax.random.fold_in(key, 1))
        return (add(g, ug), add(d, ud)), (sg, sd)

    return simultaneous if solver == "simultaneous" else extragradient


def gan_fused(solver: str, steps: int, means, std, batch, latent, lr, b1) -> Callable:
    """The hand-fused training loop: ``(params, key) -> params`` as one jitted ``lax.scan``."""
    step = gan_step(solver, means, std, batch, latent, lr, b1)

    @jax.jit
    def train(params, key):
        k_steps = jax.random.fold_in(key, 1)

        def body(carry, _):
            params, opt, t = carry
            params, opt = step(params, opt, jax.random.fold_in(k_steps, t))
            return (params, opt, t + 1), None

        opt = (adam_init(params[0]), adam_init(params[1]))
        (params, _, _), _ = jax.lax.scan(body, (params, opt, jnp.zeros((), jnp.int32)), length=steps)
        return params

    return train


def gan_python_loop(solver: str, means, std, batch, latent, lr, b1) -> Callable:
    """The naive loop for the GAN: ``(params, key, steps) -> params``, one jitted step per Python iteration."""
    inner = gan_step(solver, means, std, batch, latent, lr, b1)

    @jax.jit
    def step(params, opt, k_steps, t):
        return inner(params, opt, jax.random.fold_in(k_steps, t))

    def train(params, key, steps):
        k_steps = jax.random.fold_in(key, 1)
        opt = (adam_init(params[0]), adam_init(params[1]))
        for t in range(steps):
            params, opt = step(params, opt, k_steps, t)
        return jax.block_until_ready(params)

    return train
