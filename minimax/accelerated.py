r"""Anchored extragradient and follow-the-ridge: last-iterate and sequential-game methods.

=====================================  ============================================================================
``anchored_extragradient`` (EAG-C)     with :math:`\beta_k = 1/(k+2)` and :math:`z_0` the start:
                                       :math:`z_{k+1/2} = z_k + \beta_k(z_0 - z_k) - \alpha F(z_k)`,
                                       :math:`z_{k+1} = z_k + \beta_k(z_0 - z_k) - \alpha F(z_{k+1/2})`
                                       (Yoon & Ryu 2021)
``follow_the_ridge``                   x takes its optimizer's step :math:`u_x`; y takes its own plus
                                       :math:`-(\nabla^2_{yy} L_y)^{-1}\nabla^2_{yx} L_y\, u_x`, the move along
                                       the ridge :math:`\nabla_y L_y = 0` that x's step calls for
                                       (Wang, Zhang & Ba 2020)
=====================================  ============================================================================

EAG-C: for a monotone, L-Lipschitz F and :math:`\alpha \le 1/(8L)`, Yoon & Ryu's theorem bounds
:math:`\|F(z_k)\|^2 \le 4\|z_0 - z^*\|^2 / (\alpha^2 (k+1)^2)`: an :math:`O(1/k^2)` rate on the squared field norm,
where extragradient has :math:`O(1/k)`. :func:`eag_bound` gives the right-hand side. The anchor pull is what buys
the rate; it also slows the method near the solution compared with a well-tuned plain extragradient on easy
(e.g. strongly monotone) games.

Follow-the-ridge is for sequential (Stackelberg) games where y is the follower: with ``optax.sgd`` its fixed
points are exactly the local minimax points, and it converges to them where GDA may spiral or diverge. The
linear system is solved matrix-free by conjugate gradients on :math:`\nabla^2_{yy} L_y` (positive definite near
a local minimax point: ``L_y = -f`` is strongly convex in y there).
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from minimax import _checks, _tree
from minimax.solvers import PairState, Solver, _field, _move, _observed, _optimizers, _pair_init

__all__ = ["anchored_extragradient", "follow_the_ridge", "eag_bound", "AnchorState"]


class AnchorState(NamedTuple):
    """The anchor (the starting point) and the step counter k."""

    x0: Any
    y0: Any
    k: jax.Array


def _positive(value, name: str):
    if isinstance(value, jax.Array) and not isinstance(value, bool):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return value


def eag_bound(step_size: float, distance0: float, k) -> Any:
    """Yoon & Ryu's bound on ``||F(z_k)||^2`` for EAG-C: ``4 * distance0**2 / (step_size**2 * (k + 1)**2)``, where
    ``distance0 = ||z_0 - z*||``; valid for a monotone L-Lipschitz field and ``step_size <= 1 / (8 L)``."""
    return 4.0 * distance0**2 / (step_size**2 * (jnp.asarray(k) + 1.0) ** 2)


def anchored_extragradient(step_size, *, variant: str = "constant", lipschitz=None) -> Solver:
    r"""Extragradient anchored to the start with weight :math:`1/(k+2)` (EAG-C, Yoon & Ryu 2021).

    Args:
      step_size: :math:`\alpha` (a positive number).
      variant: ``"constant"`` (EAG-C). The varying-step EAG-V is not provided.
      lipschitz: the field's Lipschitz constant L, when known: then ``step_size`` must be at most ``1/(8L)``, the
        condition of the theorem's guarantee (a larger step raises a ValueError naming ``step_size``).

    Returns:
      A :class:`~minimax.Solver` with two gradient evaluations per step; its state holds the anchor and k.
    """
    step_size = _positive(step_size, "step_size")
    if variant != "constant":
        raise ValueError(f"variant: expected 'constant' (EAG-C); got {variant!r} (EAG-V is not provided)")
    if lipschitz is not None:
        lipschitz = _positive(lipschitz, "lipschitz")
        if isinstance(step_size, numbers.Real) and isinstance(lipschitz, numbers.Real) \
                and step_size > 1 / (8 * lipschitz):
            raise ValueError(f"step_size: the EAG-C guarantee needs step_size <= 1/(8 L) = {1 / (8 * lipschitz):g} "
                             f"for lipschitz={lipschitz:g}; got {step_size!r}")
    alpha = step_size

    def init(x, y):
        return AnchorState(x, y, jnp.zeros((), jnp.int32))

    def observing_step(game, x, y, state, key):
        beta = 1.0 / (state.k + 2.0)
        pull_x = jax.tree.map(lambda a, v: beta * (a - v), state.x0, x)
        pull_y = jax.tree.map(lambda a, v: beta * (a - v), state.y0, y)
        (gx, gy), obs = _field(game, x, y, jax.random.fold_in(key, 0))
        xh, yh = _move(game, "euclidean", x, y, _tree.axpy(-alpha, gx, pull_x), _tree.axpy(-alpha, gy, pull_y))
        hx, hy = game.vector_field(xh, yh, jax.random.fold_in(key, 1))
        x, y = _move(game, "euclidean", x, y, _tree.axpy(-alpha, hx, pull_x), _tree.axpy(-alpha, hy, pull_y))
        return x, y, AnchorState(state.x0, state.y0, state.k + 1), obs

    return _observed(init, observing_step, name="anchored_extragradient", grad_evals=2.0)


def follow_the_ridge(opt_x, opt_y=None, *, cg_steps: int = 10) -> Solver:
    r"""Follow-the-ridge (Wang, Zhang & Ba 2020) for games where y follows x.

    With ``optax.sgd(eta_x)`` and ``optax.sgd(eta_y)``: :math:`x \leftarrow x - \eta_x\nabla_x f`,
    :math:`y \leftarrow y + \eta_y\nabla_y f + \eta_x H_{yy}^{-1}H_{yx}\nabla_x f` (zero-sum; in general the same with
    :math:`L_y`), the correction computed from x's actual update, so any optax optimizer of x works.

    Args:
      opt_x: optax optimizer of x (the leader).
      opt_y: optax optimizer of y (the follower); defaults to ``opt_x``.
      cg_steps: conjugate-gradient iterations for the correction (exact on a quadratic game once
        ``cg_steps >= dim y``).

    Returns:
      A :class:`~minimax.Solver` counting ``3 + cg_steps`` gradient evaluations per step (F, the mixed
      second-derivative product, CG's initial residual and one Hessian-vector product per iteration).
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    cg_steps = _checks.positive_int(cg_steps, "cg_steps")

    def observing_step(game, x, y, state, key):
        (gx, gy), obs = _field(game, x, y, key)
        ux, sx = opt_x.update(gx, state.x, x)
        uy, sy = opt_y.update(gy, state.y, y)
        # b = d^2 L_y / dy dx . u_x, and the follower's Hessian d^2 L_y / dy^2 applied matrix-free.
        _, b = jax.jvp(lambda x_: game.grad_y(x_, y, key), (x,), (ux,))

        def hessian_yy(v):
            return jax.jvp(lambda y_: game.grad_y(x, y_, key), (y,), (v,))[1]

        w, _ = jax.scipy.sparse.linalg.cg(hessian_yy, b, tol=0.0, maxiter=cg_steps)
        x_new, y_new = _move(game, "euclidean", x, y, ux, _tree.axpy(-1.0, w, uy))
        return x_new, y_new, PairState(sx, sy), obs

    return _observed(_pair_init(opt_x, opt_y), observing_step, name="follow_the_ridge",
                     grad_evals=3.0 + cg_steps)
