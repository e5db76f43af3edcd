"""Table 3's joint-training check: M1 and M2 trained together from scratch, as the earlier
reproduction did, against Kingma's frozen M1.

Each joint run is paired with the frozen run of the same cell and seed: the same 100 labelled
images, the same M2 initialisation and M2's schedule (``table3.cell_schedule``). Only M1
differs: instead of Table 1's trained model (seed ``table3.M1_SEED``, frozen, its codes pruned
for a normal M1), a fresh M1 of Table 1's architecture, initialised from the run's own seed,
is trained jointly with M2 (``hvae_lib.training.joint_m1m2``), so it sees the labels through
M2's gradient and is trained for M2's epochs only. Scoring is the chapter's: argmax
q(y | mean z1) on the test images (binarised once, as the codes), after the last epoch.
Runs are stored in ``results/table3_joint/<profile>``.
"""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import torch

from hvae_lib.experiments import table1, table3
from hvae_lib.experiments.vae_runs import _digest, binarize_once, run_seeds
from hvae_lib.models.m2 import M2, M2_PRECISIONS
from hvae_lib.models.vae import VAE
from hvae_lib.results import RunStore, training_precision
from hvae_lib.stats import format_p, paired_t_p
from hvae_lib.training.joint_m1m2 import train_joint_m1m2

# The cells trained jointly: the cheapest, z1 = z2 = 5, with a normal and a hyperspherical M1
# under the same (normal) M2.
JOINT_CELLS = {"smoke": (("N+N", 5, 5),), "cpu": (("N+N", 5, 5), ("S+N", 5, 5)), "full": (("N+N", 5, 5), ("S+N", 5, 5))}


def joint_store(profile: str) -> RunStore:
    return RunStore("table3_joint", profile)


def joint_config(profile: str, configuration: str, z1: int, z2: int, precision: str | None = None) -> dict:
    """The cache key of a jointly trained cell: the frozen cell's pairing, sizes and labels,
    M2's schedule and width, and in place of the frozen M1's key the joint M1's architecture and
    its images (Table 1's data settings)."""
    schedule, hidden = table3.cell_schedule(profile, configuration, precision)
    protocol = table3.m1_protocol(profile, configuration)
    model = table3.CONFIGURATIONS[configuration][0]
    return {
        "configuration": configuration, "z1": z1, "z2": z2, "labels": table3.PROFILES[profile].labels,
        "m2": _digest({"schedule": asdict(schedule), "hidden": hidden}),
        "m1": _digest({"joint": True, "model": model, "hidden": list(protocol.hidden), "activation": protocol.activation,
                       "data": table1.PROFILES[table3.PROFILES[profile].m1_profile].data()}),
    }


def _m1_seed(identity: dict, seed: int) -> int:
    """The joint M1's initialisation seed of run ``seed``: from a hash of the cell and seed."""
    return run_seeds({**identity, "M1": "joint"}, seed)[0]


def _train_joint_cell(profile: str, configuration: str, z1: int, z2: int, config: dict, seeds: list[int], precision: str | None = None) -> list[dict]:
    setup = table3.PROFILES[profile]
    model, latent = table3.CONFIGURATIONS[configuration]
    protocol = table3.m1_protocol(profile, configuration)
    schedule, hidden = table3.cell_schedule(profile, configuration, precision)
    splits = table3.m1_splits(profile)
    train_labels = splits["train"].labels
    labelled, unlabelled = table3.label_split(train_labels, setup.labels, seeds)
    identity = {k: config[k] for k in ("configuration", "z1", "z2")}
    init, training = zip(*(table3.m2_seeds(identity, seed) for seed in seeds))
    images = splits["train"].images
    m1 = VAE.from_seeds(images.shape[1], table1.MODELS[model], z1, [_m1_seed(identity, s) for s in seeds], hidden=protocol.hidden, activation=protocol.activation)
    m2 = M2.from_seeds(m1.z_dim, latent, z2, init, hidden=hidden, precision=schedule.precision)
    fixed = {split: binarize_once(splits[split].images).expand(len(seeds), -1, -1) for split in ("valid", "test")}

    def predictions(a: VAE, b: M2, split: str) -> torch.Tensor:
        q = a.posterior(fixed[split])
        return b.predict(q.mean if a.latent == "normal" else q.loc)

    def accuracy(a: VAE, b: M2, epoch: int) -> dict:
        return {split: (100 * (predictions(a, b, split) == splits[split].labels).double().mean(-1)).tolist() for split in ("valid", "test")}

    history = train_joint_m1m2(m1, m2, images, labelled, train_labels[labelled], unlabelled, schedule, list(training), evaluate=accuracy)
    m1.eval(), m2.eval()
    with torch.no_grad():
        test_predictions = predictions(m1, m2, "test").cpu().numpy()
    table3.store_curves(joint_store(profile), config, seeds, history, test_predictions, splits["test"].labels)
    last = history[-1]
    return [{"test accuracy": last["test"][r], "valid accuracy": last["valid"][r], "epochs": schedule.epochs, "precision": schedule.precision} for r in range(len(seeds))]


def joint_runs(profile: str, cells: tuple[tuple[str, int, int], ...] | None = None, train: bool = True, precision: str | None = None) -> pd.DataFrame:
    """Every run of the jointly trained ``cells`` (the profile's ``JOINT_CELLS``), M2 in
    ``precision`` (the profile's by default), trained where missing; or with ``train=False``
    only those stored, in either precision (the profile's kept where a run has both, as
    ``table3.stored_runs``); one row per run."""
    store, runs = joint_store(profile), list(range(table3.PROFILES[profile].runs))
    frames = []
    for configuration, z1, z2 in cells or JOINT_CELLS[profile]:
        if train:
            config = joint_config(profile, configuration, z1, z2, precision)
            records = store.run_ensemble(config, runs, lambda missing, c=configuration, a=z1, b=z2, k=config: _train_joint_cell(profile, c, a, b, k, missing, precision))
        else:
            own = table3.cell_schedule(profile, configuration)[0].precision
            configs = [joint_config(profile, configuration, z1, z2, p) for p in (own, *(p for p in M2_PRECISIONS if p != own))]
            records = [r for r in (_first_stored(store, configs, seed) for seed in runs) if r is not None]
        frames.append(pd.DataFrame([{**r["config"], "run": r["seed"], **r["metrics"], "wall_s": r["provenance"]["wall_s"]} for r in records]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _first_stored(store: RunStore, configs: list[dict], seed: int) -> dict | None:
    """Run ``seed`` of the first of ``configs`` that has it stored, or None."""
    return next((record for record in (store.get(config, seed) for config in configs) if record is not None), None)


def joint_ablation(profile: str, runs: pd.DataFrame, joint: pd.DataFrame | None = None) -> pd.DataFrame:
    """Frozen M1 (the chapter's ``runs``) against M1 trained jointly with M2 (``joint``), per
    cell with both: the final test accuracies (%) and their difference, paired by run (same
    labelled images and M2 initialisation). Without ``joint``, the joint runs are trained here
    under the profiles that train in the chapter (``table3.TRAINS_HERE``) and read from the
    store otherwise."""
    if joint is None:
        joint = joint_runs(profile, train=table3.TRAINS_HERE[profile])
    rows = []
    for (configuration, z1, z2), cell in (joint.groupby(["configuration", "z1", "z2"]) if not joint.empty else ()):
        frozen = runs[(runs["configuration"] == configuration) & (runs["z1"] == z1) & (runs["z2"] == z2)].set_index("run")["test accuracy"]
        pair = table3.paired_by_run(cell.set_index("run")["test accuracy"], frozen)
        if pair is None:
            continue
        together, frozen = pair
        difference = together - frozen
        rows.append({
            "pairing": configuration, "z1": z1, "z2": z2, "runs": len(difference),
            "frozen M1 (as Kingma)": table3.mean_sd(frozen), "joint M1 and M2": table3.mean_sd(together),
            "joint − frozen": f"{difference.mean():+.1f} ± {difference.std():.1f}",
            "p (paired)": format_p(paired_t_p(together.to_numpy(), frozen.to_numpy())),
        })
    if not rows:
        return pd.DataFrame({"pairing": ["all"], "measured": ["no cell has frozen and joint runs of the same seeds yet"]}).set_index("pairing")
    return pd.DataFrame(rows).set_index(["pairing", "z1", "z2"])


def joint_summary(profile: str, runs: pd.DataFrame) -> str:
    """One line for the audit: per jointly trained cell with stored runs, joint minus frozen
    final test accuracy (mean ± sd of the paired differences), read without training."""
    joint = joint_runs(profile, train=False)
    table = joint_ablation(profile, runs, joint)
    if "joint − frozen" not in table:
        return "not yet measured: no cell has frozen and joint runs of the same seeds"
    epochs = table3.cell_schedule(profile, "N+N")[0].epochs
    cells = "; ".join(f"{pairing} at z1 = {z1}, z2 = {z2}: {row['joint − frozen']} points ({row['runs']} paired runs)" for (pairing, z1, z2), row in table.iterrows())
    return f"{cells}; {epochs} M2 epochs"


def main(argv: list[str] | None = None) -> None:
    """One unit in a background job: ``python -m hvae_lib.experiments.table3_joint cpu``
    trains the profile's ``JOINT_CELLS``."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("profile", choices=tuple(table3.PROFILES))
    parser.add_argument("--configurations", nargs="+", help="train only the profile's joint cells of these pairings")
    parser.add_argument("--precision", choices=M2_PRECISIONS, help="M2's precision in training (default: the profile's, float32 where the CPU lacks native bfloat16)")
    args = parser.parse_args(argv)
    cells = tuple(cell for cell in JOINT_CELLS[args.profile] if args.configurations is None or cell[0] in args.configurations)
    if not cells:
        parser.error(f"profile {args.profile} trains no joint cell of {args.configurations}; its cells are {JOINT_CELLS[args.profile]}")
    start = time.perf_counter()
    frame = joint_runs(args.profile, cells, precision=args.precision or training_precision(table3.cell_schedule(args.profile, cells[0][0])[0].precision))
    print(frame[["configuration", "z1", "z2", "run", "test accuracy", "valid accuracy"]].to_string(index=False))
    print(f"wall time {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
