"""Matrix-free spectra at GAN scale: the README's ring GAN after 5 000 training steps, and where dense stops paying.

Default run (``python benchmarks/spectra.py``, a few minutes on the 2-core CPU):

1. trains the README's ring GAN (generator and discriminator MLPs with two hidden layers of 128, batch 512,
   R1 = 0.1, latent 2, float32, ``simultaneous_gda(optax.adam(1e-3, b1=0.5))``, key 0) for 5 000 steps;
2. at that point takes the 10 largest-modulus eigenvalues of the game Jacobian (``k=10``) and the spectral radius
   of the Adam-simultaneous update with Adam's moments from the run's state (default arguments: ``k=None``, which
   goes matrix-free above ``mm.DENSE_LIMIT``), each from a cold start (compilation included) and once more warm;
   reports products, time per product, wall time and every residual;
3. times the dense path (``k=None``) on the same GAN with hidden layers of 8, 16 and 24 and extrapolates its cost
   (n^3 eig) to the full GAN.

``--threshold`` instead times ``spectral_radius`` dense against matrix-free on small ring GANs under Adam (the map
over parameters and both moments), interleaved over rounds, to place ``mm.DENSE_LIMIT``.

Results go to ``benchmarks/results/spectra_<device>.json`` (and ``_threshold``), with the command that made them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import games  # noqa: E402
import minimax as mm  # noqa: E402


def ring_gan(hidden: int):
    return games.gan(games.mlp([2, hidden, hidden, 2]), games.mlp([2, hidden, hidden, 1]), games.mixtures.ring(),
                     latent_dim=2, batch_size=512, r1=0.1)


def solver(eps_root: float = 0.0):
    return mm.simultaneous_gda(optax.adam(1e-3, b1=0.5, eps_root=eps_root))


def params(x, y) -> int:
    return int(jax.flatten_util.ravel_pytree((x, y))[0].size)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def spectrum_report(vals, info, wall) -> dict:
    return {
        "wall_s": round(wall, 2),
        "arpack_s": round(info.seconds, 2),
        "products": info.products,
        "ms_per_product": round(1e3 * info.seconds / max(info.products, 1), 2),
        "dim": info.dim,
        "method": info.method,
        "max_residual": float(np.max(info.residuals, initial=0.0)),
        "residuals": [float(r) for r in info.residuals],
        "eigenvalues": [[float(np.real(v)), float(np.imag(v))] for v in np.atleast_1d(vals)],
    }


def main_run(args) -> dict:
    key = jax.random.key(0)
    game, sol = ring_gan(args.hidden), solver()
    res, train_s = timed(lambda: jax.block_until_ready(
        mm.run(game, sol, steps=args.steps, key=key, record_every=None)))
    x, y, state = res.x, res.y, res.state
    out = {"gan": f"ring, 2x{args.hidden}, batch 512, r1=0.1, float32", "parameters": params(x, y),
           "train_steps": args.steps, "train_s": round(train_s, 1)}
    skey = jax.random.key(1)
    for label in ("cold", "warm"):
        (vals, info), wall = timed(lambda: mm.jacobian_eigenvalues(game, x, y, key=skey, k=10, which="LM",
                                                                   return_info=True))
        out[f"jacobian_top10_LM_{label}"] = spectrum_report(vals, info, wall)
        print(f"jacobian k=10 LM ({label}): {wall:.1f} s, {info.products} products, "
              f"max residual {np.max(info.residuals):.1e}; |lambda| {np.abs(vals[0]):.4g} ... {np.abs(vals[-1]):.4g}",
              flush=True)
    # The README's Adam (eps_root=0) is not differentiable where a second moment is exactly zero: after 5 000
    # steps some ReLU units are dead (their weights' gradients always zero). Say so, then use the run of the same
    # recipe with eps_root=1e-8, whose update map is smooth there.
    try:
        mm.spectral_radius(game, sol, x, y, state=state, key=skey)
        out["adam_default_eps_root"] = "converged"
    except ValueError as err:
        zeros = sum(int((jnp.asarray(a) == 0).sum()) for a in jax.tree.leaves((state.x[0].nu, state.y[0].nu)))
        out["adam_default_eps_root"] = f"ValueError ({zeros} second moments exactly 0): {str(err)[:160]}"
        print(f"adam eps_root=0: {zeros} second moments are exactly 0 -> {str(err)[:100]}...", flush=True)
        sol = solver(eps_root=1e-8)
        res, t2 = timed(lambda: jax.block_until_ready(mm.run(game, sol, steps=args.steps, key=key,
                                                             record_every=None)))
        x, y, state = res.x, res.y, res.state
        out["radius_solver"] = "simultaneous_gda(optax.adam(1e-3, b1=0.5, eps_root=1e-8)), trained 5000 steps"
    for label in ("cold", "warm"):
        (rho, info), wall = timed(lambda: mm.spectral_radius(game, sol, x, y, state=state, key=skey,
                                                             return_info=True))
        rep = spectrum_report(np.array([rho]), info, wall)
        rep["radius"] = rho
        del rep["eigenvalues"]
        out[f"adam_spectral_radius_default_{label}"] = rep
        print(f"spectral_radius adam-sim, defaults ({label}): rho={rho:.8f} in {wall:.1f} s, {info.products} "
              f"products, dim {info.dim}, max residual {np.max(info.residuals):.1e}", flush=True)

    # The dense path on smaller nets, extrapolated (n^3 for eig, n^2 memory).
    dense = []
    for hidden in args.dense_hidden:
        g = ring_gan(hidden)
        xs, ys = g.init(key)
        n = params(xs, ys)
        _, wall = timed(lambda: mm.jacobian_eigenvalues(g, xs, ys, key=skey))
        _, warm = timed(lambda: mm.jacobian_eigenvalues(g, xs, ys, key=skey))
        dense.append({"hidden": hidden, "parameters": n, "cold_s": round(wall, 2), "warm_s": round(warm, 2)})
        print(f"dense jacobian_eigenvalues, hidden {hidden} ({n} parameters): {wall:.1f} s cold, {warm:.1f} s warm",
              flush=True)
    big = dense[-1]
    n_full = out["parameters"]
    out["dense"] = dense
    out["dense_extrapolated_s"] = round(big["warm_s"] * (n_full / big["parameters"]) ** 3, -1)
    out["dense_matrix_gb"] = round(n_full**2 * 4 / 1e9, 1)
    print(f"dense at {n_full} parameters: ~{out['dense_extrapolated_s']:.0f} s (n^3 from hidden {big['hidden']}), "
          f"a {out['dense_matrix_gb']} GB float32 matrix", flush=True)
    return out


def threshold_run(args) -> dict:
    rows = []
    for hidden in args.threshold_hidden:
        game, sol = ring_gan(hidden), solver(eps_root=1e-8)  # smooth where a ReLU unit has died
        key = jax.random.key(0)
        res = mm.run(game, sol, steps=200, key=key, record_every=None)
        x, y, state = res.x, res.y, res.state
        dim = 3 * params(x, y)
        # Warm both paths (compilation is paid once per game), then interleave.
        dense_rho = mm.spectral_radius(game, sol, x, y, state=state, k=None) if dim <= 4000 else None
        mm.spectral_radius(game, sol, x, y, state=state, k=6)
        ratios, td, tm = [], [], []
        for _ in range(args.rounds):
            if dense_rho is None:
                break
            # A dense radius at dim <= DENSE_LIMIT takes the dense path; force it beyond through update_eigenvalues.
            _, a = timed(lambda: np.max(np.abs(mm.update_eigenvalues(game, sol, x, y, state=state))))
            (rho, info), b = timed(lambda: mm.spectral_radius(game, sol, x, y, state=state, k=6, return_info=True))
            td.append(a)
            tm.append(b)
            ratios.append(a / b)
        row = {"hidden": hidden, "dim": dim}
        if ratios:
            row.update(dense_s=float(np.median(td)), matrix_free_s=float(np.median(tm)),
                       median_dense_over_matrix_free=float(np.median(ratios)), rounds=len(ratios))
            print(f"hidden {hidden} (dim {dim}): dense {np.median(td):.2f} s, matrix-free {np.median(tm):.2f} s, "
                  f"median ratio {np.median(ratios):.2f}", flush=True)
        rows.append(row)
    return {"rows": rows, "dense_limit": mm.DENSE_LIMIT}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--dense-hidden", type=int, nargs="+", default=[8, 16, 24])
    parser.add_argument("--threshold", action="store_true")
    parser.add_argument("--threshold-hidden", type=int, nargs="+", default=[2, 4, 6, 8, 12])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)
    device = jax.devices()[0]
    out = threshold_run(args) if args.threshold else main_run(args)
    out.update(command="python benchmarks/spectra.py " + " ".join(sys.argv[1:] if argv is None else argv),
               device=f"{device.platform}: {device.device_kind}", cores=jax.local_device_count(),
               machine=platform.machine(), jax=jax.__version__, date=datetime.date.today().isoformat())
    name = f"spectra_{device.platform}{'_threshold' if args.threshold else ''}{args.tag and '_' + args.tag}.json"
    path = HERE / "results" / name
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    jnp.zeros(())  # initialise the backend before timing anything
    main()
