r"""Anchored extragradient and follow-the-ridge: last-iterate and sequential-game methods.

=====================================  ============================================================================
``anchored_extragradient`` (EAG-C/V)   with :math:`\beta_k = 1/(k+2)` and :math:`z_0` the start:
                                       :math:`z_{k+1/2} = z_k + \beta_k(z_0 - z_k) - \alpha_k F(z_k)`,
                                       :math:`z_{k+1} = z_k + \beta_k(z_0 - z_k) - \alpha_k F(z_{k+1/2})`;
                                       :math:`\alpha_k` constant (EAG-C) or by a recursion (EAG-V)
                                       (Yoon & Ryu 2021)
``fast_extragradient`` (FEG)           with :math:`\beta_k = 1/(k+1)`:
                                       :math:`z_{k+1/2} = z_k + \beta_k(z_0 - z_k) - (1-\beta_k)(\alpha+2\rho)F(z_k)`,
                                       :math:`z_{k+1} = z_k + \beta_k(z_0 - z_k) - \alpha F(z_{k+1/2})
                                       - (1-\beta_k)2\rho F(z_k)` (Lee & Kim 2021)
``follow_the_ridge``                   x takes its optimizer's step :math:`u_x`; y takes its own plus
                                       :math:`-(\nabla^2_{yy} L_y)^{-1}\nabla^2_{yx} L_y\, u_x`, the move along
                                       the ridge :math:`\nabla_y L_y = 0` that x's step calls for
                                       (Wang, Zhang & Ba 2020)
=====================================  ============================================================================

EAG-C: for a monotone, L-Lipschitz F and :math:`\alpha \le 1/(8L)`, Yoon & Ryu's theorem bounds
:math:`\|F(z_k)\|^2 \le 4\|z_0 - z^*\|^2 / (\alpha^2 (k+1)^2)`: an :math:`O(1/k^2)` rate on the squared field norm,
where extragradient has :math:`O(1/k)`; EAG-V takes larger steps (from about 0.618/L down to 0.44/L). FEG extends the rate to
negatively comonotone fields (:math:`\rho > -1/(2L)`), a class of nonconvex-nonconcave games where extragradient
can diverge. :func:`eag_bound` and :func:`feg_bound` give the right-hand sides. The anchor pull is what buys the
rate; it also slows the methods near the solution compared with a well-tuned plain extragradient on easy (e.g.
strongly monotone) games.

Follow-the-ridge is for sequential (Stackelberg) games where y is the follower: with ``optax.sgd`` its fixed
points are exactly the local minimax points, and it converges to them where GDA may spiral or diverge. The
linear system is solved matrix-free by conjugate gradients on :math:`\nabla^2_{yy} L_y` (positive definite near
a local minimax point: ``L_y = -f`` is strongly convex in y there).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from minimax import _checks, _tree
from minimax.solvers import PairState, Solver, _field, _move, _observed, _optimizers, _pair_init

__all__ = ["anchored_extragradient", "fast_extragradient", "follow_the_ridge", "eag_bound", "eag_v_steps",
           "feg_bound", "AnchorState", "EAG_V_MAX_STEP"]


class AnchorState(NamedTuple):
    """The anchor (the starting point), the step counter k and, for EAG-V, the current step size."""

    x0: Any
    y0: Any
    k: jax.Array
    alpha: Any = None


def _positive(value, name: str):
    if isinstance(value, jax.Array) and not isinstance(value, bool):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return value


def _real(value, name: str):
    if isinstance(value, jax.Array) and not isinstance(value, bool):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite real number, got {value!r}")
    return value


def _concrete(*values) -> bool:
    return all(isinstance(v, numbers.Real) for v in values)


#: EAG-V's largest starting step, times L: the golden-ratio root of a^2 + a = 1, (sqrt(5) - 1) / 2.
EAG_V_MAX_STEP = (math.sqrt(5.0) - 1.0) / 2.0


def eag_v_steps(step_size: float, lipschitz: float, k_max: int) -> np.ndarray:
    """EAG-V's step sizes :math:`\alpha_0, ..., \alpha_{k_{max}}` from its recursion, in float64 on the host."""
    a, L = float(step_size), float(lipschitz)
    out = np.empty(int(k_max) + 1)
    for k in range(int(k_max) + 1):
        out[k] = a
        aL2 = (a * L) ** 2
        a = a / (1.0 - aL2) * (1.0 - (k + 2.0) ** 2 / ((k + 1.0) * (k + 3.0)) * aL2)
    return out


def eag_bound(step_size: float, distance0: float, k, *, variant: str = "constant", lipschitz=None) -> Any:
    r"""A bound on :math:`\|F(z_k)\|^2` for extra anchored gradient, with ``distance0`` :math:`= \|z_0 - z^*\|`,
    for a monotone L-Lipschitz field.

    * ``variant="constant"`` (EAG-C; Yoon & Ryu's Theorem, :math:`\alpha \le 1/(8L)`):
      :math:`4 d_0^2 / (\alpha^2 (k+1)^2)`.
    * ``variant="varying"`` (EAG-V, ``step_size`` :math:`\alpha_0`, ``lipschitz`` L): the bound that Yoon & Ryu's
      potential gives. Their proof shows that
      :math:`V_k = A_k\|F(z_k)\|^2 + B_k\langle F(z_k), z_k - z_0\rangle`, with :math:`A_k = \alpha_k(k+1)(k+2)/2`
      and :math:`B_k = k+1`, never increases; with :math:`V_0 = \alpha_0\|F(z_0)\|^2 \le \alpha_0L^2d_0^2` and
      :math:`\langle F(z_k), z_k - z_0\rangle \ge -\|F(z_k)\|d_0` (monotonicity) it solves to
      :math:`\|F(z_k)\| \le d_0\,(B_k + \sqrt{B_k^2 + 4A_k\alpha_0L^2})/(2A_k)`, an :math:`O(1/k)` norm since
      :math:`\alpha_k` decreases to a positive limit. (This is the potential's consequence, derived here; the
      paper's own closed-form constant for EAG-V could not be checked against the paper.)
    """
    if variant == "constant":
        return 4.0 * distance0**2 / (step_size**2 * (jnp.asarray(k) + 1.0) ** 2)
    if variant == "varying":
        if lipschitz is None:
            raise ValueError("lipschitz: the EAG-V bound needs the field's Lipschitz constant L")
        k = np.asarray(k)
        alpha = eag_v_steps(step_size, lipschitz, int(k.max(initial=0)))[k]
        A, B = alpha * (k + 1.0) * (k + 2.0) / 2.0, k + 1.0
        norm = distance0 * (B + np.sqrt(B * B + 4.0 * A * step_size * lipschitz**2)) / (2.0 * A)
        return norm**2
    raise ValueError(f"variant: expected 'constant' or 'varying', got {variant!r}")


def feg_bound(step_size: float, rho: float, distance0: float, k) -> Any:
    r"""Lee & Kim's bound on :math:`\|F(z_k)\|^2` for FEG, :math:`4 d_0^2 / ((\alpha + 2\rho)^2 k^2)` for
    :math:`k \ge 1` (infinite at k = 0), with ``distance0`` :math:`= \|z_0 - z^*\|`; valid for an L-Lipschitz,
    :math:`\rho`-comonotone field (:math:`\langle F(z) - F(w), z - w\rangle \ge \rho\|F(z) - F(w)\|^2`,
    :math:`\rho > -1/(2L)`) with :math:`\alpha = 1/L`."""
    k = jnp.asarray(k, dtype=float)
    return jnp.where(k >= 1, 4.0 * distance0**2 / ((step_size + 2.0 * rho) ** 2 * jnp.maximum(k, 1.0) ** 2), jnp.inf)


def _dtype(tree):
    return jnp.result_type(*jax.tree.leaves(tree))


def _anchored_step(game, x, y, state, key, *, beta, extrapolation, update):
    """z½ = z + β(z0 − z) − extrapolation(F(z)); z ← z + β(z0 − z) − update(F(z), F(z½)), both Euclidean moves."""
    pull_x = jax.tree.map(lambda a, v: beta * (a - v), state.x0, x)
    pull_y = jax.tree.map(lambda a, v: beta * (a - v), state.y0, y)
    (gx, gy), obs = _field(game, x, y, jax.random.fold_in(key, 0))
    ex, ey = extrapolation(gx, gy)
    xh, yh = _move(game, "euclidean", x, y, _tree.axpy(-1.0, ex, pull_x), _tree.axpy(-1.0, ey, pull_y))
    hx, hy = game.vector_field(xh, yh, jax.random.fold_in(key, 1))
    ux, uy = update(gx, gy, hx, hy)
    x, y = _move(game, "euclidean", x, y, _tree.axpy(-1.0, ux, pull_x), _tree.axpy(-1.0, uy, pull_y))
    return x, y, obs


def _scaled(c, *trees):
    return tuple(_tree.scale(c, t) for t in trees)


def anchored_extragradient(step_size, *, variant: str = "constant", lipschitz=None) -> Solver:
    r"""Extragradient anchored to the start with weight :math:`1/(k+2)` (Yoon & Ryu 2021): EAG-C or EAG-V.

    Both take :math:`z_{k+1/2} = z_k + \beta_k(z_0 - z_k) - \alpha_k F(z_k)` and
    :math:`z_{k+1} = z_k + \beta_k(z_0 - z_k) - \alpha_k F(z_{k+1/2})` with :math:`\beta_k = 1/(k+2)`. EAG-C keeps
    :math:`\alpha_k = \alpha`; EAG-V starts at :math:`\alpha_0` and follows
    :math:`\alpha_{k+1} = \frac{\alpha_k}{1 - \alpha_k^2L^2}\bigl(1 - \frac{(k+2)^2}{(k+1)(k+3)}\alpha_k^2L^2\bigr)`,
    which decreases to a positive limit (about :math:`0.44/L` from :math:`\alpha_0 = 0.618/L`).

    Args:
      step_size: :math:`\alpha` (EAG-C) or :math:`\alpha_0` (EAG-V), a positive number.
      variant: ``"constant"`` (EAG-C) or ``"varying"`` (EAG-V).
      lipschitz: the field's Lipschitz constant L. EAG-C: optional; when given, ``step_size`` must be at most
        ``1/(8L)``, the condition of the theorem's guarantee. EAG-V: required (the step recursion uses it), and
        ``step_size`` must be at most :data:`EAG_V_MAX_STEP` ``/ L`` (:math:`\approx 0.618/L`).

    Returns:
      A :class:`~minimax.Solver` with two gradient evaluations per step; its state holds the anchor, k and (EAG-V)
      the current step :math:`\alpha_k`. :func:`eag_bound` gives each variant's guarantee.
    """
    step_size = _positive(step_size, "step_size")
    if variant not in ("constant", "varying"):
        raise ValueError(f"variant: expected 'constant' (EAG-C) or 'varying' (EAG-V), got {variant!r}")
    if variant == "varying" and lipschitz is None:
        raise ValueError("lipschitz: EAG-V (variant='varying') needs the field's Lipschitz constant L for its step "
                         "recursion; pass lipschitz=L")
    if lipschitz is not None:
        lipschitz = _positive(lipschitz, "lipschitz")
        if _concrete(step_size, lipschitz):
            limit, rule = ((1 / (8 * lipschitz), "1/(8 L)") if variant == "constant"
                           else (EAG_V_MAX_STEP / lipschitz, "(sqrt(5) - 1)/(2 L)"))
            if step_size > limit:
                label = "EAG-C" if variant == "constant" else "EAG-V"
                raise ValueError(f"step_size: the {label} guarantee needs step_size <= {rule} = {limit:g} for "
                                 f"lipschitz={lipschitz:g}; got {step_size!r}")

    if variant == "constant":
        alpha = step_size

        def init(x, y):
            return AnchorState(x, y, jnp.zeros((), jnp.int32))

        def observing_step(game, x, y, state, key):
            x, y, obs = _anchored_step(
                game, x, y, state, key, beta=1.0 / (state.k + 2.0),
                extrapolation=lambda gx, gy: _scaled(alpha, gx, gy),
                update=lambda gx, gy, hx, hy: _scaled(alpha, hx, hy))
            return x, y, AnchorState(state.x0, state.y0, state.k + 1), obs

        return _observed(init, observing_step, name="anchored_extragradient", grad_evals=2.0)

    alpha0, L = step_size, lipschitz

    def init_varying(x, y):
        return AnchorState(x, y, jnp.zeros((), jnp.int32), jnp.asarray(alpha0, _dtype((x, y))))

    def observing_step_varying(game, x, y, state, key):
        a = state.alpha
        x, y, obs = _anchored_step(
            game, x, y, state, key, beta=1.0 / (state.k + 2.0),
            extrapolation=lambda gx, gy: _scaled(a, gx, gy),
            update=lambda gx, gy, hx, hy: _scaled(a, hx, hy))
        k = state.k.astype(a.dtype)
        aL2 = (a * L) ** 2
        a_next = a / (1.0 - aL2) * (1.0 - (k + 2.0) ** 2 / ((k + 1.0) * (k + 3.0)) * aL2)
        return x, y, AnchorState(state.x0, state.y0, state.k + 1, a_next), obs

    return _observed(init_varying, observing_step_varying, name="anchored_extragradient_varying", grad_evals=2.0)


def fast_extragradient(step_size, *, rho=0.0, lipschitz=None) -> Solver:
    r"""Fast extragradient, FEG (Lee & Kim 2021): anchored, two-time-scale extragradient for
    :math:`\rho`-comonotone fields, negatively comonotone (:math:`\rho < 0`) ones included.

    With :math:`\beta_k = 1/(k+1)` and :math:`z_0` the start:
    :math:`z_{k+1/2} = z_k + \beta_k(z_0 - z_k) - (1 - \beta_k)(\alpha + 2\rho)F(z_k)`,
    :math:`z_{k+1} = z_k + \beta_k(z_0 - z_k) - \alpha F(z_{k+1/2}) - (1 - \beta_k)2\rho F(z_k)`.
    For an L-Lipschitz :math:`\rho`-comonotone field with :math:`\rho > -1/(2L)` and :math:`\alpha = 1/L`, Lee &
    Kim's theorem bounds :math:`\|F(z_k)\|^2 \le 4\|z_0 - z^*\|^2/((\alpha + 2\rho)^2k^2)` (:func:`feg_bound`),
    where extragradient may diverge.

    Args:
      step_size: :math:`\alpha` (the theorem's is 1/L), a positive number.
      rho: the comonotonicity parameter :math:`\rho`; it must satisfy :math:`\alpha + 2\rho > 0`. ``0`` is the
        monotone case (anchored extragradient with :math:`\beta_k = 1/(k+1)`).
      lipschitz: the field's Lipschitz constant L, when known: then ``step_size <= 1/L`` is checked; with
        :math:`\alpha + 2\rho > 0` it implies the guarantee's :math:`\rho > -1/(2L)`.

    Returns:
      A :class:`~minimax.Solver` with two gradient evaluations per step; its state holds the anchor and k.
    """
    step_size = _positive(step_size, "step_size")
    rho = _real(rho, "rho")
    if _concrete(step_size, rho) and not step_size + 2 * rho > 0:
        raise ValueError(f"rho: FEG needs step_size + 2 rho > 0, i.e. rho > {-step_size / 2:g} for "
                         f"step_size={step_size:g}; got {rho!r}")
    if lipschitz is not None:
        lipschitz = _positive(lipschitz, "lipschitz")
        if _concrete(step_size, lipschitz) and step_size > 1 / lipschitz:
            raise ValueError(f"step_size: the FEG guarantee needs step_size <= 1/L = {1 / lipschitz:g} for "
                             f"lipschitz={lipschitz:g}; got {step_size!r}")
    alpha = step_size

    def init(x, y):
        return AnchorState(x, y, jnp.zeros((), jnp.int32))

    def observing_step(game, x, y, state, key):
        beta = 1.0 / (state.k + 1.0)
        x, y, obs = _anchored_step(
            game, x, y, state, key, beta=beta,
            extrapolation=lambda gx, gy: _scaled((1.0 - beta) * (alpha + 2.0 * rho), gx, gy),
            update=lambda gx, gy, hx, hy: (_tree.axpy((1.0 - beta) * 2.0 * rho, gx, _tree.scale(alpha, hx)),
                                           _tree.axpy((1.0 - beta) * 2.0 * rho, gy, _tree.scale(alpha, hy))))
        return x, y, AnchorState(state.x0, state.y0, state.k + 1), obs

    return _observed(init, observing_step, name="fast_extragradient", grad_evals=2.0)


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
