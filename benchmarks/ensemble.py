"""Throughput of the vectorised ensemble vs the same runs trained one after another.

Prints, for each latent family and number of runs R, training throughput in
(runs x images) / s for one ensemble of R runs and for R separate single-run models stepped in
sequence, and their ratio, in the same process. The floor is one ensemble step's matmuls alone
(forward and backward of the MLPs with no sampling, KL or optimiser), the least any correct
implementation must do. Usage: python benchmarks/ensemble.py [--device cuda] [--steps 30]
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import torch

from hvae_lib.models.vae import VAE
from hvae_lib.results import environment
from hvae_lib.results.store import results_dir

BATCH = 64
D = 10


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(models: list[VAE], x: torch.Tensor, steps: int, device: torch.device, floor: bool = False) -> float:
    """Seconds per training step of all ``models`` (median of ``steps`` after 3 warm-up steps)."""
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in models]
    times = []
    for step in range(steps + 3):
        synchronize(device)
        start = time.perf_counter()
        for model, optimizer in zip(models, optimizers):
            batch = x[: model.runs]
            if floor:
                z = torch.zeros(model.runs, BATCH, model.z_dim, device=device)
                loss = model.decode(z).sum() + model.encoder(batch).sum()
            else:
                reconstruction, kl = model.elbo_terms(batch)
                loss = (kl - reconstruction).mean(dim=1).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if not floor:
                optimizer.step()
        synchronize(device)
        if step >= 3:
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 3, 10])
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    rows = []
    for latent in ("normal", "vmf"):
        for runs in args.runs:
            x = torch.bernoulli(torch.rand(runs, BATCH, 784, device=device))
            ensemble = [VAE(784, latent, D, runs=runs).to(device)]
            separate = [VAE(784, latent, D, runs=1).to(device) for _ in range(runs)]
            t_ens = time_steps(ensemble, x, args.steps, device)
            t_sep = time_steps(separate, x, args.steps, device)
            t_floor = time_steps(ensemble, x, args.steps, device, floor=True)
            rows.append({
                "latent": latent, "runs": runs,
                "ensemble img/s": runs * BATCH / t_ens, "sequential img/s": runs * BATCH / t_sep,
                "ensemble / sequential": t_sep / t_ens, "ensemble / floor": t_ens / t_floor,
            })
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    out = results_dir() / "benchmarks" / "ensemble"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{device.type}.csv", index=False)
    meta = {**environment(device), "batch": BATCH, "d": D, "steps": args.steps, "date": time.strftime("%Y-%m-%d")}
    (out / f"{device.type}.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
