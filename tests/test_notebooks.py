"""Every notebook in ``notebooks/`` executes in quick mode, against this checkout, and is stored without outputs.

Quick mode (``MINIMAX_NOTEBOOK_QUICK=1``) selects small step counts; plots use the Agg backend. The kernel is this
interpreter (a kernelspec written to a temporary ``JUPYTER_PATH``, which takes precedence over any installed
``python3`` spec), with the repository root on ``PYTHONPATH``, so the notebooks import the checkout's ``minimax``
and ``games`` whether or not the package is installed.
"""

import json
import os
import pathlib
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "minimax-tests"
WHERE = "import minimax, games; print(minimax.__file__); print(games.__file__)"


def test_the_notebooks_are_there():
    names = [p.stem for p in NOTEBOOKS]
    for name in ("00_quickstart", "10_bilinear_dynamics", "20_your_own_game", "30_matrix_games", "40_dirac_gan",
                 "70_gan_digits"):
        assert name in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs_and_has_a_quick_mode(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [len(c.outputs) for c in code] == [0] * len(code)
    assert [c.execution_count for c in code] == [None] * len(code)
    assert 'os.environ.get("MINIMAX_NOTEBOOK_QUICK") == "1"' in code[0].source


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "minimax tests",
                                                  "language": "python"}))
    return folder


# The GAN notebooks train GANs (40 s and more on the 2-core CPU); 10, 30 and 40 compile every solver several
# times (7-16 s each). The README's slow step runs them; the default run keeps the quickstart and your-own-game.
SLOW_NOTEBOOKS = {"10_bilinear_dynamics", "30_matrix_games", "40_dirac_gan", "50_gan_mixtures", "60_gan_spectra",
                  "70_gan_digits"}


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.stem in SLOW_NOTEBOOKS else p
                                  for p in NOTEBOOKS], ids=lambda p: p.stem)
def test_notebook_executes(path, jupyter_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    monkeypatch.setenv("MINIMAX_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WHERE))
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=600,
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, with the failing cell's traceback, on any error
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    where = "".join(o.get("text", "") for o in code[-1].outputs).split()
    assert [pathlib.Path(p).resolve().parent.parent for p in where] == [ROOT, ROOT]  # the checkout's packages
