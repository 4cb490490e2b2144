"""The game: payoff functions, feasible sets and what is known about the equilibrium.

A :class:`Game` is data plus pure functions. It holds no iterate and no optimiser state; solvers
(:mod:`minimax.solvers`) and the driver (:func:`minimax.run`) do. Convention: x minimises, y maximises.
A zero-sum game is ``min_x max_y f(x, y)``; a general-sum game gives one loss per player, each player minimising
its own, and the zero-sum game is the special case ``losses = (f, -f)``.

The vector field is ``F(z) = (grad_x loss_x, grad_y loss_y)``, which for a zero-sum game is ``(grad_x f, -grad_y f)``:
the direction each player descends along. Every solver in the library moves against F.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp

from minimax import _program, _tree
from minimax.constraints import Constraint

__all__ = ["Game"]

Params = Any
_WRAPPED = "_minimax_wrapped"


def _key_convention(fn: Callable, n_args: int, name: str) -> str:
    """How ``fn`` takes the key: ``"keyword"`` (a parameter named ``key``), ``"positional"`` (a further required
    positional parameter, or ``*args``) or ``"none"``. Raises TypeError if ``fn`` cannot take ``n_args`` arguments."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins and some C callables: assume (args..., key)
        return "positional"
    P = inspect.Parameter
    positional = [p for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    has_var = any(p.kind == P.VAR_POSITIONAL for p in params)
    required = [p for p in positional if p.default is P.empty]
    if len(required) > n_args + 1 or (len(positional) < n_args and not has_var):
        expected = f"{n_args} argument(s)" + (" plus an optional key" if n_args else ", or just a key")
        raise TypeError(f"{name}: expected a function of {expected}, but it takes {len(positional)}")
    named_key = next((p for p in params if p.name == "key"), None)
    if named_key is not None and (
        named_key.kind == P.KEYWORD_ONLY
        or (named_key.kind == P.POSITIONAL_OR_KEYWORD and positional.index(named_key) >= n_args)
    ):
        return "keyword"
    if len(required) == n_args + 1 or (has_var and len(positional) <= n_args):
        return "positional"
    return "none"


def _with_optional_key(fn: Callable, n_args: int, name: str) -> Callable:
    """Returns ``g(*args, key=None)`` that calls ``fn`` with or without the key, as ``fn``'s signature asks.

    A parameter named ``key`` receives it by keyword (so ``def f(x, y, *, key)`` works); otherwise a further
    required positional parameter receives it; a function of exactly ``n_args`` arguments (extra parameters with
    defaults included) is called without it.
    """
    if not callable(fn):
        raise TypeError(f"{name}: expected a function, got {type(fn).__name__}")
    if getattr(fn, _WRAPPED, False):
        return fn
    convention = _key_convention(fn, n_args, name)

    def wrapped(*args, key=None):
        if len(args) == n_args + 1:  # key given positionally
            args, key = args[:-1], args[-1]
        elif len(args) != n_args:
            raise TypeError(f"{name}: expected {n_args} argument(s) plus an optional key, got {len(args)}")
        if convention == "keyword":
            return fn(*args, key=key)
        if convention == "positional":
            return fn(*args, key)
        return fn(*args)

    setattr(wrapped, _WRAPPED, True)
    wrapped.__wrapped__ = fn
    wrapped.__doc__ = getattr(fn, "__doc__", None)
    return wrapped


@dataclasses.dataclass(frozen=True, eq=False)
class Game:
    """A two-player game over arbitrary parameter pytrees; x minimises, y maximises.

    Args:
      value: ``f(x, y)`` or ``f(x, y, key)`` returning a scalar, for a zero-sum game ``min_x max_y f``. ``key`` feeds
        stochastic games (mini-batches); deterministic games may leave it out of the signature.
      init: ``init(key) -> (x0, y0)``, the default starting point of :func:`minimax.run`.
      losses: ``(loss_x, loss_y)`` for a general-sum game, each minimised by its own player. Give either ``value``
        or ``losses``.
      equilibrium: a known equilibrium ``(x_star, y_star)``; enables distance metrics in traces.
      distance: ``distance(x, y) -> scalar`` to the equilibrium *set*, when it is not a single point. Defaults to
        the Euclidean distance to ``equilibrium``.
      best_response_x: ``br_x(y[, key])``, a minimiser of ``f(., y)``; with ``best_response_y`` it makes the
        duality gap exact.
      best_response_y: ``br_y(x[, key])``, a maximiser of ``f(x, .)``.
      x_constraint: feasible set of x (:class:`minimax.Simplex`, :class:`minimax.Box`, :class:`minimax.Ball`), or
        None when unconstrained.
      y_constraint: feasible set of y.
      stochastic: True when the payoff depends on ``key``; :func:`minimax.run` then requires a key.
      name: a label used in reports.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimax as mm
      >>> game = mm.Game(value=lambda x, y: x * y, init=lambda key: (jnp.ones(()), jnp.ones(())))
      >>> [float(g) for g in game.vector_field(jnp.array(2.0), jnp.array(3.0))]
      [3.0, -2.0]
    """

    value: Optional[Callable] = None
    init: Optional[Callable] = None
    _: dataclasses.KW_ONLY
    losses: Optional[tuple] = None
    equilibrium: Optional[tuple] = None
    distance: Optional[Callable] = None
    best_response_x: Optional[Callable] = None
    best_response_y: Optional[Callable] = None
    x_constraint: Optional[Constraint] = None
    y_constraint: Optional[Constraint] = None
    stochastic: bool = False
    name: str = "game"

    def __post_init__(self):
        set_ = lambda field, v: object.__setattr__(self, field, v)  # noqa: E731 - frozen dataclass
        if (self.value is None) == (self.losses is None):
            raise TypeError("Game: give exactly one of value (zero-sum) or losses=(loss_x, loss_y) (general-sum)")
        if self.value is not None:
            set_("value", _with_optional_key(self.value, 2, "value"))
        else:
            if not (isinstance(self.losses, (tuple, list)) and len(self.losses) == 2):
                raise TypeError("losses: expected a pair (loss_x, loss_y) of functions of (x, y[, key])")
            set_(
                "losses",
                (
                    _with_optional_key(self.losses[0], 2, "losses[0]"),
                    _with_optional_key(self.losses[1], 2, "losses[1]"),
                ),
            )
        if self.init is not None:
            set_("init", _with_optional_key(self.init, 0, "init"))
        for field in ("best_response_x", "best_response_y"):
            fn = getattr(self, field)
            if fn is not None:
                set_(field, _with_optional_key(fn, 1, field))
        if self.distance is not None and not callable(self.distance):
            raise TypeError(f"distance: expected a function of (x, y), got {type(self.distance).__name__}")
        if self.equilibrium is not None:
            if not (isinstance(self.equilibrium, (tuple, list)) and len(self.equilibrium) == 2):
                raise TypeError("equilibrium: expected a pair (x_star, y_star)")
            set_("equilibrium", tuple(self.equilibrium))
        for field in ("x_constraint", "y_constraint"):
            c = getattr(self, field)
            if c is not None and not isinstance(c, Constraint):
                raise TypeError(
                    f"{field}: expected a minimax constraint (Simplex, Box, Ball) or None, got {type(c).__name__}"
                )
        if not isinstance(self.stochastic, bool):
            raise TypeError(f"stochastic: expected a bool, got {type(self.stochastic).__name__}")

    # -- what the game is --------------------------------------------------------------------------------------
    @property
    def zero_sum(self) -> bool:
        return self.value is not None

    @property
    def has_equilibrium(self) -> bool:
        return self.equilibrium is not None or self.distance is not None

    @property
    def has_best_responses(self) -> bool:
        return self.zero_sum and self.best_response_x is not None and self.best_response_y is not None

    def replace(self, **changes) -> "Game":
        """A copy with some fields changed, e.g. ``game.replace(equilibrium=(xs, ys))``."""
        return dataclasses.replace(self, **changes)

    # -- losses and gradients ----------------------------------------------------------------------------------
    def loss_x(self, x: Params, y: Params, key=None) -> jax.Array:
        """The loss x minimises: ``f`` for a zero-sum game."""
        if self.zero_sum:
            return jnp.asarray(self.value(x, y, key=key))
        return jnp.asarray(self.losses[0](x, y, key=key))

    def loss_y(self, x: Params, y: Params, key=None) -> jax.Array:
        """The loss y minimises: ``-f`` for a zero-sum game."""
        if self.zero_sum:
            return -jnp.asarray(self.value(x, y, key=key))
        return jnp.asarray(self.losses[1](x, y, key=key))

    def grad_x(self, x: Params, y: Params, key=None) -> Params:
        """``grad_x loss_x`` at (x, y)."""
        return jax.grad(lambda x_: self.loss_x(x_, y, key))(x)

    def grad_y(self, x: Params, y: Params, key=None) -> Params:
        """``grad_y loss_y`` at (x, y): minus the ascent direction of a zero-sum game."""
        return jax.grad(lambda y_: self.loss_y(x, y_, key))(y)

    def vector_field(self, x: Params, y: Params, key=None) -> tuple[Params, Params]:
        """``F(z) = (grad_x loss_x, grad_y loss_y)``; one backward pass for a zero-sum game."""
        if self.zero_sum:
            gx, gy = jax.grad(lambda x_, y_: jnp.asarray(self.value(x_, y_, key=key)), argnums=(0, 1))(x, y)
            return gx, _tree.scale(-1, gy)
        return self.grad_x(x, y, key), self.grad_y(x, y, key)

    def losses_and_vector_field(self, x: Params, y: Params, key=None):
        """``((loss_x, loss_y), F(z))`` with a single backward pass for a zero-sum game."""
        if self.zero_sum:
            value = lambda x_, y_: jnp.asarray(self.value(x_, y_, key=key))  # noqa: E731 - a Python float too
            f, (gx, gy) = jax.value_and_grad(value, argnums=(0, 1))(x, y)
            return (f, -f), (gx, _tree.scale(-1, gy))
        lx, gx = jax.value_and_grad(lambda x_: self.loss_x(x_, y, key))(x)
        ly, gy = jax.value_and_grad(lambda y_: self.loss_y(x, y_, key))(y)
        return (lx, ly), (gx, gy)

    # -- equality by what the game computes -------------------------------------------------------------------
    def __eq__(self, other) -> bool:
        """Two games are equal when built by the same code from equal arguments (the same functions, network
        sizes, data, batch size, constraints), so compiled loops are shared between them."""
        if self is other:
            return True
        if not isinstance(other, Game):
            return NotImplemented
        return _program.fingerprint(self)[0] == _program.fingerprint(other)[0]

    def __hash__(self) -> int:
        return hash(_program.fingerprint(self)[0])

    def __repr__(self) -> str:
        kind = "zero-sum" if self.zero_sum else "general-sum"
        return f"Game({self.name!r}, {kind})"
