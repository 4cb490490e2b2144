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


# -- what the figures promise: labels, legends, frames (issue 15) -------------------------------------------------------
def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _by_gid(ax, prefix):
    return {line.get_gid().split(":", 1)[1]: line for line in ax.get_lines()
            if (line.get_gid() or "").startswith(prefix)}


def _spiral(rate, steps=200, seeds=2):
    """``(seeds, steps, 2)`` iterates turning by 0.1 a step and growing by ``rate``, from (0, 1) and (0, 1.2)."""
    t = np.arange(steps)
    r = rate**t
    return np.stack([np.stack([s * r * np.sin(0.1 * t), s * r * np.cos(0.1 * t)], axis=1) for s in (1.0, 1.2)][:seeds])


def _inside(ax, xy, slack=1e-9):
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    return x0 - slack <= xy[0] <= x1 + slack and y0 - slack <= xy[1] <= y1 + slack


def test_phase_portrait_names_its_seed_and_keeps_every_end_inside_the_frame():
    game = games.bilinear(jnp.array([[1.0]]))
    trajectories = {"simultaneous": _spiral(1.02), "extragradient": _spiral(0.99)}
    ax = plot.phase_portrait(game, trajectories, seed=1)
    assert ax.get_legend().get_title().get_text() == "seed 1 of 2"
    assert ax.get_title().endswith("seed 1 of 2")
    ends, exits = _by_gid(ax, "end:"), _by_gid(ax, "exit:")
    assert set(ends) == {"extragradient"} and set(exits) == {"simultaneous"}  # 1.02^200 = 52: it runs away
    assert _inside(ax, ends["extragradient"].get_xydata()[0])
    exit_xy = exits["simultaneous"].get_xydata()[0]
    assert _inside(ax, exit_xy)
    assert np.isclose(np.max(np.abs(exit_xy)), ax.get_xlim()[1])  # on the frame's edge
    assert "leaves the frame" in _legend_texts(ax) and "end" in _legend_texts(ax)
    # every seed: one line per seed, the legend still one entry per trajectory
    ax = plot.phase_portrait(game, {"extragradient": _spiral(0.99)}, seed="all")
    assert ax.get_legend().get_title().get_text() == "all 2 seeds"
    assert len(_by_gid(ax, "end:")) == 1 and sum(1 for t in _legend_texts(ax) if t == "extragradient") == 1
    assert sum(1 for line in ax.get_lines() if len(line.get_xdata()) == 200) == 2
    assert "leaves the frame" not in _legend_texts(ax)
    with pytest.raises(ValueError, match=r"seed: 'extragradient' has 2 seeds, so seed must be in \[0, 2\)"):
        plot.phase_portrait(game, {"extragradient": _spiral(0.99)}, seed=2)


def test_phase_portrait_draws_overlapping_trajectories_apart():
    game = games.bilinear(jnp.array([[1.0]]))
    z = _spiral(0.99, seeds=1)[0]
    ax = plot.phase_portrait(game, {"extragradient": z, "optimistic": z})
    lines = {line.get_label(): line for line in ax.get_lines()}
    eg, og = lines["extragradient"], lines["optimistic"]
    assert eg.get_linewidth() > og.get_linewidth() and eg.get_zorder() < og.get_zorder()  # the lower one is wider
    assert eg.get_linestyle() != og.get_linestyle() and eg.get_marker() != og.get_marker()
    assert eg.get_markevery() != og.get_markevery()  # markers of one do not sit on the other's
    assert {eg.get_marker(), og.get_marker()}.isdisjoint({"o", "s", "X"})  # never mistaken for a start or an end


def _trace(dist, eval_per_step=1):
    dist = np.asarray(dist, np.float64)
    steps = np.arange(dist.shape[-1], dtype=np.float64) * 10
    return {"step": np.broadcast_to(steps, dist.shape), "grad_evals": np.broadcast_to(steps * eval_per_step, dist.shape),
            "dist": dist}


def test_convergence_gives_each_solver_and_step_size_its_own_style_and_puts_the_legend_outside():
    t = np.arange(50)
    traces = {f"{s} η={e:g}": _trace(np.stack([0.99 ** (e * t), 1.1 * 0.99 ** (e * t)]))
              for s in ("extragradient", "optimistic") for e in (0.05, 0.1, 0.2)}
    fig = plot.convergence_figure(traces)
    left, right = fig.get_axes()
    lines = {line.get_label(): line for line in left.get_lines()}
    pairs = [(lines[k].get_color(), str(lines[k].get_linestyle())) for k in traces]
    assert len(set(pairs)) == 6
    assert len({c for c, _ in pairs}) == 2  # the colour says the solver, the line style the step size
    assert left.get_legend() is None and _legend_texts(right)[:6] == list(traces)
    fig.canvas.draw()
    legend_box = right.get_legend().get_window_extent()
    assert legend_box.x0 >= right.get_window_extent().x1  # right of the data, not over it


def test_convergence_draws_a_band_only_where_it_can_be_seen():
    t = np.arange(50)
    wide = np.stack([0.9**t, 3 * 0.9**t])  # log10(3)/2 = 0.24 decades either side
    narrow = np.stack([0.9**t, 1.001 * 0.9**t])
    ax = plot.convergence({"wide": _trace(wide), "narrow": _trace(narrow)})
    assert [c.get_gid() for c in ax.collections] == ["band:wide"]
    assert "± 1 sd of log10 over seeds" in _legend_texts(ax)
    assert ax.get_legend().get_title().get_text() == "geometric mean of 2 seeds"
    ax = plot.convergence({"narrow": _trace(narrow)})
    assert len(ax.collections) == 0 and "± 1 sd of log10 over seeds" not in _legend_texts(ax)
    ax = plot.convergence({"narrow": _trace(narrow)}, min_band=0.0)
    assert len(ax.collections) == 1
    with pytest.raises(ValueError, match=r"min_band: expected a fraction of the Axes' height in \[0, 1\)"):
        plot.convergence({"narrow": _trace(narrow)}, min_band=2.0)


def test_convergence_clips_the_y_range_of_a_diverged_run():
    t = np.arange(60, dtype=np.float64)
    with np.errstate(over="ignore"):
        blown = np.where(t < 40, 10.0 ** (5 * t), np.inf)  # 1e195 at step 39, then inf
    traces = {"simultaneous": _trace(blown[None]), "extragradient": _trace(0.9 ** t[None])}
    ax = plot.convergence(traces)
    lo, hi = ax.get_ylim()
    assert np.isfinite(lo) and np.isfinite(hi)
    assert 1e3 <= hi <= 1e3 * 10 ** 0.7  # 1e3 over the first value, plus a margin
    assert lo <= 0.9**59
    exit_ = _by_gid(ax, "exit:")
    assert set(exit_) == {"simultaneous"} and np.isclose(exit_["simultaneous"].get_ydata()[0], hi)
    assert "leaves the plot (diverges)" in _legend_texts(ax)
    unclipped = plot.convergence(traces, clip_above=None)
    assert unclipped.get_ylim()[1] > 1e195


def test_rates_against_step_size_clips_diverged_rates_to_the_top_edge():
    rows = [{"solver": "simultaneous", "step_size": e, "rate_step": r, "rate_eval": r, "radius": None}
            for e, r in ((0.1, 1.005), (0.5, 1.118), (2.0, 40.0))]
    ax = plot.rates_against_step_size(rows)
    assert ax.get_ylim()[1] == 2.0
    above = _by_gid(ax, "above:")["simultaneous"]
    np.testing.assert_allclose(above.get_xydata(), [[2.0, 2.0]])
    assert _legend_texts(ax) == ["simultaneous", "measured", "measured, above 2"]


def test_update_spectra_draws_one_set_per_solver_and_step_size():
    game = games.bilinear(jnp.array([[1.0]]))
    factories = {name: comparison.SOLVERS[name] for name in ("simultaneous", "optimistic")}
    ax = plot.update_spectra(game, factories, step_sizes=[0.1, 0.2])
    assert len(ax.collections) == 4
    labels = _legend_texts(ax)[1:]
    assert [s.split(" (")[0] for s in labels] == ["simultaneous η=0.1", "simultaneous η=0.2", "optimistic η=0.1",
                                                   "optimistic η=0.2"]
    pts = np.asarray(ax.collections[1].get_offsets())
    np.testing.assert_allclose(sorted(pts[:, 1]), [-0.2, 0.2], atol=1e-6)  # 1 - 0.2 (+-i)
    np.testing.assert_allclose(pts[:, 0], [1.0, 1.0], atol=1e-6)
    with pytest.raises(ValueError, match="solvers: with step_sizes, 'a' must be a factory step_size -> Solver"):
        plot.update_spectra(game, {"a": 3}, step_sizes=[0.1])


@pytest.fixture(scope="module")
def two_step_rows():
    game = games.bilinear(jnp.array([[1.0]]))
    return game, comparison.compare(game, ["simultaneous", "extragradient"], step_sizes=[0.1, 0.3], steps=40, seeds=2,
                                    record_iterates=True, keep_results=True)


def test_comparison_figures_draw_every_step_size(two_step_rows):
    game, rows = two_step_rows
    figs = plot.comparison_figures(game, rows, seed=1)
    titles = [ax.get_title() for ax in figs["spectrum"].get_axes()]
    assert len(titles) == 1 + 2 * 2
    assert {"update eigenvalues, η = 0.1", "update eigenvalues, η = 0.3"} <= set(titles)
    for ax in figs["spectrum"].get_axes()[1:]:
        assert len(ax.collections) == 2  # both solvers in every panel
    phase = figs["phase"].get_axes()
    assert [ax.get_title() for ax in phase] == ["bilinear, step size η = 0.1, seed 1 of 2",
                                                "bilinear, step size η = 0.3, seed 1 of 2"]
    conv = figs["convergence"].get_axes()[0]
    styles = {(line.get_color(), str(line.get_linestyle())) for line in conv.get_lines()}
    assert len(styles) == 4


def test_a_huge_step_size_draws_its_spectrum_and_names_the_one_that_overflowed():
    # at eta = 1e20 simultaneous GDA's update eigenvalues are 1 +- 1e20 i; extragradient's Jacobian overflows
    game = games.bilinear(jnp.array([[1.0]]))
    rows = comparison.compare(game, ["simultaneous", "extragradient"], step_sizes=[1e20], steps=5, seeds=1,
                              record_iterates=True, keep_results=True)
    figs = plot.comparison_figures(game, rows)
    zoom = figs["spectrum"].get_axes()[-1]
    low, high = zoom.get_ylim()
    assert low < 1e20 < high and high - low >= 1e16  # a window the floats can draw
    assert _legend_texts(zoom)[1:] == ["simultaneous (ρ = 1e+20)", "extragradient (not finite, not drawn)"]


def test_simplex_time_series_is_against_steps_and_lists_every_action():
    A = jnp.array([[1.0, -1.0, 1.0, -1.0], [-1.0, 1.0, -1.0, 1.0]])  # 2 actions for x, 4 for y; uniform play wins
    game = games.matrix_game(A, equilibrium=(jnp.full(2, 0.5), jnp.full(4, 0.25)))
    z = np.tile(np.array([0.5, 0.5, 0.25, 0.25, 0.25, 0.25]), (2, 5, 1))  # 2 seeds, 5 records
    trace = {"z": z, "step": np.tile(np.arange(5) * 20, (2, 1))}
    names = (["up", "down"], ["a", "b", "c", "d"])
    fig = plot.simplex_trajectories(game, {"omwu": trace}, actions=names, seed=1)
    assert fig._suptitle.get_text().endswith("(seed 1 of 2)")
    for ax, mine in zip(fig.get_axes(), names):
        assert ax.get_xlabel() == "step"
        np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [0, 20, 40, 60, 80])
        assert _legend_texts(ax) == ["omwu"] + mine
    fig = plot.simplex_trajectories(game, {"omwu": z[0]}, record_every=5)
    np.testing.assert_allclose(fig.get_axes()[0].get_lines()[0].get_xdata(), [0, 5, 10, 15, 20])
    with pytest.raises(ValueError, match="actions: 3 names given for y, which has 4 actions"):
        plot.simplex_trajectories(game, {"omwu": z}, actions=(["u", "d"], ["a", "b", "c"]))
