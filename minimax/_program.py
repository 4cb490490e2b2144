"""What a game or solver computes, as a hashable description: compilation caches keyed by value, not identity.

A game or a solver is a tree of closures (``optax.adam(1e-3)`` is a NamedTuple of two functions closing over
``b1``, ``b2``, ``eps`` and a step size). :func:`split` walks that tree through function closures, defaults,
``functools.partial``, bound methods, tuples, lists, dicts and NamedTuples and returns

* a *skeleton*: hashable, equal for two objects built by the same code from equal arguments (code objects, module
  globals, ints, strings, bools, the bytes of concrete arrays), and
* the *leaves*: with ``holes=True``, every Python float and floating-point array in the tree, taken out so that a
  compiled function can receive them as data. The skeleton then has a hole where each one was.

:func:`join` rebuilds the object from a skeleton and (possibly traced) leaves, with fresh closures: inside a
``jax.jit`` this gives a solver whose step sizes are arguments of the compiled program rather than constants baked
into it, so ``optax.sgd(0.2)`` after ``optax.sgd(0.1)`` reuses the compilation.

Objects the walk does not know (class instances without value equality, builtins, jitted functions) are kept as
they are and compared by identity, so a tree that cannot be described by value still works, just cached by
identity as before. The objects are treated as immutable: a closure over a list that is later mutated would be
described by its old contents.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
import types
from collections import OrderedDict
from typing import Any

import jax
import numpy as np

__all__ = ["split", "join", "fingerprint", "Skeleton"]

# Arrays larger than this are compared by identity: hashing their bytes on every call would cost more than it saves.
_HASH_LIMIT_BYTES = 1 << 24


class _Identity:
    """A node compared by the identity of ``obj``; holds a reference so that the id is not reused."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, _Identity) and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)

    def __repr__(self):
        return f"<identity {type(self.obj).__name__}>"


class Skeleton:
    """A hashable description of an object tree with holes for its float leaves (see the module docstring).

    ``key`` is what equality and hashing use; ``original`` is the object itself, used by :func:`join` for the
    sub-trees that have no hole (any object with an equal skeleton computes the same thing)."""

    __slots__ = ("kind", "key", "children", "original", "holes", "_hash")

    def __init__(self, kind, key, children, original):
        self.kind, self.key, self.children, self.original = kind, key, tuple(children), original
        self.holes = sum(c.holes for c in self.children) + (1 if kind == "hole" else 0)
        self._hash = hash((kind, key, self.children))

    def __eq__(self, other):
        if self is other:
            return True
        return (isinstance(other, Skeleton) and self._hash == other._hash and self.kind == other.kind
                and self.key == other.key and self.children == other.children)

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"Skeleton({self.kind}, holes={self.holes})"


_HOLE_KEY = "hole"
_SCALARS = (bool, int, str, bytes, type(None), complex, type(Ellipsis), range, type)


def _is_array(obj) -> bool:
    return isinstance(obj, (np.ndarray, np.generic, jax.Array))


def _array_node(obj, holes: bool, leaves: list) -> Skeleton:
    if isinstance(obj, jax.core.Tracer):
        if holes:
            leaves.append(obj)
            return Skeleton("hole", (_HOLE_KEY,), (), None)
        return Skeleton("id", _Identity(obj), (), obj)
    dtype = np.dtype(obj.dtype) if not jax.dtypes.issubdtype(obj.dtype, jax.dtypes.prng_key) else None
    if dtype is None:  # a PRNG key array: compare its key data
        return _array_node(jax.random.key_data(obj), False, leaves)
    if holes and np.issubdtype(dtype, np.floating):
        leaves.append(obj)
        return Skeleton("hole", (_HOLE_KEY,), (), None)
    if obj.nbytes > _HASH_LIMIT_BYTES:
        return Skeleton("id", _Identity(obj), (), obj)
    data = np.ascontiguousarray(np.asarray(obj))
    digest = hashlib.blake2b(data.tobytes(), digest_size=16).digest()
    return Skeleton("array", (type(obj).__name__, data.shape, str(data.dtype), digest), (), obj)


def _value_equality(obj) -> bool:
    """Whether ``obj`` defines its own equality and hash (a frozen dataclass, an enum, ...)."""
    cls = type(obj)
    if cls.__eq__ is object.__eq__ or cls.__hash__ is None:
        return False
    try:
        hash(obj)
    except TypeError:
        return False
    return True


def split(obj: Any, *, holes: bool = False) -> tuple[Skeleton, list]:
    """``(skeleton, leaves)`` of ``obj``; with ``holes`` the floats and floating-point arrays become leaves."""
    leaves: list = []
    skeleton = _split(obj, holes, leaves, set())
    return skeleton, leaves


def _split(obj, holes, leaves, visiting) -> Skeleton:
    if isinstance(obj, float):  # before the scalars: np.float64 is a float too
        if holes:
            leaves.append(obj)
            return Skeleton("hole", (_HOLE_KEY,), (), None)
        return Skeleton("value", (type(obj).__name__, repr(float(obj))), (), obj)
    if isinstance(obj, _SCALARS):
        return Skeleton("value", (type(obj), obj), (), obj)
    if _is_array(obj):
        return _array_node(obj, holes, leaves)
    if id(obj) in visiting:  # a cycle (a closure over itself): compare by identity
        return Skeleton("id", _Identity(obj), (), obj)
    visiting.add(id(obj))
    try:
        return _split_container(obj, holes, leaves, visiting)
    finally:
        visiting.discard(id(obj))


def _split_container(obj, holes, leaves, visiting) -> Skeleton:
    rec = lambda o: _split(o, holes, leaves, visiting)  # noqa: E731
    describe = getattr(obj, "_minimax_program", None)  # the library's own classes say which fields are static
    if describe is not None and not isinstance(obj, type):
        static, dynamic = describe()
        return Skeleton("program", (type(obj), static), [rec(v) for v in dynamic], obj)
    if isinstance(obj, types.FunctionType):
        cells, contents = [], []
        for cell in obj.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell (a name assigned after the inner function was defined)
                cells.append(Skeleton("empty", (), (), None))
                contents.append(None)
                continue
            cells.append(rec(value))
            contents.append(value)
        parts = [
            Skeleton("cells", (), cells, contents),
            rec(obj.__defaults__),
            rec(obj.__kwdefaults__),
            rec(dict(obj.__dict__)) if obj.__dict__ else Skeleton("value", (type(None), None), (), None),
        ]
        return Skeleton("function", (obj.__code__, _Identity(obj.__globals__)), parts, obj)
    if isinstance(obj, functools.partial):
        return Skeleton("partial", (type(obj),), [rec(obj.func), rec(obj.args), rec(dict(obj.keywords))], obj)
    if isinstance(obj, types.MethodType):
        return Skeleton("method", (), [rec(obj.__func__), rec(obj.__self__)], obj)
    if type(obj) in (tuple, list) or (isinstance(obj, tuple) and hasattr(obj, "_fields")):
        return Skeleton("sequence", (type(obj), len(obj)), [rec(v) for v in obj], obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type) and obj.__dataclass_params__.frozen:
        names = tuple(f.name for f in dataclasses.fields(obj))
        return Skeleton("dataclass", (type(obj), names), [rec(getattr(obj, n)) for n in names], obj)
    if type(obj) is dict:
        keys = tuple(obj)
        try:
            hash(keys)
        except TypeError:
            return Skeleton("id", _Identity(obj), (), obj)
        return Skeleton("dict", keys, [rec(obj[k]) for k in keys], obj)
    if _value_equality(obj):
        return Skeleton("value", (type(obj), obj), (), obj)
    return Skeleton("id", _Identity(obj), (), obj)


def join(skeleton: Skeleton, leaves) -> Any:
    """The object described by ``skeleton`` with its holes filled, in order, by ``leaves``."""
    it = iter(leaves)
    out = _join(skeleton, it)
    if next(it, _END) is not _END:
        raise ValueError("join: more leaves than the skeleton has holes")
    return out


_END = object()


def _join(node: Skeleton, it):
    if node.kind == "hole":
        return next(it)
    if node.holes == 0:
        return node.original
    children = [_join(c, it) for c in node.children]
    kind, obj = node.kind, node.original
    if kind == "program":
        return obj._minimax_rebuild(children)
    if kind == "function":
        cells_node = node.children[0]  # its values: the original contents, or rebuilt ones where it has holes
        cells = tuple(types.CellType(v) if c.kind != "empty" else types.CellType()
                      for c, v in zip(cells_node.children, children[0]))
        fn = types.FunctionType(obj.__code__, obj.__globals__, obj.__name__, children[1], cells or None)
        fn.__kwdefaults__ = children[2]
        fn.__qualname__, fn.__module__, fn.__doc__ = obj.__qualname__, obj.__module__, obj.__doc__
        if children[3]:
            fn.__dict__.update(children[3])
        return fn
    if kind == "cells":
        return children
    if kind == "partial":
        func, args, keywords = children
        return type(obj)(func, *args, **keywords)
    if kind == "method":
        return types.MethodType(children[0], children[1])
    if kind == "sequence":
        if type(obj) in (tuple, list):
            return type(obj)(children)
        return type(obj)(*children)
    if kind == "dict":
        return dict(zip(node.key, children))
    if kind == "dataclass":  # frozen: fill the fields without running __post_init__ again
        new = object.__new__(type(obj))
        for name, value in zip(node.key[1], children):
            object.__setattr__(new, name, value)
        return new
    raise AssertionError(f"join: a {kind} node cannot have holes")


# -- cached descriptions ------------------------------------------------------------------------------------------
_CACHE: "OrderedDict[tuple, tuple]" = OrderedDict()
_CACHE_SIZE = 512
_LOCK = threading.Lock()


def fingerprint(obj: Any, *, holes: bool = False) -> tuple[Skeleton, list]:
    """:func:`split`, remembered per object (by identity, holding a reference) for the last few hundred objects:
    a cached call of :func:`minimax.run` pays a dictionary lookup, not a walk of the closures."""
    key = (id(obj), holes)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] is obj:
            _CACHE.move_to_end(key)
            return hit[1], hit[2]
    skeleton, leaves = split(obj, holes=holes)
    if not any(isinstance(leaf, jax.core.Tracer) for leaf in leaves) and not _has_tracer(skeleton):
        with _LOCK:
            _CACHE[key] = (obj, skeleton, leaves)
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return skeleton, leaves


def _has_tracer(node: Skeleton) -> bool:
    if node.kind == "id" and isinstance(node.original, jax.core.Tracer):
        return True
    return any(_has_tracer(c) for c in node.children)
