"""Sphinx configuration: the README's sections as pages (docs/guide/, included from README.md) and the API
reference from the docstrings (docs/api/, autodoc + napoleon).

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` from the repository root.
"""

import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # document this checkout, installed or not
os.environ.setdefault("JAX_PLATFORMS", "cpu")  # importing the library for autodoc needs no accelerator

import minimax  # noqa: E402

project = "minimax"
release = version = minimax.__version__
author = "the minimax authors"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

# Docstrings are Google style (Args:, Returns:, Attributes:, Example:).
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_attr_annotations = False  # "Type: Any" under every NamedTuple field says nothing
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
add_module_names = False  # objects are documented under their public names (minimax.run shows as run)

# Every cross-reference must resolve (CI builds with -W), except to libraries this build does not link to.
nitpicky = True
nitpick_ignore_regex = [("py:.*", r"(jax|jaxlib|jnp|np|numpy|optax|chex|matplotlib|os|pathlib)\..*")]

# README's pages keep the README's heading levels ("###" under a page title), which docutils nests correctly.
suppress_warnings = ["myst.header"]

html_theme = "alabaster"
html_title = "minimax"


def _resolve_in_package(app, env, node, contnode):
    """Docstrings name objects as their module sees them (``:func:`run``` in ``minimax.driver``,
    ``minimax.compare.compare``); the reference documents them under their public names (``minimax.run``). Try
    those before calling a reference unresolved."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    target = node["reftarget"].lstrip("~.")
    module = node.get("py:module") or ""
    parts = target.split(".")
    candidates = [f"{module}.{target}" if module else target, f"minimax.{target}", f"games.{target}"]
    # minimax.compare.compare -> minimax.compare, minimax.plot.dynamics.convergence -> minimax.plot.convergence
    candidates += [".".join(parts[:i] + parts[i + 1:]) for i in range(1, len(parts) - 1)]
    for candidate in candidates:
        if candidate in domain.objects:  # "obj": a module and the function of the same name (minimax.sweep)
            return domain.resolve_xref(env, node["refdoc"], app.builder, "obj", candidate, node, contnode)
    within = [name for name in domain.objects if name.endswith("." + target)]  # SOLVERS -> minimax.compare.SOLVERS
    if len(within) == 1:
        return domain.resolve_xref(env, node["refdoc"], app.builder, "obj", within[0], node, contnode)
    return None


def _drop_builtin_type_docs(app, what, name, obj, options, lines):
    """A constant without a doc comment (``minimax.DENSE_LIMIT``, re-exported) would show its type's docstring
    (``int([x]) -> integer ...``); the page's own text describes it instead."""
    doc = type(obj).__doc__
    if what == "data" and doc and lines and lines[0].strip() == doc.strip().splitlines()[0].strip():
        lines.clear()


def setup(app):
    app.connect("missing-reference", _resolve_in_package)
    app.connect("autodoc-process-docstring", _drop_builtin_type_docs)
