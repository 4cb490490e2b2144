"""Small pytree helpers shared by the library (norms, finiteness, linear combinations, key handling)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def norm(tree: Any) -> jax.Array:
    """Euclidean norm of all leaves of ``tree`` together.

    Scaled by the largest entry so that huge (but finite) iterates do not overflow the sum of squares; computed on
    the leaves' concatenation (which XLA fuses into the two reductions) rather than leaf by leaf, which kept a GAN's
    compiled loop hundreds of instructions larger."""
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return jnp.zeros(())
    dtype = jnp.result_type(*leaves)
    flat = jnp.concatenate([jnp.ravel(leaf).astype(dtype) for leaf in leaves]) if len(leaves) > 1 \
        else jnp.ravel(leaves[0]).astype(dtype)
    top = jax.lax.stop_gradient(jnp.max(jnp.abs(flat), initial=0.0))
    safe = jnp.where((top > 0) & jnp.isfinite(top), top, 1.0)
    return safe * jnp.sqrt(jnp.sum(jnp.abs(flat / safe) ** 2))


def vdot(a: Any, b: Any) -> jax.Array:
    """The inner product of two pytrees of the same structure, over all leaves."""
    return sum(jnp.vdot(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def axpy(alpha: Any, x: Any, y: Any) -> Any:
    """``alpha * x + y`` leafwise."""
    return jax.tree.map(lambda u, v: alpha * u + v, x, y)


def scale(alpha: Any, x: Any) -> Any:
    return jax.tree.map(lambda u: alpha * u, x)


def where(cond: jax.Array, a: Any, b: Any) -> Any:
    """Selects the whole tree ``a`` where the scalar ``cond`` holds, else ``b``."""
    return jax.tree.map(lambda u, v: jnp.where(cond, u, v), a, b)


def all_finite(tree: Any) -> jax.Array:
    """True when every floating-point entry of ``tree`` is finite (integer and key leaves are ignored).

    One reduction over all leaves of a dtype (their concatenation, which XLA fuses into the reduction without
    materialising it) rather than one per leaf: for a GAN's parameters and Adam state (38 leaves) the per-leaf form
    was 5 500 of the compiled loop's 14 500 instructions, for the same run time."""
    by_dtype: dict = {}
    for leaf in jax.tree.leaves(tree):
        if _is_numeric_float(leaf):
            by_dtype.setdefault(jnp.result_type(leaf), []).append(jnp.ravel(leaf))
    if not by_dtype:
        return jnp.asarray(True)
    checks = [jnp.all(jnp.isfinite(parts[0] if len(parts) == 1 else jnp.concatenate(parts)))
              for parts in by_dtype.values()]
    return checks[0] if len(checks) == 1 else jnp.all(jnp.stack(checks))


def _is_numeric_float(leaf: Any) -> bool:
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
        return isinstance(leaf, float)
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return False
    return jnp.issubdtype(dtype, jnp.inexact)


def is_key(key: Any) -> bool:
    """Accepts new-style typed keys (``jax.random.key``) and legacy ``uint32[2]`` keys (``jax.random.PRNGKey``)."""
    dtype = getattr(key, "dtype", None)
    shape = getattr(key, "shape", None)
    if dtype is None:
        return False
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return shape == ()
    return dtype == jnp.uint32 and shape == (2,)

