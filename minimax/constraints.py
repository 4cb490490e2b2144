"""Feasible sets for a player: the simplex, a box and a Euclidean ball.

A set knows how to project onto itself (Euclidean geometry) and, for the simplex, how to take a mirror step in the
entropic geometry (multiplicative weights). Solvers call :func:`retract` after every extrapolation and every update,
so iterates never leave the set. A set applies to a player's whole parameter pytree: a simplex player's leaves
together sum to ``scale``; a ball bounds the norm of all leaves together; a box bounds each entry.

Nothing here knows about games or solvers.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minimax import _tree

__all__ = ["Constraint", "Simplex", "Box", "Ball", "retract", "GEOMETRIES"]

GEOMETRIES = ("euclidean", "entropic")


class Constraint:
    """Base class of a player's feasible set. Subclasses define ``project(params)`` and ``contains(params)``."""

    supports_entropic = False

    def project(self, params: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def contains(self, params: Any, atol: float = 1e-6) -> jax.Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def mirror_step(self, params: Any, updates: Any) -> Any:
        raise ValueError(f"{type(self).__name__} has no entropic (mirror) geometry; only Simplex has one")


def _leaves(tree):
    return jax.tree.leaves(tree)


def _positive_number(value, name: str, owner: str) -> None:
    """A positive, finite number (a traced one, e.g. swept under vmap, is taken as it is)."""
    if isinstance(value, jax.core.Tracer):
        return
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray, jax.Array)) or jnp.ndim(value):
        raise TypeError(f"{owner}: {name} must be a positive number, got {value!r}")
    if not (np.isfinite(float(value)) and float(value) > 0):
        raise ValueError(f"{owner}: {name} must be a positive finite number, got {value!r}")


@dataclasses.dataclass(frozen=True)
class Simplex(Constraint):
    """The probability simplex ``{p >= 0, sum(p) = scale}`` over all entries of the player's parameters.

    Euclidean projection is the sort-based algorithm (Duchi et al. 2008) from ``optax.projections``. The entropic
    mirror step multiplies by ``exp(updates)`` and renormalises; with ``optax.sgd(eta)`` the updates are
    ``-eta * grad`` and this is exactly multiplicative weights (Hedge).
    """

    scale: float = 1.0
    supports_entropic = True

    def __post_init__(self):
        _positive_number(self.scale, "scale", "Simplex")

    def project(self, params):
        return optax.projections.projection_simplex(params, self.scale)

    def contains(self, params, atol=1e-6):
        """Entries >= -atol and a total within ``atol * size`` of ``scale`` (round-off grows with the size)."""
        leaves = _leaves(params)
        total = sum(jnp.sum(leaf) for leaf in leaves)
        size = sum(leaf.size for leaf in leaves)
        nonneg = jnp.all(jnp.stack([jnp.all(leaf >= -atol) for leaf in leaves]))
        return nonneg & (jnp.abs(total - self.scale) <= atol * max(1.0, self.scale) * max(size, 1))

    def mirror_step(self, params, updates):
        # log p + u, normalised over all leaves together; computed in log space so large steps do not overflow.
        # No entry may become exactly 0: exp underflows for log-weights ~87 (float32) below the largest, and from
        # an exact 0 the multiplicative step never recovers (log 0 = -inf), so a strategy the equilibrium plays
        # with a tiny weight would be lost for good. Entries are kept at or above the dtype's smallest normal
        # number (and read back through the same floor), which changes nothing above it.
        def floor(p):
            return jnp.maximum(p, jnp.finfo(p.dtype).tiny)

        logits = jax.tree.map(lambda p, u: jnp.log(floor(p)) + u.astype(p.dtype), params, updates)
        leaves = _leaves(logits)
        top = jax.lax.stop_gradient(jnp.max(jnp.stack([jnp.max(leaf) for leaf in leaves])))
        total = sum(jnp.sum(jnp.exp(leaf - top)) for leaf in leaves)
        return jax.tree.map(lambda z: floor(self.scale * jnp.exp(z - top) / total), logits)


@dataclasses.dataclass(frozen=True)
class Box(Constraint):
    """The box ``lower <= p <= upper``, entrywise. Bounds are scalars or pytrees matching the player."""

    lower: Any = -1.0
    upper: Any = 1.0

    def __post_init__(self):
        lo, hi = jax.tree.leaves(self.lower), jax.tree.leaves(self.upper)
        for name, leaves in (("lower", lo), ("upper", hi)):
            for leaf in leaves:
                if isinstance(leaf, jax.core.Tracer):
                    continue
                if isinstance(leaf, (str, bytes)):
                    raise TypeError(f"Box: {name} must be numbers or arrays of numbers, got {leaf!r}")
                try:
                    arr = jnp.asarray(leaf)
                except TypeError:
                    raise TypeError(f"Box: {name} must be numbers or arrays of numbers, got {leaf!r}") from None
                if not (jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer)):
                    raise TypeError(f"Box: {name} must be real numbers, got dtype {arr.dtype}")
                if bool(jnp.any(jnp.isnan(arr.astype(float)))):
                    raise ValueError(f"Box: {name} has NaN entries")
        if len(lo) != len(hi) and len(lo) > 1 and len(hi) > 1:
            raise ValueError(f"Box: lower and upper must have the same structure (or be scalars), got {len(lo)} and "
                             f"{len(hi)} leaves")
        concrete = not any(isinstance(v, jax.core.Tracer) for v in lo + hi)
        if concrete and len(lo) == len(hi) and not all(bool(jnp.all(jnp.asarray(a) <= jnp.asarray(b)))
                                                       for a, b in zip(lo, hi)):
            raise ValueError(f"Box: expected lower <= upper everywhere, got lower={self.lower}, upper={self.upper}")

    def _bounds_like(self, params):
        def like(bound):
            if jax.tree.structure(bound) == jax.tree.structure(params):
                return bound
            return jax.tree.map(lambda p: jnp.broadcast_to(jnp.asarray(bound, p.dtype), p.shape), params)

        return like(self.lower), like(self.upper)

    def project(self, params):
        lower, upper = self._bounds_like(params)
        return jax.tree.map(lambda p, lo, hi: jnp.clip(p, jnp.asarray(lo, p.dtype), jnp.asarray(hi, p.dtype)),
                            params, lower, upper)

    def contains(self, params, atol=1e-6):
        lower, upper = self._bounds_like(params)
        inside = jax.tree.map(lambda p, lo, hi: jnp.all((p >= lo - atol) & (p <= hi + atol)), params, lower, upper)
        return jnp.all(jnp.stack(_leaves(inside)))


@dataclasses.dataclass(frozen=True)
class Ball(Constraint):
    """The Euclidean ball ``||p - center|| <= radius``, the norm taken over all leaves together."""

    radius: float = 1.0
    center: Any = None

    def __post_init__(self):
        _positive_number(self.radius, "radius", "Ball")

    def _shift(self, params, sign):
        if self.center is None:
            return params
        return jax.tree.map(lambda p, c: p + sign * jnp.asarray(c, p.dtype), params, self._centre_like(params))

    def _centre_like(self, params):
        if jax.tree.structure(self.center) == jax.tree.structure(params):
            return self.center
        return jax.tree.map(lambda p: jnp.broadcast_to(jnp.asarray(self.center, p.dtype), p.shape), params)

    def project(self, params):
        shifted = self._shift(params, -1.0)
        return self._shift(optax.projections.projection_l2_ball(shifted, self.radius), 1.0)

    def contains(self, params, atol=1e-6):
        return _tree.norm(self._shift(params, -1.0)) <= self.radius + atol


def retract(constraint: Constraint | None, geometry: str, params: Any, updates: Any) -> Any:
    """Moves ``params`` by optax-style ``updates`` and returns a feasible point.

    Euclidean geometry: ``project(params + updates)`` (no projection for an unconstrained player).
    Entropic geometry: the mirror step of the simplex, ``params * exp(updates)`` renormalised.
    """
    if geometry == "entropic":
        return constraint.mirror_step(params, updates)
    moved = optax.apply_updates(params, updates)
    return moved if constraint is None else constraint.project(moved)
