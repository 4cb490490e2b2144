r"""Solvers: pure ``(init, step)`` pairs that move both players of a game.

Every solver is built from optax optimizers, one per player (or one shared by both, with a separate state each).
The library feeds each optimizer the gradient of the loss its player *minimises*: ``grad_x f`` for x and
``-grad_y f`` for y in a zero-sum game. So ``optax.sgd(eta)`` gives each method in its textbook form with the
vector field ``F(z) = (grad_x f, -grad_y f)``:

=======================================  ==================================================================
``simultaneous_gda``                     :math:`z_{t+1} = z_t - \eta F(z_t)`
``alternating_gda``                      :math:`x_{t+1} = x_t - \eta \nabla_x f(x_t, y_t)`, then
                                         :math:`y_{t+1} = y_t + \eta \nabla_y f(x_{t+1}, y_t)`
``extragradient`` (Korpelevich 1976)     :math:`z_{t+1/2} = z_t - \eta F(z_t)`, :math:`z_{t+1} = z_t - \eta F(z_{t+1/2})`
``optimistic_gda`` (Daskalakis 2018)     :math:`z_{t+1} = z_t - 2\eta F(z_t) + \eta F(z_{t-1})`, first step plain GDA
``past_extragradient`` (Popov 1980)      :math:`z_{t+1/2} = z_t - \eta F(z_{t-1/2})`, :math:`z_{t+1} = z_t - \eta F(z_{t+1/2})`
``consensus`` (Mescheder 2017)           :math:`z_{t+1} = z_t - \eta (F + \gamma J^\top F)(z_t)`
``sga`` (Balduzzi 2018)                  :math:`z_{t+1} = z_t - \eta (F + \lambda A^\top F)(z_t)`, :math:`A = (J - J^\top)/2`
``competitive_gradient`` (Schäfer 2019)  each player plays the Nash equilibrium of the local bilinear game
``proximal_point``                       :math:`z_{t+1} = z_t - \eta F(z_{t+1})`, solved by fixed-point iteration
``lookahead`` (Chavdarova 2021)          any solver, with slow weights pulled toward the fast ones every k steps
``multiplicative_weights``               GDA in the entropic geometry, for simplex players
``optimistic_multiplicative_weights``    OGDA in the entropic geometry
``mirror_prox``                          extragradient in the entropic geometry
=======================================  ==================================================================

How stateful optimizers (Adam, momentum) are treated, which matters only beyond plain SGD:

* ``extragradient`` threads one optimizer state through both half-steps: the extrapolation updates the moments,
  then the update step continues from that state. With Adam this is Extra-Adam (Gidel et al. 2019, Alg. 4).
  Both points are computed from the same base iterate ``z_t``. The optimizer's step counter therefore advances
  twice per step: a learning-rate schedule runs twice as fast in steps, and the two half-steps use consecutive
  schedule values (as Extra-Adam's bias corrections do).
* ``optimistic_gda`` applies optimism to the optimizer's *updates*: ``z_{t+1} = z_t + 2 u_t - u_{t-1}`` where
  ``u_t`` is what the optimizer proposes from ``F(z_t)``. With Adam this is Optimistic Adam (Daskalakis et al.
  2018). The optimizer state advances once per step. (``optax.optimistic_gradient_descent`` instead applies
  optimism to gradients; pass it to ``simultaneous_gda`` for that variant.) With constrained players it takes
  one projection per step, :math:`P(z_t - 2\eta F(z_t) + \eta F(z_{t-1}))`, which no longer coincides with
  ``past_extragradient`` (two projections per step, the form most constrained last-iterate analyses cover).
* ``past_extragradient`` extrapolates with the previous step's update ``u_{t-1}`` (no new gradient, no state
  change), then takes the update from ``F`` at the extrapolated point. One gradient evaluation per step.

Projections: for constrained players (:mod:`minimax.constraints`) every extrapolated and every updated point is
projected (Euclidean geometry) or taken by the entropic mirror step (``geometry="entropic"``, simplex only).

Gradient evaluations are counted in units of one full vector field ``F(z)`` (both players' gradients); one
player's gradient alone counts one half, and a Jacobian-vector or vector-Jacobian product of the field counts
one (it costs about as much as a gradient). ``Solver.grad_evals`` is that count per step.

Keys: step ``t`` receives ``key_t`` from the driver; a solver that evaluates ``F`` several times uses
``jax.random.fold_in(key_t, i)`` for the i-th evaluation, so stochastic games draw fresh samples each time.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

from minimax import _checks, _program, _tree
from minimax.constraints import GEOMETRIES, retract

__all__ = [
    "Solver",
    "Observation",
    "check_solver_fits",
    "PairState",
    "ExtrapolationState",
    "OptimisticState",
    "LookaheadState",
    "simultaneous_gda",
    "alternating_gda",
    "extragradient",
    "optimistic_gda",
    "past_extragradient",
    "consensus",
    "hamiltonian_gd",
    "sga",
    "competitive_gradient",
    "proximal_point",
    "lookahead",
    "multiplicative_weights",
    "optimistic_multiplicative_weights",
    "mirror_prox",
]


class Observation(NamedTuple):
    """What a step computed at the point it started from, handed to the driver's trace for free.

    Attributes:
      losses: ``(loss_x, loss_y)`` at ``z_t``; ``(f, -f)`` for a zero-sum game.
      field: the vector field ``F(z_t)`` as ``(F_x, F_y)``.
    """

    losses: tuple
    field: tuple


class Solver(NamedTuple):
    """A game solver: ``init(x, y) -> state`` and ``step(game, x, y, state, key) -> (x, y, state)``.

    Attributes:
      init: builds the solver state (optimizer states and any memory) for a starting point.
      step: one iteration; pure, and consumes ``key`` (fold it in for several draws).
      name: a label for reports.
      grad_evals: vector-field evaluations per step (see the module docstring for the unit).
      period: the number of steps after which the update map repeats (``lookahead`` has k); the spectral radius
        is computed over one period.
      geometry: ``"euclidean"`` or ``"entropic"``; the driver checks that entropic solvers meet simplex players.
      observing_step: optional; the same step returning ``(x, y, state, Observation)``, where the
        :class:`Observation` holds the losses and the vector field at the step's *input* point, which the step
        computed anyway. :func:`minimax.run` records those instead of evaluating the game again. Solvers that
        never evaluate the whole field at ``z_t`` (alternating GDA, past extragradient) leave it None and the
        driver evaluates the trace's metrics itself.

    Two solvers are equal (and share compiled loops) when built by the same code from equal arguments:
    ``mm.extragradient(optax.sgd(0.1)) == mm.extragradient(optax.sgd(0.1))``. Inside :func:`minimax.run` the
    solver's numbers (step sizes, momentum, ``alpha``, ``gamma``, ...; every Python float and floating-point
    array its functions close over) are arguments of the compiled loop, not constants, so ``optax.sgd(0.2)`` after
    ``optax.sgd(0.1)`` reuses the compilation (see ``minimax._program``).
    """

    init: Callable[[Any, Any], Any]
    step: Callable[..., tuple]
    name: str = "solver"
    grad_evals: float = 1.0
    period: int = 1
    geometry: str = "euclidean"
    observing_step: Optional[Callable[..., tuple]] = None

    # The description used for equality and for the numbers-as-data compilation (minimax._program): the label
    # fields are static, the functions are walked.
    def _minimax_program(self):
        return (self.name, self.grad_evals, self.period, self.geometry), (self.init, self.step, self.observing_step)

    def _minimax_rebuild(self, functions):
        init, step, observing_step = functions
        return self._replace(init=init, step=step, observing_step=observing_step)

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if not isinstance(other, Solver):
            return NotImplemented
        return _program.fingerprint(self)[0] == _program.fingerprint(other)[0]

    def __ne__(self, other) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(_program.fingerprint(self)[0])


def _observed(init, observing_step, **meta) -> Solver:
    """A :class:`Solver` from a step that also returns its :class:`Observation`; ``step`` drops it."""

    def step(game, x, y, state, key):
        return observing_step(game, x, y, state, key)[:3]

    return Solver(init, step, observing_step=observing_step, **meta)


class PairState(NamedTuple):
    """The two players' optimizer states."""

    x: Any
    y: Any


class OptimisticState(NamedTuple):
    """Optimizer states plus the previous updates (the memory of optimistic / past-extragradient methods)."""

    x: Any
    y: Any
    prev_x: Any
    prev_y: Any
    initial: jax.Array


class LookaheadState(NamedTuple):
    """The inner solver's state, the slow weights and a step counter."""

    inner: Any
    slow_x: Any
    slow_y: Any
    count: jax.Array


# -- argument checks (run at construction, before any tracing) ---------------------------------------------------
def _check_optimizer(opt: Any, name: str) -> optax.GradientTransformation:
    if not isinstance(opt, optax.GradientTransformation):
        hint = " (wrap a step size as optax.sgd(step_size))" if isinstance(opt, numbers.Number) else ""
        raise TypeError(
            f"{name}: expected an optax.GradientTransformation such as optax.sgd(0.1) or optax.adam(1e-3), "
            f"got {type(opt).__name__}{hint}"
        )
    return opt


def _probe_optimizer(opt: optax.GradientTransformation, name: str) -> None:
    """One update of ``opt`` on a scalar gradient of +1: a complex update (``optax.sgd(0.1j)``, whose imaginary
    part the real iterate would silently drop) is refused, an ascent step (``optax.sgd(-0.1)``: every player here
    descends its own loss) is warned about. Skipped where it cannot be told: a traced step size (inside ``jit`` or
    ``vmap``), or an optimizer that does not accept a scalar parameter."""
    try:
        zero = jnp.zeros(())
        update = opt.update(jnp.ones(()), opt.init(zero), zero)[0]
    except Exception:  # noqa: BLE001 - e.g. an optimizer that needs its own parameter structure
        return
    if not isinstance(update, jax.Array) or isinstance(update, jax.core.Tracer) or update.shape != ():
        return
    if jnp.issubdtype(update.dtype, jnp.complexfloating):
        raise TypeError(f"{name}: its updates are complex ({update.dtype}): a complex step size such as "
                        f"optax.sgd(0.1j)? The players' parameters are real, so the imaginary part would be dropped")
    if bool(update > 0):
        warnings.warn(f"{name}: its first update on a gradient of +1 is {float(update):+g}, a step up its own "
                      f"loss: a negative step size? (minimax feeds every player the gradient of the loss it "
                      f"minimises, so step sizes are positive for both)", UserWarning, stacklevel=4)


def _optimizers(opt_x, opt_y):
    opt_x = _check_optimizer(opt_x, "opt_x")
    opt_y = opt_x if opt_y is None else _check_optimizer(opt_y, "opt_y")
    _probe_optimizer(opt_x, "opt_x")
    if opt_y is not opt_x:
        _probe_optimizer(opt_y, "opt_y")
    return opt_x, opt_y


def check_solver_fits(game, solver: "Solver") -> None:
    """Raises ValueError when ``solver`` cannot run on ``game`` (an entropic solver needs simplex players)."""
    if solver.geometry == "entropic":
        for name, c in (("x_constraint", game.x_constraint), ("y_constraint", game.y_constraint)):
            if c is None or not c.supports_entropic:
                raise ValueError(
                    f"solver: {solver.name} uses the entropic geometry, which needs both players on a Simplex; "
                    f"the game's {name} is {c}"
                )


def _check_geometry(geometry: str) -> str:
    if geometry not in GEOMETRIES:
        raise ValueError(f"geometry: expected one of {GEOMETRIES}, got {geometry!r}")
    return geometry


def _check_nonnegative(value: Any, name: str) -> Any:
    """A non-negative number, or a traced array (e.g. a swept hyperparameter inside ``vmap``)."""
    if isinstance(value, jax.Array) and not isinstance(value, bool):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0 or value != value:
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    return value


def _step_size_optimizer(learning_rate: Any, name: str) -> optax.GradientTransformation:
    if isinstance(learning_rate, optax.GradientTransformation):
        return learning_rate
    if isinstance(learning_rate, numbers.Real):
        if not learning_rate > 0:
            raise ValueError(f"{name}: expected a positive step size, got {learning_rate!r}")
        return optax.sgd(learning_rate)
    if isinstance(learning_rate, jax.Array):  # a traced step size, e.g. inside a vmapped sweep
        return optax.sgd(learning_rate)
    raise TypeError(f"{name}: expected a positive step size or an optax.GradientTransformation, "
                    f"got {type(learning_rate).__name__}")


# -- shared pieces ------------------------------------------------------------------------------------------------
def _move(game, geometry, x, y, ux, uy):
    return (
        retract(game.x_constraint, geometry, x, ux),
        retract(game.y_constraint, geometry, y, uy),
    )


def _pair_init(opt_x, opt_y):
    def init(x, y):
        return PairState(opt_x.init(x), opt_y.init(y))

    return init


def _zeros_like(tree):
    return jax.tree.map(jnp.zeros_like, tree)


def _direction_step(name: str, direction: Callable, opt_x, opt_y, geometry: str, grad_evals: float) -> Solver:
    """A simultaneous step along ``direction(game, x, y, key) -> ((dx, dy), Observation)`` (F itself, or an
    adjusted field, and what was computed at z_t on the way)."""

    def observing_step(game, x, y, state, key):
        (gx, gy), obs = direction(game, x, y, key)
        ux, sx = opt_x.update(gx, state.x, x)
        uy, sy = opt_y.update(gy, state.y, y)
        x_new, y_new = _move(game, geometry, x, y, ux, uy)
        return x_new, y_new, PairState(sx, sy), obs

    return _observed(_pair_init(opt_x, opt_y), observing_step, name=name, grad_evals=grad_evals, geometry=geometry)


def _field(game, x, y, key):
    """``(F(z), Observation)`` from one value-and-gradient evaluation."""
    losses, field = game.losses_and_vector_field(x, y, key)
    return field, Observation(losses, field)


def _field_vjp(game, x, y, key):
    """``(F(z), vjp of F, Observation)``: the field's linearisation with the losses carried along."""

    def fn(x_, y_):
        losses, field = game.losses_and_vector_field(x_, y_, key)
        return field, losses

    field, vjp, losses = jax.vjp(fn, x, y, has_aux=True)
    return field, vjp, Observation(losses, field)


# -- the solvers --------------------------------------------------------------------------------------------------
def simultaneous_gda(opt_x, opt_y=None, *, geometry: str = "euclidean") -> Solver:
    r"""Simultaneous gradient descent-ascent: both players step from the same point.

    With ``optax.sgd(eta)``: :math:`z_{t+1} = z_t - \eta F(z_t)`. On a bilinear game each singular value
    :math:`\sigma` of A multiplies the distance to the saddle by :math:`\sqrt{1 + \eta^2\sigma^2}` per step.

    Args:
      opt_x: optax optimizer of x (the minimiser).
      opt_y: optax optimizer of y (the maximiser); defaults to ``opt_x`` (with its own state).
      geometry: ``"euclidean"`` (projection for constrained players) or ``"entropic"`` (simplex players only).

    Returns:
      A :class:`Solver`.

    Example:
      >>> import jax, jax.numpy as jnp, optax, minimax as mm, games
      >>> res = mm.run(games.bilinear(jnp.eye(1)), mm.simultaneous_gda(optax.sgd(0.1)), steps=10,
      ...              x0=jnp.ones(1), y0=jnp.zeros(1))
      >>> round(float(res.trace["dist"][-1]), 5)  # sqrt(1 + 0.1 ** 2) ** 10 = 1.01 ** 5
      1.05101
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    geometry = _check_geometry(geometry)
    return _direction_step("simultaneous_gda", _field, opt_x, opt_y, geometry, 1.0)


def alternating_gda(
    opt_x,
    opt_y=None,
    *,
    first: str = "x",
    x_steps: int = 1,
    y_steps: int = 1,
    geometry: str = "euclidean",
) -> Solver:
    r"""Alternating gradient descent-ascent: one player moves, then the other answers the moved point.

    With ``optax.sgd(alpha)`` for x and ``optax.sgd(beta)`` for y, x first, on ``f = x^T A y`` the quantity
    :math:`\beta\|x\|^2 + \alpha\|y\|^2 - \alpha\beta\, x^\top A y` is conserved exactly: the iterates cycle.

    Args:
      opt_x: optax optimizer of x.
      opt_y: optax optimizer of y; defaults to ``opt_x``.
      first: ``"x"`` (default) or ``"y"``: which player moves first in each step.
      x_steps: consecutive steps of x per step (e.g. several generator steps).
      y_steps: consecutive steps of y per step (e.g. several discriminator steps, ``k`` in Goodfellow et al.).
      geometry: as in :func:`simultaneous_gda`.

    Returns:
      A :class:`Solver` counting ``(x_steps + y_steps) / 2`` gradient evaluations per step.
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    geometry = _check_geometry(geometry)
    if first not in ("x", "y"):
        raise ValueError(f"first: expected 'x' or 'y', got {first!r}")
    x_steps = _checks.positive_int(x_steps, "x_steps")
    y_steps = _checks.positive_int(y_steps, "y_steps")

    def phase(grad_fn, opt, constraint, n):
        def run_phase(mover, other, opt_state, key):
            def body(carry, i):
                p, s = carry
                g = grad_fn(p, other, jax.random.fold_in(key, i))
                u, s = opt.update(g, s, p)
                return (retract(constraint, geometry, p, u), s), None

            (mover, opt_state), _ = jax.lax.scan(body, (mover, opt_state), jnp.arange(n))
            return mover, opt_state

        return run_phase

    def step(game, x, y, state, key):
        x_phase = phase(lambda p, o, k: game.grad_x(p, o, k), opt_x, game.x_constraint, x_steps)
        y_phase = phase(lambda p, o, k: game.grad_y(o, p, k), opt_y, game.y_constraint, y_steps)
        kx, ky = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
        sx, sy = state.x, state.y
        if first == "x":
            x, sx = x_phase(x, y, sx, kx)
            y, sy = y_phase(y, x, sy, ky)
        else:
            y, sy = y_phase(y, x, sy, ky)
            x, sx = x_phase(x, y, sx, kx)
        return x, y, PairState(sx, sy)

    return Solver(
        _pair_init(opt_x, opt_y),
        step,
        name="alternating_gda",
        grad_evals=(x_steps + y_steps) / 2,
        geometry=geometry,
    )


def extragradient(opt_x, opt_y=None, *, geometry: str = "euclidean", resample: bool = True,
                  extrapolation=None) -> Solver:
    r"""Extragradient (Korpelevich 1976); mirror-prox in the entropic geometry (Nemirovski 2004).

    With ``optax.sgd(eta)``: :math:`z_{t+1/2} = P(z_t - \eta F(z_t))`, :math:`z_{t+1} = P(z_t - \eta F(z_{t+1/2}))`.
    On a bilinear game each singular value gives the factor :math:`\sqrt{1 - \eta^2\sigma^2 + \eta^4\sigma^4}`.
    With Adam the moment estimates advance at both half-steps (Extra-Adam, Gidel et al. 2019).

    Args:
      opt_x: optax optimizer of x.
      opt_y: optax optimizer of y; defaults to ``opt_x``.
      geometry: as in :func:`simultaneous_gda`.
      resample: for stochastic games, draw a fresh sample for the second gradient (True) or reuse the first
        one's key (False, "same-sample" extragradient).
      extrapolation: EG+ (Diakonikolas, Daskalakis & Jordan 2021): an optax optimizer for the extrapolation
        step, or a pair ``(ext_x, ext_y)``, with its own state, while ``opt_x``/``opt_y`` take the update step.
        ``extrapolation=optax.sgd(eta)`` with ``optax.sgd(eta / 2)`` is EG+ with the ratio 1/2 its weak-Minty
        analysis uses: :math:`z_{t+1/2} = z_t - \eta F(z_t)`, :math:`z_{t+1} = z_t - \tfrac{\eta}{2} F(z_{t+1/2})`.
        Equal optimizers give extragradient exactly. Default None: one optimizer, one state, for both steps.

    Returns:
      A :class:`Solver` with two gradient evaluations per step.
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    geometry = _check_geometry(geometry)
    if extrapolation is not None:
        return _extragradient_plus(opt_x, opt_y, extrapolation, geometry, resample)

    def observing_step(game, x, y, state, key):
        def extrapolate(gx, gy):
            (ux, sx), (uy, sy) = opt_x.update(gx, state.x, x), opt_y.update(gy, state.y, y)
            return ux, uy, (sx, sy)

        def update(gx, gy, mid):  # continues from the extrapolation's optimizer state (Extra-Adam)
            (ux, sx), (uy, sy) = opt_x.update(gx, mid[0], x), opt_y.update(gy, mid[1], y)
            return ux, uy, PairState(sx, sy)

        return _two_half_steps(game, geometry, resample, x, y, key, extrapolate, update)

    return _observed(_pair_init(opt_x, opt_y), observing_step, name="extragradient", grad_evals=2.0,
                     geometry=geometry)


def _two_half_steps(game, geometry, resample, x, y, key, extrapolate, update):
    """Extragradient's two half-steps, shared by :func:`extragradient` and EG+: ``extrapolate(F(z_t))`` gives the
    updates to z_{t+1/2} (and what ``update`` needs), ``update(F(z_{t+1/2}), that)`` the updates from z_t and the
    new state. Returns ``(x, y, state, Observation at z_t)``."""
    k1 = jax.random.fold_in(key, 0)
    k2 = jax.random.fold_in(key, 1) if resample else k1
    (gx, gy), obs = _field(game, x, y, k1)
    ux, uy, mid = extrapolate(gx, gy)
    x_half, y_half = _move(game, geometry, x, y, ux, uy)
    ux, uy, state = update(*game.vector_field(x_half, y_half, k2), mid)
    x, y = _move(game, geometry, x, y, ux, uy)
    return x, y, state, obs


class ExtrapolationState(NamedTuple):
    """EG+'s states: the update optimizers' and the extrapolation optimizers'."""

    x: Any
    y: Any
    ext_x: Any
    ext_y: Any


def _extragradient_plus(opt_x, opt_y, extrapolation, geometry, resample) -> Solver:
    if isinstance(extrapolation, (tuple, list)) and not isinstance(extrapolation, optax.GradientTransformation):
        if len(extrapolation) != 2:
            raise ValueError(f"extrapolation: expected an optax optimizer or a pair (ext_x, ext_y), got "
                             f"{len(extrapolation)} items")
        ext_x = _check_optimizer(extrapolation[0], "extrapolation[0]")
        ext_y = _check_optimizer(extrapolation[1], "extrapolation[1]")
    else:
        ext_x = ext_y = _check_optimizer(extrapolation, "extrapolation")

    def init(x, y):
        return ExtrapolationState(opt_x.init(x), opt_y.init(y), ext_x.init(x), ext_y.init(y))

    def observing_step(game, x, y, state, key):
        def extrapolate(gx, gy):
            (ux, ex), (uy, ey) = ext_x.update(gx, state.ext_x, x), ext_y.update(gy, state.ext_y, y)
            return ux, uy, (ex, ey)

        def update(gx, gy, mid):  # from the update optimizers' own states
            (ux, sx), (uy, sy) = opt_x.update(gx, state.x, x), opt_y.update(gy, state.y, y)
            return ux, uy, ExtrapolationState(sx, sy, *mid)

        return _two_half_steps(game, geometry, resample, x, y, key, extrapolate, update)

    return _observed(init, observing_step, name="extragradient_plus", grad_evals=2.0, geometry=geometry)


def _memory_init(opt_x, opt_y):
    def init(x, y):
        return OptimisticState(opt_x.init(x), opt_y.init(y), _zeros_like(x), _zeros_like(y), jnp.asarray(True))

    return init


def optimistic_gda(opt_x, opt_y=None, *, optimism: float = 1.0, geometry: str = "euclidean") -> Solver:
    r"""Optimistic gradient descent-ascent (Popov 1980; Daskalakis et al. 2018).

    With ``optax.sgd(eta)`` and ``optimism=1``: :math:`z_{t+1} = z_t - 2\eta F(z_t) + \eta F(z_{t-1})`. The
    first step is a plain GDA step (there is no previous gradient; it is not taken as zero). In general
    :math:`z_{t+1} = P(z_t + (1 + \beta) u_t - \beta u_{t-1})` with :math:`\beta` = ``optimism`` and
    :math:`u_t` the optimizer's update from :math:`F(z_t)`: with Adam, Optimistic Adam.

    Args:
      opt_x: optax optimizer of x.
      opt_y: optax optimizer of y; defaults to ``opt_x``.
      optimism: the weight :math:`\beta` of the correction (1 is the textbook method).
      geometry: as in :func:`simultaneous_gda`; entropic gives optimistic multiplicative weights.

    Returns:
      A :class:`Solver` with one gradient evaluation per step and the previous update as memory.
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    geometry = _check_geometry(geometry)
    beta = _check_nonnegative(optimism, "optimism")

    def observing_step(game, x, y, state, key):
        (gx, gy), obs = _field(game, x, y, key)
        ux, sx = opt_x.update(gx, state.x, x)
        uy, sy = opt_y.update(gy, state.y, y)
        px = _tree.where(state.initial, ux, state.prev_x)
        py = _tree.where(state.initial, uy, state.prev_y)
        dx = jax.tree.map(lambda u, p: (1 + beta) * u - beta * p, ux, px)
        dy = jax.tree.map(lambda u, p: (1 + beta) * u - beta * p, uy, py)
        x, y = _move(game, geometry, x, y, dx, dy)
        return x, y, OptimisticState(sx, sy, ux, uy, jnp.zeros_like(state.initial)), obs

    return _observed(_memory_init(opt_x, opt_y), observing_step, name="optimistic_gda", grad_evals=1.0,
                     geometry=geometry)


def past_extragradient(opt_x, opt_y=None, *, geometry: str = "euclidean") -> Solver:
    r"""Extrapolation from the past (Popov 1980; Gidel et al. 2019): extragradient with one gradient per step.

    With ``optax.sgd(eta)``: :math:`z_{t+1/2} = P(z_t - \eta F(z_{t-1/2}))`,
    :math:`z_{t+1} = P(z_t - \eta F(z_{t+1/2}))`, and on the first step :math:`z_{1/2} = z_0`. The extrapolation
    reuses the previous step's update, so the optimizer state advances once per step.

    Args:
      opt_x: optax optimizer of x.
      opt_y: optax optimizer of y; defaults to ``opt_x``.
      geometry: as in :func:`simultaneous_gda`.

    Returns:
      A :class:`Solver` with one gradient evaluation per step.
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    geometry = _check_geometry(geometry)

    def step(game, x, y, state, key):
        x_half, y_half = _move(game, geometry, x, y, state.prev_x, state.prev_y)
        x_half = _tree.where(state.initial, x, x_half)
        y_half = _tree.where(state.initial, y, y_half)
        gx, gy = game.vector_field(x_half, y_half, key)
        ux, sx = opt_x.update(gx, state.x, x)
        uy, sy = opt_y.update(gy, state.y, y)
        x, y = _move(game, geometry, x, y, ux, uy)
        return x, y, OptimisticState(sx, sy, ux, uy, jnp.zeros_like(state.initial))

    return Solver(_memory_init(opt_x, opt_y), step, name="past_extragradient", grad_evals=1.0, geometry=geometry)


def consensus(opt_x, opt_y=None, *, gamma: float = 0.1) -> Solver:
    r"""Consensus optimization (Mescheder, Nowozin, Geiger 2017).

    Descends :math:`F + \gamma \nabla \tfrac12\|F\|^2 = F + \gamma J^\top F`, computed with one vector-Jacobian
    product. Works for general-sum games too.

    Args:
      opt_x: optax optimizer of x.
      opt_y: optax optimizer of y; defaults to ``opt_x``.
      gamma: weight of the consensus term.

    Returns:
      A :class:`Solver` counted as two gradient evaluations per step (F and its VJP).
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    gamma = _check_nonnegative(gamma, "gamma")

    def direction(game, x, y, key):
        field, vjp, obs = _field_vjp(game, x, y, key)
        jtf = vjp(field)
        return jax.tree.map(lambda f, j: f + gamma * j, field, jtf), obs

    return _direction_step("consensus", direction, opt_x, opt_y, "euclidean", 2.0)


def hamiltonian_gd(opt) -> Solver:
    r"""Hamiltonian gradient descent (Balduzzi et al. 2018; Loizou et al. 2020): gradient descent on
    :math:`H(z) = 	frac12\|F(z)\|^2`, whose gradient :math:`J^	op F` is one vector-Jacobian product.

    It converges where H's minima are the game's fixed points (e.g. on bilinear games, linearly), but treats every
    fixed point alike, saddle or not. On f = xᵀAy with ``optax.sgd(eta)`` each singular value σ of A contracts
    by exactly :math:`|1 - \eta\sigma^2|` per step.

    Args:
      opt: optax optimizer, used by both players (each with its own state).

    Returns:
      A :class:`Solver` counting two gradient evaluations per step (F and its VJP).
    """
    opt = _check_optimizer(opt, "opt")

    def direction(game, x, y, key):
        field, vjp, obs = _field_vjp(game, x, y, key)
        return vjp(field), obs

    return _direction_step("hamiltonian_gd", direction, opt, opt, "euclidean", 2.0)


def sga(opt_x, opt_y=None, *, lam: float = 1.0, align: bool = False, eps: float = 0.1) -> Solver:
    r"""Symplectic gradient adjustment (Balduzzi et al. 2018).

    Descends :math:`F + \lambda A^\top F`, where :math:`A = (J - J^\top)/2` is the antisymmetric part of the game
    Jacobian (one JVP and one VJP per step). With ``align=True`` the sign of :math:`\lambda` follows the paper's
    alignment rule: :math:`\operatorname{sign}(\langle F, \nabla H\rangle \langle A^\top F, \nabla H\rangle / d +
    \epsilon)` with :math:`\nabla H = J^\top F` and d the number of parameters.

    Args:
      opt_x: optax optimizer of x.
      opt_y: optax optimizer of y; defaults to ``opt_x``.
      lam: the adjustment weight :math:`\lambda`.
      align: choose the sign of :math:`\lambda` by alignment.
      eps: the :math:`\epsilon` of the alignment rule.

    Returns:
      A :class:`Solver` counted as three gradient evaluations per step (F, a JVP and a VJP).
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    if isinstance(lam, bool) or not isinstance(lam, (numbers.Real, jax.Array)):
        raise ValueError(f"lam: expected a number, got {lam!r}")
    eps = _check_nonnegative(eps, "eps")

    def direction(game, x, y, key):
        fn = lambda x_, y_: game.vector_field(x_, y_, key)  # noqa: E731
        field, vjp, obs = _field_vjp(game, x, y, key)
        _, jf = jax.jvp(fn, (x, y), field)
        jtf = vjp(field)
        adj = jax.tree.map(lambda a, b: 0.5 * (a - b), jtf, jf)  # A^T F
        weight = lam
        if align:
            d = sum(leaf.size for leaf in jax.tree.leaves(field))
            weight = lam * jnp.sign(_tree.vdot(field, jtf) * _tree.vdot(adj, jtf) / d + eps)
        return jax.tree.map(lambda f, a: f + weight * a, field, adj), obs

    return _direction_step("sga", direction, opt_x, opt_y, "euclidean", 3.0)


def competitive_gradient(opt_x, opt_y=None, *, eta: float, cg_steps: int = 10) -> Solver:
    r"""Competitive gradient descent (Schäfer & Anandkumar 2019).

    Each player moves to the Nash equilibrium of the local bilinear approximation of the game, regularised by
    :math:`\tfrac{1}{2\eta}\|\cdot\|^2`. With :math:`B = D^2_{xy} L_x` and :math:`C = D^2_{yx} L_y` the directions
    solve

    .. math:: (I - \eta^2 B C)\, d_x = \nabla_x L_x - \eta B \nabla_y L_y, \qquad
              d_y = \nabla_y L_y - \eta C d_x,

    and are passed to the optimizers as gradients, so ``optax.sgd(eta)`` gives exactly CGD. For a zero-sum game
    (:math:`L_y = -f`) the matrix is :math:`I + \eta^2 B B^\top`, symmetric positive definite, and ``cg_steps``
    conjugate-gradient iterations solve it; a general-sum game uses GMRES. B and C are applied matrix-free, as
    Jacobian-vector products of the gradients. CGD converges on bilinear games for every step size.

    Args:
      opt_x: optax optimizer of x (use ``optax.sgd(eta)`` for the method as published).
      opt_y: optax optimizer of y; defaults to ``opt_x``.
      eta: the interaction step size :math:`\eta` inside the linear system (a positive number).
      cg_steps: Krylov iterations per step (exact on an n-dimensional quadratic game once ``cg_steps >= n``).

    Returns:
      A :class:`Solver` counting ``5 + 2 * cg_steps`` gradient evaluations per step, F and each Hessian-vector
      product as one (the right-hand side, the y direction, the Krylov solver's initial residual (two) and two
      per iteration).
    """
    opt_x, opt_y = _optimizers(opt_x, opt_y)
    if isinstance(eta, bool) or not isinstance(eta, (numbers.Real, jax.Array)):
        raise TypeError(f"eta: expected a positive number, got {type(eta).__name__}")
    if isinstance(eta, numbers.Real) and not eta > 0:
        raise ValueError(f"eta: expected a positive number, got {eta!r}")
    cg_steps = _checks.positive_int(cg_steps, "cg_steps")

    def direction(game, x, y, key):
        (gx, gy), obs = _field(game, x, y, key)

        def B(v):  # mixed second derivative of L_x: y-space -> x-space
            return jax.jvp(lambda y_: game.grad_x(x, y_, key), (y,), (v,))[1]

        def C(u):  # mixed second derivative of L_y: x-space -> y-space
            return jax.jvp(lambda x_: game.grad_y(x_, y, key), (x,), (u,))[1]

        rhs = _tree.axpy(-eta, B(gy), gx)

        def system(u):
            return _tree.axpy(-(eta**2), B(C(u)), u)

        if game.zero_sum:
            dx, _ = jax.scipy.sparse.linalg.cg(system, rhs, x0=gx, tol=0.0, maxiter=cg_steps)
        else:
            dx, _ = jax.scipy.sparse.linalg.gmres(system, rhs, x0=gx, tol=0.0, restart=cg_steps, maxiter=1)
        dy = _tree.axpy(-eta, C(dx), gy)
        return (dx, dy), obs

    return _direction_step("competitive_gradient", direction, opt_x, opt_y, "euclidean", 5.0 + 2.0 * cg_steps)


def proximal_point(learning_rate: float, *, inner_steps: int = 20, geometry: str = "euclidean") -> Solver:
    r"""The proximal point method :math:`z_{t+1} = P(z_t - \eta F(z_{t+1}))`, solved approximately.

    The implicit step is found by ``inner_steps`` fixed-point iterations :math:`w \leftarrow P(z_t - \eta F(w))`,
    started at :math:`w = z_t`; they contract when :math:`\eta L < 1` (L the Lipschitz constant of F), with error
    :math:`(\eta L)^k`. On a bilinear game the exact method shrinks the distance by :math:`1/\sqrt{1+\eta^2\sigma^2}`.
    Meant as a reference method for studying dynamics, not as a cheap one.

    Args:
      learning_rate: the step size :math:`\eta` (a positive number).
      inner_steps: fixed-point iterations per step.
      geometry: as in :func:`simultaneous_gda`.

    Returns:
      A :class:`Solver` counting ``inner_steps`` gradient evaluations per step.
    """
    if isinstance(learning_rate, optax.GradientTransformation) or not isinstance(learning_rate, (numbers.Real, jax.Array)):
        raise TypeError(f"learning_rate: expected a positive number, got {type(learning_rate).__name__}")
    if isinstance(learning_rate, numbers.Real) and not learning_rate > 0:
        raise ValueError(f"learning_rate: expected a positive number, got {learning_rate!r}")
    inner_steps = _checks.positive_int(inner_steps, "inner_steps")
    geometry = _check_geometry(geometry)
    eta = learning_rate

    def init(x, y):
        return ()

    def observing_step(game, x, y, state, key):
        def move(field):
            gx, gy = field
            return _move(game, geometry, x, y, _tree.scale(-eta, gx), _tree.scale(-eta, gy))

        def body(w, _):
            # One sample per step: every fixed-point iteration solves the proximal step of the same F.
            return move(game.vector_field(*w, key)), None

        # The first iteration starts at w = z_t: its field is F(z_t), the trace's observation.
        field, obs = _field(game, x, y, key)
        w, _ = jax.lax.scan(body, move(field), length=inner_steps - 1)
        return w[0], w[1], state, obs

    return _observed(init, observing_step, name="proximal_point", grad_evals=float(inner_steps), geometry=geometry)


def lookahead(solver: Solver, *, k: int = 5, alpha: float = 0.5) -> Solver:
    r"""Lookahead-minmax (Chavdarova et al. 2021) around any solver.

    The inner solver moves the fast weights; every ``k`` steps the slow weights move a fraction ``alpha`` toward
    them, :math:`\tilde z \leftarrow \tilde z + \alpha (z - \tilde z)`, and the fast weights restart from there.
    For convex feasible sets the result stays feasible (a convex combination of feasible points).

    Args:
      solver: the inner :class:`Solver`.
      k: synchronisation period.
      alpha: slow-weight step in (0, 1].

    Returns:
      A :class:`Solver` whose ``period`` is ``k`` times the inner one's.
    """
    if not isinstance(solver, Solver):
        raise TypeError(f"solver: expected a minimax.Solver, got {type(solver).__name__}")
    k = _checks.positive_int(k, "k")
    if not (isinstance(alpha, numbers.Real) and 0 < alpha <= 1):
        raise ValueError(f"alpha: expected a number in (0, 1], got {alpha!r}")

    def init(x, y):
        return LookaheadState(solver.init(x, y), x, y, jnp.zeros((), jnp.int32))

    def observing_step(game, x, y, state, key):
        if solver.observing_step is None:
            x, y, inner = solver.step(game, x, y, state.inner, key)
            obs = None
        else:
            x, y, inner, obs = solver.observing_step(game, x, y, state.inner, key)
        count = state.count + 1
        sync = count % k == 0
        pull = lambda slow, fast: jax.tree.map(lambda s, f: s + alpha * (f - s), slow, fast)  # noqa: E731
        slow_x = _tree.where(sync, pull(state.slow_x, x), state.slow_x)
        slow_y = _tree.where(sync, pull(state.slow_y, y), state.slow_y)
        x = _tree.where(sync, slow_x, x)
        y = _tree.where(sync, slow_y, y)
        return x, y, LookaheadState(inner, slow_x, slow_y, count), obs

    def step(game, x, y, state, key):
        return observing_step(game, x, y, state, key)[:3]

    return Solver(
        init,
        step,
        observing_step=observing_step if solver.observing_step is not None else None,
        name=f"lookahead({solver.name})",
        grad_evals=solver.grad_evals,
        period=k * solver.period,
        geometry=solver.geometry,
    )


# -- entropic-geometry methods for simplex players ----------------------------------------------------------------
def multiplicative_weights(learning_rate, learning_rate_y=None) -> Solver:
    r"""Multiplicative weights / Hedge for both players: :math:`x_{t+1} \propto x_t e^{-\eta \nabla_x f}`.

    Simultaneous GDA in the entropic geometry. On games with an interior equilibrium the last iterate does not
    settle (it drifts toward the boundary); the running average converges.

    Args:
      learning_rate: step size of x (a number or an optax optimizer whose updates are used in log space).
      learning_rate_y: step size of y; defaults to ``learning_rate``.
    """
    opt_x = _step_size_optimizer(learning_rate, "learning_rate")
    opt_y = opt_x if learning_rate_y is None else _step_size_optimizer(learning_rate_y, "learning_rate_y")
    return simultaneous_gda(opt_x, opt_y, geometry="entropic")._replace(name="multiplicative_weights")


def optimistic_multiplicative_weights(learning_rate, learning_rate_y=None) -> Solver:
    r"""Optimistic multiplicative weights (Daskalakis & Panageas 2019): last-iterate convergence on matrix games.

    :math:`x_{t+1} \propto x_t e^{-\eta(2 g_t - g_{t-1})}` with :math:`g = \nabla_x f`; the first step is plain
    multiplicative weights.
    """
    opt_x = _step_size_optimizer(learning_rate, "learning_rate")
    opt_y = opt_x if learning_rate_y is None else _step_size_optimizer(learning_rate_y, "learning_rate_y")
    return optimistic_gda(opt_x, opt_y, geometry="entropic")._replace(name="optimistic_multiplicative_weights")


def mirror_prox(learning_rate, learning_rate_y=None) -> Solver:
    r"""Mirror-prox (Nemirovski 2004): extragradient in the entropic geometry, for simplex players."""
    opt_x = _step_size_optimizer(learning_rate, "learning_rate")
    opt_y = opt_x if learning_rate_y is None else _step_size_optimizer(learning_rate_y, "learning_rate_y")
    return extragradient(opt_x, opt_y, geometry="entropic")._replace(name="mirror_prox")
