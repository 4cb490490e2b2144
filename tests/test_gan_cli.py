"""``minimax gan`` on the command line, and the GAN plots."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import games
from minimax.cli import main
from minimax.cli import gan as gan_cli

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


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


def test_gan_spectrum_every_prints_and_plots_the_spectra_along_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["gan", "--data", "ring", "--steps", "4", "--batch-size", "16", "--width", "4", "--depth", "1",
                 "--spectrum-every", "2", "--spectrum-k", "4", "--output", "samples.png", "--no-progress"])
    assert code == 0
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
