"""minimax: two-player zero-sum games and the optimisers that search for their equilibria, in JAX.

``min_x max_y f(x, y)`` over arbitrary parameter pytrees. x minimises, y maximises. Games are data plus pure
functions (:class:`Game`); solvers are ``(init, step)`` pairs built on optax (:mod:`minimax.solvers`); :func:`run`
is the one driver, a compiled ``lax.scan``; :func:`sweep` runs seeds x hyperparameters as one compiled call
sharded over devices; diagnostics are pure functions (:mod:`minimax.diagnostics`; spectra, dense or matrix-free, in
:mod:`minimax.spectra`; path angle and rotation in :mod:`minimax.landscape`).
Plots (:mod:`minimax.plot`) and the command line sit on top and are not imported here.
"""

from minimax.constraints import Ball, Box, Constraint, Simplex
from minimax.diagnostics import (
    VERDICTS,
    classify,
    default_metric,
    distance_to_equilibrium,
    duality_gap,
    empirical_rate,
    jacobian,
    natural_residual,
    update_jacobian,
    vector_field,
)
from minimax.landscape import PathAngle, RotationPotential, path_angle, rotation_potential
from minimax.spectra import (
    DENSE_LIMIT,
    ConvergenceError,
    LinearisationWarning,
    LocalNash,
    SpectrumInfo,
    hessian_eigenvalues,
    jacobian_eigenvalues,
    linearisation_notes,
    local_nash,
    spectra_along,
    spectral_radius,
    update_eigenvalues,
)
from minimax._xla import compiler_options
from minimax.game import Game
from minimax.checkpoints import Checkpoints
from minimax.driver import DivergenceError, DivergenceWarning, NonFiniteMetricWarning, Result, run
from minimax.sweep import Sweep, sweep
from minimax.compare import compare  # the function; the module stays importable as minimax.compare
from minimax.solvers import (
    ExtrapolationState,
    LookaheadState,
    Observation,
    OptimisticState,
    PairState,
    Solver,
    alternating_gda,
    competitive_gradient,
    consensus,
    extragradient,
    hamiltonian_gd,
    lookahead,
    mirror_prox,
    multiplicative_weights,
    optimistic_gda,
    optimistic_multiplicative_weights,
    past_extragradient,
    proximal_point,
    sga,
    simultaneous_gda,
)
from minimax.shaping import look_ahead, lola, sos
from minimax.accelerated import (EAG_V_MAX_STEP, AnchorState, anchored_extragradient, eag_bound, eag_v_steps,
                                 fast_extragradient, feg_bound, follow_the_ridge)
from minimax.unrolled import unrolled

__version__ = "0.1.0"

__all__ = [
    "NonFiniteMetricWarning",
    "AnchorState",
    "anchored_extragradient",
    "eag_bound",
    "eag_v_steps",
    "fast_extragradient",
    "feg_bound",
    "EAG_V_MAX_STEP",
    "follow_the_ridge",
    "unrolled",
    "ExtrapolationState",
    "Observation",
    "hamiltonian_gd",
    "look_ahead",
    "lola",
    "sos",
    "DENSE_LIMIT",
    "Checkpoints",
    "ConvergenceError",
    "LinearisationWarning",
    "LocalNash",
    "PathAngle",
    "RotationPotential",
    "SpectrumInfo",
    "hessian_eigenvalues",
    "local_nash",
    "path_angle",
    "rotation_potential",
    "spectra_along",
    "Ball",
    "Box",
    "Constraint",
    "DivergenceError",
    "DivergenceWarning",
    "Game",
    "LookaheadState",
    "OptimisticState",
    "PairState",
    "Result",
    "Simplex",
    "Solver",
    "Sweep",
    "VERDICTS",
    "alternating_gda",
    "classify",
    "competitive_gradient",
    "compiler_options",
    "compare",
    "consensus",
    "default_metric",
    "distance_to_equilibrium",
    "duality_gap",
    "empirical_rate",
    "extragradient",
    "jacobian",
    "jacobian_eigenvalues",
    "linearisation_notes",
    "lookahead",
    "mirror_prox",
    "multiplicative_weights",
    "natural_residual",
    "optimistic_gda",
    "optimistic_multiplicative_weights",
    "past_extragradient",
    "proximal_point",
    "run",
    "sga",
    "simultaneous_gda",
    "spectral_radius",
    "sweep",
    "update_eigenvalues",
    "update_jacobian",
    "vector_field",
]
