r"""Spectra of a game at a point: the game Jacobian, each player's Hessian, and a solver's update map.

Each function takes ``k``. With ``k=None`` the matrix is built with ``jax.jacfwd`` and every eigenvalue is
computed by NumPy (exact, but quadratic memory and cubic time: a few thousand parameters at most). With
``k=int`` the matrix is never formed: the map is linearised once (``jax.linearize``), its Jacobian-vector
product is compiled once, and ARPACK's implicitly restarted Arnoldi method (``scipy.sparse.linalg.eigs``; Lanczos,
``eigsh``, for the symmetric Hessians) asks for one product at a time. This is how Berard et al. (2020) take the
spectrum of real GANs. Every returned pair is checked: its residual ``||Mv - lambda v||`` relative to the
operator's scale must be below ``residual_tol``, else :class:`ConvergenceError` says what was reached. ARPACK runs
on the host; each product runs where the game's arrays live (CPU or accelerator), so on a GPU only the Krylov
bookkeeping (a few vectors of the problem's size) crosses to the host per product.

Sign conventions: the game Jacobian is ``dF/dz`` with ``F = (grad_x f, -grad_y f)`` (a general-sum game:
``(grad_x L_x, grad_y L_y)``); player x's Hessian is ``d^2 f / dx^2`` and player y's ``d^2 f / dy^2`` (for a
general-sum game ``d^2 L_x/dx^2`` and ``-d^2 L_y/dy^2``, each player's utility), so a local Nash equilibrium has
the first positive and the second negative semi-definite (:func:`local_nash`).
"""

from __future__ import annotations

import functools
import time
import warnings
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from minimax import _tree, diagnostics
from minimax.diagnostics import update_map
from minimax.solvers import check_solver_fits

__all__ = [
    "DENSE_LIMIT",
    "SECOND_MOMENT_FIELDS",
    "ConvergenceError",
    "LinearisationWarning",
    "LocalNash",
    "SpectrumInfo",
    "hessian_eigenvalues",
    "jacobian_eigenvalues",
    "linearisation_notes",
    "local_nash",
    "spectra_along",
    "spectral_radius",
    "update_eigenvalues",
]

#: Size (parameters plus solver memory) up to which ``spectral_radius(..., k=None)`` builds the dense update
#: Jacobian; above it the radius is found matrix-free. Measured by ``benchmarks/spectra.py --threshold`` on ring
#: GANs under Adam (2-core CPU, compiled, median of interleaved rounds): matrix-free is 1.7x faster at dimension 237,
#: 4.8x at 657 and 12x at 2 073, since dense costs n JVPs plus an n^3 eig. Below a couple of hundred dimensions both
#: take milliseconds and the dense answer is exact and cannot fail to converge, so dense is kept there.
DENSE_LIMIT = 200

WHICH_EIGS = ("LM", "LR", "SR", "LI")
WHICH_EIGSH = ("LA", "SA", "LM")


class ConvergenceError(RuntimeError):
    """The eigensolver did not reach the requested accuracy; ``eigenvalues`` and ``residuals`` hold what it reached."""

    def __init__(self, message: str, eigenvalues=None, residuals=None):
        super().__init__(message)
        self.eigenvalues = eigenvalues
        self.residuals = residuals


class SpectrumInfo(NamedTuple):
    """What a matrix-free eigensolve cost and reached (``return_info=True``).

    Attributes:
      residuals: per returned pair, ``||Mv - lambda v|| / (||v|| scale)`` with ``scale`` the larger of the largest
        returned ``|lambda|`` and ``||M v0|| / ||v0||`` for the random start ``v0``.
      products: matrix-vector products used (JVPs, HVPs, or linearised solver steps).
      seconds: wall time of the eigensolve, compilation included.
      dim: size of the operator.
      method: ``"dense"`` or ``"arpack"``.
    """

    residuals: np.ndarray
    products: int
    seconds: float
    dim: int
    method: str


class LocalNash(NamedTuple):
    """:func:`local_nash`'s answer: each player's extreme curvature eigenvalue and whether the conditions hold.

    ``x_min`` is the smallest eigenvalue of player x's Hessian (must be >= -tol), ``y_max`` the largest of player
    y's (must be <= tol). ``violators`` names the players that break their condition (empty at a local Nash point).
    """

    holds: bool
    x_min: float
    y_max: float
    violators: tuple


# -- argument checks (before anything is traced) --------------------------------------------------------------------
def _check_k(k, n: int, *, symmetric: bool) -> Optional[int]:
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k: expected a positive integer or None, got {type(k).__name__} {k!r}")
    limit = n if symmetric else n - 1  # ARPACK: eigsh needs k < n, eigs k < n - 1
    if k < 1 or k >= limit:
        raise ValueError(
            f"k: expected an integer in [1, {limit - 1}] for an operator of dimension {n} "
            f"(the Krylov method needs k < {limit}), got {k!r}; k=None gives every eigenvalue, densely"
        )
    return int(k)


def _check_which(which, allowed) -> str:
    if which not in allowed:
        raise ValueError(f"which: expected one of {', '.join(repr(w) for w in allowed)}, got {which!r}")
    return which


def _check_point(tree, name: str):
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if isinstance(leaf, jax.core.Tracer) or not _tree._is_numeric_float(leaf):
            continue
        if not np.all(np.isfinite(np.asarray(leaf))):
            where = jax.tree_util.keystr(path)
            raise ValueError(f"{name}:{' ' + where if where else ''} has non-finite entries; expected a finite point")


def _check_tol(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)


def _default_key(key):
    return jax.random.key(0) if key is None else key


def _default_tol(dtype) -> float:
    return 1e-8 if jnp.dtype(dtype) == jnp.float64 else 1e-4


# -- the operators -----------------------------------------------------------------------------------------------------
# Three maps of a flat vector, each named by a kind and a static ``extra`` (a player, or a solver). With ``samples``
# the map is the mean of the maps of ``samples`` keys split from ``key`` (one mini-batch each, for a stochastic game),
# so its Jacobian is the expected Jacobian over mini-batches, at the point of the first key.
def _map(kind, game, extra, samples, x, y, state, key):
    if samples is None:
        return _map_one(kind, game, extra, x, y, state, key)
    keys = jax.random.split(key, samples)
    _, flat = _map_one(kind, game, extra, x, y, state, keys[0])

    def mean(v):
        return jnp.mean(jax.vmap(lambda k: _map_one(kind, game, extra, x, y, state, k)[0](v))(keys), axis=0)

    return mean, flat


def _map_one(kind, game, extra, x, y, state, key):
    if kind == "field":
        return _field_map(game, x, y, key)
    if kind == "hessian":
        return _hessian_map(game, x, y, extra, key)
    return update_map(game, extra, x, y, state, key)


def _dim(kind, game, extra, samples, x, y, state, key) -> int:
    return int(jax.eval_shape(lambda *a: _map(kind, game, extra, samples, *a)[1], x, y, state, key).size)


# Linearising under jit compiles the forward pass once (instead of dispatching it op by op) and, with the game and
# solver static, only once per game: a second spectrum of the same game at another point compiles nothing. The
# residuals come back as a ``Partial`` pytree whose function is the cached trace's, so ``_apply`` is cached too.
@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _linearized(kind, game, extra, samples, x, y, state, key):
    fun, flat = _map(kind, game, extra, samples, x, y, state, key)
    return flat, jax.linearize(fun, flat)[1]


@jax.jit
def _apply(lin, v):
    return lin(v)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _dense(kind, game, extra, samples, x, y, state, key):
    fun, flat = _map(kind, game, extra, samples, x, y, state, key)
    return jax.jacfwd(fun)(flat)


class _Operator:
    """A linear map on flat NumPy float64 vectors: one compiled JVP of the linearised map per product."""

    def __init__(self, kind, game, extra, samples, x, y, state, key, what: str, why=None):
        z0, self._lin = _linearized(kind, game, extra, samples, x, y, state, key)
        self.dtype = z0.dtype
        self.dim = int(z0.size)
        self.products = 0
        self.what = what
        self.why = why

    def __call__(self, v: np.ndarray) -> np.ndarray:
        self.products += 1
        out = np.asarray(_apply(self._lin, jnp.asarray(np.ravel(v), self.dtype)), np.float64)
        if not np.all(np.isfinite(out)):
            bad = int(np.sum(~np.isfinite(out)))
            raise ValueError(
                f"{self.what} is not finite at this point ({bad} of {out.size} entries of a Jacobian-vector product "
                f"are NaN or inf): the map is not differentiable there{': ' + self.why() if self.why else ''}"
            )
        return out

    def apply_complex(self, v: np.ndarray) -> np.ndarray:
        if np.iscomplexobj(v):
            return self(v.real) + 1j * self(v.imag)
        return self(v)


def _field_map(game, x, y, key):
    flat, unravel = ravel_pytree((x, y))

    def field(v):
        x_, y_ = unravel(v)
        return ravel_pytree(game.vector_field(x_, y_, key))[0]

    return field, flat


def _hessian_map(game, x, y, player, key):
    if player == "x":
        flat, unravel = ravel_pytree(x)

        def grad(v):
            return ravel_pytree(jax.grad(lambda a: game.loss_x(a, y, key))(unravel(v)))[0]
    else:
        flat, unravel = ravel_pytree(y)

        def grad(v):  # the utility of y: f for a zero-sum game, -L_y for a general-sum one
            return ravel_pytree(jax.grad(lambda b: -game.loss_y(x, b, key))(unravel(v)))[0]

    return grad, flat


# -- ARPACK with checked residuals -----------------------------------------------------------------------------------
def _order(eig: np.ndarray, which: str) -> np.ndarray:
    """Indices that put ``eig`` in the order ``which`` asks for, most extreme first."""
    if which == "LM":
        return np.lexsort((-eig.imag, -np.abs(eig)))
    if which in ("LR", "LA"):
        return np.lexsort((-eig.imag, -eig.real))
    if which in ("SR", "SA"):
        return np.lexsort((-eig.imag, eig.real))
    if which == "LI":
        return np.lexsort((-eig.imag, -np.abs(eig.imag)))
    raise AssertionError(which)


def _arpack(op: _Operator, k: int, which: str, key, *, symmetric: bool, tol: Optional[float], ncv, maxiter,
            what: str):
    import scipy.sparse.linalg as sla

    n = op.dim
    tol = _default_tol(op.dtype) if tol is None else tol
    v0 = np.asarray(jax.random.normal(key, (n,), jnp.float64 if op.dtype == jnp.float64 else jnp.float32),
                    np.float64)
    lin = sla.LinearOperator((n, n), matvec=op, dtype=np.float64)
    if ncv is None:
        ncv = min(n - 1 if not symmetric else n, max(2 * k + 1, 20 + k))
    # ARPACK's own stopping rule is |residual| <= tol |lambda|; ask for a little more than we check.
    arpack_tol = tol / 10 if op.dtype == jnp.float64 else max(tol / 10, 1e-6)
    if maxiter is None:
        maxiter = max(100, 10 * n // max(ncv, 1)) if n < 10_000 else 300
    start = time.perf_counter()
    converged = True
    try:
        if symmetric:
            vals, vecs = sla.eigsh(lin, k=k, which=which, v0=v0, ncv=ncv, tol=arpack_tol, maxiter=maxiter)
        else:
            vals, vecs = sla.eigs(lin, k=k, which=which, v0=v0, ncv=ncv, tol=arpack_tol, maxiter=maxiter)
    except sla.ArpackNoConvergence as err:
        vals, vecs, converged = err.eigenvalues, err.eigenvectors, False
    seconds = time.perf_counter() - start
    vals = np.asarray(vals)
    scale = max(float(np.max(np.abs(vals), initial=0.0)), float(np.linalg.norm(op(v0)) / np.linalg.norm(v0)),
                np.finfo(np.float64).tiny)
    residuals = np.array([
        np.linalg.norm(op.apply_complex(vecs[:, i]) - vals[i] * vecs[:, i]) / (np.linalg.norm(vecs[:, i]) * scale)
        for i in range(vals.size)
    ])
    order = _order(vals.astype(np.complex128), which)
    vals, residuals = vals[order], residuals[order]
    if not converged or vals.size < k or np.any(~np.isfinite(residuals)) or np.any(residuals > tol):
        worst = float(np.max(residuals, initial=np.inf)) if residuals.size else float("inf")
        raise ConvergenceError(
            f"{what}: ARPACK found {vals.size} of k={k} eigenvalues (which={which!r}) after {op.products} "
            f"products; worst relative residual {worst:.2e} against residual_tol={tol:.1e}. Raise maxiter or "
            "ncv, loosen residual_tol, or ask for fewer or better-separated eigenvalues (k=None gives the dense "
            "spectrum of a small map)",
            eigenvalues=vals, residuals=residuals,
        )
    info = SpectrumInfo(residuals, op.products, seconds, n, "arpack")
    return (vals.real if symmetric else vals), info


def _dense_eig(matrix, what: str, why=None):
    mat = np.asarray(matrix, dtype=np.float64)
    if not np.all(np.isfinite(mat)):
        bad = int(np.sum(~np.isfinite(mat)))
        raise ValueError(f"{what} is not finite at this point ({bad} of {mat.size} entries are NaN or inf): "
                         f"the map is not differentiable there{': ' + why() if why else ''}")
    return np.linalg.eigvals(mat)


def _sorted(eig: np.ndarray) -> np.ndarray:
    """Sorted by real part (rounded, so round-off does not reorder ties), then imaginary part."""
    return eig[np.lexsort((eig.imag, np.round(eig.real, 9)))]


def _finish(vals, info, return_info):
    return (vals, info) if return_info else vals


# -- public functions --------------------------------------------------------------------------------------------------
def jacobian_eigenvalues(game, x, y, *, key=None, samples=None, k=None, which="LM", residual_tol=None, ncv=None,
                         maxiter=None, return_info=False):
    """Eigenvalues of the game Jacobian ``dF/dz`` at (x, y).

    Args:
      game: the game (zero-sum or general-sum).
      x: the minimiser's point.
      y: the maximiser's point.
      key: feeds a stochastic game's field (the same key for every product) and draws the Krylov start vector.
      samples: for a stochastic game, the expected Jacobian over that many mini-batches (keys split from ``key``);
        without it a stochastic game warns :class:`LinearisationWarning` (one mini-batch).
      k: ``None`` for every eigenvalue, from the dense Jacobian, sorted by real then imaginary part; an int for
        the ``k`` most extreme ones by ``which``, matrix-free, most extreme first.
      which: ``"LM"`` largest modulus, ``"LR"`` / ``"SR"`` largest / smallest real part, ``"LI"`` largest
        imaginary part in magnitude (complex pairs come together). Only used with ``k``.
      residual_tol: largest accepted relative residual per pair (default 1e-8 in float64, 1e-4 in float32).
      ncv: Krylov subspace size (default ``max(2k + 1, k + 20)``).
      maxiter: ARPACK restarts allowed.
      return_info: also return a :class:`SpectrumInfo`.

    Returns:
      A complex NumPy array (and the info with ``return_info``).

    Raises:
      ConvergenceError: the Krylov method did not reach ``residual_tol``.
    """
    if samples is not None:
        samples = _check_samples(samples)
    for note in linearisation_notes(game, None, x, y, samples=samples):
        warnings.warn(note, LinearisationWarning, stacklevel=2)
    return _eigs_of("the game Jacobian", ("field", game, None, samples, x, y, None), None, key, k, which,
                    residual_tol, ncv, maxiter, return_info)


def update_eigenvalues(game, solver, x, y, *, state=None, key=None, samples=None, k=None, which="LM",
                       residual_tol=None, ncv=None, maxiter=None, return_info=False):
    """Eigenvalues of one period of ``solver``'s linearised update at (x, y), its memory and optimizer state included.

    The map is ``(z, m) -> (z', m')`` over the parameters and the floating-point solver state that evolves
    (Adam's moments, OGDA's previous update; see :func:`minimax.update_jacobian`). ``state`` is the solver state
    to linearise at (``Result.state``, or a checkpoint's); without it the solver is stepped once from (x, y).
    ``samples``: for a stochastic game, the expected Jacobian over that many mini-batches (keys split from
    ``key``; the memory comes from the first one's step). ``k``, ``which``, ``residual_tol``, ``ncv``,
    ``maxiter`` and ``return_info`` are as in :func:`jacobian_eigenvalues`.

    Warns :class:`LinearisationWarning` where the linearisation says little (see :func:`linearisation_notes`).
    """
    check_solver_fits(game, solver)
    _check_point(state, "state")
    if samples is not None:
        samples = _check_samples(samples)
    for note in linearisation_notes(game, solver, x, y, state=state, key=key, samples=samples):
        warnings.warn(note, LinearisationWarning, stacklevel=2)
    return _update_eigenvalues(game, solver, x, y, state, key, samples, k, "LM" if which is None else which,
                               residual_tol, ncv, maxiter, return_info)


def _update_eigenvalues(game, solver, x, y, state, key, samples, k, which, residual_tol, ncv, maxiter,
                        return_info):
    def why():
        return _why_not_finite(game, solver, x, y, state, key, samples)

    return _eigs_of(f"the update of {solver.name}", ("update", game, solver, samples, x, y, state), why, key, k,
                    which, residual_tol, ncv, maxiter, return_info)


def _eigs_of(what, spec, why, key, k, which, residual_tol, ncv, maxiter, return_info):
    which = _check_which(which, WHICH_EIGS)
    _check_point(spec[4], "x")
    _check_point(spec[5], "y")
    diagnostics.check_point(spec[1], spec[4], spec[5], key)
    if residual_tol is not None:
        residual_tol = _check_tol(residual_tol, "residual_tol")
    key = _default_key(key)
    if why is None:  # the game Jacobian
        def why():
            return _why_not_finite(spec[1], None, spec[4], spec[5], None, key, spec[3])
    if k is None:
        start = time.perf_counter()
        vals = _sorted(_dense_eig(_dense(*spec, key), what, why))
        return _finish(vals, SpectrumInfo(np.zeros(0), 0, time.perf_counter() - start, vals.size, "dense"),
                       return_info)
    return _matrix_free(spec, key, k, which, False, residual_tol, ncv, maxiter, what, return_info, why)


def _matrix_free(spec, key, k, which, symmetric, residual_tol, ncv, maxiter, what, return_info, why=None):
    """Checks ``k`` against the map's size, linearises it (cached) and runs ARPACK on its products."""
    k = _check_k(k, _dim(*spec, key), symmetric=symmetric)
    op = _Operator(*spec, key, what, why)
    vals, info = _arpack(op, k, which, jax.random.fold_in(key, 1), symmetric=symmetric, tol=residual_tol, ncv=ncv,
                         maxiter=maxiter, what=what)
    return _finish(vals, info, return_info)


def spectral_radius(game, solver, x, y, *, state=None, key=None, samples=None, k=None, residual_tol=None, ncv=None,
                    maxiter=None, return_info=False):
    """Per-step spectral radius of ``solver``'s linearised update at (x, y), memory and optimizer state included.

    Below 1 at a fixed point means local linear convergence with that rate per step; above 1, local divergence.
    For a solver with ``period`` p the radius of the p-step map is returned as its p-th root.

    With ``k=None`` the dense update Jacobian is used when the map has at most :data:`DENSE_LIMIT` dimensions
    (parameters plus memory) and ARPACK (the 6 largest-modulus eigenvalues) above it; ``k=int`` forces the
    matrix-free path with ``k`` eigenvalues. ``samples=n`` takes the expected Jacobian over n mini-batches of a
    stochastic game (matrix-free: each product averages the n keys' Jacobian-vector products). Other arguments
    are as in :func:`update_eigenvalues`.

    Warns :class:`LinearisationWarning` where the number says little (see :func:`linearisation_notes`): an
    adaptive optimizer (Adam, RMSProp, ...) whose second-moment estimate is zero at the state linearised at (its
    initial state, or a fixed point without ``state=``), a stochastic game linearised on one mini-batch, an
    entropic solver at a strategy on the simplex's boundary.
    """
    check_solver_fits(game, solver)
    diagnostics.check_point(game, x, y, key)
    _check_point(state, "state")
    if samples is not None:
        samples = _check_samples(samples)
    for note in linearisation_notes(game, solver, x, y, state=state, key=key, samples=samples):
        warnings.warn(note, LinearisationWarning, stacklevel=2)
    n = _dim("update", game, solver, samples, x, y, state, _default_key(key))
    if k is None and n > DENSE_LIMIT:
        k = min(6, n - 2)
    vals, info = _update_eigenvalues(game, solver, x, y, state, key, samples, k, "LM", residual_tol, ncv, maxiter,
                                     True)
    radius = float(np.max(np.abs(vals)) ** (1.0 / solver.period))
    return _finish(radius, info, return_info)


# -- when a linearisation says little --------------------------------------------------------------------------------
class LinearisationWarning(UserWarning):
    """A spectrum was taken where the linearisation says little about the dynamics (see
    :func:`linearisation_notes`); the number is computed all the same."""


#: Fields of optax states that hold a second-moment (or squared-gradient) estimate an adaptive update divides by:
#: Adam, AdamW, AMSGrad, Yogi, Lamb, Novograd (``nu``, ``nu_max``), RMSProp (``nu``), Adagrad
#: (``sum_of_squares``), Adafactor (``v_row``, ``v_col``, ``v``), Adadelta (``e_g``).
SECOND_MOMENT_FIELDS = frozenset({"nu", "nu_max", "sum_of_squares", "v_row", "v_col", "v", "e_g"})


def _second_moments(state) -> list:
    leaves = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        names = {getattr(k, "name", getattr(k, "key", None)) for k in path}
        if names & SECOND_MOMENT_FIELDS and not ({"hyperparams", "hyperparams_states"} & names) \
                and jnp.issubdtype(getattr(leaf, "dtype", np.int32), jnp.floating):
            leaves.append(leaf)
    return leaves


@functools.partial(jax.jit, static_argnums=(0, 1))
def _first_state(game, solver, x, y, key):
    return solver.step(game, x, y, solver.init(x, y), key)[2]


def _zero_second_moments(game, solver, x, y, state, key, samples) -> tuple[int, int]:
    """(entries that are exactly zero, entries) of the second-moment estimates in the state linearised at: ``state``,
    or the one :func:`minimax.update_jacobian` steps to from (x, y)."""
    if not _second_moments(jax.eval_shape(solver.init, x, y)):
        return 0, 0
    if state is None:
        key = _default_key(key)
        state = _first_state(game, solver, x, y, jax.random.split(key, samples)[0] if samples else key)
    moments = [np.asarray(v) for v in _second_moments(state)]
    return int(sum(np.sum(v == 0) for v in moments)), int(sum(v.size for v in moments))


def _on_boundary(game, x, y) -> bool:
    """Whether a strategy of a simplex player is at (or below) the floor the entropic step keeps weights at."""
    for c, p in ((game.x_constraint, x), (game.y_constraint, y)):
        if c is not None and c.supports_entropic:
            for leaf in jax.tree.leaves(p):
                leaf = np.asarray(leaf)
                if leaf.size and np.min(leaf) <= 2 * np.finfo(leaf.dtype).tiny * max(1.0, float(np.max(leaf))):
                    return True
    return False


def linearisation_notes(game, solver, x, y, *, state=None, key=None, samples=None) -> list[str]:
    """Why the spectrum of ``solver``'s update (or, with ``solver=None``, of the game Jacobian) at (x, y) says
    little, one sentence per reason; empty when nothing is known to be wrong.

    * An adaptive optimizer (Adam, RMSProp, Adagrad, ...) whose second-moment estimate v is exactly zero in the
      state linearised at (its initial state; a fixed point, where the first step's gradient is zero, when no
      ``state`` is given; dead units): the update divides by sqrt(v) + eps, so with v = 0 its Jacobian is scaled
      by 1/eps (or is not finite with ``eps_root=0``) and the radius is an artefact of eps.
    * A stochastic game (``game.stochastic``) linearised on the mini-batch of one key: the spectrum of that
      sample, not of the expected dynamics (``samples=n`` averages the Jacobian over n keys).
    * An entropic solver (multiplicative weights, OMWU, mirror-prox) at a strategy on the simplex's boundary: the
      step works in log coordinates with weights kept at the dtype's smallest normal number, so the weights there
      have derivative zero and the radius says nothing about the rate at which they vanish.
    """
    notes = []
    what = "game Jacobian" if solver is None else f"update of {solver.name}"
    if game.stochastic and samples is None:
        notes.append(f"game {game.name!r} is stochastic and the {what} was linearised on the mini-batch of one key: "
                     "that is the spectrum of one sample, not the expected one; pass samples=32 for the Jacobian "
                     "averaged over 32 keys split from key")
    if solver is None:
        return notes
    zeros, total = _zero_second_moments(game, solver, x, y, state, key, samples)
    if zeros:
        where = "the state given" if state is not None else "the state one step from (x, y)"
        notes.append(f"{solver.name}: its adaptive optimizer's second-moment estimate v is exactly zero in {zeros} of "
                     f"{total} entries at {where}, so its linearisation is not meaningful there: the update divides "
                     "by sqrt(v) + eps, which scales its Jacobian by 1/eps where v = 0 (Adam's initial state, a fixed "
                     "point, parameters whose gradient was always zero); linearise at a state after some steps "
                     "(state=Result.state or a checkpoint's), where v is the running average of squared gradients")
    if solver.geometry == "entropic" and _on_boundary(game, x, y):
        notes.append(f"{solver.name}: a strategy is on the boundary of the simplex (weight at the floor the entropic "
                     "step keeps it at), where the entropic update's derivative is zero: the radius there is not the "
                     "rate at which that weight vanishes; linearise at an interior point, or measure the rate on a "
                     "run (mm.empirical_rate)")
    return notes


def _why_not_finite(game, solver, x, y, state, key, samples) -> str:
    """The reasons a linearisation can be non-finite for this game and solver, worded for the solver used."""
    reasons = []
    if solver is not None:
        zeros, total = _zero_second_moments(game, solver, x, y, state, key, samples)
        if zeros:
            reasons.append(f"{solver.name}'s adaptive optimizer divides by the square root of its second-moment "
                           f"estimate, which is exactly zero in {zeros} of {total} entries here (a fixed point, or "
                           "parameters whose gradient was always zero such as dead ReLU units); linearise at a state "
                           "after some steps (state=Result.state or a checkpoint's), or give the optimizer "
                           "eps_root > 0 (optax.adam(..., eps_root=1e-8))")
        if solver.geometry == "entropic":
            reasons.append(f"{solver.name} steps in the entropic geometry (x proportional to x exp(-eta g), in log "
                           "coordinates), which is not differentiable where a strategy's weight is 0; linearise at "
                           "an interior point of the simplex")
        elif game.x_constraint is not None or game.y_constraint is not None:
            reasons.append(f"{solver.name} projects onto the game's constraint, which is not differentiable on its "
                           "boundary (linearise at an interior point)")
    payoff = f"the vector field of {game.name!r} is not differentiable at this point (check its payoff there)"
    if not reasons:
        return payoff
    return "; ".join(reasons) + "; or " + payoff


def _check_samples(samples) -> int:
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"samples: expected a positive number of mini-batches (keys) to average the Jacobian over, "
                         f"got {samples!r}")
    return int(samples)


def hessian_eigenvalues(game, x, y, *, player, k=None, which="SA", key=None, residual_tol=None, ncv=None,
                        maxiter=None, return_info=False):
    """Eigenvalues of one player's Hessian at (x, y): ``d^2 f/dx^2`` (``player="x"``) or ``d^2 f/dy^2`` (``"y"``).

    For a general-sum game, player x's is ``d^2 L_x/dx^2`` and player y's ``-d^2 L_y/dy^2`` (the Hessian of its
    utility), so that at a local Nash equilibrium the first is positive and the second negative semi-definite.

    Args:
      player: ``"x"`` or ``"y"``.
      k: ``None`` for all of them (dense, ascending); an int for the ``k`` most extreme by ``which``, found by
        Lanczos (``scipy.sparse.linalg.eigsh``) on Hessian-vector products (forward over reverse), most extreme
        first.
      which: ``"SA"`` / ``"LA"`` smallest / largest algebraic, ``"LM"`` largest modulus.

    Other arguments are as in :func:`jacobian_eigenvalues`.

    Returns:
      A real NumPy array (and a :class:`SpectrumInfo` with ``return_info``).
    """
    if player not in ("x", "y"):
        raise ValueError(f"player: expected 'x' or 'y', got {player!r}")
    which = _check_which(which, WHICH_EIGSH)
    _check_point(x, "x")
    _check_point(y, "y")
    diagnostics.check_point(game, x, y, key)
    if residual_tol is not None:
        residual_tol = _check_tol(residual_tol, "residual_tol")
    key = _default_key(key)
    spec = ("hessian", game, player, None, x, y, None)
    what = f"player {player}'s Hessian"
    if k is None:
        start = time.perf_counter()
        mat = np.asarray(_dense(*spec, key), np.float64)
        if not np.all(np.isfinite(mat)):
            raise ValueError(f"{what} is not finite at this point")
        vals = np.linalg.eigvalsh((mat + mat.T) / 2)
        return _finish(vals, SpectrumInfo(np.zeros(0), 0, time.perf_counter() - start, vals.size, "dense"),
                       return_info)
    return _matrix_free(spec, key, k, which, True, residual_tol, ncv, maxiter, what, return_info)


def local_nash(game, x, y, *, key=None, tol=1e-6, k=None, **kwargs) -> LocalNash:
    """Checks the second-order local Nash conditions ``d^2 f/dx^2 >= 0`` and ``d^2 f/dy^2 <= 0`` at (x, y).

    Uses the smallest eigenvalue of player x's Hessian and the largest of player y's (:func:`hessian_eigenvalues`;
    ``k=None`` dense, ``k=int`` Lanczos with that many eigenvalues). An eigenvalue within ``tol`` of zero counts
    as satisfying the condition. The answer says which player violates its condition, if any.
    """
    tol = _check_tol(tol, "tol")
    hx = hessian_eigenvalues(game, x, y, player="x", k=k, which="SA", key=key, **kwargs)
    hy = hessian_eigenvalues(game, x, y, player="y", k=k, which="LA", key=key, **kwargs)
    x_min, y_max = float(np.min(hx)), float(np.max(hy))
    violators = tuple(p for p, bad in (("x", x_min < -tol), ("y", y_max > tol)) if bad)
    return LocalNash(not violators, x_min, y_max, violators)


def spectra_along(game, checkpoints, *, k: Optional[int] = 10, which="LM", solver=None, key=None, progress=None,
                  **kwargs) -> dict:
    """The top eigenvalues of the game Jacobian (and, with ``solver``, its update's spectral radius) at every
    snapshot of a run (``mm.run(..., checkpoint_every=...).checkpoints``).

    Args:
      game: the game the run played.
      checkpoints: a :class:`minimax.Checkpoints` of one run.
      k: eigenvalues per snapshot (matrix-free, :func:`jacobian_eigenvalues`); ``None`` for all of them, densely.
      which: which ones (``"LM"``, ``"LR"``, ``"SR"``, ``"LI"``).
      solver: also the spectral radius of this solver's update at each snapshot, with the snapshot's state
        (Adam's moments included); the solver the run used.
      key: feeds a stochastic game's field (the same batch at every snapshot) and the Krylov start.
      progress: ``progress(done, total)`` after each snapshot (a :class:`minimax.progress.ProgressBar`).
      **kwargs: ``residual_tol``, ``ncv``, ``maxiter`` for the eigensolver.

    Returns:
      ``{"step": (n,), "eigenvalues": (n, k) complex, "radius": (n,) or None, "products": (n,)}`` as NumPy
      arrays, ``products`` counting the Jacobian's matrix-vector products per snapshot.
    """
    from minimax.checkpoints import Checkpoints

    if not isinstance(checkpoints, Checkpoints):
        raise TypeError(f"checkpoints: expected Result.checkpoints (run with checkpoint_every=...), got "
                        f"{type(checkpoints).__name__}")
    if np.ndim(checkpoints.step) != 1:
        raise ValueError("checkpoints: these hold a batch of runs; pass one run's")
    if solver is not None:
        check_solver_fits(game, solver)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress: expected a function of (done, total), got {type(progress).__name__}")
    eig, radius, products = [], [], []
    total = len(checkpoints)
    for i, (x, y, state) in enumerate(checkpoints):  # snapshots, not optimisation steps
        vals, info = jacobian_eigenvalues(game, x, y, key=key, k=k, which=which, return_info=True, **kwargs)
        eig.append(vals)
        products.append(info.products)
        if solver is not None:
            radius.append(spectral_radius(game, solver, x, y, state=state, key=key, **kwargs))
        if progress is not None:
            progress(i + 1, total)
    return {"step": np.asarray(checkpoints.step), "eigenvalues": np.stack(eig),
            "radius": np.asarray(radius) if solver is not None else None, "products": np.asarray(products)}
