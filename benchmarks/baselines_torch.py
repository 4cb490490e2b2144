"""PyTorch eager baselines: the benchmark's algorithms written as a PyTorch user would, one Python step at a time.

Each function mirrors a minimax computation exactly (the same update rule, model sizes, batch, number of gradient
evaluations), so the benchmark compares the execution model, not the algorithm:

* :func:`eg_scalar`: extragradient with plain SGD steps on f(x, y) = x y (workload 1);
* :func:`eg_bilinear`: the same on f = x^T A y for a batch of independent runs (workload 2);
* :class:`RingGAN`: the 8-Gaussian ring GAN (two hidden layers of 128, ReLU, batch 512, latent dim 2) trained with
  Adam, simultaneously or by Extra-Adam (the optimizer state advances at both half-steps, as
  ``mm.extragradient(optax.adam(...))`` does; Gidel et al. 2019) (workloads 3 and 4b).

Gradients come from autograd, as in any PyTorch training loop; updates are applied in place without autograd.
Needs the ``bench`` extra (``pip install -e ".[bench]"``, which pins ``torch==2.13.0``).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F


def configure(threads: int) -> dict:
    """``threads`` intra-op threads (the machine's cores), and denormals flushed to zero as XLA's CPU backend does.

    Without the flush, PyTorch spends up to 30% more time on the GAN (and 50x more on workload 2) computing with
    denormal numbers (Adam's second moments of tiny gradients, iterates decaying toward zero) that XLA rounds to 0.
    """
    torch.set_num_threads(threads)
    flushed = torch.set_flush_denormal(True)
    return {"threads": torch.get_num_threads(), "flush_denormal": bool(flushed)}


def eg_scalar(x0: float, y0: float, lr: float, steps: int) -> tuple[float, float]:
    """Extragradient on f = x y with step ``lr``; returns the final (x, y)."""
    x = torch.tensor(x0, requires_grad=True)
    y = torch.tensor(y0, requires_grad=True)
    for _ in range(steps):
        gx, gy = torch.autograd.grad(x * y, (x, y))
        with torch.no_grad():
            xh, yh = x - lr * gx, y + lr * gy  # x descends, y ascends
        xh.requires_grad_(True)
        yh.requires_grad_(True)
        gx, gy = torch.autograd.grad(xh * yh, (xh, yh))
        with torch.no_grad():
            x.sub_(lr * gx)
            y.add_(lr * gy)
    return float(x), float(y)


def eg_bilinear(A: np.ndarray, X0: np.ndarray, Y0: np.ndarray, lr: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Extragradient on f_i = x_i^T A y_i for a batch of runs (rows of X0, Y0); returns the final batch."""
    A = torch.as_tensor(A)
    X = torch.tensor(X0, requires_grad=True)
    Y = torch.tensor(Y0, requires_grad=True)

    def value(X, Y):  # the sum over runs: each run's gradient is its own
        return ((X @ A) * Y).sum()

    for _ in range(steps):
        gx, gy = torch.autograd.grad(value(X, Y), (X, Y))
        with torch.no_grad():
            Xh, Yh = X - lr * gx, Y + lr * gy
        Xh.requires_grad_(True)
        Yh.requires_grad_(True)
        gx, gy = torch.autograd.grad(value(Xh, Yh), (Xh, Yh))
        with torch.no_grad():
            X.sub_(lr * gx)
            Y.add_(lr * gy)
    return X.detach().numpy(), Y.detach().numpy()


def mlp(sizes: Sequence[int]) -> torch.nn.Sequential:
    """Linear layers with ReLU between them; weights N(0, 1/fan_in), zero biases (as ``games.mlp``)."""
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = torch.nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            layer.weight.normal_(0.0, 1.0 / math.sqrt(fan_in))
            layer.bias.zero_()
        layers.append(layer)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class RingGAN:
    """The ring GAN in PyTorch eager mode: ``v = E log sigmoid(D(real)) + E log sigmoid(-D(G(z)))``.

    G minimises v, D maximises it; both with ``torch.optim.Adam(lr, betas=(b1, 0.999), eps=1e-8)``, whose update
    ``-lr * m_hat / (sqrt(v_hat) + eps)`` is optax.adam's. One backward pass gives both players' gradients, as
    in minimax's zero-sum games.
    """

    def __init__(self, *, lr: float = 1e-4, b1: float = 0.5, batch: int = 512, latent: int = 2, hidden: int = 128,
                 radius: float = 2.0, std: float = 0.02, modes: int = 8, seed: int = 0, foreach: Optional[bool] = None):
        torch.manual_seed(seed)
        self.batch, self.latent, self.std = batch, latent, std
        self.G = mlp([latent, hidden, hidden, 2])
        self.D = mlp([2, hidden, hidden, 1])
        angles = 2 * np.pi * np.arange(modes) / modes
        self.means = torch.tensor(radius * np.stack([np.cos(angles), np.sin(angles)], axis=1), dtype=torch.float32)
        self.params_g = list(self.G.parameters())
        self.params_d = list(self.D.parameters())
        kwargs = dict(lr=lr, betas=(b1, 0.999), eps=1e-8, foreach=foreach)
        self.opt_g = torch.optim.Adam(self.params_g, **kwargs)
        self.opt_d = torch.optim.Adam(self.params_d, **kwargs)

    def load(self, g_params, d_params) -> None:
        """Copies minimax/JAX parameters (tuples of ``{"w": (in, out), "b": (out,)}``) into the networks."""
        for net, params in ((self.G, g_params), (self.D, d_params)):
            linears = [m for m in net if isinstance(m, torch.nn.Linear)]
            with torch.no_grad():
                for layer, p in zip(linears, params):
                    layer.weight.copy_(torch.as_tensor(np.array(p["w"]).T))
                    layer.bias.copy_(torch.as_tensor(np.array(p["b"])))

    def export(self):
        """The parameters as NumPy ``{"w", "b"}`` tuples, in minimax's layout."""
        out = []
        for net in (self.G, self.D):
            linears = [m for m in net if isinstance(m, torch.nn.Linear)]
            out.append(tuple({"w": m.weight.detach().numpy().T.copy(), "b": m.bias.detach().numpy().copy()}
                             for m in linears))
        return tuple(out)

    def field(self, batch):
        """The vector field ``(grad_G v, -grad_D v)`` on ``batch``, as NumPy ``{"w", "b"}`` tuples in minimax's layout;
        parameters and optimizer state are left as they were."""
        self._set_grads(batch)
        out = []
        for net in (self.G, self.D):
            linears = [m for m in net if isinstance(m, torch.nn.Linear)]
            out.append(tuple({"w": m.weight.grad.numpy().T.copy(), "b": m.bias.grad.numpy().copy()} for m in linears))
        for p in self.params_g + self.params_d:
            p.grad = None
        return tuple(out)

    def sample(self):
        idx = torch.randint(0, self.means.shape[0], (self.batch,))
        real = self.means[idx] + self.std * torch.randn(self.batch, 2)
        return real, torch.randn(self.batch, self.latent)

    def value(self, real, z):
        return F.logsigmoid(self.D(real)).mean() + F.logsigmoid(-self.D(self.G(z))).mean()

    def _set_grads(self, batch) -> None:
        v = self.value(*batch)
        grads = torch.autograd.grad(v, self.params_g + self.params_d)
        n = len(self.params_g)
        for p, g in zip(self.params_g, grads[:n]):
            p.grad = g
        for p, g in zip(self.params_d, grads[n:]):
            p.grad = -g  # D maximises v: Adam descends -v

    def _apply(self) -> None:
        self.opt_g.step()
        self.opt_d.step()

    def simultaneous_step(self, batch=None) -> None:
        self._set_grads(batch if batch is not None else self.sample())
        self._apply()

    def extragradient_step(self, batches=None) -> None:
        """Extra-Adam: extrapolate with Adam (state s -> s1), take Adam's update at the extrapolated point with
        state s1 -> s2, and apply it to the base point."""
        params = self.params_g + self.params_d
        base = [p.detach().clone() for p in params]
        self._set_grads(batches[0] if batches is not None else self.sample())
        self._apply()  # z_half = z + u(F(z); s), state s1
        self._set_grads(batches[1] if batches is not None else self.sample())  # F(z_half)
        with torch.no_grad():
            for p, b in zip(params, base):
                p.copy_(b)
        self._apply()  # z + u(F(z_half); s1), state s2

    def train(self, steps: int, solver: str) -> None:
        step = self.simultaneous_step if solver == "simultaneous" else self.extragradient_step
        for _ in range(steps):
            step()
