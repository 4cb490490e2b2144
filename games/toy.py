r"""Toy games with closed-form equilibria: bilinear, quadratic and the Dirac-GAN.

Each factory checks its arguments before tracing and returns a :class:`minimax.Game` for one instance; batch
instances with ``jax.vmap``. Where the equilibrium is known it is attached, so traces carry distances.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import minimax as mm
from games import _checks

__all__ = ["bilinear", "quadratic", "dirac_gan"]


def _normal_init(n: int, m: int, dtype):
    def init(key):
        kx, ky = jax.random.split(key)
        return jax.random.normal(kx, (n,), dtype), jax.random.normal(ky, (m,), dtype)

    return init


def bilinear(A, b=None, c=None) -> mm.Game:
    r"""The bilinear game :math:`f(x, y) = x^\top A y + b^\top x + c^\top y`.

    The saddle points solve :math:`Ay + b = 0` and :math:`A^\top x + c = 0`: for A square and invertible,
    :math:`x^* = -A^{-\top} c`, :math:`y^* = -A^{-1} b`. For a singular or rectangular A the saddle points form an
    affine set; the game then measures the distance to that set. If ``b`` is not in the range of A (or ``c`` not
    in that of :math:`A^\top`) there is no saddle point and no distance is recorded.

    Args:
      A: an ``(n, m)`` matrix.
      b: optional linear term of x, shape ``(n,)``.
      c: optional linear term of y, shape ``(m,)``.

    Returns:
      A zero-sum :class:`minimax.Game` with x in R^n, y in R^m, started from standard normals.

    Example:
      >>> import jax.numpy as jnp, games
      >>> g = games.bilinear(jnp.array([[2.0]]), b=jnp.array([4.0]), c=jnp.array([-2.0]))
      >>> [float(v[0]) for v in g.equilibrium]
      [1.0, -2.0]
    """
    A = _checks.as_float_array(A, "A", 2)
    n, m = A.shape
    b = _checks.optional_vector(b, n, "b", A.dtype)
    c = _checks.optional_vector(c, m, "c", A.dtype)

    def value(x, y):
        out = x @ A @ y
        if b is not None:
            out = out + b @ x
        if c is not None:
            out = out + c @ y
        return out

    bb = jnp.zeros(n, A.dtype) if b is None else b
    cc = jnp.zeros(m, A.dtype) if c is None else c
    pinv = jnp.linalg.pinv(A)
    x_star, y_star = -pinv.T @ cc, -pinv @ bb
    equilibrium, distance = (x_star, y_star), None
    if _checks.is_concrete(A) and _checks.is_concrete(bb) and _checks.is_concrete(cc):
        # Numerical rank at the precision A is stored in: a singular matrix rounded to float32 keeps a
        # singular value of order eps * sigma_max, which a float64 tolerance would count as nonzero.
        A64, b64, c64 = (np.asarray(v, np.float64) for v in (A, bb, cc))
        cutoff = max(n, m) * float(np.finfo(np.dtype(A.dtype)).eps) * float(np.linalg.norm(A64, 2))
        U, S, Vt = np.linalg.svd(A64)
        rank = int(np.sum(S > cutoff))
        if rank < max(n, m):
            Ur, Vr = U[:, :rank], Vt[:rank].T  # orthonormal bases of range(A) and range(A^T)
            pinv64 = Vr @ np.diag(1.0 / S[:rank]) @ Ur.T
            residual_b = np.linalg.norm(b64 - Ur @ (Ur.T @ b64))
            residual_c = np.linalg.norm(c64 - Vr @ (Vr.T @ c64))
            tol = 1e3 * float(np.finfo(np.dtype(A.dtype)).eps)
            if residual_b > tol * max(1.0, np.linalg.norm(b64)) or residual_c > tol * max(1.0, np.linalg.norm(c64)):
                equilibrium = None  # b outside range(A) or c outside range(A^T): no saddle point
            else:
                # Saddle set = x_star + null(A^T)  x  y_star + null(A); distance via projections onto ranges.
                x_star = jnp.asarray(-pinv64.T @ c64, A.dtype)
                y_star = jnp.asarray(-pinv64 @ b64, A.dtype)
                equilibrium = (x_star, y_star)
                px = jnp.asarray(Ur @ Ur.T, A.dtype)  # projector onto range(A)
                py = jnp.asarray(Vr @ Vr.T, A.dtype)  # projector onto range(A^T)

                def distance(x, y):
                    return jnp.sqrt(jnp.sum((px @ (x - x_star)) ** 2) + jnp.sum((py @ (y - y_star)) ** 2))

    return mm.Game(
        value=value,
        init=_normal_init(n, m, A.dtype),
        equilibrium=equilibrium,
        distance=distance if equilibrium is not None else None,
        name="bilinear",
    )


def quadratic(A, P=None, Q=None, b=None, c=None) -> mm.Game:
    r"""The quadratic game :math:`f = \tfrac12 x^\top P x + x^\top A y - \tfrac12 y^\top Q y + b^\top x + c^\top y`.

    Its Jacobian is :math:`J = \begin{pmatrix} P & A \\ -A^\top & Q \end{pmatrix}` and the stationary point solves
    :math:`J z^* = (-b, c)`; it is attached as ``equilibrium`` whenever J is invertible, and it is a saddle point
    when :math:`P, Q \succeq 0` (convex-concave). For indefinite P or Q it is only a stationary point of the
    dynamics, which is still what local-stability studies linearise around. With :math:`P, Q \succ 0` the game is strongly monotone (GDA converges for
    :math:`\eta < 2\,\mathrm{Re}\lambda/|\lambda|^2` over the eigenvalues of J) and has best responses
    :math:`x = -P^{-1}(Ay + b)`, :math:`y = Q^{-1}(A^\top x + c)`, so the duality gap is exact.

    Args:
      A: the ``(n, m)`` coupling matrix.
      P: ``(n, n)`` symmetric curvature of x (default 0).
      Q: ``(m, m)`` symmetric curvature of y (default 0). Best responses (and the duality gap) are attached when
        both are given and positive definite; for traced P and Q (inside ``vmap``) they are attached unchecked.
      b: linear term of x, ``(n,)``.
      c: linear term of y, ``(m,)``.

    Returns:
      A zero-sum :class:`minimax.Game`.
    """
    A = _checks.as_float_array(A, "A", 2)
    n, m = A.shape
    P = _checks.optional_square(P, n, "P", A.dtype)
    Q = _checks.optional_square(Q, m, "Q", A.dtype)
    b = _checks.optional_vector(b, n, "b", A.dtype)
    c = _checks.optional_vector(c, m, "c", A.dtype)
    PP = jnp.zeros((n, n), A.dtype) if P is None else P
    QQ = jnp.zeros((m, m), A.dtype) if Q is None else Q
    bb = jnp.zeros(n, A.dtype) if b is None else b
    cc = jnp.zeros(m, A.dtype) if c is None else c
    for name, M in (("P", P), ("Q", Q)):
        if M is not None and _checks.is_concrete(M) and not np.allclose(np.asarray(M), np.asarray(M).T, atol=1e-6):
            raise ValueError(f"{name}: expected a symmetric matrix")

    def value(x, y):
        return 0.5 * x @ PP @ x + x @ A @ y - 0.5 * y @ QQ @ y + bb @ x + cc @ y

    J = jnp.block([[PP, A], [-A.T, QQ]])
    rhs = jnp.concatenate([-bb, cc])
    equilibrium = None
    best_x = best_y = None
    concrete = all(_checks.is_concrete(v) for v in (A, PP, QQ, bb, cc))
    if not concrete or np.linalg.matrix_rank(np.asarray(J, np.float64)) == n + m:
        z_star = jnp.linalg.solve(J, rhs)
        equilibrium = (z_star[:n], z_star[n:])
    if P is not None and Q is not None:
        # Best responses need P, Q > 0; checked when the matrices are concrete, the caller's promise when traced.
        pd = lambda M: bool(np.all(np.linalg.eigvalsh(np.asarray(M, np.float64)) > 0))  # noqa: E731
        if not concrete or (pd(P) and pd(Q)):

            def best_x(y):
                return -jnp.linalg.solve(PP, A @ y + bb)

            def best_y(x):
                return jnp.linalg.solve(QQ, A.T @ x + cc)

    return mm.Game(
        value=value,
        init=_normal_init(n, m, A.dtype),
        equilibrium=equilibrium,
        best_response_x=best_x,
        best_response_y=best_y,
        name="quadratic",
    )


def dirac_gan(gamma: float = 0.0) -> mm.Game:
    r"""The Dirac-GAN of Mescheder, Geiger and Nowozin (2018).

    Data is a point mass at 0, the generator a point mass at :math:`\theta` (= x, a scalar), the discriminator
    :math:`d(t) = \sigma(\psi t)` with :math:`\psi` = y. The GAN value with an R1 penalty
    :math:`(\gamma/2)\psi^2` on the discriminator (the squared gradient of its logit on the data) is

    .. math:: f(\theta, \psi) = \log\sigma(\psi \cdot 0) + \log\sigma(-\psi\theta) - \tfrac{\gamma}{2}\psi^2 .

    The equilibrium is (0, 0) with value :math:`-\log 4`. There the Jacobian is
    :math:`\begin{pmatrix} 0 & -1/2 \\ 1/2 & \gamma \end{pmatrix}`: purely imaginary eigenvalues for
    :math:`\gamma = 0` (simultaneous GD spirals out, alternating GD cycles), real part :math:`\gamma/2 > 0`
    with the penalty (both converge for small steps).

    Args:
      gamma: R1 weight :math:`\gamma \ge 0`.

    Returns:
      A zero-sum :class:`minimax.Game` over scalars, started at :math:`\theta, \psi \sim N(0, 1)`.
    """
    gamma = _checks.non_negative(gamma, "gamma")

    def value(theta, psi):
        return (
            jax.nn.log_sigmoid(psi * jnp.zeros_like(theta))
            + jax.nn.log_sigmoid(-psi * theta)
            - 0.5 * gamma * psi**2
        )

    def init(key):
        kx, ky = jax.random.split(key)
        return jax.random.normal(kx, ()), jax.random.normal(ky, ())

    zero = jnp.zeros(())
    return mm.Game(value=value, init=init, equilibrium=(zero, zero), name=f"dirac_gan(gamma={gamma:g})")
