"""Argument checks shared by the game factories: they run at construction, before any tracing."""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(a) -> bool:
    return not isinstance(a, jax.core.Tracer)


def float_dtype(dtype, name: str = "dtype"):
    """``dtype`` as a floating-point NumPy dtype, or None for None; anything else is refused naming ``name``."""
    if dtype is None:
        return None
    try:
        floating = jnp.issubdtype(jnp.dtype(dtype), jnp.floating)
    except TypeError:
        floating = False
    if not floating:
        raise TypeError(f"{name}: expected a floating-point dtype such as jnp.float32, or None, got {dtype!r}")
    return jnp.dtype(dtype)


def as_float_array(a, name: str, ndim: int) -> jax.Array:
    """``a`` as a floating-point array with ``ndim`` dimensions (integers are promoted), finite if concrete."""
    try:
        arr = jnp.asarray(a)
    except TypeError as err:
        raise TypeError(f"{name}: expected an array, got {type(a).__name__}") from err
    except ValueError as err:  # a ragged nested list
        raise ValueError(f"{name}: expected a rectangular array, got a ragged {type(a).__name__} ({err})") from err
    if arr.ndim != ndim:
        kind = {1: "a vector", 2: "a matrix"}.get(ndim, f"a {ndim}-d array")
        raise ValueError(f"{name}: expected {kind}, got an array of shape {arr.shape}")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        if jnp.issubdtype(arr.dtype, jnp.complexfloating) or arr.dtype == jnp.bool_:
            raise TypeError(f"{name}: expected real numbers, got dtype {arr.dtype}")
        arr = arr.astype(jnp.result_type(float))
    if is_concrete(arr) and not bool(jnp.all(jnp.isfinite(arr))):
        raise ValueError(f"{name}: contains non-finite entries")
    if 0 in arr.shape:
        raise ValueError(f"{name}: must not be empty, got shape {arr.shape}")
    return arr


def optional_vector(v, size: int, name: str, dtype):
    if v is None:
        return None
    arr = as_float_array(v, name, 1).astype(dtype)
    if arr.shape != (size,):
        raise ValueError(f"{name}: expected shape ({size},), got {arr.shape}")
    return arr


def optional_square(M, size: int, name: str, dtype):
    if M is None:
        return None
    arr = as_float_array(M, name, 2).astype(dtype)
    if arr.shape != (size, size):
        raise ValueError(f"{name}: expected shape ({size}, {size}), got {arr.shape}")
    return arr


def non_negative(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    return float(value)
