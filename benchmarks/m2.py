"""Training speed of M2 (Table 3) against the formulation it replaced and its floors, in one
process.

For R runs and a cell (M1 code dimension, z2's family and dimension), each row times full
training steps as ``hvae_lib.training.m2_training`` takes them (z1 drawn from a normal M1
posterior, 1 labelled and 499 unlabelled images, the bound enumerated over 10 classes, backward,
Adam) and reports steps per second and seconds per epoch (100 steps):

- ``engine (bfloat16)`` and ``engine (float32)``: ``hvae_lib.models.m2.M2`` with its split first
  layers and hand-written wide backward (``hvae_lib.models.pairwise_mlp``), fused Adam;
- ``concatenated autograd``: the same model written as Kingma's code and the library's first
  version did, the networks applied to [z1, onehot(y)] for every one of the 5,000 pairs, plain
  autograd, ``torch.optim.Adam`` (default implementation), float32;
- ``floor (float32)`` and ``floor (bfloat16)``: the forward and backward matmuls of one step
  of the split formulation alone (batched, preallocated), the least any correct method must
  compute; the softplus of the two (R, 5000, 500) hidden layers is left out, so even the
  floor's speed is not reachable.

Usage: python benchmarks/m2.py [--steps 10] [--runs 3] [--name cpu]

``--name`` names the files written under ``results/benchmarks/m2/`` (``cpu`` by default; e.g.
``cpu-avx2`` for a CPU without native bfloat16, kept beside the first machine's).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import pandas as pd
import torch
import torch.nn.functional as F
from torch.distributions import Independent, Normal

from ensemble import seconds_per_step  # benchmarks/ensemble.py, beside this script
from hvae_lib.distributions import RunNoise, VonMisesFisher
from hvae_lib.models.m2 import M2
from hvae_lib.results import environment
from hvae_lib.results.store import results_dir
from hvae_lib.training.m2_training import Codes

# (M1 code dimension, z2's family, z2's dimension): N+N at 5/5, S+N at 10/10, S+S at 50/50.
CELLS = ((5, "normal", 5), (11, "normal", 10), (51, "vmf", 50))
CLASSES, HIDDEN, LABELLED, UNLABELLED, STEPS_PER_EPOCH = 10, 500, 1, 499, 100


class ConcatenatedM2(M2):
    """M2 computed as written: each network applied to [input, onehot(y)], one row per pair."""

    def _bound(self, z1, y, z2, noise):
        runs, n, _ = z1.shape
        enumerated = y is None
        if enumerated:  # the n x K pairs, example-major
            z1, y = z1.repeat_interleave(self.classes, dim=1), torch.arange(self.classes).repeat(n).expand(runs, -1)
        onehot = F.one_hot(y, self.classes).to(z1.dtype)
        h = self.encoder(torch.cat([z1, onehot], dim=-1))
        loc, raw = self.loc_head(h), self.scale_head(h)
        if self.latent == "normal":
            q = Independent(Normal(loc, F.softplus(raw) + 1e-6), 1)
        else:
            q = VonMisesFisher(F.normalize(loc, dim=-1), F.softplus(raw.squeeze(-1)) + 1)
        g = self.decoder(torch.cat([self.sample_posterior(q, noise), onehot], dim=-1))
        likelihood = Independent(Normal(self.mean_head(g), torch.exp(0.5 * self.log_var_head(g))), 1)
        bound = likelihood.log_prob(z1) - math.log(self.classes) - torch.distributions.kl_divergence(q, self.prior())
        return bound.view(runs, n, self.classes) if enumerated else bound


def m2_step(model_class, x_dim, latent, d, runs, precision, fused):
    model = model_class.from_seeds(x_dim, latent, d, list(range(runs)), hidden=HIDDEN, precision=precision)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4, weight_decay=2e-5, fused=fused)
    noise = RunNoise([torch.Generator().manual_seed(s) for s in range(runs)])
    generator = torch.Generator().manual_seed(0)
    codes = Codes("normal", torch.randn(50_000, x_dim, generator=generator), torch.rand(50_000, x_dim, generator=generator))
    labels = torch.randint(0, CLASSES, (runs, LABELLED), generator=generator)

    def step():
        index = torch.randint(0, 50_000, (runs, LABELLED + UNLABELLED), generator=generator)
        z1 = codes.sample(index, noise)
        loss = model.loss(z1[:, :LABELLED], labels, z1[:, LABELLED:], 1000.0, noise)
        optimizer.zero_grad(set_to_none=True)
        (loss.sum() * STEPS_PER_EPOCH / 50_000).backward()
        optimizer.step()

    return step


def floor_step(x_dim, latent, d, runs, dtype):
    """The GEMMs of one step of the split formulation: per layer y = x W, dW = x^T dy and
    dx = dy W^T (no dx into z1), per image (classifier, the encoder's z1 part) or per pair."""
    z_dim, scale = (d, d) if latent == "normal" else (d + 1, 1)
    images, pairs = LABELLED + UNLABELLED, (LABELLED + UNLABELLED * CLASSES)
    layers = [  # (rows, in, out, has dx)
        (images, x_dim, HIDDEN, False), (images, HIDDEN, CLASSES, True),  # classifier
        (images, x_dim, HIDDEN, False),  # encoder, z1's part
        (pairs, HIDDEN, z_dim + scale, True),  # encoder heads
        (pairs, z_dim, HIDDEN, True), (pairs, HIDDEN, 2 * x_dim, True),  # decoder
    ]
    tensors = [(torch.randn(runs, n, k, dtype=dtype), torch.randn(runs, k, m, dtype=dtype), torch.randn(runs, n, m, dtype=dtype), dx) for n, k, m, dx in layers]

    def step():
        for x, w, dy, dx in tensors:
            torch.bmm(x, w)
            torch.bmm(x.transpose(1, 2), dy)
            if dx:
                torch.bmm(dy, w.transpose(1, 2))

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--name", default="cpu", help="the name of the CSV and JSON written under results/benchmarks/m2/")
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = []
    for x_dim, latent, d in CELLS:
        methods = {
            "engine (bfloat16)": m2_step(M2, x_dim, latent, d, args.runs, "bfloat16", True),
            "engine (float32)": m2_step(M2, x_dim, latent, d, args.runs, "float32", True),
            "concatenated autograd": m2_step(ConcatenatedM2, x_dim, latent, d, args.runs, "float32", False),
            "floor (float32)": floor_step(x_dim, latent, d, args.runs, torch.float32),
            "floor (bfloat16)": floor_step(x_dim, latent, d, args.runs, torch.bfloat16),
        }
        for method, step in methods.items():
            seconds = seconds_per_step(step, args.steps)
            rows.append({"M1 code": x_dim, "z2": f"{latent} {d}", "method": method, "ms_per_step": 1000 * seconds})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    wide = table.pivot_table(index=["M1 code", "z2"], columns="method", values="ms_per_step", sort=False)
    engine = wide["engine (bfloat16)"]
    print(pd.DataFrame({
        "engine s/epoch": engine * STEPS_PER_EPOCH / 1000,
        "speed-up vs concatenated": wide["concatenated autograd"] / engine,
        "share of float32 floor": wide["floor (float32)"] / engine,
        "share of bfloat16 floor": wide["floor (bfloat16)"] / engine,
    }).to_string(float_format=lambda v: f"{v:.2f}"))
    out = results_dir() / "benchmarks" / "m2"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{args.name}.csv", index=False, float_format="%.2f")
    meta = {**environment("cpu"), "runs": args.runs, "steps": args.steps, "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d")}
    (out / f"{args.name}.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
