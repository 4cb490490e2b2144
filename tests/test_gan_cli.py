"""``minimax gan`` on the command line, and the GAN plots."""

import io
import json
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import games
import minimax as mm
from minimax.cli import main
from minimax.cli import gan as gan_cli

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


@pytest.mark.slow  # 6 s on the 2-core CPU (the README's slow step runs it)
def test_gan_subcommand_trains_prints_metrics_and_writes_a_png(tmp_path, capsys):
    out = tmp_path / "plots" / "gan_grid_optimistic.png"
    code = main(["gan", "--data", "grid", "--solver", "optimistic", "--steps", "3", "--batch-size", "8",
                 "--width", "4", "--depth", "1", "--out", str(tmp_path / "plots"), "--progress", "never"])
    assert code == 0
    captured = capsys.readouterr()
    text = captured.out
    assert captured.err == ""  # no bar with --progress never, no deprecation note
    assert "gan: grid (25 modes), optimistic, 3 steps" in text
    modes = int(text.split("modes covered")[1].split("/")[0])
    assert 0 <= modes <= 25 and "/25" in text
    hq = float(text.split("high quality")[1].split("%")[0])
    assert 0.0 <= hq <= 100.0
    assert "steps done      3" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow  # 9 s on the 2-core CPU (the README's slow step runs it)
def test_gan_spectrum_every_prints_and_plots_the_spectra_along_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["gan", "--data", "ring", "--steps", "4", "--batch-size", "16", "--width", "4", "--depth", "1",
                     "--spectrum-every", "2", "--spectrum-k", "4", "--output", "samples.png", "--no-progress"])
    assert code == 0
    assert not [w for w in caught if issubclass(w.category, mm.LinearisationWarning)]  # notes, not warnings
    captured = capsys.readouterr()
    text = captured.out
    # the old spellings still work, each with a note naming the new one
    assert captured.err.splitlines() == [
        "minimax gan: note: --output is deprecated and goes in the next release; use --out DIR",
        "minimax gan: note: --no-progress is deprecated and goes in the next release; use --progress never"]
    assert (tmp_path / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = text.split("spectra along training")[1].splitlines()[2:5]
    assert [int(row.split()[0]) for row in table] == [0, 2, 4]
    for row in table:
        top, max_re, min_re, max_im, rho = map(float, row.split()[1:])
        assert top >= max(abs(max_re), abs(min_re), max_im) - 1e-6 and rho > 0
    assert (tmp_path / "spectra_ring_simultaneous.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    notes = [line for line in text.split("spectra along training")[1].splitlines() if line.startswith("note: ")]
    assert len(notes) == len(set(notes)) >= 1  # each reason once, under the table: the ring GAN is stochastic
    assert any("is stochastic" in line for line in notes)


@pytest.mark.parametrize("argv, flag", [
    (["--data", "spiral"], "--data"),
    (["--solver", "adam"], "--solver"),
    (["--steps", "0"], "--steps"),
    (["--batch-size", "-1"], "--batch-size"),
    (["--lr", "-0.1"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--beta1", "1.0"], "--beta1"),
    (["--r1", "-1"], "--r1"),
    (["--schedule", "step"], "--schedule"),
    (["--loss", "hinge"], "--loss"),
    (["--latent-dim", "0"], "--latent-dim"),
    (["--out", "/dev/null"], "--out"),
    (["--progress", "sometimes"], "argument --progress"),
    (["--steps", "10", "--spectrum-every", "0"], "--spectrum-every"),
    (["--steps", "10", "--spectrum-every", "11"], "--spectrum-every"),
    (["--spectrum-every", "5", "--spectrum-k", "0"], "--spectrum-k"),
    (["--r2", "-0.5"], "--r2"),
    (["--seeds", "0"], "--seeds"),
    (["--seed", str(2**63 - 1), "--seeds", "2"], "--seeds"),
    (["--eval-samples", "1"], "--eval-samples"),
    (["--solver", "mwu"], "--solver"),  # entropic: needs players on a simplex
    (["--json", "/no/such/folder/runs.json"], "--json"),
    (["--data", "digits", "--steps", "0"], "--steps"),
    (["--data", "stacked-digits", "--latent-dim", "0"], "--latent-dim"),
    (["--data", "digits", "--out", "/dev/null"], "--out"),
])
def test_bad_arguments_print_one_line_and_exit_2(argv, flag, capsys):
    assert main(["gan", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and (err[0].startswith(f"minimax gan: error: {flag}:")
                              or err[0].startswith(f"minimax: error: {flag}:"))
    assert "Traceback" not in err[0]


def test_a_deprecated_spelling_is_still_checked(capsys):
    assert main(["gan", "--output", "samples.jpg"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["minimax gan: note: --output is deprecated and goes in the next release; use --out DIR",
                   "minimax gan: error: --output: expected a path ending in .png (or 'none'), got 'samples.jpg'"]


def test_unparseable_numbers_exit_2_through_argparse(capsys):
    assert main(["gan", "--steps", "many"]) == 2
    assert "--steps" in capsys.readouterr().err


def test_settings_build_the_recipe():
    settings = gan_cli.Settings(data="grid", solver="alternating", width=16, depth=3, latent_dim=5, batch_size=32)
    game, solver, generator, discriminator, mixture = gan_cli.build(settings)
    g, d = game.init(jax.random.key(0))
    assert [layer["w"].shape for layer in g] == [(5, 16), (16, 16), (16, 16), (16, 2)]
    assert [layer["w"].shape for layer in d] == [(2, 16), (16, 16), (16, 16), (16, 1)]
    assert mixture.modes == 25 and solver.name == "alternating_gda" and game.zero_sum
    lr = gan_cli.learning_rate(1e-3, 1000, "decay")
    assert float(lr(0)) == pytest.approx(1e-3) and float(lr(499)) == pytest.approx(1e-3)
    assert float(lr(1000)) == pytest.approx(1e-5, rel=1e-3)  # cosine to 1 % over the second half
    assert gan_cli.learning_rate(1e-3, 1000, "constant") == 1e-3


def test_plots_draw_samples_and_decision_surface():
    import matplotlib.pyplot as plt

    from minimax.plot import plot_decision_surface, plot_gan, plot_samples

    ring = games.mixtures.ring()
    samples = ring.sample(jax.random.key(0), 500)
    fig = plot_samples(samples, ring)
    ax = fig.axes[0]
    assert "8/8 modes" in ax.get_title() and ax.get_xlabel() == "$x_1$"
    plt.close(fig)

    disc = games.Network(lambda key: jnp.array([1.0, -1.0]), lambda p, x: x @ p)  # logit = x1 - x2
    fig = plot_decision_surface(disc, jnp.array([1.0, -1.0]), ring, samples=samples, resolution=50)
    cbar = [a for a in fig.axes if a.get_ylabel() == "$D(x)$ = P(real)"]
    assert len(fig.axes) == 2 and len(cbar) == 1
    plt.close(fig)

    gen = games.mlp([2, 8, 2])
    fig = plot_gan(gen, gen.init(jax.random.key(0)), disc, jnp.array([1.0, -1.0]), ring, latent_dim=2,
                   key=jax.random.key(1), n=300)
    assert len(fig.axes) == 3
    plt.close(fig)

    with pytest.raises(ValueError, match="2-D"):
        plot_samples(np.zeros((3, 1)), games.mixtures.gaussian_1d())
    with pytest.raises(ValueError, match="samples"):
        plot_samples(np.zeros((3, 3)), ring)


def test_help_shows_the_default_of_every_option(capsys):
    assert main(["gan", "--help"]) == 0
    parser = gan_cli.add_parser(__import__("argparse").ArgumentParser().add_subparsers())
    for action in parser._actions:
        if action.dest != "help" and not action.help.startswith("deprecated"):
            assert "(default: " in action.help, action.option_strings
    text = capsys.readouterr().out
    assert "digits, stacked-digits" in text and "--r2" in text and "--seeds" in text and "--json" in text


def test_every_compare_solver_is_a_gan_solver():
    from minimax.compare import SOLVERS as COMPARE

    assert list(gan_cli.SOLVERS) == list(COMPARE)
    for name in COMPARE:
        solver = gan_cli.make_solver(gan_cli.Settings(solver=name, steps=10))
        assert isinstance(solver, __import__("minimax").Solver)
        assert (solver.geometry == "entropic") == (name in ("mwu", "omwu", "mirror_prox")), name


def test_image_data_takes_the_dcgan_defaults():
    args = __import__("minimax.cli", fromlist=["build_parser"]).build_parser().parse_args(["gan", "--data", "digits"])
    settings = gan_cli.settings_from_args(args)
    assert (settings.width, settings.latent_dim, settings.batch_size) == (16, 16, 64)
    assert args.eval_samples == gan_cli.DIGITS_EVAL
    args = __import__("minimax.cli", fromlist=["build_parser"]).build_parser().parse_args(
        ["gan", "--data", "stacked-digits", "--width", "8"])
    settings = gan_cli.settings_from_args(args)
    assert (settings.width, settings.latent_dim) == (8, 16)
    assert args.eval_samples == games.digit_metrics.STACKED_SAMPLES
    args = __import__("minimax.cli", fromlist=["build_parser"]).build_parser().parse_args(["gan"])
    settings = gan_cli.settings_from_args(args)
    assert (settings.width, settings.latent_dim, settings.batch_size, args.eval_samples) == (128, 2, 512, 2500)


@pytest.mark.parametrize("data", ["digits", "stacked-digits"])
def test_missing_scikit_learn_names_the_extra_and_exits_2(data, monkeypatch, capsys):
    import games.datasets as datasets

    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    monkeypatch.setattr(datasets, "_raw_split", lambda: datasets._sklearn_digits())  # bypass the loaded split
    assert main(["gan", "--data", data, "--steps", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"minimax gan: error: --data {data}:")
    assert 'pip install "minimax[images]"' in err[0]


@pytest.mark.slow  # 6 s on the 2-core CPU (the README's slow step runs it)
def test_seeds_are_vmapped_and_json_reports_each_seed_and_the_times(tmp_path, capsys):
    path = tmp_path / "runs.json"
    code = main(["gan", "--data", "ring", "--solver", "past_extragradient", "--steps", "4", "--seeds", "2",
                 "--seed", "5", "--batch-size", "8", "--width", "4", "--depth", "1", "--r2", "0.5",
                 "--eval-samples", "100", "--output", "none", "--json", str(path)])
    assert code == 0
    out, err = capsys.readouterr()
    assert out.index("compiling 2 runs of 4 steps (vmapped over the seeds)") < out.index("compiled in")
    assert "seeds 5..6" in out and "r2 0.5" in out and "by seed" in out and "ms a step for 2 seeds" in out
    assert "\r" not in err  # not a terminal: no carriage returns
    record = json.loads(path.read_text())
    assert record["seeds"] == [5, 6] and [r["seed"] for r in record["runs"]] == [5, 6]
    assert record["settings"]["r2"] == 0.5 and record["settings"]["solver"] == "past_extragradient"
    assert record["compile_seconds"] > 0 and record["train_seconds"] > 0
    assert record["seconds_per_step"] == pytest.approx(record["train_seconds"] / 4)
    for run in record["runs"]:
        assert 0 <= run["modes"] <= 8 and run["num_modes"] == 8 and run["steps_completed"] == 4
        assert 0.0 <= run["high_quality"] <= 1.0
    assert len({r["final_value"] for r in record["runs"]}) == 2  # two different seeds, two different runs


def test_json_to_standard_output_moves_the_report_to_standard_error(capsys):
    code = main(["gan", "--data", "grid", "--steps", "2", "--batch-size", "8", "--width", "4", "--depth", "1",
                 "--eval-samples", "50", "--output", "none", "--json", "-", "--progress", "never"])
    assert code == 0
    out, err = capsys.readouterr()
    record = json.loads(out)
    assert record["runs"][0]["num_modes"] == 25 and record["eval_samples"] == 50
    assert "modes covered" in err and "compile time" in err and "training time" in err


def test_progress_bar_without_a_terminal_prints_a_line_every_tenth():
    from minimax.progress import ProgressBar

    log = io.StringIO()
    bar = ProgressBar("training", delay=0.0, stream=log)
    for step in range(0, 101):
        bar(step, 100)
        bar(step, 100)  # a vmapped run calls back once per seed with the same step
    bar.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 11
    assert [int(line.split("]")[1].split("/")[0]) for line in lines] == list(range(0, 101, 10))
    assert all(" eta " in line for line in lines)
    tty = io.StringIO()
    bar = ProgressBar("training", delay=0.0, interval=0.0, stream=tty, tty=True)
    for step in range(0, 101):
        bar(step, 100)
    bar.close()
    assert tty.getvalue().count("\r") == 102 and tty.getvalue().endswith("\n")


@pytest.mark.slow
@pytest.mark.parametrize("data, classes", [("digits", "classes covered"), ("stacked-digits", "modes covered")])
def test_gan_on_digits_prints_classifier_metrics_and_writes_a_grid(data, classes, tmp_path, capsys):
    out = tmp_path / "grid.png"
    code = main(["gan", "--data", data, "--steps", "3", "--batch-size", "8", "--width", "4", "--latent-dim", "4",
                 "--eval-samples", "200", "--output", str(out), "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    k = 10 if data == "digits" else 1000
    covered = int(text.split(classes)[1].split("/")[0])
    assert 1 <= covered <= k and f"/{k} (200 samples" in text
    kl = float(text.split("KL to uniform")[1].split()[0])
    assert 0.0 <= kl <= np.log(k) + 1e-6
    assert float(text.split("Frechet dist.")[1].split()[0]) > 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
