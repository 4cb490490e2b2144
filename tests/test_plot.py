"""Plots draw what they are given: the trajectories, the geometric mean and band over seeds, the eigenvalues, the
strategies on the simplex; and refuse games they cannot draw."""

import importlib
import jax.numpy as jnp
import numpy as np
import optax
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import games  # noqa: E402
import minimax as mm  # noqa: E402
comparison = importlib.import_module("minimax.compare")  # noqa: E402 - the module; mm.compare is the function
from minimax import plot  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def bilinear_rows():
    game = games.bilinear(jnp.array([[1.0]]))
    rows = comparison.compare(game, ["simultaneous", "extragradient"], steps=60, seeds=3, record_iterates=True,
                              keep_results=True)
    return game, rows


@pytest.fixture(scope="module")
def rps_rows():
    game = games.rock_paper_scissors()
    rows = comparison.compare(game, ["omwu"], steps=60, seeds=2, record_iterates=True, keep_results=True)
    return game, rows


def test_phase_portrait_draws_each_trajectory_over_the_flow(bilinear_rows):
    game, rows = bilinear_rows
    trajectories = {r["solver"]: r["result"].trace for r in rows}
    ax = plot.phase_portrait(game, trajectories, seed=1)
    lines = {line.get_label(): line for line in ax.get_lines()}
    for r in rows:
        z = np.asarray(r["result"].trace["z"][1])
        np.testing.assert_allclose(lines[r["solver"]].get_xydata(), z, rtol=1e-6)
    assert "equilibrium" in lines
    assert len(ax.collections) >= 1  # the stream plot's lines
    # the default frame: a square around the equilibrium, 1.3 times the farthest point of these bounded runs
    farthest = max(np.max(np.linalg.norm(np.asarray(r["result"].trace["z"][1]), axis=1)) for r in rows)
    np.testing.assert_allclose(ax.get_xlim(), (-1.3 * farthest, 1.3 * farthest), rtol=1e-6)
    np.testing.assert_allclose(ax.get_ylim(), ax.get_xlim())
    assert ax.get_xlabel() == "x (minimiser)" and ax.get_ylabel() == "y (maximiser)"


def test_phase_portrait_refuses_a_game_with_more_than_one_number_per_player():
    with pytest.raises(ValueError, match=r"one number per player; 'bilinear' has 2 for x and 2 for y"):
        plot.phase_portrait(games.bilinear(jnp.eye(2)))


def test_phase_portrait_refuses_trajectories_of_the_wrong_size():
    with pytest.raises(ValueError, match="trajectories: 'a' has iterates of dimension 3, expected 2"):
        plot.phase_portrait(games.dirac_gan(), {"a": np.zeros((5, 3))})


def test_convergence_draws_the_geometric_mean_and_a_band(bilinear_rows):
    _, rows = bilinear_rows
    traces = {r["solver"]: r["result"].trace for r in rows}
    ax = plot.convergence(traces, x="grad_evals", predicted={"extragradient": 0.99504})
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel().startswith("gradient evaluations")
    assert ax.get_ylabel() == plot.METRIC_LABELS["dist"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    eg = rows[1]["result"].trace
    np.testing.assert_allclose(lines["extragradient"].get_ydata(),
                               10 ** np.mean(np.log10(np.asarray(eg["dist"])), axis=0), rtol=1e-6)
    np.testing.assert_allclose(lines["extragradient"].get_xdata(), np.asarray(eg["grad_evals"][0]))
    predicted = lines["predicted: ρᵗ from the first value"].get_ydata()
    last_step = np.asarray(eg["step"])[0, -1]
    np.testing.assert_allclose(predicted[-1] / predicted[0], 0.99504**last_step, rtol=1e-6)
    assert len(ax.collections) == 2  # one band per solver, 3 seeds each


def test_convergence_refuses_bad_arguments(bilinear_rows):
    _, rows = bilinear_rows
    trace = rows[0]["result"].trace
    with pytest.raises(ValueError, match="x: expected 'step' or 'grad_evals'"):
        plot.convergence({"a": trace}, x="time")
    with pytest.raises(ValueError, match="metric: 'gap' is not in the trace of 'a'"):
        plot.convergence({"a": trace}, metric="gap")
    with pytest.raises(ValueError, match="predicted: 'b' is not one of the traces' labels"):
        plot.convergence({"a": trace}, predicted={"b": 0.9})


def test_update_spectra_plots_the_eigenvalues_and_their_radius():
    game = games.bilinear(jnp.array([[1.0]]))
    solvers = {"simultaneous": mm.simultaneous_gda(optax.sgd(0.1)), "optimistic": mm.optimistic_gda(optax.sgd(0.1))}
    ax = plot.update_spectra(game, solvers)
    points = [np.asarray(c.get_offsets()) for c in ax.collections]
    by_imag = lambda v: np.asarray(sorted(v, key=lambda c: c.imag))  # noqa: E731
    eig = by_imag(mm.update_eigenvalues(game, solvers["simultaneous"], *game.equilibrium))
    np.testing.assert_allclose(by_imag(points[0][:, 0] + 1j * points[0][:, 1]), eig, atol=1e-6)
    np.testing.assert_allclose(eig, [1 - 0.1j, 1 + 0.1j], atol=1e-6)  # 1 - eta * (+-i)
    assert points[1].shape == (4, 2)  # OGDA's memory doubles the state
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["unit circle |λ| = 1", "simultaneous (ρ = 1.00499)", "optimistic (ρ = 0.99494)"]
    circle = ax.get_lines()[0].get_xydata()
    np.testing.assert_allclose(np.hypot(circle[:, 0], circle[:, 1]), 1.0, atol=1e-12)
    zoomed = plot.update_spectra(game, solvers, zoom=True)
    lo, hi = zoomed.get_xlim()
    assert lo < 1.0 < hi and hi - lo < 0.1


def test_jacobian_spectrum_of_the_dirac_gan_with_r1():
    ax = plot.jacobian_spectrum(games.dirac_gan(gamma=0.3))
    pts = np.asarray(ax.collections[-1].get_offsets())
    # J = [[0, -1/2], [1/2, gamma]]: lambda = gamma/2 +- i sqrt(1/4 - gamma^2/4)
    np.testing.assert_allclose(sorted(pts[:, 1]), [-np.sqrt(0.25 - 0.0225), np.sqrt(0.25 - 0.0225)], rtol=1e-5)
    np.testing.assert_allclose(pts[:, 0], [0.15, 0.15], rtol=1e-5)


def test_simplex_trajectories_on_the_triangle(rps_rows):
    game, rows = rps_rows
    fig = plot.simplex_trajectories(game, {"omwu": rows[0]["result"].trace},
                                    actions=(["rock", "paper", "scissors"],) * 2)
    axes = fig.get_axes()
    assert len(axes) == 2
    star = [line for line in axes[0].get_lines() if line.get_label() == "equilibrium"][0]
    np.testing.assert_allclose(star.get_xydata()[0], [0.5, np.sqrt(3) / 6], rtol=1e-6)  # the centroid
    path = [line for line in axes[1].get_lines() if line.get_label() == "omwu"][0].get_xydata()
    y = np.asarray(rows[0]["result"].trace["z"][0, :, 3:])
    np.testing.assert_allclose(path[:, 1], np.sqrt(3) / 2 * y[:, 2], rtol=1e-5)
    assert {t.get_text() for t in axes[0].texts} == {"rock", "paper", "scissors"}


def test_simplex_trajectories_of_a_2x2_game_on_the_square():
    game = games.matching_pennies()
    z = np.array([[0.2, 0.8, 0.7, 0.3], [0.5, 0.5, 0.5, 0.5]])
    fig = plot.simplex_trajectories(game, {"a": z})
    (ax,) = fig.get_axes()
    line = [line for line in ax.get_lines() if line.get_label() == "a"][0]
    np.testing.assert_allclose(line.get_xydata(), [[0.2, 0.7], [0.5, 0.5]])
    assert ax.get_xlim() == (0.0, 1.0)
    with pytest.raises(ValueError, match="'a' has iterates of dimension 3, the game has 4"):
        plot.simplex_trajectories(game, {"a": np.zeros((2, 3))})


def test_comparison_figures_pick_the_plots_that_fit_the_game(bilinear_rows, rps_rows):
    game, rows = bilinear_rows
    figs = plot.comparison_figures(game, rows)
    assert sorted(figs) == ["convergence", "phase", "spectrum"]
    assert len(figs["spectrum"].get_axes()) == 3
    assert [ax.get_yscale() for ax in figs["convergence"].get_axes()] == ["log", "log"]
    game, rows = rps_rows
    assert sorted(plot.comparison_figures(game, rows)) == ["convergence", "simplex"]
    with pytest.raises(ValueError, match="keep_results=True"):
        plot.comparison_figures(game, [{"solver": "omwu"}])


def test_rates_against_step_size_draws_measured_rates_radii_and_closed_forms(bilinear_rows):
    game, _ = bilinear_rows
    rows = comparison.compare(game, ["simultaneous"], step_sizes=[0.2, 0.4], steps=60, seeds=3,
                              record_iterates=True)
    ax = plot.rates_against_step_size(rows, closed_forms={"simultaneous": lambda e: np.sqrt(1 + e**2)})
    closed, measured, radius = ax.get_lines()[:3]
    np.testing.assert_allclose(closed.get_ydata(), np.sqrt(1 + closed.get_xdata() ** 2))
    np.testing.assert_allclose(measured.get_xydata(), [[r["step_size"], r["rate_step"]] for r in rows])
    np.testing.assert_allclose(radius.get_ydata(), np.sqrt(1 + np.array([0.2, 0.4]) ** 2), rtol=1e-6)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "simultaneous", "closed form", "measured", "spectral radius at equilibrium"]
    with pytest.raises(ValueError, match="closed_forms: 'extragradient' is not one of the rows' solvers"):
        plot.rates_against_step_size(rows, closed_forms={"extragradient": np.sqrt})


def test_spectra_plots_draw_the_eigenvalues_path_angle_and_rotation():
    import jax

    game = games.quadratic(jnp.array([[1.0, 0.5], [0.0, 2.0]]), 0.1 * jnp.eye(2), 0.1 * jnp.eye(2))
    solver = mm.extragradient(optax.sgd(0.1))
    res = mm.run(game, solver, steps=20, key=jax.random.key(0), checkpoint_every=10)
    along = mm.spectra_along(game, res.checkpoints, k=None, solver=solver)
    assert along["eigenvalues"].shape == (3, 4) and along["radius"].shape == (3,)
    fig = plot.eigenvalues_along_training({"extragradient": along})
    re_ax, im_ax, rho_ax = fig.axes
    np.testing.assert_allclose(np.sort(re_ax.collections[0].get_offsets()[:, 1]),
                               np.sort(along["eigenvalues"].real.ravel()), rtol=1e-6)
    np.testing.assert_allclose(rho_ax.lines[0].get_ydata(), along["radius"], rtol=1e-6)
    curve = mm.path_angle(game, res.checkpoints[0][:2], (res.x, res.y), num=11)
    fig = plot.path_angle_curve(curve)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), curve.cosine, rtol=1e-6)
    rot = {"start": mm.rotation_potential(game, *res.checkpoints[0][:2], samples=None),
           "end": mm.rotation_potential(game, res.x, res.y, samples=None)}
    fig = plot.rotation_vs_potential(rot)
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights, [float(rot["start"].sym), float(rot["end"].sym),
                                         float(rot["start"].antisym), float(rot["end"].antisym)], rtol=1e-6)
    with pytest.raises(ValueError, match="along: expected a spectra_along result"):
        plot.eigenvalues_along_training({"a": {"step": [0]}})
