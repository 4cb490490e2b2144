"""The XLA compile options minimax gives the loops it compiles (``run``, ``sweep``, ``compare``).

On CPU, this jaxlib hands matrix products and reductions to YNNPACK fusions by default. For the products of small
networks (a 512 x 128 batch through a 128 x 128 layer, the GAN benchmark's hidden layer) XLA's Eigen path was
faster on the 2-core benchmark machine: with products on Eigen and reductions left on YNNPACK a ring-GAN training
step took 0.85-0.89 of its time with XLA's defaults (``benchmarks/interleaved_checks.py``; per product 155-169 us
on YNNPACK against 52-77 us on Eigen, ``benchmarks/profile_gan_step.py``). Batched 64 x 64 bilinear games ran 2%
slower that way and a Dirac-GAN batch 1%, so this is a choice for networks. The option changes which library
multiplies, not what is multiplied: results agree to float rounding.

The option is left alone when the user's ``XLA_FLAGS`` already set it, when ``MINIMAX_XLA_DEFAULTS=0`` is in the
environment, on other backends, and on a jaxlib that does not know it (checked once by compiling a one-line
function). ``run`` decides them once, at its first compilation; ``sweep`` and ``compare`` at each of theirs. JAX
takes compile options only on a top-level ``jax.jit``, so :func:`minimax.run` called inside
``jit``/``vmap``/``scan`` compiles with the enclosing jit's options (XLA's defaults unless given): pass
``compiler_options=minimax.compiler_options()`` to your own ``jax.jit`` for the same speed.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any, Callable, Optional

import jax

__all__ = ["compiler_options", "top_level", "LazyJit"]

_CPU_OPTIONS = (("xla_cpu_experimental_ynn_fusion_type", "LIBRARY_FUSION_TYPE_REDUCE"),)


@functools.lru_cache(maxsize=None)
def _accepted(options: tuple) -> bool:
    try:
        jax.jit(lambda a: a + 1, compiler_options=dict(options)).lower(1.0).compile()
    except Exception:  # noqa: BLE001 - an unknown option is refused at compile time with a runtime error
        return False
    return True


def compiler_options(backend: Optional[str] = None) -> Optional[dict]:
    """The compile options minimax uses on ``backend`` (default: JAX's default backend), or None for XLA's own.

    On CPU: ``{"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_REDUCE"}`` (YNNPACK for reductions
    only, so matrix products go through Eigen),
    unless ``XLA_FLAGS`` names that option, ``MINIMAX_XLA_DEFAULTS=0`` is set, or the installed jaxlib does not
    know it. For your own ``jax.jit`` around :func:`minimax.run`: ``jax.jit(f,
    compiler_options=mm.compiler_options())``.

    Example:
      >>> import minimax as mm
      >>> opts = mm.compiler_options()
      >>> opts is None or isinstance(opts, dict)
      True
    """
    if os.environ.get("MINIMAX_XLA_DEFAULTS", "1").strip() == "0":
        return None
    if (backend or jax.default_backend()) != "cpu":
        return None
    flags = os.environ.get("XLA_FLAGS", "")
    options = tuple((k, v) for k, v in _CPU_OPTIONS if k not in flags)
    if not options or not _accepted(options):
        return None
    return dict(options)


def top_level() -> bool:
    """Whether this call is outside every JAX transformation; ``jax.jit`` takes ``compiler_options`` only there.
    False (no options, never an error) on a JAX without the internal function asked."""
    try:
        from jax._src import core
        return bool(core.trace_state_clean())
    except (ImportError, AttributeError):
        return False


class LazyJit:
    """``jax.jit(fun, **kwargs)`` that compiles with :func:`compiler_options` when called outside any JAX
    transformation and as a plain jit inside one (JAX refuses options on a jit traced inside another trace; under
    a top-level ``vmap`` too this takes the plain jit, i.e. XLA's defaults). Both are built at the first call
    rather than at import: deciding the options needs the backend, and importing minimax must not start one. The
    options (and ``MINIMAX_XLA_DEFAULTS``) are read then, once. Attributes (``lower``, ``_cache_size``, ...) are
    those of the top-level variant."""

    def __init__(self, fun: Callable, **jit_kwargs: Any):
        self._fun, self._kwargs, self._top, self._nested = fun, jit_kwargs, None, None
        self._lock = threading.Lock()
        functools.update_wrapper(self, fun)

    def _get(self, top: bool = True):
        if self._top is None:
            with self._lock:  # first calls from several threads: one builds, the others wait for both variants
                if self._top is None:
                    nested = jax.jit(self._fun, **self._kwargs)
                    options = compiler_options()
                    self._nested = nested
                    self._top = jax.jit(self._fun, compiler_options=options, **self._kwargs) if options else nested
        return self._top if top else self._nested

    def __call__(self, *args, **kwargs):
        return self._get(top_level())(*args, **kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__") or "_top" not in self.__dict__:  # no recursion on a half-built instance
            raise AttributeError(name)
        return getattr(self._get(), name)
