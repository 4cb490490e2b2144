"""The README's commands are the ones CI runs, and the README's quickstart is executed by pytest (doctest)."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _bash_blocks(text):
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_commands():
    readme = (ROOT / "README.md").read_text()
    blocks = _bash_blocks(readme)
    test_blocks = [b for b in blocks if "pytest" in b]
    assert len(test_blocks) == 1, test_blocks
    commands = test_blocks[0].splitlines()
    # The default suite (with the install, so that it is the one command a fresh machine needs), then the slow tests.
    assert commands == ['python -m pip install -e ".[dev]" && python -m pytest -n 2', "python -m pytest -n 2 -m slow"]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert [ci.index(c) for c in commands] == sorted(ci.index(c) for c in commands)  # in CI, in that order


def test_readme_main_job_is_the_module_entry_point():
    readme = (ROOT / "README.md").read_text()
    main_jobs = [b for b in _bash_blocks(readme) if "python -m minimax" in b]
    assert main_jobs == ['python -m pip install -e ".[plot]" && python -m minimax']


def test_ci_builds_the_docs_with_the_readme_command():
    readme = (ROOT / "README.md").read_text()
    docs_commands = [b for b in _bash_blocks(readme) if "sphinx" in b]
    assert docs_commands == ['python -m pip install -e ".[docs]" && python -m sphinx -W --keep-going -b html docs '
                             'docs/_build/html']
    assert docs_commands[0] in (ROOT / ".ci" / "run").read_text().splitlines()


# -- the reference (docs/): checked from its sources, so these tests need no Sphinx ---------------------------------
def _documented():
    """``(directive, dotted name)`` of every ``.. auto...:: name`` in the API pages."""
    found = []
    for page in sorted((ROOT / "docs" / "api").glob("*.rst")):
        found += re.findall(r"^\.\. (auto\w+):: (\S+)\s*$", page.read_text(), flags=re.M)
    return found


def _resolve(dotted):
    """What autodoc documents for ``dotted``: the longest importable module short of the last name, then attributes
    (``minimax.compare`` is the function, ``minimax.compare.SOLVERS`` a constant of the module)."""
    import importlib

    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_the_reference_documents_every_public_name():
    import games
    import games.datasets
    import games.digit_metrics
    import games.mixtures
    import minimax
    import minimax.plot

    documented = {name for _, name in _documented()}
    public = ([f"minimax.{n}" for n in minimax.__all__] + [f"games.{n}" for n in games.__all__]
              + [f"games.{m}.{n}" for m in ("mixtures", "datasets", "digit_metrics")
                 for n in getattr(games, m).__all__]
              + [f"minimax.plot.{n}" for n in minimax.plot.__all__] + ["minimax.progress.ProgressBar"])
    assert [n for n in public if n not in documented] == []


def test_every_name_in_the_reference_exists_once():
    import importlib
    import inspect

    objects = [name for directive, name in _documented() if directive != "automodule"]
    assert sorted(n for n in set(objects) if objects.count(n) > 1) == []
    missing = []
    for directive, name in _documented():
        try:
            obj = importlib.import_module(name) if directive == "automodule" else _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
            continue
        kind = {"automodule": inspect.ismodule, "autofunction": callable, "autoclass": inspect.isclass,
                "autoexception": lambda o: inspect.isclass(o) and issubclass(o, BaseException)}.get(directive)
        if kind is not None and not kind(obj):
            missing.append(f"{name} (not what {directive} documents)")
    assert missing == []


def _readme_sections(readme):
    return re.findall(r"^## (.+)$", readme, flags=re.M)


def test_every_readme_section_is_a_guide_page():
    readme = (ROOT / "README.md").read_text()
    sections = _readme_sections(readme)
    for heading in sections:
        assert readme.count(f"## {heading}") == 1, f"include marker '## {heading}' is not unique in README.md"
    pages = {}
    for page in (ROOT / "docs" / "guide").glob("*.md"):
        text = page.read_text()
        start = re.search(r'^:start-after: "## (.+)"$', text, flags=re.M)
        end = re.search(r'^:end-before: "## (.+)"$', text, flags=re.M)
        assert start is not None, page
        pages[start.group(1)] = (page, end.group(1) if end else None)
    assert sorted(pages) == sorted(sections)
    index = (ROOT / "docs" / "index.md").read_text()
    for i, heading in enumerate(sections):
        page, end = pages[heading]
        assert end == (sections[i + 1] if i + 1 < len(sections) else None), (page, end)  # the whole section
        assert page.read_text().startswith(f"# {heading}\n"), page
        assert re.search(rf"^guide/{page.stem}$", index, flags=re.M), f"{page.name} is not in docs/index.md"


def test_every_mm_and_games_name_in_the_readme_exists_in_a_fresh_process():
    """``import minimax as mm, games`` alone must give every ``mm.X`` and ``games.X`` the README uses (a submodule
    that another import happened to load does not count), and what the README calls must be callable."""
    import json
    import os
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text()
    fenced = r"```[a-z]*\n(.*?)```"
    sources = re.findall(fenced, readme, flags=re.S)
    sources += re.findall(r"`([^`\n]+)`", re.sub(fenced, "", readme, flags=re.S))
    used, called = set(), set()
    for src in sources:
        for m in re.finditer(r"(?<![\w.])((?:mm|games)(?:\.[A-Za-z_]\w*)+)(\()?", src):
            used.add(m.group(1))
            if m.group(2):
                called.add(m.group(1))
    solvers = readme[readme.index("\n## Solvers\n"):readme.index("\n## Games\n")]
    for factory in re.findall(r"^\| `([a-z_]+)[(`]", solvers, flags=re.M):  # the solver table's first column
        used.add(f"mm.{factory}")
        called.add(f"mm.{factory}")
    assert {"mm.compare", "mm.sweep", "mm.run", "games.mixtures.ring", "mm.lola"} <= used
    script = (
        "import json, sys\nimport minimax as mm, games\nbad = []\n"
        "for name, call in json.loads(sys.argv[1]):\n"
        "    obj = {'mm': mm, 'games': games}[name.split('.')[0]]\n"
        "    try:\n"
        "        for attr in name.split('.')[1:]:\n"
        "            obj = getattr(obj, attr)\n"
        "    except AttributeError:\n"
        "        bad.append(name); continue\n"
        "    if call and not callable(obj):\n"
        "        bad.append(name + ' (not callable)')\n"
        "print(json.dumps(bad))\n"
    )
    names = json.dumps(sorted((n, n in called) for n in used))
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", script, names], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
