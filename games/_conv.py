"""2-D convolutions of the DCGAN players as matrix products: the same numbers as ``jax.lax``'s, faster on CPU.

XLA's CPU convolution is slow for these small layers inside a compiled loop, which is where :func:`minimax.run`
trains: one simultaneous step of the stacked-digits DCGAN (batch 64, width 32) took 16 ms jitted on its own but
142 ms per step inside a ``lax.scan`` on the 2-core benchmark machine, most of it in the gradient of the
generator's transposed convolution (92 ms per step there against 3 ms here). Written as slices, one matrix product
per layer (or per output phase) and reshapes, the same step takes about 11 ms in the loop.
``benchmarks/gan_digits.py`` measures it against PyTorch.

Both functions take NHWC inputs and HWIO kernels and use the "SAME" padding of ``jax.lax``:

- :func:`conv` equals ``lax.conv_general_dilated(x, w, (s, s), "SAME", dimension_numbers=("NHWC", "HWIO",
  "NHWC"))``. It gathers the k x k shifted views of the padded input into patches and multiplies them by the
  kernel, or, for a stride-1 layer with fewer output than input channels (the generator's last layer), multiplies
  first and adds the k x k shifted output maps, the smaller intermediate of the two.
- :func:`conv_transpose` equals ``lax.conv_transpose(x, w, (s, s), "SAME", ...)`` (kernel not flipped). Output
  pixel ``s a + p`` of a stride-s transposed convolution sees only the taps ``i`` with ``i = pa - p (mod s)``
  (``pa`` the transposed convolution's leading pad), so each of the s x s output phases is an ordinary
  convolution of the undilated input with its subset of taps; the phases are interleaved at the end. This skips
  the (s^2 - 1)/s^2 zeros a dilated input would multiply.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["conv", "conv_transpose"]


def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    """The (before, after) padding of lax's "SAME" for a forward convolution."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _transpose_lead(k: int, s: int) -> int:
    """The leading pad lax's "SAME" transposed convolution gives its dilated input (its trailing pad makes the
    output s times the input)."""
    return k - 1 if s > k - 1 else -(-(k + s - 2) // 2)


def conv(x: jax.Array, w: jax.Array, stride: int) -> jax.Array:
    """``lax.conv_general_dilated(x, w, (stride, stride), "SAME")`` in NHWC/HWIO, as matrix products."""
    kh, kw, cin, cout = w.shape
    n, h, wd, _ = x.shape
    (top, bottom), (left, right) = _same_pads(h, kh, stride), _same_pads(wd, kw, stride)
    if stride == 1 and cout < cin:  # multiply first: k*k*cout numbers a pixel instead of k*k*cin
        y = (x.reshape(-1, cin) @ w.transpose(2, 0, 1, 3).reshape(cin, kh * kw * cout)).reshape(
            n, h, wd, kh, kw, cout)
        y = jnp.pad(y, ((0, 0), (top, bottom), (left, right), (0, 0), (0, 0), (0, 0)))
        out = y[:, :h, :wd, 0, 0, :]
        for i in range(kh):
            for j in range(kw):
                if i or j:
                    out = out + y[:, i:i + h, j:j + wd, i, j, :]
        return out
    x = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    views = [x[:, i:i + (oh - 1) * stride + 1:stride, j:j + (ow - 1) * stride + 1:stride, :]
             for i in range(kh) for j in range(kw)]
    patches = jnp.concatenate(views, axis=-1) if len(views) > 1 else views[0]  # (n, oh, ow, kh*kw*cin)
    return (patches.reshape(-1, kh * kw * cin) @ w.reshape(kh * kw * cin, cout)).reshape(n, oh, ow, cout)


def conv_transpose(x: jax.Array, w: jax.Array, stride: int) -> jax.Array:
    """``lax.conv_transpose(x, w, (stride, stride), "SAME")`` in NHWC/HWIO, one matrix product per output phase."""
    kh, kw, cin, cout = w.shape
    n, h, wd, _ = x.shape
    s = stride
    lead_h, lead_w = _transpose_lead(kh, s), _transpose_lead(kw, s)
    # Phase p of an axis: the taps i with (i - lead + p) divisible by s, each reading input offset (i - lead + p)/s.
    taps_h = [[(i, (i - lead_h + p) // s) for i in range(kh) if (i - lead_h + p) % s == 0] for p in range(s)]
    taps_w = [[(j, (j - lead_w + q) // s) for j in range(kw) if (j - lead_w + q) % s == 0] for q in range(s)]
    ph = max([abs(d) for taps in taps_h for _, d in taps] or [0])
    pw = max([abs(d) for taps in taps_w for _, d in taps] or [0])
    xp = jnp.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    rows = []
    for p in range(s):
        phases = []
        for q in range(s):
            pairs = [(i, di, j, dj) for i, di in taps_h[p] for j, dj in taps_w[q]]
            if not pairs:  # a phase no tap reaches (kernel smaller than the stride): zeros
                phases.append(jnp.zeros((n, h, wd, cout), jnp.result_type(x, w)))
                continue
            views = [xp[:, ph + di:ph + di + h, pw + dj:pw + dj + wd, :] for _, di, _, dj in pairs]
            patches = jnp.concatenate(views, axis=-1) if len(views) > 1 else views[0]
            kernel = jnp.stack([w[i, j] for i, _, j, _ in pairs]).reshape(len(pairs) * cin, cout)
            phases.append((patches.reshape(-1, len(pairs) * cin) @ kernel).reshape(n, h, wd, cout))
        rows.append(jnp.stack(phases, axis=3))  # (n, h, w, s, cout): column phase q
    return jnp.stack(rows, axis=2).reshape(n, h * s, wd * s, cout)  # (n, h, s, w, s, cout): row phase p
