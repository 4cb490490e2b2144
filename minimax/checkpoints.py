"""Thinned snapshots of a run: ``mm.run(..., checkpoint_every=k)`` keeps (x, y, solver state) every k steps.

The snapshots live in a buffer inside the compiled loop's carry, on the device that runs it: every step writes
its iterate into the buffer with one in-place ``dynamic_update_slice`` (into its slot at a checkpoint step, into
a scratch slot otherwise), so there is no branch and ``vmap`` over runs works unchanged. Memory:
``(steps // k + 2) * (size of x + y + solver state)``; :attr:`Checkpoints.nbytes` reports it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["Checkpoints"]


@jax.tree_util.register_pytree_node_class
class Checkpoints:
    """Snapshots of a run, stacked along a leading axis: ``step`` (n,), and ``x``, ``y``, ``state`` as pytrees.

    ``len(checkpoints)`` is n; ``checkpoints[i]`` is the i-th snapshot ``(x, y, state)`` and iterating yields
    them in order, so ``for x, y, state in res.checkpoints`` feeds any diagnostic (:func:`minimax.spectral_radius`
    takes the state). Snapshots are taken at step 0 (the start, with the solver's initial state) and at every
    multiple of ``checkpoint_every`` up to ``steps``. After a divergence the later snapshots repeat the last finite
    iterate (compare ``step`` with ``Result.diverged_step``). Under ``vmap`` (a batch of runs) every leaf gains
    the batch axis in front; index the batch first.
    """

    def __init__(self, step, x, y, state):
        self.step = step
        self.x = x
        self.y = y
        self.state = state

    def tree_flatten(self):
        return (self.step, self.x, self.y, self.state), None

    @classmethod
    def tree_unflatten(cls, _, children):
        return cls(*children)

    def __len__(self) -> int:
        return int(jnp.shape(self.step)[-1])

    def __getitem__(self, i):
        if not isinstance(i, int):
            raise TypeError(f"index: expected an integer, got {type(i).__name__}")
        if jnp.ndim(self.step) != 1:
            raise ValueError("these checkpoints hold a batch of runs; take one run first (jax.tree.map(lambda a: "
                             "a[b], checkpoints))")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"checkpoint index {i} out of range for {n} checkpoints")
        pick = lambda a: a[i]  # noqa: E731
        return jax.tree.map(pick, self.x), jax.tree.map(pick, self.y), jax.tree.map(pick, self.state)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @property
    def nbytes(self) -> int:
        """Bytes held by the snapshots."""
        return sum(int(a.size) * a.dtype.itemsize for a in jax.tree.leaves((self.x, self.y, self.state))
                   if hasattr(a, "dtype"))

    def __repr__(self) -> str:
        steps = jnp.asarray(self.step)
        return f"Checkpoints(n={steps.shape[-1]}, steps={steps.tolist() if steps.ndim == 1 else '...'})"


def empty(snapshot: Any, count: int):
    """A buffer of ``count`` slots plus one scratch slot, with ``snapshot`` written in slot 0."""
    buf = jax.tree.map(lambda a: jnp.zeros((count + 1,) + jnp.shape(a), jnp.result_type(a)), snapshot)
    return write(buf, 0, snapshot)


def write(buf, slot, snapshot):
    return jax.tree.map(lambda b, a: jax.lax.dynamic_update_index_in_dim(b, jnp.asarray(a, b.dtype), slot, 0),
                        buf, snapshot)


def finish(buf, count: int, every: int) -> Checkpoints:
    x, y, state = jax.tree.map(lambda b: b[:count], buf)
    return Checkpoints(jnp.arange(count, dtype=jnp.int32) * every, x, y, state)
