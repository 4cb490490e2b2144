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
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from minimax import _tree, diagnostics
from minimax.diagnostics import jacobian, update_jacobian, update_map
from minimax.solvers import check_solver_fits

__all__ = [
    "DENSE_LIMIT",
    "ConvergenceError",
    "LocalNash",
    "SpectrumInfo",
    "hessian_eigenvalues",
    "jacobian_eigenvalues",
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
# Three maps of a flat vector, each named by a kind and a static ``extra`` (a player, or a solver).
def _map(kind, game, extra, x, y, state, key):
    if kind == "field":
        return _field_map(game, x, y, key)
    if kind == "hessian":
        return _hessian_map(game, x, y, extra, key)
    return update_map(game, extra, x, y, state, key)


def _dim(kind, game, extra, x, y, state, key) -> int:
    return int(jax.eval_shape(lambda *a: _map(kind, game, extra, *a)[1], x, y, state, key).size)


# Linearising under jit compiles the forward pass once (instead of dispatching it op by op) and, with the game and
# solver static, only once per game: a second spectrum of the same game at another point compiles nothing. The
# residuals come back as a ``Partial`` pytree whose function is the cached trace's, so ``_apply`` is cached too.
@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _linearized(kind, game, extra, x, y, state, key):
    fun, flat = _map(kind, game, extra, x, y, state, key)
    return flat, jax.linearize(fun, flat)[1]


@jax.jit
def _apply(lin, v):
    return lin(v)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _dense(kind, game, extra, x, y, state, key):
    fun, flat = _map(kind, game, extra, x, y, state, key)
    return jax.jacfwd(fun)(flat)


class _Operator:
    """A linear map on flat NumPy float64 vectors: one compiled JVP of the linearised map per product."""

    def __init__(self, kind, game, extra, x, y, state, key, what: str):
        z0, self._lin = _linearized(kind, game, extra, x, y, state, key)
        self.dtype = z0.dtype
        self.dim = int(z0.size)
        self.products = 0
        self.what = what

    def __call__(self, v: np.ndarray) -> np.ndarray:
        self.products += 1
        out = np.asarray(_apply(self._lin, jnp.asarray(np.ravel(v), self.dtype)), np.float64)
        if not np.all(np.isfinite(out)):
            bad = int(np.sum(~np.isfinite(out)))
            raise ValueError(
                f"{self.what} is not finite at this point ({bad} of {out.size} entries of a Jacobian-vector product "
                "are NaN or inf): the map is not differentiable there, for example Adam where its second-moment "
                "estimate is exactly zero (parameters whose gradient was always zero, such as dead ReLU units); "
                "use optax.adam(..., eps_root=1e-8)"
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


def _dense_eig(matrix, what: str):
    mat = np.asarray(matrix, dtype=np.float64)
    if not np.all(np.isfinite(mat)):
        raise ValueError(
            f"{what} is not finite at this point: the map is not differentiable there (for example Adam at a "
            "fixed point, where its second-moment estimate is zero; try optax.adam(..., eps_root=1e-8))"
        )
    return np.linalg.eigvals(mat)


def _sorted(eig: np.ndarray) -> np.ndarray:
    """Sorted by real part (rounded, so round-off does not reorder ties), then imaginary part."""
    return eig[np.lexsort((eig.imag, np.round(eig.real, 9)))]


def _finish(vals, info, return_info):
    return (vals, info) if return_info else vals


# -- public functions --------------------------------------------------------------------------------------------------
def jacobian_eigenvalues(game, x, y, *, key=None, k=None, which="LM", residual_tol=None, ncv=None, maxiter=None,
                         return_info=False):
    """Eigenvalues of the game Jacobian ``dF/dz`` at (x, y).

    Args:
      game: the game (zero-sum or general-sum).
      x: the minimiser's point.
      y: the maximiser's point.
      key: feeds a stochastic game's field (the same key for every product) and draws the Krylov start vector.
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
    return _eigs_of("the game Jacobian", ("field", game, None, x, y, None), lambda kk: jacobian(game, x, y, key=kk),
                    key, k, which, residual_tol, ncv, maxiter, return_info)


def update_eigenvalues(game, solver, x, y, *, state=None, key=None, k=None, which="LM", residual_tol=None, ncv=None,
                       maxiter=None, return_info=False):
    """Eigenvalues of one period of ``solver``'s linearised update at (x, y), its memory and optimizer state included.

    The map is ``(z, m) -> (z', m')`` over the parameters and the floating-point solver state that evolves
    (Adam's moments, OGDA's previous update; see :func:`minimax.update_jacobian`). ``state`` is the solver state
    to linearise at (``Result.state``, or a checkpoint's); without it the solver is stepped once from (x, y).
    ``k``, ``which``, ``residual_tol``, ``ncv``, ``maxiter`` and ``return_info`` are as in
    :func:`jacobian_eigenvalues`.
    """
    check_solver_fits(game, solver)
    _check_point(state, "state")
    return _eigs_of(f"the update of {solver.name}", ("update", game, solver, x, y, state),
                    lambda kk: update_jacobian(game, solver, x, y, state=state, key=kk), key, k, which,
                    residual_tol, ncv, maxiter, return_info)


def _eigs_of(what, spec, dense, key, k, which, residual_tol, ncv, maxiter, return_info):
    which = _check_which(which, WHICH_EIGS)
    _check_point(spec[3], "x")
    _check_point(spec[4], "y")
    diagnostics.check_point(spec[1], spec[3], spec[4], key)
    if residual_tol is not None:
        residual_tol = _check_tol(residual_tol, "residual_tol")
    key = _default_key(key)
    if k is None:
        start = time.perf_counter()
        vals = _sorted(_dense_eig(dense(key), what))
        return _finish(vals, SpectrumInfo(np.zeros(0), 0, time.perf_counter() - start, vals.size, "dense"),
                       return_info)
    return _matrix_free(spec, key, k, which, False, residual_tol, ncv, maxiter, what, return_info)


def _matrix_free(spec, key, k, which, symmetric, residual_tol, ncv, maxiter, what, return_info):
    """Checks ``k`` against the map's size, linearises it (cached) and runs ARPACK on its products."""
    k = _check_k(k, _dim(*spec, key), symmetric=symmetric)
    op = _Operator(*spec, key, what)
    vals, info = _arpack(op, k, which, jax.random.fold_in(key, 1), symmetric=symmetric, tol=residual_tol, ncv=ncv,
                         maxiter=maxiter, what=what)
    return _finish(vals, info, return_info)


def spectral_radius(game, solver, x, y, *, state=None, key=None, k=None, residual_tol=None, ncv=None,
                    maxiter=None, return_info=False):
    """Per-step spectral radius of ``solver``'s linearised update at (x, y), memory and optimizer state included.

    Below 1 at a fixed point means local linear convergence with that rate per step; above 1, local divergence.
    For a solver with ``period`` p the radius of the p-step map is returned as its p-th root.

    With ``k=None`` the dense update Jacobian is used when the map has at most :data:`DENSE_LIMIT` dimensions
    (parameters plus memory) and ARPACK (the 6 largest-modulus eigenvalues) above it; ``k=int`` forces the
    matrix-free path with ``k`` eigenvalues. Other arguments are as in :func:`update_eigenvalues`.
    """
    check_solver_fits(game, solver)
    diagnostics.check_point(game, x, y, key)
    n = _dim("update", game, solver, x, y, state, _default_key(key))
    if k is None and n > DENSE_LIMIT:
        k = min(6, n - 2)
    out = update_eigenvalues(game, solver, x, y, state=state, key=key, k=k, which="LM", residual_tol=residual_tol,
                             ncv=ncv, maxiter=maxiter, return_info=True)
    vals, info = out
    radius = float(np.max(np.abs(vals)) ** (1.0 / solver.period))
    return _finish(radius, info, return_info)


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
    spec = ("hessian", game, player, x, y, None)
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
