r"""The shape of a game's vector field between two points and around one: path angle and rotation vs potential.

* :func:`path_angle`: along the line ``z(alpha) = start + alpha (end - start)``, the cosine of the angle between
  ``F(z(alpha))`` and the direction ``end - start``, and ``||F(z(alpha))||`` (Berard et al. 2020). A potential
  (gradient) field gives a cosine of +-1 along a line to its minimum; a purely rotational field near its
  equilibrium gives cosine 0; a real GAN between an early and a late point shows a bump of the cosine around
  ``alpha = 1`` with a dip of the norm there, the signature of rotation around a locally stable point.
* :func:`rotation_potential`: with ``J = S + A`` (symmetric and antisymmetric parts of the game Jacobian),
  ``||S||_F`` and ``||A||_F`` estimated by Hutchinson's estimator from JVPs and VJPs without forming ``J``
  (exact, from the dense Jacobian, with ``samples=None``). ``A = 0`` for a potential game, ``S = 0`` for a
  bilinear one (Balduzzi et al. 2018).

Everything here is jit-compiled and returns JAX arrays.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from minimax._checks import positive_int
from minimax.diagnostics import jacobian
from minimax.spectra import _check_point, _default_key

__all__ = ["PathAngle", "RotationPotential", "path_angle", "rotation_potential"]


class PathAngle(NamedTuple):
    """:func:`path_angle`'s curve: ``alpha`` (num,), ``cosine`` of the angle between F and the path, ``norm`` of F."""

    alpha: jax.Array
    cosine: jax.Array
    norm: jax.Array


class RotationPotential(NamedTuple):
    """``||S||_F`` and ``||A||_F`` of the game Jacobian ``J = S + A``, and ``ratio = ||A||_F / ||S||_F``.

    ``std_sym`` and ``std_antisym`` are the standard errors of the Hutchinson estimates (0 when exact).
    """

    sym: jax.Array
    antisym: jax.Array
    ratio: jax.Array
    std_sym: jax.Array
    std_antisym: jax.Array


def _point_pair(pair, name):
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        raise TypeError(f"{name}: expected a pair (x, y) of parameter pytrees, got {type(pair).__name__}")
    _check_point(pair[0], f"{name}[0]")
    _check_point(pair[1], f"{name}[1]")
    return tuple(pair)


def path_angle(game, start, end, *, num: int = 50, span=(-0.5, 1.5), key=None) -> PathAngle:
    """Berard et al.'s path angle between two points of a game.

    Args:
      game: the game.
      start: ``(x0, y0)``, typically an early point of a run (or its initialisation).
      end: ``(x1, y1)``, typically the end of the run; must have the same structure as ``start``.
      num: points on the line (at least 2).
      span: ``(alpha_min, alpha_max)``; ``alpha = 0`` is ``start`` and ``alpha = 1`` is ``end``.
      key: feeds a stochastic game's field; the same key at every alpha, so the curve is smooth in alpha.

    Returns:
      A :class:`PathAngle` of arrays of shape ``(num,)``. The cosine is ``<F(z), d> / (||F(z)|| ||d||)``, with
      ``d = end - start`` (0 where ``F`` vanishes).
    """
    start, end = _point_pair(start, "start"), _point_pair(end, "end")
    num = positive_int(num, "num")
    if num < 2:
        raise ValueError(f"num: expected at least 2 points, got {num}")
    if not (isinstance(span, (tuple, list)) and len(span) == 2 and all(np.isfinite(s) for s in span)
            and span[0] < span[1]):
        raise ValueError(f"span: expected (alpha_min, alpha_max) with alpha_min < alpha_max, got {span!r}")
    z0, unravel = ravel_pytree(start)
    z1, unravel1 = ravel_pytree(end)
    if z0.shape != z1.shape or jax.tree.structure(start) != jax.tree.structure(end):
        raise ValueError("end: expected the same structure and shapes as start")
    key = _default_key(key)
    alpha = jnp.linspace(span[0], span[1], num, dtype=z0.dtype)
    return _path_angle(game, z0, z1, alpha, unravel, key)


@functools.partial(jax.jit, static_argnums=(0, 4))  # compiled once per game and structure
def _path_angle(game, z0, z1, alpha, unravel, key):
    d = z1 - z0
    dn = jnp.linalg.norm(d)

    def at(a):
        x, y = unravel(z0 + a * d)
        f = ravel_pytree(game.vector_field(x, y, key))[0]
        fn = jnp.linalg.norm(f)
        ok = fn * dn > 0
        return jnp.where(ok, jnp.vdot(f, d) / jnp.where(ok, fn * dn, 1.0), 0.0), fn

    cos, fn = jax.lax.map(at, alpha)
    return PathAngle(alpha, cos, fn)


def rotation_potential(game, x, y, *, key=None, samples: Optional[int] = 64) -> RotationPotential:
    r"""How rotational the game is at (x, y): ``||A||_F`` against ``||S||_F`` for ``J = S + A``.

    With Rademacher probes ``v``, ``E||Mv||^2 = ||M||_F^2``; ``Sv = (Jv + J^T v)/2`` and ``Av = (Jv - J^T v)/2``
    take one JVP and one VJP per probe (both compiled once, with ``jax.linearize`` and ``jax.linear_transpose``).

    Args:
      game: the game.
      x: the minimiser's point.
      y: the maximiser's point.
      key: feeds a stochastic game's field (as in :func:`minimax.jacobian`) and, folded with 1, draws the probes.
      samples: probes for the estimate; ``None`` for the exact value from the dense Jacobian (small games).

    Returns:
      A :class:`RotationPotential`.
    """
    _check_point(x, "x")
    _check_point(y, "y")
    samples = positive_int(samples, "samples", allow_none=True)
    key = _default_key(key)
    field_key = key
    if samples is None:
        j = jacobian(game, x, y, key=field_key)
        s, a = (j + j.T) / 2, (j - j.T) / 2
        ns, na = jnp.linalg.norm(s), jnp.linalg.norm(a)
        zero = jnp.zeros((), ns.dtype)
        return RotationPotential(ns, na, _ratio(na, ns), zero, zero)
    flat, unravel = ravel_pytree((x, y))
    return _hutchinson(game, flat, unravel, field_key, jax.random.fold_in(key, 1), samples)


def _ratio(a, s):
    return jnp.where(s > 0, a / jnp.where(s > 0, s, 1.0), jnp.inf)


@functools.partial(jax.jit, static_argnums=(0, 2, 5))
def _hutchinson(game, flat, unravel, field_key, probe_key, samples):
    def field(v):
        x_, y_ = unravel(v)
        return ravel_pytree(game.vector_field(x_, y_, field_key))[0]

    _, jvp = jax.linearize(field, flat)
    vjp = jax.linear_transpose(jvp, flat)
    probes = jax.random.rademacher(probe_key, (samples, flat.size), flat.dtype)

    def one(v):
        jv, jtv = jvp(v), vjp(v)[0]
        return jnp.sum(((jv + jtv) / 2) ** 2), jnp.sum(((jv - jtv) / 2) ** 2)

    s2, a2 = jax.lax.map(one, probes)
    ms, ma = jnp.mean(s2), jnp.mean(a2)
    # Standard errors of the norms from those of the squared norms (delta method).
    tiny = jnp.finfo(ms.dtype).tiny
    ses = jnp.std(s2) / jnp.sqrt(samples) / (2 * jnp.sqrt(jnp.maximum(ms, tiny)))
    sea = jnp.std(a2) / jnp.sqrt(samples) / (2 * jnp.sqrt(jnp.maximum(ma, tiny)))
    ns, na = jnp.sqrt(ms), jnp.sqrt(ma)
    return RotationPotential(ns, na, _ratio(na, ns), ses, sea)
