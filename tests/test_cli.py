"""The ``minimax`` command line and the comparison behind it.

Bad arguments: one line on stderr, exit status 2, no traceback, nothing compiled. Good ones: a table, JSON and CSV
rows that agree, plots on request, and a comparison whose vmapped cells equal separate runs.
"""

import csv
import importlib
import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import games
import minimax as mm
from minimax import cli
from minimax.cli import compare as cli_compare

comparison = importlib.import_module("minimax.compare")  # the module; mm.compare is the function

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "notebooks" / "examples" / "my_game.py"
TINY = ["--steps", "40", "--seeds", "2", "--progress", "never"]


@pytest.fixture
def nothing_compiles(monkeypatch):
    """A bad argument must be refused before any cell is compiled."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a cell was compiled")

    monkeypatch.setattr(comparison, "compile_cell", forbidden)


def _usage_error(capsys, argv, expected):
    code = cli.main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, captured
    assert len(err.splitlines()) == 1, err
    assert err.startswith("minimax")
    assert "Traceback" not in err
    assert expected in err, err
    return err


# -- bad arguments --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, expected", [
    (["compare", "--game", "nope"], "--game: unknown game 'nope'; built-in games: bilinear"),
    (["compare", "--solvers", "gda"], "--solvers: unknown solver 'gda'; known: simultaneous"),
    (["compare", "--solvers", ","], "--solvers: expected comma-separated solver names"),
    (["compare", "--step-sizes", "-0.1"], "--step-sizes: expected comma-separated positive numbers"),
    (["compare", "--step-sizes=0.1,0"], "--step-sizes: expected comma-separated positive numbers"),
    (["compare", "--step-sizes", "fast"], "got 'fast'"),
    (["compare", "--step-sizes", "nan"], "--step-sizes"),
    (["compare", "--steps", "0"], "argument --steps: expected a positive integer, got '0'"),
    (["compare", "--seeds", "two"], "argument --seeds: expected a positive integer, got 'two'"),
    (["--steps", "-3"], "argument --steps: expected a positive integer, got '-3'"),
    (["compare", "--game", "bilinear", "--solvers", "extragradient,mwu"],
     "--solvers: mwu works only on games whose players are both on a simplex"),
    (["compare", "--json", "/no/such/folder/rows.json"], "--json: the folder '/no/such/folder' of"),
    (["compare", "--json", "-", "--csv", "-"], "--json, --csv: only one of them can write to standard output"),
    (["compare", "--progress", "sometimes"], "argument --progress: invalid choice: 'sometimes'"),
    (["compare", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["compare", "--step-sizes", "0.1:0"], "--step-sizes: expected comma-separated positive numbers such as 0.05,0.1 "
     "or pairs X:Y"),
    (["compare", "--step-sizes", "0.1:0.2:0.3"], "--step-sizes: expected"),
    (["compare", "--solvers", "proximal_point", "--step-sizes", "0.1:0.2"],
     "--step-sizes: proximal_point takes one step size for both players, got 0.1:0.2"),
    (["compare", "--optimizer", "lbfgs"], "--optimizer: unknown optimizer 'lbfgs'; known: sgd, adam, rmsprop"),
    (["compare", "--set", "gamma=0.3"], "--set: expected NAME.KEY=VALUE (e.g. consensus.gamma=0.3), got 'gamma=0.3'"),
    (["compare", "--set", "consensus.gamma=0.3"], "--set consensus.gamma=0.3: consensus is not among --solvers"),
    (["compare", "--solvers", "consensus", "--set", "consensus.lam=1"],
     "--set consensus.lam=1: consensus has no setting 'lam'; its settings: gamma"),
    (["compare", "--solvers", "consensus", "--set", "consensus.gamma=big"],
     "--set consensus.gamma=big: expected a number, got 'big'"),
    (["compare", "--solvers", "lookahead", "--set", "lookahead.k=2.5"], "--set lookahead.k=2.5: expected an integer"),
    (["compare", "--solvers", "lookahead", "--set", "lookahead.inner=nope"],
     "--set lookahead.inner=nope: expected a solver name other than lookahead"),
    (["compare", "--set", "adam.b1=0.5"], "--set adam.b1=0.5: the optimizer is sgd (choose it with --optimizer adam)"),
    (["compare", "--set", "frob.x=1"], "--set frob.x=1: 'frob' is neither a solver with settings nor an optimizer"),
    (["compare", "--solvers", "consensus", "--set", "consensus.gamma=-1"], "--set: building consensus failed: gamma"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_print_one_line_and_exit_2(capsys, nothing_compiles, argv, expected):
    _usage_error(capsys, argv, expected)


def test_out_that_is_a_file_is_refused(capsys, nothing_compiles, tmp_path):
    target = tmp_path / "plots"
    target.write_text("")
    _usage_error(capsys, ["compare", "--out", str(target)], f"--out: {str(target)!r} exists and is not a folder")


# -- loading a user's game ------------------------------------------------------------------------------------------
GOOD = "import jax.numpy as jnp\nimport minimax as mm\n"
CASES = {
    "import_error": ("import not_a_module_xyz\n", "make_game",
                     "importing {path} failed: ModuleNotFoundError: No module named 'not_a_module_xyz'"),
    "syntax_error": ("def make_game(:\n", "make_game", "importing {path} failed: SyntaxError"),
    "raises_at_import": ("raise RuntimeError('no data here')\n", "make_game",
                         "importing {path} failed: RuntimeError: no data here"),
    "missing_attribute": (GOOD + "def make_game():\n    pass\n", "make_gam",
                          "{path} defines no 'make_gam' (it defines: make_game)"),
    "not_callable": ("make_game = 3\n", "make_game", "{path}:make_game is a int, not a function returning"),
    "factory_raises": ("def make_game():\n    raise ValueError('gamma must be positive')\n", "make_game",
                       "calling make_game() from {path} failed: ValueError: gamma must be positive"),
    "needs_arguments": ("def make_game(n):\n    pass\n", "make_game",
                        "calling make_game() from {path} failed: TypeError: make_game() missing 1 required"),
    "returns_other": ("def make_game():\n    return 42\n", "make_game",
                      "make_game() from {path} returned a int, expected a minimax.Game"),
    "no_init": (GOOD + "def make_game():\n    return mm.Game(value=lambda x, y: x * y)\n", "make_game",
                "the game has no init function"),
    "payoff_fails": (GOOD + "def make_game():\n    return mm.Game(value=lambda x, y: x @ y,\n"
                     "                   init=lambda key: (jnp.ones(2), jnp.ones(3)))\n", "make_game",
                     "value: calling it on x0 (2,) and y0 (3,) failed"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_game_files(capsys, nothing_compiles, tmp_path, case):
    source, attr, expected = CASES[case]
    path = tmp_path / f"{case}.py"
    path.write_text(source)
    _usage_error(capsys, ["compare", "--game", f"{path}:{attr}"], expected.format(path=path))


def test_missing_game_file(capsys, nothing_compiles, tmp_path):
    _usage_error(capsys, ["compare", "--game", f"{tmp_path}/absent.py:make_game"],
                 f"--game: no such file '{tmp_path}/absent.py'")


def test_missing_module(capsys, nothing_compiles):
    _usage_error(capsys, ["compare", "--game", "no_such_package_xyz.games:make_game"],
                 "--game: no module named 'no_such_package_xyz'")


def test_spec_without_function(capsys, nothing_compiles):
    _usage_error(capsys, ["compare", "--game", "games.toy:"], "--game: expected a built-in name, path/to/file.py")


def test_game_from_a_module_in_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "mygames_pkg").mkdir()
    (tmp_path / "mygames_pkg" / "__init__.py").write_text("")
    (tmp_path / "mygames_pkg" / "saddle.py").write_text(
        "import jax.numpy as jnp\nimport games\n\ndef make_game():\n    return games.bilinear(2.0 * jnp.eye(2))\n")
    monkeypatch.chdir(tmp_path)
    before = list(sys.path)
    label, game = cli_compare.load_game("mygames_pkg.saddle:make_game", games.BUILTIN)
    assert label == "bilinear"
    assert game.equilibrium[0].shape == (2,)
    assert sys.path == before  # the loader removes the folder it added


def test_a_file_alone_means_make_game():
    label, game = cli_compare.load_game(str(EXAMPLE), games.BUILTIN)
    assert label == "tanh_game"
    assert isinstance(game, mm.Game)


# -- runs -----------------------------------------------------------------------------------------------------------
def test_example_game_rows_match_theory(tmp_path, capsys):
    """The shipped example: J = [[0, 1], [-1, 0.1]] at (0, 0), so GDA's radius is |1 - eta * lambda|."""
    out = tmp_path / "rows.json"
    code = cli.main(["compare", "--game", f"{EXAMPLE}:make_game", "--solvers", "simultaneous,extragradient",
                     "--step-sizes", "0.05,0.2", "--json", str(out)] + TINY)
    assert code == 0, capsys.readouterr().err
    rows = json.loads(out.read_text())
    assert [(r["solver"], r["step_size"]) for r in rows] == [
        ("simultaneous", 0.05), ("simultaneous", 0.2), ("extragradient", 0.05), ("extragradient", 0.2)]
    lam = 0.05 + 1j * np.sqrt(1 - 0.05**2)
    for r in rows[:2]:
        np.testing.assert_allclose(r["radius"], abs(1 - r["step_size"] * lam), rtol=1e-5)
    assert rows[0]["radius"] < 1 < rows[1]["radius"]
    assert all(r["game"] == "tanh_game" and r["seeds"] == 2 and r["steps"] == 40 for r in rows)
    assert rows[1]["compile_seconds"] == 0.0  # the second step size reused the first one's compilation
    table = capsys.readouterr().out
    assert "tanh_game: 40 steps, 2 seeds" in table
    assert len([line for line in table.splitlines() if line.startswith(("simultaneous", "extragradient"))]) == 4


def test_json_on_stdout_and_csv_rows_agree(tmp_path, capsys):
    c = tmp_path / "rows.csv"
    argv = ["compare", "--game", "bilinear", "--solvers", "optimistic", "--step-sizes", "0.1,0.2", "--json", "-",
            "--csv", str(c)] + TINY
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)  # JSON alone on stdout; the table moved to stderr
    with open(c, newline="") as f:
        table = list(csv.DictReader(f))
    assert [(r["game"], r["step_size"], r["metric"]) for r in rows] == [("bilinear", 0.1, "dist"),
                                                                         ("bilinear", 0.2, "dist")]
    assert list(table[0]) == list(cli_compare.CSV_FIELDS)
    for r, t in zip(rows, table):
        assert float(t["final"]) == pytest.approx(r["final"], rel=1e-12)
        assert float(t["radius"]) == pytest.approx(r["radius"], rel=1e-12)
        assert t["verdict"] == r["verdict"]
        assert int(t["seeds"]) == 2
    # OGDA on f = xy: each Jacobian eigenvalue mu = +-i gives lambda^2 - (1 - 2 eta mu) lambda - eta mu = 0.
    expected = [max(abs(np.roots([1, -(1 - 2j * eta), -1j * eta]))) for eta in (0.1, 0.2)]
    np.testing.assert_allclose([r["radius"] for r in rows], expected, rtol=1e-5)
    assert "rate/step" in captured.err and f"rows written as CSV to {c}" in captured.err


def test_out_writes_the_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    argv = ["compare", "--game", "bilinear", "--game", "rock_paper_scissors", "--solvers", "extragradient",
            "--out", str(tmp_path / "plots")] + TINY
    assert cli.main(argv) == 0
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["bilinear_convergence.png", "bilinear_phase.png", "bilinear_spectrum.png",
                     "rock_paper_scissors_convergence.png", "rock_paper_scissors_simplex.png"]
    for name in names:
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "plots written to" in capsys.readouterr().out


def test_bare_command_runs_the_builtin_comparison_with_plots(monkeypatch, capsys):
    """``minimax`` and ``minimax compare`` alone: bilinear and Dirac-GAN, defaults, plots in ./minimax-out."""
    calls, plotted = [], []

    def fake_compare(game, solver_names, **kwargs):
        calls.append((game.name, tuple(getattr(s, "name", s) for s in solver_names), kwargs["steps"], kwargs["seeds"],
                      kwargs["step_sizes"]))
        return []

    monkeypatch.setattr(cli_compare.comparison, "compare", fake_compare)
    monkeypatch.setattr(cli_compare, "_write_plots", lambda game, label, rows, out: plotted.append((label, out)) or [])
    monkeypatch.setattr(cli_compare, "_check_plots", lambda out, explicit: True)
    monkeypatch.setattr(cli_compare.os, "makedirs", lambda *a, **k: None)
    for argv in ([], ["compare"]):
        calls.clear(), plotted.clear()
        assert cli.main(argv) == 0
        solvers = ("simultaneous", "alternating", "extragradient", "optimistic")
        assert calls == [("bilinear", solvers, 3000, 4, [0.1]), ("dirac_gan(gamma=0)", solvers, 3000, 4, [0.1])]
        assert plotted == [("bilinear", "minimax-out"), ("dirac_gan", "minimax-out")]
    calls.clear(), plotted.clear()
    assert cli.main(["compare", "--steps", "10"]) == 0  # any option: plots only with --out
    assert plotted == [] and calls[0][2] == 10
    capsys.readouterr()


def test_help_explains_every_option_with_an_example(capsys):
    assert cli.main(["compare", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--game", "--solvers", "--step-sizes", "--optimizer", "--set", "--steps", "--seeds", "--seed",
                   "--json", "--csv", "--out", "--progress"):
        assert f"Example: {option}" in " ".join(text.split()), option
    assert cli.main(["--help"]) == 0
    assert "compare" in capsys.readouterr().out


def test_entry_point_in_a_subprocess_and_no_matplotlib_in_the_core():
    code = ("import sys, minimax, minimax.cli, minimax.compare, games\n"
            "assert 'matplotlib' not in sys.modules, 'the core imported matplotlib'\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "minimax", "compare", "--seeds", "0"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "minimax: error: argument --seeds: expected a positive integer, got '0' (see 'minimax compare --help')"]


# -- the comparison library -----------------------------------------------------------------------------------------
def test_each_cell_equals_separate_runs_and_step_sizes_share_a_compilation():
    game = games.bilinear(jnp.array([[1.0]]))
    key = jax.random.key(3)
    seen = []
    rows = comparison.compare(game, ["optimistic"], step_sizes=[0.1, 0.3], steps=60, seeds=3, key=key,
                              record_every=10, keep_results=True, record_iterates=True,
                              progress=lambda done, total: seen.append((int(done), int(total))))
    assert [r["compile_seconds"] > 0 for r in rows] == [True, False]
    for row, lr in zip(rows, (0.1, 0.3)):
        trace = row["result"].trace
        assert trace["dist"].shape == (3, 7) and trace["z"].shape == (3, 7, 2)
        solver = mm.optimistic_gda(optax.sgd(lr))
        for seed in range(3):
            ref = mm.run(game, solver, steps=60, key=jax.random.fold_in(key, seed), record_every=10)
            np.testing.assert_allclose(trace["dist"][seed], ref.trace["dist"], rtol=1e-5)
            np.testing.assert_allclose(trace["z"][seed, -1], jnp.concatenate([ref.x, ref.y]), rtol=1e-5)
    assert seen[-1] == (120, 120)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))


def test_compare_rejects_bad_progress():
    with pytest.raises(TypeError, match="progress: expected a function"):
        comparison.compare(games.bilinear(jnp.eye(1)), ["simultaneous"], steps=5, progress=3)


def test_rates_of_a_diverged_run_are_measured_before_the_divergence():
    """After a non-finite iterate a trace repeats the last finite metrics; rates must not see that flat tail."""
    game = games.bilinear(jnp.array([[1.0]]))
    (row,) = comparison.compare(game, ["simultaneous"], step_sizes=[1.5], steps=400, seeds=2)
    assert row["verdict"] == "diverged" and 0 < row["diverged_at"] < 400
    np.testing.assert_allclose(row["rate_step"], np.sqrt(1 + 1.5**2), rtol=1e-4)  # sqrt(1 + eta^2 sigma^2)
    np.testing.assert_allclose(row["rate_eval"], np.sqrt(1 + 1.5**2), rtol=1e-4)
    np.testing.assert_allclose(row["radius"], np.sqrt(1 + 1.5**2), rtol=1e-6)


def test_without_matplotlib_an_explicit_out_is_refused_and_the_bare_run_skips_plots(
        monkeypatch, capsys, nothing_compiles, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    _usage_error(capsys, ["compare", "--out", str(tmp_path / "plots")],
                 "--out: plots need matplotlib; install it with: python -m pip install -e '.[plot]'")
    assert cli_compare._check_plots(str(tmp_path / "plots"), explicit=False) is False
    assert "note: plots skipped, matplotlib is not installed" in capsys.readouterr().err


# -- robust summaries ------------------------------------------------------------------------------------------------
STALL = ROOT / "notebooks" / "examples" / "stall_game.py"


def test_a_blown_up_seed_is_named_and_does_not_swamp_the_row(tmp_path, capsys):
    """Consensus with step 0.5 on the stall game: seed 3 (start at distance 2) blows up at step 5, the other three
    settle at distance 0.096. The row's final is their median, the spread shows the blow-up, the verdict names it."""
    out = tmp_path / "rows.json"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "Mean of empty slice" or overflow warnings
        code = cli.main(["compare", "--game", str(STALL), "--solvers", "consensus", "--step-sizes", "0.5",
                         "--steps", "2000", "--progress", "never", "--json", str(out)])
    table = capsys.readouterr().out
    assert code == 0
    (row,) = json.loads(out.read_text())
    assert 0.09 < row["final"] < 0.1 and row["final_min"] > 0.09 and row["final_max"] > 1e30
    assert (row["verdict"], row["verdicts"], row["diverged_steps"]) == ("stalled", {"stalled": 3, "diverged": 1}, [5])
    assert row["verdict_summary"] == "3 stalled, 1 diverged@5"
    assert row["avg_metric"] == "dist_avg" and row["final_avg"] < 1e-3  # the orbit's average sits at (0, 0)
    lines = table.splitlines()
    assert lines[0].startswith("stall_game: 2000 steps, 4 seeds")  # no blank first line
    assert lines[1] == "settings: optimizer sgd (momentum=0 nesterov=False); consensus gamma=0.5"
    assert lines[4].startswith("consensus") and lines[4].endswith("3 stalled, 1 diverged@5")
    assert "9.587e-02" in lines[4] and "3.92e+38" in lines[4]  # median, then spread (largest / smallest)


def test_verdict_summary():
    assert comparison.verdict_summary({"converged": 4}) == "converged"
    assert comparison.verdict_summary({"diverged": 2}, [9, 6]) == "diverged@6"
    assert comparison.verdict_summary({"converged": 3, "diverged": 1}, [6]) == "3 converged, 1 diverged@6"
    assert comparison.verdict_summary({"stalled": 1, "cycling": 2, "noise floor": 1}) == \
        "2 cycling, 1 stalled, 1 noise floor"


def test_the_header_comes_before_the_first_compilation(monkeypatch, capsys):
    seen = []

    def fake_compare(game, solver_names, **kwargs):
        seen.append(capsys.readouterr().out)  # what was printed when the comparison (and its compiling) began
        return []

    monkeypatch.setattr(cli_compare.comparison, "compare", fake_compare)
    assert cli.main(["compare", "--game", "bilinear", "--game", "dirac_gan"] + TINY) == 0
    assert seen[0].splitlines()[0].startswith("bilinear: 40 steps, 2 seeds")
    assert seen[0].splitlines()[2].split()[:4] == ["solver", "step", "metric", "final"]
    assert seen[1].splitlines()[0] == ""  # a blank line between games, none before the first


# -- optimizers, settings, two timescales ---------------------------------------------------------------------------
def test_every_named_solver_is_its_settings_tables_default():
    for name in comparison.SOLVER_SPECS:
        assert comparison.SOLVERS[name](0.1) == comparison.solver_factory(name)(0.1), name
    assert set(comparison.SOLVER_SPECS) <= set(comparison.SOLVERS)
    f = comparison.solver_factory("consensus", settings={"gamma": 0.3})
    assert f == comparison.solver_factory("consensus", settings={"gamma": 0.3}) and hash(f) == hash(
        comparison.solver_factory("consensus", settings={"gamma": 0.3}))  # cells are cached by value
    with pytest.raises(ValueError, match="settings: consensus has no setting 'lam'; its settings: gamma"):
        comparison.solver_factory("consensus", settings={"lam": 1.0})
    with pytest.raises(ValueError, match="optimizer: proximal_point takes step sizes, not an optax optimizer"):
        comparison.solver_factory("proximal_point", optimizer="adam")
    with pytest.raises(ValueError, match="step_sizes: \\(0.1, 0.2\\) gives y a step size of its own"):
        comparison.compare(games.bilinear(jnp.eye(1)), [lambda lr: mm.simultaneous_gda(optax.sgd(lr))],
                           step_sizes=[(0.1, 0.2)], steps=5)


def test_the_accelerated_and_unrolled_solvers_take_their_settings_from_set():
    per_solver, _ = cli_compare._settings(
        ["fast_extragradient.rho=-0.02,fast_extragradient.lipschitz=4", "unrolled.unroll=2",
         "anchored_extragradient_varying.lipschitz=2"],
        ["fast_extragradient", "unrolled", "anchored_extragradient_varying"], "sgd")
    assert per_solver == {"fast_extragradient": {"rho": -0.02, "lipschitz": 4.0}, "unrolled": {"unroll": 2},
                          "anchored_extragradient_varying": {"lipschitz": 2.0}}
    make = lambda name: comparison.solver_factory(name, settings=per_solver[name])(0.1)  # noqa: E731
    assert make("fast_extragradient") == mm.fast_extragradient(0.1, rho=-0.02, lipschitz=4.0)
    assert make("unrolled") == mm.unrolled(optax.sgd(0.1), optax.sgd(0.1), unroll=2)
    assert make("anchored_extragradient_varying") == mm.anchored_extragradient(0.1, variant="varying",
                                                                               lipschitz=2.0)
    # the defaults: EAG-V's L tied to the step, FEG's lipschitz unchecked (none)
    assert comparison.solver_factory("anchored_extragradient_varying")(0.2) == mm.anchored_extragradient(
        0.2, variant="varying", lipschitz=mm.EAG_V_MAX_STEP / 0.2)
    assert cli_compare._settings(["fast_extragradient.lipschitz=none"], ["fast_extragradient"], "sgd")[0] == {
        "fast_extragradient": {"lipschitz": None}}
    with pytest.raises(cli_compare.UsageError, match="--set unrolled.unroll=1.5: expected an integer"):
        cli_compare._settings(["unrolled.unroll=1.5"], ["unrolled"], "sgd")


def test_help_lists_every_hidden_default(capsys):
    assert cli.main(["compare", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for line in ("consensus gamma=0.5", "sga lam=1 align=False", "lookahead inner=simultaneous k=5 alpha=0.5",
                 "cgd eta=step cg_steps=10", "proximal_point inner_steps=20 (takes step sizes, not --optimizer)",
                 "adam b1=0.9 b2=0.999 eps=1e-08 eps_root=0"):
        assert line in text, line


def test_two_timescales_settings_and_the_optimizer_reach_the_rows(tmp_path, capsys):
    out = tmp_path / "rows.json"
    argv = ["compare", "--game", "bilinear", "--solvers", "simultaneous,consensus", "--step-sizes", "0.1:0.2",
            "--set", "consensus.gamma=0.3", "--json", str(out)] + TINY
    assert cli.main(argv) == 0, capsys.readouterr().err
    table = capsys.readouterr().out.splitlines()
    assert table[1] == "settings: optimizer sgd (momentum=0 nesterov=False); consensus gamma=0.3"
    assert table[4].split()[:2] == ["simultaneous", "0.1:0.2"]
    sim, cons = json.loads(out.read_text())
    assert (sim["step_size"], sim["step_size_y"], sim["optimizer"], sim["settings"]) == (0.1, 0.2, "sgd", {})
    assert sim["radius"] == pytest.approx(np.sqrt(1 + 0.1 * 0.2), rel=1e-6)  # eigenvalues 1 +- i sqrt(eta_x eta_y)
    assert cons["settings"] == {"gamma": 0.3}
    # consensus on f = xy with J^T J = I: x's and y's factors 1 - eta gamma -+ i eta for eta_x = eta_y; here the
    # update is I - diag(eta) (J + gamma I); its eigenvalues solve (1 - .1 g - l)(1 - .2 g - l) + .02 = 0
    expected = max(abs(np.roots([1, -(2 - 0.3 * 0.3), (1 - 0.03) * (1 - 0.06) + 0.02])))
    assert cons["radius"] == pytest.approx(expected, rel=1e-6)

    argv = ["compare", "--game", "bilinear", "--solvers", "extragradient,proximal_point", "--optimizer", "adam",
            "--set", "adam.b1=0.5", "--json", str(out)] + TINY
    assert cli.main(argv) == 0, capsys.readouterr().err
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == ("settings: optimizer adam (b1=0.5 b2=0.999 eps=1e-08 eps_root=0); proximal_point "
                        "inner_steps=20 (step sizes, no optimizer)")
    eg, prox = json.loads(out.read_text())
    assert eg["optimizer"] == "adam" and eg["optimizer_settings"]["b1"] == 0.5
    assert eg["radius"] is None and "second-moment estimate v is exactly zero" in eg["radius_note"]
    assert any(line.startswith("* extragradient 0.1: extragradient: its adaptive optimizer") for line in lines)
    assert prox["optimizer"] is None and prox["settings"] == {"inner_steps": 20}


def test_a_solver_without_a_settings_table_takes_a_step_size_only(monkeypatch, capsys, nothing_compiles):
    monkeypatch.setitem(comparison.SOLVERS, "plain", lambda lr: mm.simultaneous_gda(optax.sgd(lr)))
    _usage_error(capsys, ["compare", "--solvers", "plain", "--optimizer", "adam"],
                 "--solvers: plain takes one step size and plain SGD here (it has no settings table)")
