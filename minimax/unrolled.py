r"""Unrolled GAN (Metz, Poole, Pfau & Sohl-Dickstein 2017): the minimiser differentiates through the maximiser's
next K steps.

With :math:`y_0 = y` and :math:`y_{k+1} = P(y_k + u_y(\nabla_y L_y(x, y_k), s_k))`, the maximiser's own optax step
(``u_y`` its update, ``s_k`` its state, P the projection onto its feasible set), x takes its optimizer's step along

.. math:: \frac{d}{dx} L_x(x, y_K(x)) = \nabla_x L_x(x, y_K) + \Big(\frac{d y_K}{d x}\Big)^\top \nabla_y L_x(x, y_K),

the derivative flowing through all K updates (optax's ``update`` included: with Adam, through its moments). For a
zero-sum game :math:`L_x = f` and :math:`L_y = -f`, so this is the surrogate :math:`f(x, y_K(x))`. y takes its
ordinary single step from (x, y), which is the first of the K unrolled steps (computed once, used twice); its
optimizer state advances by that one step, and the further unrolled states are discarded. ``unroll=0`` is
simultaneous GDA. The unroll is a ``lax.scan``, so a long one compiles its body once.

Differentiating through an optimizer needs its update to be differentiable: ``optax.adam`` takes
:math:`\sqrt{\hat\nu}` of a second moment that is exactly zero for a parameter whose gradients have all been zero
(e.g. a dead ReLU unit), and the derivative of the square root there is infinite: the generator's gradient can
become NaN (it did on a small ReLU GAN at its first step). ``optax.adam(..., eps_root=1e-8)`` moves the root off
zero; the factory warns when the maximiser's optimizer has a non-finite derivative at a zero gradient.

Keys: the k-th unrolled gradient of y uses ``fold_in(key, k)`` (so y's own step uses ``fold_in(key, 0)``) and the
surrogate loss of x ``fold_in(key, K)``: a stochastic game draws a fresh mini-batch for each unrolled step and
for the surrogate. With ``unroll=0`` the step is simultaneous GDA's, key included.

Cost, in vector-field evaluations (the unit of :mod:`minimax.solvers`): ``unroll=0`` is one. Otherwise the K
unrolled gradients of y count one half each (one player's gradient), the gradient of the surrogate loss one half
(one loss, one backward pass, giving its derivatives in x and in y_K), and the backward pass through each unrolled
step one (a vector-Jacobian product of y's gradient, a Hessian-vector product): :math:`1.5K + 0.5` per step.

The trace: for ``unroll >= 1`` the step never evaluates x's gradient at the point it starts from (only at
:math:`(x, y_K)`), so the solver has no ``observing_step`` and :func:`minimax.run` evaluates the losses and the
field itself, one evaluation per record, as it does for alternating GDA. Computing them inside the step would cost
another half evaluation on every step, recorded or not; the driver's costs one per record and nothing on the steps
between records. With ``unroll=0`` the observation comes for free, as for simultaneous GDA.
"""

from __future__ import annotations

import numbers
import warnings

import jax
import jax.numpy as jnp

from minimax import _tree
from minimax.constraints import retract
from minimax.solvers import PairState, Solver, _direction_step, _field, _optimizers, _pair_init

__all__ = ["unrolled"]


def _check_unroll(unroll) -> int:
    if isinstance(unroll, bool) or not isinstance(unroll, numbers.Integral):
        raise TypeError(f"unroll: expected a non-negative integer (the number of the maximiser's steps to unroll), "
                        f"got {type(unroll).__name__} {unroll!r}")
    if unroll < 0:
        raise ValueError(f"unroll: expected a non-negative integer (the number of the maximiser's steps to unroll), "
                         f"got {unroll!r}")
    return int(unroll)


def _warn_if_not_differentiable(opt, name: str) -> None:
    """Warns when the derivative of ``opt``'s first update at a zero scalar gradient is not finite (``optax.adam``
    without ``eps_root``). Skipped where it cannot be told: a traced hyperparameter, or an optimizer that does not
    accept a scalar parameter."""
    try:
        zero = jnp.zeros(())
        slope = jax.grad(lambda g: opt.update(g, opt.init(zero), zero)[0])(zero)
    except Exception:  # noqa: BLE001 - e.g. an optimizer that needs its own parameter structure
        return
    if not isinstance(slope, jax.Array) or isinstance(slope, jax.core.Tracer) or slope.shape != ():
        return
    if not bool(jnp.isfinite(slope)):
        warnings.warn(
            f"{name}: the derivative of its update at a zero gradient is {float(slope)}, and unrolled "
            f"differentiates through the maximiser's updates, so a parameter whose gradient is exactly zero (e.g. a "
            f"dead ReLU unit) makes the minimiser's gradient NaN. optax.adam takes the square root of a zero second "
            f"moment there: pass optax.adam(..., eps_root=1e-8)", UserWarning, stacklevel=3)


def unrolled(opt_x, opt_y=None, *, unroll: int = 5) -> Solver:
    r"""Unrolled GAN (Metz et al. 2017): x descends :math:`L_x(x, y_K(x))`, y takes its ordinary step.

    :math:`y_K(x)` is the result of ``unroll`` steps of y's own optimizer from the current y and optimizer state,
    differentiated through (see the module docstring). With ``optax.sgd(eta_y)`` for y on
    :math:`f = \tfrac12 x^\top A x + x^\top B y - \tfrac12 y^\top C y`:
    :math:`y_k = M^k y + \sum_{j<k} M^j \eta_y B^\top x` with :math:`M = I - \eta_y C`. On f = xy with
    ``optax.sgd(eta)`` for both, :math:`y_K = y + K\eta x`, x's direction is :math:`y + 2K\eta x` and the update
    :math:`x \leftarrow (1 - 2K\eta^2) x - \eta y`, :math:`y \leftarrow y + \eta x` has the spectral radius
    :math:`\sqrt{1 - (2K - 1)\eta^2}` for :math:`K\eta < 1`: every ``unroll >= 1`` converges where simultaneous GDA
    (K = 0, :math:`\sqrt{1 + \eta^2}`) spirals out.

    Args:
      opt_x: optax optimizer of x (the minimiser, the generator).
      opt_y: optax optimizer of y (the maximiser, the discriminator), the one that is unrolled; defaults to
        ``opt_x`` (with its own state). Its update must be differentiable (``optax.adam(..., eps_root=1e-8)``).
      unroll: K, the number of y's steps x looks ahead through (a non-negative integer; 0 is simultaneous GDA).

    Returns:
      A :class:`~minimax.Solver` counting ``1.5 * unroll + 0.5`` gradient evaluations per step (1 for
      ``unroll=0``).

    Example:
      >>> import jax.numpy as jnp, optax, minimax as mm, games
      >>> res = mm.run(games.bilinear(jnp.eye(1)), mm.unrolled(optax.sgd(0.1), unroll=5), steps=200,
      ...              x0=jnp.ones(1), y0=jnp.zeros(1))
      >>> bool(res.trace["dist"][-1] < 0.05 * res.trace["dist"][0])
      True

    References:
      Metz, Poole, Pfau & Sohl-Dickstein, "Unrolled Generative Adversarial Networks", ICLR 2017.
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    unroll = _check_unroll(unroll)
    if unroll == 0:  # the surrogate is L_x itself: simultaneous GDA, with its free observation
        return _direction_step("unrolled", _field, opt_x, opt_y, "euclidean", 1.0)
    _warn_if_not_differentiable(opt_y, "opt_y")

    def step(game, x, y, state, key):
        def y_step(x_, y_k, s_k, k):
            g = game.grad_y(x_, y_k, jax.random.fold_in(key, k))
            u, s_k = opt_y.update(g, s_k, y_k)
            return retract(game.y_constraint, "euclidean", y_k, u), s_k

        def surrogate(x_):
            def body(carry, k):
                y_k, s_k, first = carry
                y_k, s_k = y_step(x_, y_k, s_k, k)
                # y's own step is the first unrolled one (kept here: one copy of the step's code).
                first = _tree.where(k == 0, (y_k, s_k), first)
                return (y_k, s_k, first), None

            (y_k, _, first), _ = jax.lax.scan(body, (y, state.y, (y, state.y)), jnp.arange(unroll))
            return game.loss_x(x_, y_k, jax.random.fold_in(key, unroll)), first

        gx, (y_new, sy) = jax.grad(surrogate, has_aux=True)(x)
        ux, sx = opt_x.update(gx, state.x, x)
        return retract(game.x_constraint, "euclidean", x, ux), y_new, PairState(sx, sy)

    return Solver(_pair_init(opt_x, opt_y), step, name="unrolled", grad_evals=1.5 * unroll + 0.5)
