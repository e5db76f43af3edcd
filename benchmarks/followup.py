"""What the follow-up paper's compressed loss costs, against the standard beta-VAE step.

The paper reports +32% time per epoch at batch 200, n = 200 (an H100, its residual network),
and warns that the cost grows with n. Here, on this machine's CPU, for the book's MLP networks
at batch 200 and each n, one row per method times a full training step (both of the authors'
updates: encoder, then decoder) and scales it to an epoch of 60,000 images:

- ``standard``: the standard beta-VAE step, the floor: any compressed step does this and more;
- ``compressed (suffix)``: the compressed loss with the library's O(n) cosines;
- ``compressed (masked)``: the same loss with the authors' O(n^2) mask.

A second table times the regulariser alone (forward and backward on (200, n) inputs), suffix
against masked, with the standard KL as its floor.

Usage: python benchmarks/followup.py [--steps 20] [--dims 50 100 200 400 800 1000]
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import torch

from ensemble import seconds_per_step  # benchmarks/ensemble.py, beside this script

from hvae_lib.distributions import RunNoise
from hvae_lib.models.compression_loss import CompressionLoss, standard_kld
from hvae_lib.models.image_vae import ImageVAE
from hvae_lib.results import environment
from hvae_lib.results.store import results_dir
from hvae_lib.training.image_vae_training import _step

BATCH, EPOCH_IMAGES = 200, 60_000


def training_step(n: int, loss: CompressionLoss | None):
    torch.manual_seed(0)
    model = ImageVAE(n, normalize_z=loss is not None)
    optimizers = [torch.optim.Adam(p, lr=2e-4) for p in (model.encoder_parameters(), model.decoder_parameters())]
    noise = RunNoise([torch.Generator().manual_seed(0)])
    x = torch.rand(1, BATCH, 784)
    beta = torch.ones(1)
    return lambda: _step(model, x, beta, loss, noise, optimizers, 1e-3)


def regulariser_call(n: int, loss: CompressionLoss | None):
    mu = torch.randn(1, BATCH, n, requires_grad=True)
    logvar = (torch.randn(1, BATCH, n) - 2).requires_grad_()

    def call():
        value = standard_kld(mu, logvar) if loss is None else loss.terms(mu, logvar)["total"]
        torch.autograd.grad(value.sum(), (mu, logvar))

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--dims", type=int, nargs="+", default=[50, 100, 200, 400, 800, 1000])
    args = parser.parse_args()
    methods = {"standard": None, "compressed (suffix)": CompressionLoss(), "compressed (masked)": CompressionLoss(transform="masked")}
    rows = []
    for n in args.dims:
        for method, loss in methods.items():
            step = seconds_per_step(training_step(n, loss), args.steps)
            alone = seconds_per_step(regulariser_call(n, loss), args.steps)
            rows.append({"n": n, "method": method, "seconds_per_epoch": step * EPOCH_IMAGES / BATCH, "regulariser_ms": 1000 * alone})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    wide = table.pivot(index="n", columns="method", values="seconds_per_epoch")
    print((wide.div(wide["standard"], axis=0) - 1).mul(100).round(1).to_string())
    out = results_dir() / "benchmarks" / "followup"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "cpu.csv", index=False, float_format="%.4g")
    meta = {**environment("cpu"), "batch": BATCH, "steps": args.steps, "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d")}
    (out / "cpu.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
