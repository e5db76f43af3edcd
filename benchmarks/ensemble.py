"""Training throughput of the VAE engine against its peers and its floors, in one process.

For R runs, batch size B and latent dimension d, each row times full training steps of all R
runs (batch served and binarised, posterior sample, loss, backward, Adam) and reports
(runs x images) / s:

- ``engine (bfloat16)``: ``hvae_lib.training.flat_vae.FlatVAE`` as Table 1 trains (bfloat16
  matmuls in the wide layers, float32 master weights, one Adam pass that also writes the bfloat16
  weights, per-run generators);
- ``engine (float32)``: the same engine in float32;
- ``autograd ensemble``: the engine this one replaced, the ensemble ``VAE`` with autograd and
  ``torch.optim.Adam`` (default implementation), float32;
- ``reference loop``: what a user of the official example would run: one ``nn.Module`` per run
  (nn.Linear layers, 784-256-128), its own ``torch.optim.Adam``, stepped one after another, fp32;
- ``floor (float32)`` and ``floor (bfloat16)``: the forward and backward matmuls of one step of
  the R runs alone (batched, preallocated), the least any correct method must compute.

Each method's time per step is the median over ``--rounds`` rounds, the methods of a cell taking
turns within each round, of the median over ``--steps`` steps: a 2-core virtual machine drifts by
10% within minutes, and timing the methods in turns keeps that drift out of their ratios.

Usage: python benchmarks/ensemble.py [--steps 30] [--rounds 3] [--runs 10] [--batch 64 100] [--dims 2 10 40] [--name cpu]

``--name`` names the files written under ``results/benchmarks/ensemble/`` (``cpu`` by default,
which the performance appendix reads), so a second measurement sits beside the first.
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from hvae_lib.distributions import HypersphericalUniform, RunNoise, VonMisesFisher
from hvae_lib.models.vae import VAE
from hvae_lib.results import environment
from hvae_lib.results.store import results_dir
from hvae_lib.training.flat_vae import FlatVAE
from hvae_lib.training.vae_training import _Batches

X_DIM, HIDDEN = 784, (256, 128)


class ExampleVAE(nn.Module):
    """The official example's model (s-vae-pytorch ``examples/mnist.py``): one run."""

    def __init__(self, latent: str, d: int):
        super().__init__()
        self.latent, z_dim = latent, d if latent == "normal" else d + 1
        self.fc_e0, self.fc_e1 = nn.Linear(X_DIM, HIDDEN[0]), nn.Linear(HIDDEN[0], HIDDEN[1])
        self.fc_mean, self.fc_var = nn.Linear(HIDDEN[1], z_dim), nn.Linear(HIDDEN[1], d if latent == "normal" else 1)
        self.fc_d0, self.fc_d1, self.fc_logits = nn.Linear(z_dim, HIDDEN[1]), nn.Linear(HIDDEN[1], HIDDEN[0]), nn.Linear(HIDDEN[0], X_DIM)
        self.z_dim = z_dim

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc_e1(F.relu(self.fc_e0(x))))
        mean, var = self.fc_mean(h), F.softplus(self.fc_var(h))
        if self.latent == "normal":
            q = torch.distributions.Normal(mean, var + 1e-6)
            z = q.rsample()
            kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(var))).sum(-1)
        else:
            q = VonMisesFisher(mean / mean.norm(dim=-1, keepdim=True), var.squeeze(-1) + 1)
            z = q.rsample()
            kl = torch.distributions.kl_divergence(q, HypersphericalUniform(self.z_dim))
        logits = self.fc_logits(F.relu(self.fc_d1(F.relu(self.fc_d0(z)))))
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        return (reconstruction + kl).mean()


def seconds_per_step(step, steps: int) -> float:
    """The median time of ``steps`` calls of ``step`` after 5 warm-up calls."""
    for _ in range(5):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def engine_step(latent, d, runs, batch, precision, images):
    flat = FlatVAE(VAE.from_seeds(X_DIM, latent, d, list(range(runs))), 1e-3, precision)
    noise = RunNoise([torch.Generator().manual_seed(s) for s in range(runs)])
    batches = _Batches(images, binarize=True, dtype=flat.dtype)
    generator = torch.Generator().manual_seed(0)

    def step():
        index = torch.randint(0, images.shape[0], (runs, batch), generator=generator)
        flat.step(batches.serve(index, noise), 1.0, noise)

    return step


def autograd_ensemble_step(latent, d, runs, batch, images):
    model = VAE(X_DIM, latent, d, runs=runs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        x = torch.bernoulli(images[torch.randint(0, images.shape[0], (runs, batch))])
        reconstruction, kl = model.elbo_terms(x)
        loss = (kl - reconstruction).mean(dim=1).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def reference_loop_step(latent, d, runs, batch, images):
    models = [ExampleVAE(latent, d) for _ in range(runs)]
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in models]

    def step():
        for model, optimizer in zip(models, optimizers):
            x = torch.bernoulli(images[torch.randint(0, images.shape[0], (batch,))])
            optimizer.zero_grad()
            model.loss(x).backward()
            optimizer.step()

    return step


def floor_step(d, runs, batch, dtype, latent):
    """The GEMMs of one step: per layer y = x W, and in backward dW = x^T dy and dx = dy W^T
    (no dx for the first layer), batched over runs."""
    z_dim = d if latent == "normal" else d + 1
    widths = [(X_DIM, HIDDEN[0]), (HIDDEN[0], HIDDEN[1]), (HIDDEN[1], z_dim + (d if latent == "normal" else 1)),
              (z_dim, HIDDEN[1]), (HIDDEN[1], HIDDEN[0]), (HIDDEN[0], X_DIM)]
    tensors = [(torch.randn(runs, batch, k, dtype=dtype), torch.randn(runs, k, n, dtype=dtype), torch.randn(runs, batch, n, dtype=dtype)) for k, n in widths]

    def step():
        for i, (x, w, dy) in enumerate(tensors):
            torch.bmm(x, w)
            torch.bmm(x.transpose(1, 2), dy)
            if i != 0:
                torch.bmm(dy, w.transpose(1, 2))

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 100])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 10, 40])
    parser.add_argument("--name", default="cpu", help="the name of the CSV and JSON written under results/benchmarks/ensemble/")
    args = parser.parse_args()
    torch.manual_seed(0)
    images = torch.rand(5000, X_DIM)
    rows = []
    for batch in args.batch:
        for d in args.dims:
            for latent in ("normal", "vmf"):
                methods = {
                    "engine (bfloat16)": engine_step(latent, d, args.runs, batch, "bfloat16", images),
                    "engine (float32)": engine_step(latent, d, args.runs, batch, "float32", images),
                    "autograd ensemble": autograd_ensemble_step(latent, d, args.runs, batch, images),
                    "reference loop": reference_loop_step(latent, d, args.runs, batch, images),
                    "floor (float32)": floor_step(d, args.runs, batch, torch.float32, latent),
                    "floor (bfloat16)": floor_step(d, args.runs, batch, torch.bfloat16, latent),
                }
                rounds = [{method: seconds_per_step(step, args.steps) for method, step in methods.items()} for _ in range(args.rounds)]
                for method in methods:
                    seconds = sorted(times[method] for times in rounds)[args.rounds // 2]
                    rows.append({"batch": batch, "d": d, "latent": latent, "method": method, "images_per_s": args.runs * batch / seconds})
                    print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    wide = table.pivot_table(index=["batch", "d", "latent"], columns="method", values="images_per_s", sort=False)
    engine = wide["engine (bfloat16)"]
    ratios = pd.DataFrame({
        "engine img/s": engine,
        "engine / autograd ensemble": engine / wide["autograd ensemble"],
        "engine / reference loop": engine / wide["reference loop"],
        "engine / floor (float32)": engine / wide["floor (float32)"],
        "engine / floor (bfloat16)": engine / wide["floor (bfloat16)"],
    })
    print(ratios.to_string(float_format=lambda v: f"{v:.2f}"))
    out = results_dir() / "benchmarks" / "ensemble"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{args.name}.csv", index=False, float_format="%.1f")
    meta = {**environment("cpu"), "runs": args.runs, "steps": args.steps, "rounds": args.rounds, "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d")}
    (out / f"{args.name}.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
