"""The GAN on images (issue 13): stacked digits (1 000 modes) x five solvers x seeds, and a training step against
PyTorch eager.

1. **Modes.** ``games.gan`` on :func:`games.datasets.stacked_digits` with the DCGAN-style players
   (:func:`games.dcgan_generator`, :func:`games.dcgan_discriminator`, 3 channels) and Adam for both players, under
   simultaneous, alternating, extragradient (Extra-Adam), optimistic (Optimistic Adam) and unrolled GDA (5 unrolled
   discriminator steps). The seeds of one solver run as one compiled, vmapped ``mm.run``. Each final generator is
   scored on ``--eval-samples`` images (26 000, the stacked-MNIST protocol) with the library's digit classifier:
   modes covered of 1 000, KL(mode histogram || uniform), and the Fréchet distance to as many real images.
2. **Speed.** One simultaneous training step of the same model (same layer sizes, loss, Adam, batch) in minimax
   and in PyTorch eager (``torch.nn.Conv2d`` / ``ConvTranspose2d``, denormals flushed as XLA does), timed
   interleaved round by round in a rotated order; the ratio is the median of the per-round ratios. The step's
   FLOPs (convolution and dense multiply-adds) over its time, divided by the rate of a large float32 matrix
   product measured in the same run, is the fraction of the CPU's throughput reached.

    python benchmarks/gan_digits.py                         # 150 steps: about 22 minutes on the shared 2-core CPU
    python benchmarks/gan_digits.py --steps 100 --tag 100steps   # the recorded run (16 minutes at load 7-8)
    python benchmarks/gan_digits.py --steps 300 --tag short # a shorter run, written as gan_digits_short.json
    python benchmarks/gan_digits.py --quick                 # a smoke run, written as gan_digits_quick.json

Writes ``benchmarks/results/gan_digits[_tag].json`` (machine, load, versions, settings, per-seed results, timings)
and the same table as markdown (``.md``). Reported, never asserted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import games  # noqa: E402
import minimax as mm  # noqa: E402
from games import digit_metrics  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.nn.functional as F  # noqa: E402
except ImportError:
    torch = None

SOLVERS = ("simultaneous", "alternating", "extragradient", "optimistic", "unrolled")
GOAL = (990, 0.1)  # modes covered (of 1000), KL; mean over seeds


def make_solver(name: str, lr: float, b1: float):
    adam = optax.adam(lr, b1=b1, eps_root=1e-8)  # eps_root: differentiable through the discriminator's update
    return {"simultaneous": lambda: mm.simultaneous_gda(adam),
            "alternating": lambda: mm.alternating_gda(adam),
            "extragradient": lambda: mm.extragradient(adam),
            "optimistic": lambda: mm.optimistic_gda(adam),
            "unrolled": lambda: mm.unrolled(adam, unroll=5)}[name]()


def load() -> list:
    return [round(v, 2) for v in os.getloadavg()]


def summary(values):
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


# -- 1. modes ----------------------------------------------------------------------------------------------------------
def score(images, real) -> dict:
    cov = digit_metrics.mode_coverage(images)
    return {"modes": cov["modes"], "kl": cov["kl"], "frechet": digit_metrics.frechet_distance(images, real)}


def run_solver(name, game, generator, args, real) -> dict:
    solver = make_solver(name, args.lr, args.beta1)

    def one(key):
        return mm.run(game, solver, steps=args.steps, key=key, record_every=max(args.steps // 20, 1),
                      on_divergence="ignore")

    keys = jax.random.split(jax.random.key(args.seed), args.seeds)
    t0 = time.perf_counter()
    compiled = jax.jit(jax.vmap(one), compiler_options=mm.compiler_options()).lower(keys).compile()
    t1 = time.perf_counter()
    res = jax.block_until_ready(compiled(keys))
    t2 = time.perf_counter()
    seeds = []
    for s in range(args.seeds):  # seeds, not optimisation steps
        g = jax.tree.map(lambda a: a[s], res.x)
        images = games.gan_samples(generator, g, jax.random.fold_in(keys[s], 777), args.eval_samples,
                                   latent_dim=args.latent_dim)
        seeds.append(score(images, real))
    return {"solver": name, "steps": args.steps, "grad_evals_per_step": solver.grad_evals,
            "modes": [r["modes"] for r in seeds], "kl": [r["kl"] for r in seeds],
            "frechet": [r["frechet"] for r in seeds],
            "diverged_step": np.asarray(res.diverged_step).tolist(),
            "compile_s": round(t1 - t0, 2), "run_s": round(t2 - t1, 2), "eval_s": round(time.perf_counter() - t2, 2),
            "trace_step": np.asarray(res.trace["step"][0]).tolist(),
            "trace_value": np.asarray(res.trace["value"]).round(4).tolist()}


# -- 2. speed ----------------------------------------------------------------------------------------------------------
def step_flops(args) -> dict:
    """Multiply-adds of one vector-field evaluation, as FLOPs (2 per multiply-add).

    Per sample, ``M`` = sum of a network's layer multiply-adds (the transposed convolution counted by its
    non-zero taps: each of the 4 x 4 input pixels meets the 4 x 4 kernel once), ``g1``/``d1`` the first layers'.
    Forward through G once and D twice (real, fake), the weight gradients as much again, the input gradients of
    every layer except into the latents and into the real images: ``2 B (3 M_G - g1 + 6 M_D - d1)``.
    """
    w, c, L, B = args.width, 3, args.latent_dim, args.batch_size
    g = {"dense": L * 4 * 4 * 2 * w, "up": 4 * 4 * 4 * 4 * 2 * w * w, "out": 8 * 8 * 3 * 3 * w * c}
    d = {"conv1": 4 * 4 * 4 * 4 * c * w, "conv2": 2 * 2 * 4 * 4 * w * 2 * w, "dense": 2 * 2 * 2 * w}
    mg, md = sum(g.values()), sum(d.values())
    return {"generator_macs_per_sample": g, "discriminator_macs_per_sample": d,
            "flops_per_evaluation": 2 * B * (3 * mg - g["dense"] + 6 * md - d["conv1"])}


class TorchDigitsGAN:
    """The same model in PyTorch eager, NCHW: G = Linear -> ReLU -> ConvTranspose2d(4, stride 2) -> ReLU ->
    Conv2d(3) -> tanh; D = Conv2d(4, stride 2) -> LeakyReLU -> Conv2d(4, stride 2) -> LeakyReLU -> Linear.
    Loss v = E log sigmoid(D(real)) + E log sigmoid(-D(G(z))); one backward pass gives both players' gradients;
    PyTorch's default initialisation (the timing does not depend on it); Adam(lr, (b1, 0.999), eps 1e-8) for each
    (optax.adam's update)."""

    def __init__(self, digit_images: np.ndarray, *, latent: int, width: int, batch: int, lr: float, b1: float):
        torch.manual_seed(0)
        w, self.latent, self.batch, self.width = width, latent, batch, width
        self.images = torch.tensor(np.asarray(digit_images), dtype=torch.float32)  # (N, 8, 8)
        self.dense_g = torch.nn.Linear(latent, 4 * 4 * 2 * w)
        self.up = torch.nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1)
        self.out = torch.nn.Conv2d(w, 3, 3, padding=1)
        self.conv1 = torch.nn.Conv2d(3, w, 4, stride=2, padding=1)
        self.conv2 = torch.nn.Conv2d(w, 2 * w, 4, stride=2, padding=1)
        self.dense_d = torch.nn.Linear(2 * 2 * 2 * w, 1)
        self.params_g = [p for m in (self.dense_g, self.up, self.out) for p in m.parameters()]
        self.params_d = [p for m in (self.conv1, self.conv2, self.dense_d) for p in m.parameters()]
        kw = dict(lr=lr, betas=(b1, 0.999), eps=1e-8)
        self.opt_g, self.opt_d = torch.optim.Adam(self.params_g, **kw), torch.optim.Adam(self.params_d, **kw)

    def G(self, z):
        h = F.relu(self.dense_g(z).reshape(z.shape[0], 2 * self.width, 4, 4))
        return torch.tanh(self.out(F.relu(self.up(h))))

    def D(self, x):
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.conv2(h), 0.2)
        return self.dense_d(h.reshape(x.shape[0], -1))[:, 0]

    def step(self):
        idx = torch.randint(0, self.images.shape[0], (self.batch, 3))
        real = self.images[idx]  # (B, 3, 8, 8): three digits as channels
        z = torch.randn(self.batch, self.latent)
        v = F.logsigmoid(self.D(real)).mean() + F.logsigmoid(-self.D(self.G(z))).mean()
        grads = torch.autograd.grad(v, self.params_g + self.params_d)
        n = len(self.params_g)
        for p, g in zip(self.params_g, grads[:n]):
            p.grad = g
        for p, g in zip(self.params_d, grads[n:]):
            p.grad = -g  # D maximises v
        self.opt_g.step()
        self.opt_d.step()

    def train(self, steps):
        for _ in range(steps):
            self.step()


def interleaved(fns: dict, rounds: int):
    names, per_round = list(fns), []
    for r in range(rounds):
        row = {}
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            fns[name]()
            row[name] = time.perf_counter() - start
        per_round.append(row)
    return per_round


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    f = jax.jit(lambda a, b: a @ b)
    jax.block_until_ready(f(a, a))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(f(a, a))
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / min(times) / 1e9


def speed(game, args) -> dict:
    n, rounds = args.speed_steps, args.speed_rounds
    solver = make_solver("simultaneous", args.lr, args.beta1)
    key = jax.random.key(0)
    fns = {"minimax": lambda: jax.block_until_ready(mm.run(game, solver, steps=n, key=key, record_every=None))}
    out = {"steps_per_call": n, "rounds": rounds}
    fns["minimax"]()  # compiles
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
        out["torch_flush_denormal"] = bool(torch.set_flush_denormal(True))
        out["torch_threads"] = torch.get_num_threads()
        data = games.datasets.stacked_digits()
        net = TorchDigitsGAN(np.asarray(data.images), latent=args.latent_dim, width=args.width,
                             batch=args.batch_size, lr=args.lr, b1=args.beta1)
        net.train(3)
        fns["torch"] = lambda: net.train(n)
    peak = matmul_gflops()
    per_round = interleaved(fns, rounds)
    peak = max(peak, matmul_gflops())  # before and after: the better of the two
    ms = {k: 1e3 * statistics.median(r[k] for r in per_round) / n for k in fns}
    flops = step_flops(args)
    out.update(ms_per_step=ms, per_round_s=per_round, flops=flops, matmul_2048_gflops=round(peak, 2))
    out["achieved_gflops"] = {k: flops["flops_per_evaluation"] / (v / 1e3) / 1e9 for k, v in ms.items()}
    out["fraction_of_matmul_peak"] = {k: v / peak for k, v in out["achieved_gflops"].items()}
    if "torch" in fns:
        out["torch_over_minimax (target >= 2)"] = statistics.median(r["torch"] / r["minimax"] for r in per_round)
    return out


# -- report ------------------------------------------------------------------------------------------------------------
def markdown(record) -> str:
    s = record["settings"]
    lines = [
        f"Stacked digits (1 000 modes), {s['seeds']} seeds per row (mean ± sd), {s['eval_samples']} samples per seed "
        f"scored by the library's digit classifier. DCGAN-style players (width {s['width']}, latent "
        f"{s['latent_dim']}), batch {s['batch_size']}, Adam(lr {s['lr']:g}, b1 {s['beta1']}, eps_root 1e-8) for "
        f"both, minimax loss. Wall time: all seeds vmapped in one call (compilation in brackets). "
        f"Load average {record['load_before']} at the start, {record['load_after']} at the end "
        f"({record['machine']['cpu_count']} cores, shared).",
        "",
        "| solver | steps | modes (of 1000) | KL | Fréchet | wall time (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ref = record.get("reference")
    if ref:
        lines.append(f"| real digits (test split) | – | {ref['modes']} | {ref['kl']:.3f} | "
                     f"{ref['frechet']:.2f} | – |")
    for row in record["results"]:
        (m, md), (k, kd), (f, fd) = summary(row["modes"]), summary(row["kl"]), summary(row["frechet"])
        lines.append(f"| {row['solver']} | {row['steps']} | {m:.1f} ± {md:.1f} | {k:.2f} ± {kd:.2f} | "
                     f"{f:.1f} ± {fd:.1f} | {row['run_s']:.0f} ({row['compile_s']:.0f}) |")
    reached = [r["solver"] for r in record["results"]
               if summary(r["modes"])[0] >= GOAL[0] and summary(r["kl"])[0] <= GOAL[1]]
    lines += ["", f"Goal (>= {GOAL[0]} modes with KL <= {GOAL[1]}, mean over seeds): "
              + (f"reached by {', '.join(reached)}." if reached else "not reached.")]
    sp = record.get("speed")
    if sp:
        lines += ["", f"One simultaneous step (batch {s['batch_size']}): minimax {sp['ms_per_step']['minimax']:.1f} ms"
                  + (f", PyTorch eager {sp['ms_per_step']['torch']:.1f} ms; PyTorch / minimax = "
                     f"{sp['torch_over_minimax (target >= 2)']:.2f} (median of {sp['rounds']} interleaved rounds)"
                     if "torch" in sp["ms_per_step"] else "")
                  + f". {sp['flops']['flops_per_evaluation'] / 1e6:.1f} MFLOP per step: minimax "
                  f"{sp['achieved_gflops']['minimax']:.2f} GFLOP/s = "
                  f"{100 * sp['fraction_of_matmul_peak']['minimax']:.1f} % of a 2048² float32 matmul's "
                  f"{sp['matmul_2048_gflops']:.1f} GFLOP/s"
                  + (f"; PyTorch {100 * sp['fraction_of_matmul_peak']['torch']:.1f} %"
                     if "torch" in sp["ms_per_step"] else "") + "."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=150,
                   help="steps per run (default sized for the shared 2-core CPU: about 22 minutes in all at load 8)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--solvers", default=",".join(SOLVERS))
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--beta1", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=32)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--eval-samples", type=int, default=digit_metrics.STACKED_SAMPLES)
    p.add_argument("--speed-steps", type=int, default=20, help="steps per timed call in the speed comparison")
    p.add_argument("--speed-rounds", type=int, default=7)
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-modes", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a smoke run; files get a _quick suffix")
    p.add_argument("--tag", default="")
    args = p.parse_args(argv)
    solvers = [s for s in args.solvers.split(",") if s]
    for s in solvers:
        if s not in SOLVERS:
            p.error(f"--solvers: unknown solver {s!r}; expected some of {', '.join(SOLVERS)}")
    suffix = f"_{args.tag}" if args.tag else ""
    if args.quick:
        args.steps, args.seeds, args.eval_samples, args.speed_steps, args.speed_rounds = 20, 2, 2000, 3, 3
        suffix = "_quick"

    record = {
        "benchmark": "gan_digits",
        "command": "python " + " ".join(["benchmarks/gan_digits.py"] + list(sys.argv[1:] if argv is None else argv)),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "device": str(jax.devices()[0])},
        "versions": {"python": platform.python_version(), "jax": jax.__version__, "optax": optax.__version__,
                     "numpy": np.__version__, "torch": torch.__version__ if torch is not None else None},
        "load_before": load(), "settings": {k: v for k, v in vars(args).items()}, "results": [],
    }
    start = time.perf_counter()
    data = games.datasets.stacked_digits()
    G = games.dcgan_generator(args.latent_dim, channels=3, width=args.width)
    D = games.dcgan_discriminator(channels=3, width=args.width)
    game = games.gan(G, D, data=data, latent_dim=args.latent_dim, batch_size=args.batch_size)
    if not args.skip_modes:
        digit_metrics.digit_classifier()  # trains once (seconds) and is cached on disk
        real = data.sample(jax.random.key(10_001), args.eval_samples)
        record["reference"] = score(games.datasets.stacked_digits(split="test").sample(
            jax.random.key(10_002), args.eval_samples), real)
        print("real test digits:", record["reference"], flush=True)
        for name in solvers:
            print(f"{name:14s} {args.steps} steps x {args.seeds} seeds ...", end=" ", flush=True)
            row = run_solver(name, game, G, args, real)
            record["results"].append(row)
            print(f"modes {summary(row['modes'])[0]:.1f}, KL {summary(row['kl'])[0]:.3f}, Fréchet "
                  f"{summary(row['frechet'])[0]:.2f}, {row['run_s']:.0f} s (+{row['compile_s']:.0f} s compile, "
                  f"{row['eval_s']:.0f} s scoring); load {load()}", flush=True)
    if not args.skip_speed:
        record["speed"] = speed(game, args)
        print(json.dumps({k: record["speed"][k] for k in ("ms_per_step", "fraction_of_matmul_peak")}), flush=True)
    record["load_after"] = load()
    record["total_s"] = round(time.perf_counter() - start, 1)
    out = HERE / "results"
    (out / f"gan_digits{suffix}.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / f"gan_digits{suffix}.md").write_text(markdown(record))
    print(markdown(record))
    print(f"wrote {out / f'gan_digits{suffix}.json'} and .md in {record['total_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
