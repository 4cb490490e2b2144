r"""Opponent shaping: look-ahead (LA), LOLA and Stable Opponent Shaping (SOS), for zero-sum and general-sum games.

Notation of Letcher et al. (2019): each player i minimises its own loss :math:`L_i` (zero-sum: :math:`L_x = f`,
:math:`L_y = -f`); :math:`\xi = (\nabla_x L_x, \nabla_y L_y)` is the simultaneous gradient (the vector field F),
:math:`H = \partial\xi/\partial z` and :math:`H_o` its off-diagonal blocks :math:`H_{xy} = \partial\xi_x/\partial y`,
:math:`H_{yx} = \partial\xi_y/\partial x`. The directions handed to the players' optimizers are

=====================  ===============================================================================================
``look_ahead`` (LA)    :math:`\xi - \alpha H_o \xi` (Zhang & Lesser 2010, in Letcher et al.'s form)
``lola``               :math:`\xi - \alpha H_o \xi - \alpha\,\chi` (Foerster et al. 2018), with
                       :math:`\chi = \operatorname{diag}(H_o^\top \nabla L) = (H_{yx}^\top \nabla_y L_x,\;
                       H_{xy}^\top \nabla_x L_y)`
``sos``                :math:`\xi_0 - p\,\alpha\,\chi` with :math:`\xi_0 = \xi - \alpha H_o\xi` and the paper's
                       :math:`p = \min(p_1, p_2)`: :math:`p_1 = 1` if :math:`\langle -\alpha\chi, \xi_0\rangle \ge 0`,
                       else :math:`\min(1, -a\|\xi_0\|^2 / \langle -\alpha\chi, \xi_0\rangle)`;
                       :math:`p_2 = \|\xi\|^2` if :math:`\|\xi\| < b`, else 1
=====================  ===============================================================================================

The shaping terms are not differentiated further. With ``optax.sgd(alpha)`` the update is the papers'
:math:`z \leftarrow z - \alpha\,\text{direction}`; the ``alpha`` inside the direction is the look-ahead step the
player assumes its opponent takes, and may differ from the optimizer's step.

Cost: :math:`H_o\xi` is one Jacobian-vector product and :math:`\chi` one vector-Jacobian product of the map
:math:`(x', y') \mapsto (\xi_x(x, y'), \xi_y(x', y))`, whose derivative holds exactly the off-diagonal blocks. A
general-sum game also needs each loss's gradient with respect to the other player; a zero-sum game has it for free
(:math:`\nabla_y L_x = -\xi_y`). Counted in vector-field evaluations: LA 2, LOLA and SOS 3.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp

from minimax import _tree
from minimax.solvers import Observation, Solver, _check_nonnegative, _direction_step, _optimizers

__all__ = ["look_ahead", "lola", "sos"]


def _pieces(game, x, y, key, *, with_chi: bool):
    """``(xi, H_o xi, chi or None, Observation)`` at (x, y)."""
    if game.zero_sum:
        losses, xi = game.losses_and_vector_field(x, y, key)
        cross_x = _tree.scale(-1, xi[1])  # grad_y L_x = -xi_y
        cross_y = _tree.scale(-1, xi[0])  # grad_x L_y = -xi_x
    else:
        lx, (gxx, gyx) = jax.value_and_grad(lambda a, b: game.loss_x(a, b, key), argnums=(0, 1))(x, y)
        ly, (gxy, gyy) = jax.value_and_grad(lambda a, b: game.loss_y(a, b, key), argnums=(0, 1))(x, y)
        losses, xi, cross_x, cross_y = (lx, ly), (gxx, gyy), gyx, gxy

    def off_diagonal(x_, y_):  # derivative: [[0, H_xy], [H_yx, 0]]
        return game.grad_x(x, y_, key), game.grad_y(x_, y, key)

    _, h_o_xi = jax.jvp(off_diagonal, (x, y), (xi[0], xi[1]))
    chi = None
    if with_chi:
        _, vjp = jax.vjp(off_diagonal, x, y)
        # vjp((c_x, c_y)) = (H_yx^T c_y, H_xy^T c_x): chi_x = H_yx^T grad_y L_x, chi_y = H_xy^T grad_x L_y.
        chi = vjp((cross_y, cross_x))
    return xi, h_o_xi, chi, Observation(losses, xi)


def look_ahead(opt_x, opt_y=None, *, alpha) -> Solver:
    r"""Look-ahead (LA; Zhang & Lesser 2010, as in Letcher et al. 2019): each player descends
    :math:`\xi - \alpha H_o\xi`, anticipating the opponent's naive step of size ``alpha`` without shaping it.

    Not the slow/fast-weights :func:`minimax.lookahead`. On f = xy the direction is :math:`(y + \alpha x,
    -x + \alpha y)`: the rotation of simultaneous GDA is damped.

    Args:
      opt_x: optax optimizer of x (``optax.sgd(alpha)`` for the method as published).
      opt_y: optax optimizer of y; defaults to ``opt_x``.
      alpha: the opponent's look-ahead step (non-negative).

    Returns:
      A :class:`~minimax.Solver` counting two gradient evaluations per step (the field and one JVP).
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    alpha = _check_nonnegative(alpha, "alpha")

    def direction(game, x, y, key):
        xi, h_o_xi, _, obs = _pieces(game, x, y, key, with_chi=False)
        return _tree.axpy(-alpha, h_o_xi, xi), obs

    return _direction_step("look_ahead", direction, opt_x, opt_y, "euclidean", 2.0)


def lola(opt_x, opt_y=None, *, alpha) -> Solver:
    r"""LOLA (Foerster et al. 2018) in its first-order form: :math:`\xi - \alpha H_o\xi - \alpha\,
    \operatorname{diag}(H_o^\top\nabla L)`: each player also shapes the opponent's step. On f = xy the direction is
    :math:`(y + 2\alpha x, -x + 2\alpha y)`.

    Args:
      opt_x: optax optimizer of x (``optax.sgd(alpha)`` for the method as published).
      opt_y: optax optimizer of y; defaults to ``opt_x``.
      alpha: the opponent's look-ahead step (non-negative).

    Returns:
      A :class:`~minimax.Solver` counting three gradient evaluations per step (the field, a JVP and a VJP).
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    alpha = _check_nonnegative(alpha, "alpha")

    def direction(game, x, y, key):
        xi, h_o_xi, chi, obs = _pieces(game, x, y, key, with_chi=True)
        return _tree.axpy(-alpha, chi, _tree.axpy(-alpha, h_o_xi, xi)), obs

    return _direction_step("lola", direction, opt_x, opt_y, "euclidean", 3.0)


def sos(opt_x, opt_y=None, *, alpha, a: float = 0.5, b: float = 0.1) -> Solver:
    r"""Stable Opponent Shaping (Letcher et al. 2019): LOLA's shaping term scaled by :math:`p \in [0, 1]`, chosen
    so that the step keeps LA's guarantees (convergence to, and only to, fixed points near which LA works) and
    shapes like LOLA elsewhere: :math:`\xi_0 - p\alpha\chi` with the rule for p in the module docstring.

    Args:
      opt_x: optax optimizer of x (``optax.sgd(alpha)`` for the method as published).
      opt_y: optax optimizer of y; defaults to ``opt_x``.
      alpha: the opponent's look-ahead step (non-negative).
      a: the alignment parameter of :math:`p_1`, in (0, 1).
      b: the radius of :math:`p_2`: within :math:`\|\xi\| < b` the shaping fades as :math:`\|\xi\|^2` (positive).

    Returns:
      A :class:`~minimax.Solver` counting three gradient evaluations per step.
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    alpha = _check_nonnegative(alpha, "alpha")
    if not (isinstance(a, jax.Array) or (isinstance(a, numbers.Real) and not isinstance(a, bool) and 0 < a < 1)):
        raise ValueError(f"a: expected a number in (0, 1), got {a!r}")
    if not (isinstance(b, jax.Array) or (isinstance(b, numbers.Real) and not isinstance(b, bool) and b > 0)):
        raise ValueError(f"b: expected a positive number, got {b!r}")

    def direction(game, x, y, key):
        xi, h_o_xi, chi, obs = _pieces(game, x, y, key, with_chi=True)
        xi_0 = _tree.axpy(-alpha, h_o_xi, xi)
        dot = -alpha * _tree.vdot(chi, xi_0)
        safe = jnp.where(dot >= 0, -1.0, dot)  # the division only matters where dot < 0
        p1 = jnp.where(dot >= 0, 1.0, jnp.minimum(1.0, -a * _tree.vdot(xi_0, xi_0) / safe))
        xi_sq = _tree.vdot(xi, xi)
        p2 = jnp.where(jnp.sqrt(xi_sq) < b, xi_sq, 1.0)
        p = jnp.minimum(p1, p2)
        return _tree.axpy(-alpha * p, chi, xi_0), obs

    return _direction_step("sos", direction, opt_x, opt_y, "euclidean", 3.0)
