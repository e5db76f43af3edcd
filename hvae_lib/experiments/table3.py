"""Table 3: the M1+M2 semi-supervised model with normal and hyperspherical latents.

The paper stacks its M1 (the Table 1 VAE at d = z1) under Kingma et al.'s (2014) M2 and compares
three pairings, N+N, S+S and S+N (M1's latent, then M2's), for z1, z2 in {5, 10, 50}, with 100
labels. The protocol follows Kingma's recipe wherever the paper is silent
(``../shared/reference/semisupervised.md`` §3.3):

- one M1 per (family, z1), trained once (seed ``M1_SEED``) with Table 1's protocol under the
  Table 1 profile ``Table3Profile.m1_profile``, then frozen; its posterior on every image
  (the images binarised once, as Table 2's codes) is M2's data;
- the normal M1's near-constant coordinates are pruned (sd of the posterior means over the
  training images below 0.1, Kingma's rule); a hyperspherical code is one direction and is kept
  whole;
- a run is a new class-balanced draw of the labelled images (draw = the run's seed) and a new
  M2 initialisation; M2 trains as ``hvae_lib.training.m2_training`` says, and its test accuracy
  is argmax q(y | mean z1) after the last epoch (no Hungarian matching, no model selection);
  validation accuracy is logged beside it.

M1 codes and parameters are not committed: they are kept in
``results/table3_m1/<Table 1 profile>/codes`` and ``.../models`` (ignored by git; profiles with
the same M1 protocol share them). Missing codes are recomputed from the parameters, and missing
parameters retrain the M1 (seeded: it reproduces its stored run only while the engine's arithmetic and
the CPU's matrix kernels are unchanged). M2 runs are cached per run in
``results/table3/<profile>`` and listed in its ``runs.csv``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from hvae_lib.data import load_images
from hvae_lib.evaluation.class_matching import argmax_accuracy, confusion_matrix, matched_accuracy
from hvae_lib.evaluation.knn import balanced_label_draw
from hvae_lib.experiments import table1
from hvae_lib.experiments.vae_runs import VAEProtocol, _digest, binarize_once, device, protocol_vae, run_config, run_seeds, run_vae
from hvae_lib.models.m2 import M2, M2_PRECISIONS
from hvae_lib.plotting import CYCLE
from hvae_lib.results import RunStore, one_per_run, training_precision
from hvae_lib.stats import format_p, holm, paired_t_p, welch_p
from hvae_lib.training.m2_training import Codes, M2Schedule, active_coordinates, train_m2
from hvae_lib.training.vae_training import TrainingSchedule

CONFIGURATIONS = {"N+N": ("N-VAE", "normal"), "S+S": ("S-VAE", "vmf"), "S+N": ("S-VAE", "normal")}
# The anchor: Kingma et al.'s own M1+M2 (N+N at z1 = z2 = 50), whose 100-label accuracy is
# 96.67 ± 0.14% (a faithful PyTorch port: 96.55% after 1000 M2 epochs, 97.20% after 3000).
ANCHOR = "Kingma M1+M2"
CONFIGURATIONS[ANCHOR] = ("N-VAE", "normal")
KINGMA_ACCURACY = (96.67, 0.14)
# The faithful PyTorch port of Kingma's M1+M2 (jonemeth/generative-models, one run, 100 labels):
# test accuracy (%) after so many M2 epochs (``../shared/reference/semisupervised.md`` §3.2).
PORT_CURVE = pd.Series({10: 77.5, 50: 86.7, 100: 87.2, 200: 91.9, 300: 94.9, 500: 96.1, 1000: 96.55, 2000: 97.1, 3000: 97.20})
M1_SEED = 0
M2_WALL_S = "M2 wall_s"  # a run's share of its cell's M2 training, M1 left out
SPLITS = ("train", "valid", "test")
CLASSES = 10


@dataclass(frozen=True)
class Table3Profile:
    """What a Table 3 profile runs: the Table 1 profile whose protocol and data train M1, the
    (z1, z2) grid, runs per cell, labels, M2's schedule and width, and the pruning threshold
    (None: no pruning, the ablation)."""

    m1_profile: str
    z1s: tuple[int, ...]
    z2s: tuple[int, ...]
    runs: int
    schedule: M2Schedule
    labels: int = 100
    hidden: int = 500
    prune_threshold: float | None = 0.1


# The cpu profile trains M2's wide layers in bfloat16 (2-2.5x faster here), which its precision
# ablation (``precision_ablation``) must show harmless; smoke and full stay in float32.
# Under smoke, M1 trains for two epochs and no coordinate of Kingma's M1 reaches Kingma's
# pruning threshold, so smoke does not prune (pruning is tested on synthetic codes).
PROFILES = {
    "smoke": Table3Profile("smoke", (5,), (5,), runs=2, schedule=M2Schedule(epochs=2, batches=10, evaluate_every=1), hidden=50, prune_threshold=None),
    "cpu": Table3Profile("full", (5, 10, 50), (5, 10, 50), runs=3, schedule=M2Schedule(epochs=100, batches=100, evaluate_every=5, precision="bfloat16")),
    "full": Table3Profile("full", (5, 10, 50), (5, 10, 50), runs=5, schedule=M2Schedule(epochs=1000, batches=100, evaluate_every=10)),
}

# Kingma's M1: 784-600-600-50, softplus, Bernoulli, dynamic binarisation, Adam 3e-4, batch 500 and
# no warm-up (the port's settings); early stopping is off (patience beyond the last epoch), so
# only the engine's choice of the best validation epoch differs from training to the end.
# Kingma's weight prior (decay 1/N) and the port's gradient clipping are left out.
_KINGMA_SCHEDULE = TrainingSchedule(max_epochs=1000, warmup_epochs=0, patience=1001, batch_size=500, learning_rate=3e-4, precision="float32")
KINGMA_M1 = {
    "smoke": VAEProtocol(replace(_KINGMA_SCHEDULE, max_epochs=2, patience=3), hidden=(60, 60), iwae_samples=16, activation="softplus"),
    "cpu": VAEProtocol(replace(_KINGMA_SCHEDULE, max_epochs=200, patience=201), hidden=(600, 600), iwae_samples=500, activation="softplus"),
    "full": VAEProtocol(_KINGMA_SCHEDULE, hidden=(600, 600), iwae_samples=500, activation="softplus"),
}
KINGMA_M2 = {
    "smoke": M2Schedule(epochs=2, batches=10, evaluate_every=1),
    "cpu": M2Schedule(epochs=200, batches=100, evaluate_every=5, precision="bfloat16"),
    "full": M2Schedule(epochs=3000, batches=100, evaluate_every=10),
}
KINGMA_M2_HIDDEN = 500


# Davidson et al. (2018), Table 3: test accuracy (%), most likely with 100 labels
# (``../shared/reference/paper_numbers.md``); ``PAPER_MARKED`` are the cells it marks as best.
PAPER = pd.DataFrame(
    [
        (5, 5, 90.0, 94.0, 93.8), (5, 10, 90.7, 94.1, 94.8), (5, 50, 90.7, 92.7, 93.0),
        (10, 5, 90.7, 91.7, 94.0), (10, 10, 92.2, 96.0, 95.9), (10, 50, 92.9, 95.1, 95.7),
        (50, 5, 92.0, 91.7, 95.8), (50, 10, 93.0, 95.8, 97.1), (50, 50, 93.2, 94.2, 97.4),
    ],
    columns=["z1", "z2", "N+N", "S+S", "S+N"],
).set_index(["z1", "z2"])
PAPER_MARKED = {(5, 5, "S+S"), (5, 10, "S+N"), (5, 50, "S+N"), (10, 5, "S+N"), (10, 10, "S+S"), (10, 10, "S+N"),
                (10, 50, "S+N"), (50, 5, "S+N"), (50, 10, "S+N"), (50, 50, "S+N")}


def m1_protocol(profile: str, configuration: str) -> VAEProtocol:
    """The protocol of a configuration's M1: Table 1's, or for the anchor Kingma's."""
    return KINGMA_M1[profile] if configuration == ANCHOR else table1.PROFILES[PROFILES[profile].m1_profile].protocol


def m1_store(profile: str) -> RunStore:
    """Where the M1s of ``profile`` are kept: per Table 1 profile, so profiles that train M1 the
    same way share them."""
    return RunStore("table3_m1", PROFILES[profile].m1_profile)


def m1_splits(profile: str) -> dict:
    """The training, validation and test images (with labels) of Table 1's ``m1_profile``: the
    images M1 is trained and encodes on."""
    setup = table1.PROFILES[PROFILES[profile].m1_profile]
    data = load_images("mnist", validation_size=setup.validation_size, split_seed=setup.split_seed)
    return {"train": data.train.head(setup.n_train), "valid": data.valid.head(setup.n_valid), "test": data.test.head(setup.n_test)}


def m1_codes(profile: str, model: str, z1: int, protocol: VAEProtocol | None = None) -> dict[str, Codes | torch.Tensor]:
    """The frozen M1 of ``model`` at d = ``z1`` (under ``protocol``, Table 1's by default): its
    posterior on every training, validation and test image ({split: Codes}) and the labels
    ({split + " labels": tensor}). The codes are computed from the M1's stored parameters
    (``m1_parameters_path``) where they are not on disk, and the M1 is trained (seed
    ``M1_SEED``) where neither is."""
    setup = table1.PROFILES[PROFILES[profile].m1_profile]
    protocol = protocol or setup.protocol
    splits = m1_splits(profile)
    store = m1_store(profile)
    config = run_config({"model": model, "d": z1}, protocol, setup.data())
    stem = store.path(config, M1_SEED).stem
    path = store.folder / "codes" / f"{stem}.pt"
    parameters = m1_parameters_path(profile, config)

    def keep_codes(m1) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({split: _posterior(m1, binarize_once(part.images)) for split, part in splits.items()}, path)

    if not path.exists() and parameters.exists():
        m1 = protocol_vae(splits["train"].images.shape[1], table1.MODELS[model], z1, [M1_SEED], protocol)
        m1.load_state_dict(torch.load(parameters, weights_only=True))
        keep_codes(m1.to(device()))
    elif not path.exists():
        store.path(config, M1_SEED).unlink(missing_ok=True)  # recomputed, identically, with its codes

        def keep_model_and_codes(trained) -> None:
            parameters.parent.mkdir(parents=True, exist_ok=True)
            torch.save({name: value.cpu() for name, value in trained.model.state_dict().items()}, parameters)
            keep_codes(trained.model)

        run_vae(
            store, {"model": model, "d": z1}, table1.MODELS[model], z1, [M1_SEED], protocol, setup.data(),
            splits["train"].images, splits["valid"].images, splits["test"].images, after_training=keep_model_and_codes,
        )
    stored = torch.load(path, weights_only=True)
    latent = table1.MODELS[model]
    codes = {split: Codes(latent, *stored[split]) for split in SPLITS}
    return {**codes, **{f"{split} labels": part.labels for split, part in splits.items()}}


def m1_parameters_path(profile: str, config: dict) -> Path:
    """Where the trained M1 of ``config`` keeps its parameters (float32 state dict, about 2 MB
    for Table 1's architecture), kept beside the cache but out of git like every checkpoint: with
    them on disk the codes are recomputed in seconds instead of retraining M1."""
    store = m1_store(profile)
    return store.folder / "models" / f"{store.path(config, M1_SEED).stem}.pt"


@torch.no_grad()
def _posterior(model, x: torch.Tensor, batch_size: int = 5000) -> tuple[torch.Tensor, torch.Tensor]:
    """(loc, scale) of q(z1 | x) for a 1-run M1: means and sds, or mean directions and kappa."""
    locs, scales = [], []
    for start in range(0, x.shape[0], batch_size):
        q = model.posterior(x[start : start + batch_size].to(model.loc_head.weight.device).unsqueeze(0))
        if model.latent == "normal":
            locs.append(q.base_dist.loc[0]), scales.append(q.base_dist.scale[0])
        else:
            locs.append(q.loc[0]), scales.append(q.concentration[0])
    return torch.cat(locs).cpu(), torch.cat(scales).cpu()


def pruned(profile: str, codes: dict, prune: bool = True) -> tuple[dict, int]:
    """The codes with Kingma's pruning applied to a normal M1 (the mask from the training
    images; none with ``prune=False``, the ablation), and the number of coordinates kept."""
    threshold = prune_threshold(profile, prune)
    if codes["train"].latent != "normal" or threshold is None:
        return codes, codes["train"].dim
    keep = active_coordinates(codes["train"], threshold)
    if not keep.any():
        raise ValueError(f"no coordinate of this M1 has posterior means with an sd above {threshold}: it has collapsed, and M2 would see no input")
    return {**codes, **{split: codes[split].keep(keep) for split in SPLITS}}, int(keep.sum())


def m2_seeds(identity: dict, seed: int) -> tuple[int, int]:
    """(initialisation, training) seeds of run ``seed`` of a cell, from a hash of both alone
    (``vae_runs.run_seeds``' first two)."""
    return run_seeds(identity, seed)[:2]


def table3_store(profile: str) -> RunStore:
    return RunStore("table3", profile)


def cell_schedule(profile: str, configuration: str, precision: str | None = None) -> tuple[M2Schedule, int]:
    """M2's schedule and hidden width in a cell (Kingma's for the anchor), in ``precision``
    where given (the precision ablation), else the profile's."""
    setup = PROFILES[profile]
    schedule, hidden = (KINGMA_M2[profile], KINGMA_M2_HIDDEN) if configuration == ANCHOR else (setup.schedule, setup.hidden)
    return (replace(schedule, precision=precision) if precision else schedule), hidden


def prune_threshold(profile: str, prune: bool = True) -> float | None:
    """The sd below which a normal M1's coordinate is dropped: the profile's, or None (keep every
    coordinate) for the pruning ablation."""
    return PROFILES[profile].prune_threshold if prune else None


def cell_config(profile: str, configuration: str, z1: int, z2: int, precision: str | None = None, prune: bool = True) -> dict:
    """The cache key of a cell: the pairing, z1, z2, labels, M2's settings (precision and
    pruning included) and its M1's key."""
    setup = PROFILES[profile]
    m1 = table1.PROFILES[setup.m1_profile]
    m1_key = run_config({"model": CONFIGURATIONS[configuration][0], "d": z1}, m1_protocol(profile, configuration), m1.data())
    schedule, hidden = cell_schedule(profile, configuration, precision)
    return {
        "configuration": configuration, "z1": z1, "z2": z2, "labels": setup.labels,
        "m2": _digest({"schedule": asdict(schedule), "hidden": hidden, "prune": prune_threshold(profile, prune)}),
        "m1": _digest({**m1_key, "seed": M1_SEED}),
    }


def table3_runs(profile: str, cells: list[tuple[str, int, int]] | None = None, precision: str | None = None, prune: bool = True) -> pd.DataFrame:
    """Train (or read) every run of every cell (configuration, z1, z2), M2 in ``precision``
    (the profile's by default), on M1 codes pruned as the profile says (or not at all with
    ``prune=False``); one row per run with its final test and validation accuracy
    (%), the epochs, the precision and the M1 coordinates M2 saw. Each run's accuracy curve is
    its ``curve.csv`` artifact."""
    setup = PROFILES[profile]
    store = table3_store(profile)
    cells = cells or [(c, z1, z2) for c in CONFIGURATIONS if c != ANCHOR for z1 in setup.z1s for z2 in setup.z2s]
    frames = []
    for configuration, z1, z2 in cells:
        config = cell_config(profile, configuration, z1, z2, precision, prune)
        settings = cell_schedule(profile, configuration, precision)
        records = store.run_ensemble(config, list(range(setup.runs)), lambda missing, c=configuration, a=z1, b=z2, k=config, s=settings: _train_cell(profile, c, a, b, k, s, missing, prune))
        frames.append(pd.DataFrame([{**r["config"], "run": r["seed"], **r["metrics"], "wall_s": r["provenance"]["wall_s"]} for r in records]))
    return pd.concat(frames, ignore_index=True)


def anchor_runs(profile: str) -> pd.DataFrame:
    """Kingma's M1+M2 with 100 labels (M1 and M2 of ``KINGMA_M1`` and ``KINGMA_M2``, z1 = z2 = 50),
    the check that this M2 is right before any hyperspherical variant is read."""
    return table3_runs(profile, [(ANCHOR, 50, 50)])


def label_split(train_labels: torch.Tensor, labels: int, seeds: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per run, its class-balanced draw of ``labels`` labelled training images (draw = the run's
    seed) and the other images: (labelled (runs, labels), unlabelled (runs, N - labels))."""
    labelled, unlabelled = [], []
    for seed in seeds:
        chosen = balanced_label_draw(train_labels.numpy(), labels, draw=seed)
        labelled.append(torch.as_tensor(chosen))
        unlabelled.append(torch.as_tensor(np.setdiff1d(np.arange(len(train_labels)), chosen)))
    return torch.stack(labelled), torch.stack(unlabelled)


def store_curves(store: RunStore, config: dict, seeds: list[int], history: list[dict], predictions: np.ndarray, test_labels: torch.Tensor) -> None:
    """Each run's accuracy curve (``curve.csv``: epoch, validation and test accuracy) and its test
    confusion matrix after the last epoch (``confusion.csv``) as artifacts of its record."""
    for r, seed in enumerate(seeds):
        curve = pd.DataFrame({"epoch": [h["epoch"] for h in history], "valid": [h["valid"][r] for h in history], "test": [h["test"][r] for h in history]})
        path = store.artifact_path(config, seed, "curve.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        curve.to_csv(path, index=False, float_format="%.2f")
        confusion = confusion_matrix(test_labels.numpy(), predictions[r], CLASSES)
        pd.DataFrame(confusion).to_csv(store.artifact_path(config, seed, "confusion.csv"), index=False)


def _train_cell(profile: str, configuration: str, z1: int, z2: int, config: dict, settings: tuple[M2Schedule, int], seeds: list[int], prune: bool = True) -> list[dict]:
    setup = PROFILES[profile]
    m1_model, latent = CONFIGURATIONS[configuration]
    codes, kept = pruned(profile, m1_codes(profile, m1_model, z1, m1_protocol(profile, configuration)), prune)
    schedule, hidden = settings
    train_labels = codes["train labels"]
    labelled, unlabelled = label_split(train_labels, setup.labels, seeds)
    identity = {k: config[k] for k in ("configuration", "z1", "z2")}
    init, training = zip(*(m2_seeds(identity, seed) for seed in seeds))
    model = M2.from_seeds(codes["train"].dim, latent, z2, init, hidden=hidden, precision=schedule.precision)

    def accuracy(m: M2, epoch: int) -> dict:
        return {
            split: (100 * (m.predict(codes[split].mean(torch.arange(len(codes[split])).expand(len(seeds), -1))) == codes[f"{split} labels"]).double().mean(-1)).tolist()
            for split in ("valid", "test")
        }

    start = time.perf_counter()
    history = train_m2(model, codes["train"], labelled, train_labels[labelled], unlabelled, schedule, list(training), evaluate=accuracy)
    with torch.no_grad():
        predictions = model.predict(codes["test"].mean(torch.arange(len(codes["test"])).expand(len(seeds), -1))).cpu().numpy()
    m2_seconds = (time.perf_counter() - start) / len(seeds)
    store_curves(table3_store(profile), config, seeds, history, predictions, codes["test labels"])
    last = history[-1]
    return [
        {"test accuracy": last["test"][r], "valid accuracy": last["valid"][r], "epochs": schedule.epochs, "precision": schedule.precision,
         "M1 coordinates": kept, M2_WALL_S: m2_seconds}
        for r in range(len(seeds))
    ]


TRAINS_HERE = {"smoke": True, "cpu": False, "full": True}


def chapter_runs(profile: str) -> pd.DataFrame:
    """The runs the chapter shows, with the profile's own settings: under ``smoke`` and
    ``full`` every cell, trained where missing; under ``cpu`` the runs stored so far (its 27
    cells are hours of CPU, trained as background units with ``main``)."""
    if TRAINS_HERE[profile]:
        return pd.concat([table3_runs(profile), anchor_runs(profile)], ignore_index=True)
    return stored_runs(profile)


def stored_runs(profile: str) -> pd.DataFrame:
    """The runs stored under ``profile`` with its own settings (its pruning, and its precision
    or the other of ``M2_PRECISIONS``: a CPU without native bfloat16 trains M2 in float32, and
    the precision check finds the two equal), nothing trained; where a run was trained in both
    precisions, the profile's own is kept."""
    frame = table3_store(profile).frame()
    if frame.empty:
        return pd.DataFrame(columns=["configuration", "z1", "z2", "run", "test accuracy"])
    own = [row.m2 in {cell_config(profile, row.configuration, row.z1, row.z2, p)["m2"] for p in M2_PRECISIONS} for row in frame.itertuples()]
    found = frame[own]
    own_precision = pd.Series([row.precision == cell_schedule(profile, row.configuration)[0].precision for row in found.itertuples()], index=found.index)
    return one_per_run(found, ["configuration", "z1", "z2", "run"], own_precision).reset_index(drop=True)


def paired_by_run(treated: pd.Series, control: pd.Series) -> tuple[pd.Series, pd.Series] | None:
    """Two cells' final accuracies (indexed by run) restricted to the runs both have, the pairs
    of a paired test; None with fewer than two pairs."""
    paired = treated.index.intersection(control.index)
    if len(paired) < 2:
        return None
    return treated[paired], control[paired]


def precision_ablation(profile: str) -> pd.DataFrame:
    """M2 trained in float32 against bfloat16, paired by run (same labels, initialisation and
    random numbers), in every cell stored with both: the final test accuracies, their
    difference and a paired t-test, against the run-to-run sd."""
    frame = table3_store(profile).frame()
    rows = []
    if not frame.empty and "precision" in frame:
        for (configuration, z1, z2), cell in frame.groupby(["configuration", "z1", "z2"]):
            by_precision = {p: part.set_index("run")["test accuracy"] for p, part in cell.groupby("precision")}
            if set(by_precision) != set(M2_PRECISIONS):
                continue
            pair = paired_by_run(by_precision["bfloat16"], by_precision["float32"])
            if pair is None:
                continue
            fast, exact = pair
            difference = fast - exact
            rows.append({
                "pairing": configuration, "z1": z1, "z2": z2, "runs": len(difference),
                "float32": mean_sd(exact), "bfloat16": mean_sd(fast),
                "bfloat16 − float32": f"{difference.mean():+.2f} ± {difference.std():.2f}",
                "run-to-run sd": f"{exact.std():.2f}",
                "p (paired)": f"{paired_t_p(fast.to_numpy(), exact.to_numpy()):.2g}",
            })
    if not rows:
        return pd.DataFrame({"pairing": ["all"], "measured": ["no cell has runs in both precisions yet"]}).set_index("pairing")
    return pd.DataFrame(rows).set_index(["pairing", "z1", "z2"])


def pruning_ablation(profile: str) -> pd.DataFrame:
    """M2 on a normal M1's codes with Kingma's pruning (the profile's) against every coordinate
    kept, in every cell stored both ways: the coordinates M2 saw, the final test accuracies, and
    their difference with a t-test paired by run (the same labelled images; M2's first layer
    differs in width, so its initialisation does too)."""
    frame = table3_store(profile).frame()
    rows = []
    for (configuration, z1, z2), cell in (frame.groupby(["configuration", "z1", "z2"]) if not frame.empty else ()):
        if CONFIGURATIONS[configuration][0] != "N-VAE":
            continue
        keys = {prune: cell_config(profile, configuration, z1, z2, prune=prune)["m2"] for prune in (True, False)}
        if keys[True] == keys[False]:
            continue
        parts = {prune: cell[cell["m2"] == key].set_index("run") for prune, key in keys.items()}
        pair = paired_by_run(parts[True]["test accuracy"], parts[False]["test accuracy"])
        if pair is None:
            continue
        with_pruning, without = pair
        difference = with_pruning - without
        rows.append({
            "pairing": configuration, "z1": z1, "z2": z2, "runs": len(difference),
            "coordinates kept": f"{int(parts[True]['M1 coordinates'].iloc[0])} of {int(parts[False]['M1 coordinates'].iloc[0])}",
            "pruned": mean_sd(with_pruning), "every coordinate": mean_sd(without),
            "pruned − every": f"{difference.mean():+.2f} ± {difference.std():.2f}",
            "p (paired)": format_p(paired_t_p(with_pruning.to_numpy(), without.to_numpy())),
        })
    if not rows:
        return pd.DataFrame({"pairing": ["all"], "measured": ["no normal-M1 cell has runs with and without pruning yet"]}).set_index("pairing")
    return pd.DataFrame(rows).set_index(["pairing", "z1", "z2"])


def table3_table(profile: str, runs: pd.DataFrame) -> pd.DataFrame:
    """Per (z1, z2): each pairing's final test accuracy (mean ± sd over runs, with the runs) next
    to the paper's, the best marked as the paper marks it."""
    rows = []
    for (z1, z2), paper in PAPER.iterrows():
        row = {"z1": z1, "z2": z2}
        for configuration in PAPER.columns:
            cell = runs[(runs["configuration"] == configuration) & (runs["z1"] == z1) & (runs["z2"] == z2)]["test accuracy"]
            row[f"{configuration} ours"] = mean_sd(cell) if len(cell) else "not yet run"
            row[f"{configuration} paper"] = f"{paper[configuration]:.1f}{'*' if (z1, z2, configuration) in PAPER_MARKED else ''}"
        rows.append(row)
    return pd.DataFrame(rows).set_index(["z1", "z2"])


def status(profile: str, runs: pd.DataFrame) -> str:
    """Which budget the chapter's numbers come from: cells with runs out of the grid, runs per
    cell, M2's epochs against the full protocol's, and whether the anchor has run."""
    setup, full = PROFILES[profile], PROFILES["full"]
    grid = [(c, z1, z2) for c in PAPER.columns for z1 in setup.z1s for z2 in setup.z2s]
    done = runs[runs["configuration"] != ANCHOR].groupby(["configuration", "z1", "z2"])["run"].nunique() if not runs.empty else pd.Series(dtype=int)
    complete = sum(int(done.get(cell, 0)) >= setup.runs for cell in grid)
    budget = "the full protocol" if profile == "full" else f"a reduced budget ({setup.schedule.epochs} M2 epochs; the full protocol trains {full.schedule.epochs})"
    anchor = int((runs["configuration"] == ANCHOR).sum()) if not runs.empty else 0
    anchor_epochs = KINGMA_M2[profile].epochs
    anchor_text = f"the anchor ({anchor_epochs} M2 epochs) has {anchor} of {setup.runs} runs" if anchor else f"the anchor ({anchor_epochs} M2 epochs) has not run yet"
    other = runs[runs["precision"] != setup.schedule.precision] if "precision" in runs else runs.iloc[:0]
    precision_text = (
        f" {len(other)} of the {len(runs)} runs trained M2 in {', '.join(sorted(other['precision'].unique()))} instead of "
        f"{setup.schedule.precision}, on a CPU without native bfloat16 (the precision check finds the two equal)."
        if len(other) else f" Every run trained M2 in {setup.schedule.precision}." if len(runs) else ""
    )
    return (
        f"Profile **{profile}** is {budget}, {setup.runs} runs per cell with M1 trained under Table 1's "
        f"**{setup.m1_profile}** protocol. Cells with all their runs: {complete} of {len(grid)}; with at "
        f"least one run: {len(done)}; {anchor_text}." + precision_text
    )


def mean_sd(values: pd.Series) -> str:
    """'mean ± sd (runs)' of final accuracies, or 'mean (1)' for one run."""
    return f"{values.mean():.1f} ± {values.std():.1f} ({len(values)})" if len(values) > 1 else f"{values.mean():.1f} (1)"


def best_pairing_tests(profile: str, runs: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The paper's claim "S+N is best", per (z1, z2) with at least 2 runs of each pairing:
    S+N against N+N and against S+S (Welch's test on the runs' final accuracies, two-sided, so
    that a reversal is found as well as the claim), Holm-corrected over every test of the table.
    Under ``full`` a significant difference reads "confirmed" (S+N better) or "refuted"; under a
    reduced budget "holds (reduced budget)" or "reversed (reduced budget)"."""
    rows = []
    for (z1, z2), cell in (runs.groupby(["z1", "z2"]) if not runs.empty else ()):
        values = {c: cell.loc[cell["configuration"] == c, "test accuracy"].to_numpy() for c in PAPER.columns}
        for other in ("N+N", "S+S"):
            if min(len(values["S+N"]), len(values[other])) >= 2:
                difference = values["S+N"].mean() - values[other].mean()
                rows.append({"z1": z1, "z2": z2, "S+N against": other, "difference": difference, "p": welch_p(values["S+N"], values[other])})
    if not rows:
        return pd.DataFrame({"z1": ["all"], "z2": ["all"], "measured": ["no cell has 2 runs of each pairing yet"]}).set_index(["z1", "z2"])
    table = pd.DataFrame(rows)
    table["p (Holm)"] = holm(table["p"].to_numpy())
    words = table1.verdict_words(profile)
    table["verdict"] = [words[1 if d > 0 else -1] if q < alpha else "not significant" for d, q in zip(table["difference"], table["p (Holm)"])]
    table["difference"] = table["difference"].map(lambda v: f"{v:+.1f}")
    for column in ("p", "p (Holm)"):
        table[column] = table[column].map(lambda v: f"{v:.2g}")
    return table.set_index(["z1", "z2", "S+N against"])


def results_reading(profile: str, runs: pd.DataFrame) -> str:
    """What the results table shows: per z1, the pairing with the highest mean in each z2 cell
    against the paper's, the verdicts of ``best_pairing_tests`` and the cells not yet run."""
    grid = runs[runs["configuration"] != ANCHOR] if not runs.empty else runs
    means = grid.groupby(["z1", "z2", "configuration"])["test accuracy"].mean() if not grid.empty else pd.Series(dtype=float)
    sentences = []
    for z1 in PROFILES[profile].z1s:
        leaders = []
        for z2 in PROFILES[profile].z2s:
            cell = means[z1][z2] if z1 in means.index.get_level_values(0) and z2 in means[z1].index.get_level_values(0) else pd.Series(dtype=float)
            if len(cell) == len(PAPER.columns):
                paper = PAPER.loc[(z1, z2)]
                leaders.append(f"{cell.idxmax()} at z2 = {z2} (paper: {' and '.join(paper.index[paper == paper.max()])})")
        if leaders:
            sentences.append(f"At z1 = {z1} the best mean is {'; '.join(leaders)}.")
    tests = best_pairing_tests(profile, grid)
    if "verdict" in tests:
        counts = tests["verdict"].value_counts()
        sentences.append(f"Of the {len(tests)} tests of S+N against another pairing: " + ", ".join(f"{verdict} {count}" for verdict, count in counts.items()) + ".")
        reversed_ = [f"z1 = {z1}, z2 = {z2} against {other} ({row['difference']} points)" for (z1, z2, other), row in tests.iterrows() if row["verdict"] in ("refuted", "reversed (reduced budget)")]
        if reversed_:
            sentences.append("S+N is significantly worse at " + "; ".join(reversed_) + ".")
    done = set(map(tuple, grid[["configuration", "z1", "z2"]].drop_duplicates().to_numpy())) if not grid.empty else set()
    z2s, missing = PROFILES[profile].z2s, []
    for z1 in PROFILES[profile].z1s:
        for c in PAPER.columns:
            absent = [z2 for z2 in z2s if (c, z1, z2) not in done]
            if absent:
                missing.append(f"{c} at z1 = {z1}" + ("" if len(absent) == len(z2s) else f" (z2 = {', '.join(map(str, absent))})"))
    if missing:
        sentences.append("Not yet run: " + ", ".join(missing) + ".")
    if grid.empty:
        return "No cell of the grid has been trained under this profile yet."
    budget = "the full protocol" if profile == "full" else f"the reduced budget of profile {profile}"
    return f"These results come from {budget}. " + " ".join(sentences)


def matched_runs(profile: str, runs: pd.DataFrame) -> pd.DataFrame:
    """Per run of ``runs`` that stored its test confusion matrix: its final test accuracy (%)
    as scored here (argmax of q(y | z1)) and after the best relabelling of the predicted
    classes (Hungarian matching, as the earlier reproduction scored)."""
    store = table3_store(profile)
    rows = []
    for run in (runs.itertuples() if not runs.empty else ()):
        path = store.artifact_path(cell_config(profile, run.configuration, run.z1, run.z2), int(run.run), "confusion.csv")
        if path.exists():
            confusion = pd.read_csv(path).to_numpy()
            rows.append({"pairing": run.configuration, "z1": run.z1, "z2": run.z2, "run": int(run.run),
                         "argmax": 100 * argmax_accuracy(confusion), "Hungarian": 100 * matched_accuracy(confusion)})
    return pd.DataFrame(rows, columns=["pairing", "z1", "z2", "run", "argmax", "Hungarian"])


def matching_table(profile: str, runs: pd.DataFrame) -> pd.DataFrame:
    """What the earlier reproduction's Hungarian matching adds to each cell's final test
    accuracy (%): argmax of q(y | z1) as scored here, the accuracy after the best relabelling
    of the predicted classes, and their difference (mean ± sd over the runs that stored their
    test confusion matrix)."""
    matched = matched_runs(profile, runs)
    if matched.empty:
        return pd.DataFrame({"pairing": ["all"], "measured": ["no stored run carries its test confusion matrix yet"]}).set_index("pairing")
    rows = []
    for (configuration, z1, z2), cell in matched.groupby(["pairing", "z1", "z2"]):
        gain = cell["Hungarian"] - cell["argmax"]
        rows.append({
            "pairing": configuration, "z1": z1, "z2": z2, "runs": len(cell),
            "argmax": mean_sd(cell["argmax"]), "Hungarian": mean_sd(cell["Hungarian"]),
            "Hungarian − argmax": f"{gain.mean():+.2f} ± {gain.std():.2f}" if len(gain) > 1 else f"{gain.mean():+.2f}",
        })
    return pd.DataFrame(rows).set_index(["pairing", "z1", "z2"])


def matching_by_pairing(profile: str, runs: pd.DataFrame) -> pd.DataFrame:
    """``matching_table`` per pairing: its cells and runs, the range of its cells' mean
    accuracy as scored here, the runs whose score matching changes, and the largest gain of
    any run (points)."""
    matched = matched_runs(profile, runs)
    if matched.empty:
        return pd.DataFrame({"pairing": ["all"], "measured": ["no stored run carries its test confusion matrix yet"]}).set_index("pairing")
    rows = []
    for configuration, group in matched.groupby("pairing"):
        means = group.groupby(["z1", "z2"])["argmax"].mean()
        gain = group["Hungarian"] - group["argmax"]
        rows.append({
            "pairing": configuration, "cells": len(means), "runs": len(group),
            "argmax, cell means (%)": f"{means.min():.1f}–{means.max():.1f}" if len(means) > 1 else f"{means.iloc[0]:.1f}",
            "runs changed by matching": f"{int((gain > 1e-9).sum())} of {len(group)}",
            "largest gain (points)": f"{gain.max():+.2f}",
        })
    return pd.DataFrame(rows).set_index("pairing")


def matching_summary(profile: str, runs: pd.DataFrame) -> str:
    """One line for the audit: what Hungarian matching adds to the final test accuracy, the
    range of the cell means of ``matching_table``, and M2's epochs."""
    table = matching_table(profile, runs)
    if "Hungarian − argmax" not in table:
        return "not yet measured: no stored run carries its test confusion matrix"
    gains = table["Hungarian − argmax"].map(lambda text: float(text.split(" ")[0]))
    epochs = cell_schedule(profile, "N+N")[0].epochs
    return f"{gains.min():+.2f} to {gains.max():+.2f} points of test accuracy over {len(gains)} cells ({int(table['runs'].sum())} runs, {epochs} M2 epochs)"


def cost_reading(profile: str, runs: pd.DataFrame) -> str:
    """What Table 3 costs on the machine that trained it: the seconds per M2 epoch of a cell's
    runs trained together, for the cheapest and the dearest cell stored, and the whole grid at
    those two rates, under ``profile`` and under the full protocol (its runs per cell scaled
    linearly). The rate is M2's own time (``M2_WALL_S``) where recorded; cells trained before it
    was recorded count the unit's wall time, which includes the M1 it trained, and are named."""
    grid = runs[runs["configuration"] != ANCHOR] if not runs.empty else runs
    if grid.empty or not {"wall_s", "ensemble_runs"} <= set(grid.columns):
        return "No Table 3 cell has been trained under this profile yet, so its cost here is not measured."
    own = grid[M2_WALL_S] if M2_WALL_S in grid else pd.Series(np.nan, index=grid.index)
    rate = own.fillna(grid["wall_s"]) * grid["ensemble_runs"] / grid["epochs"]
    cell = [grid["configuration"], grid["z1"], grid["z2"]]
    per_cell = rate.groupby(cell).max()
    untimed = own.isna().groupby(cell).any()
    setup, full = PROFILES[profile], PROFILES["full"]
    cells = len(PAPER.columns) * len(setup.z1s) * len(setup.z2s)

    def hours(seconds: float, epochs: int, scale: float = 1.0) -> str:
        return f"{cells * seconds * epochs * scale / 3600:.0f}"

    def name(cell: tuple) -> str:
        return f"{cell[0]} at z1 = {cell[1]}, z2 = {cell[2]}"

    low, high = per_cell.min(), per_cell.max()
    scale = full.runs / setup.runs
    grid_text = f"the {cells} cells at this reduced budget ({setup.runs} runs, {setup.schedule.epochs} epochs)" if profile != "full" else f"the {cells} cells"
    full_text = f"the full protocol ({full.runs} runs, {full.schedule.epochs} epochs)"
    single = len(per_cell) == 1
    if single:
        rates = f"{low:.1f} s ({name(per_cell.idxmin())}, the one cell trained so far)"
    else:
        rates = f"{low:.1f} s ({name(per_cell.idxmin())}) to {high:.1f} s ({name(per_cell.idxmax())}), over the {len(per_cell)} cells trained so far"

    def span(epochs: int, scale: float = 1.0) -> str:
        return f"about {hours(low, epochs, scale)}" if single else f"{hours(low, epochs, scale)} to {hours(high, epochs, scale)}"

    caveat = ""
    if untimed.any():
        named = ", ".join(name(c) for c in untimed[untimed].index)
        caveat = (f" The rate of {named} is the wall time of the job that trained it, which includes training the "
                  "cell's M1 where no earlier job had (M2's own time was not yet recorded), so it overstates M2's cost.")
    return (
        f"Measured here, one M2 epoch of a cell's {setup.runs} runs trained together takes {rates}. "
        f"At {'that rate' if single else 'those rates'} {grid_text} are {span(setup.schedule.epochs)} hours on the machine that trained them, "
        f"and {full_text} {span(full.schedule.epochs, scale)} hours." + caveat
    )


def anchor_table(profile: str, runs: pd.DataFrame) -> pd.DataFrame:
    """The anchor's final test accuracy against Kingma's and the faithful port's, with the
    epochs each trained M1 and M2 for."""
    ours = runs.loc[runs["configuration"] == ANCHOR, "test accuracy"]
    m2_epochs = f"{int(runs.loc[runs['configuration'] == ANCHOR, 'epochs'].iloc[0])}" if len(ours) else str(KINGMA_M2[profile].epochs)
    rows = [
        {"source": "this book", "epochs of M1": str(KINGMA_M1[profile].schedule.max_epochs), "epochs of M2": m2_epochs,
         "test accuracy (%)": mean_sd(ours) if len(ours) else "not yet run"},
        {"source": "Kingma et al. (2014)", "epochs of M1": "open-ended (a long run)", "epochs of M2": "3000",
         "test accuracy (%)": f"{KINGMA_ACCURACY[0]:.2f} ± {KINGMA_ACCURACY[1]:.2f}"},
        {"source": "faithful PyTorch port", "epochs of M1": "1000", "epochs of M2": "1000 / 3000",
         "test accuracy (%)": f"{PORT_CURVE[1000]:.2f} / {PORT_CURVE[3000]:.2f} (1 run)"},
    ]
    return pd.DataFrame(rows).set_index("source")


def port_accuracy(epoch: float) -> float:
    """The port's test accuracy after ``epoch`` M2 epochs, interpolated linearly in log(epoch)
    between its reported points (``PORT_CURVE``); outside them, an error."""
    if not PORT_CURVE.index.min() <= epoch <= PORT_CURVE.index.max():
        raise ValueError(f"the port reports epochs {PORT_CURVE.index.min()}-{PORT_CURVE.index.max()}, not {epoch}")
    return float(np.interp(np.log(epoch), np.log(PORT_CURVE.index.to_numpy(float)), PORT_CURVE.to_numpy()))


def run_curve(profile: str, configuration: str, z1: int, z2: int, run: int) -> pd.DataFrame:
    """One run's validation and test accuracy (%, columns ``valid`` and ``test``) per M2 epoch
    (the index), from its ``curve.csv``."""
    path = table3_store(profile).artifact_path(cell_config(profile, configuration, z1, z2), run, "curve.csv")
    return pd.read_csv(path).set_index("epoch")


def cell_curves(profile: str, runs: pd.DataFrame, configuration: str, z1: int, z2: int) -> pd.DataFrame:
    """A cell's test accuracy (%) per M2 epoch (rows) and run (columns), from each of its runs
    in ``runs`` (their ``curve.csv``)."""
    cell = runs[(runs["configuration"] == configuration) & (runs["z1"] == z1) & (runs["z2"] == z2)]
    return pd.DataFrame({int(run): run_curve(profile, configuration, z1, z2, int(run))["test"] for run in cell["run"]})


def anchor_curves(profile: str, runs: pd.DataFrame) -> pd.DataFrame:
    """The anchor's test accuracy (%) per M2 epoch (rows) and run (columns)."""
    return cell_curves(profile, runs, ANCHOR, 50, 50)


def anchor_reading(profile: str, runs: pd.DataFrame) -> str:
    """Where the anchor's curve stands against the port's at its last epoch, what the same
    offset gives at the port's 1000 and 3000 epochs (a projection that assumes our curve keeps
    the port's shape, no more), and how much its mean moved over its last quarter of epochs."""
    curves = anchor_curves(profile, runs)
    if curves.empty:
        return "The anchor has not run under this profile yet."
    epoch = int(curves.index.max())
    last = curves.loc[epoch]
    spread = f" ± {last.std():.2f}" if len(last) > 1 else ""
    reached = f"After {epoch} M2 epochs the anchor reaches {last.mean():.2f}{spread}% ({len(last)} run{'s' if len(last) > 1 else ''}); "
    try:
        port = port_accuracy(epoch)
    except ValueError:
        return reached + f"the port reports no accuracy after {epoch} epochs."
    offset = last.mean() - port
    earlier = curves.index[curves.index < epoch]
    trend = ""
    if len(earlier):
        start = int(earlier[abs(earlier - 0.75 * epoch).argmin()])
        change = last.mean() - curves.loc[start].mean()
        trend = f" Between epochs {start} and {epoch} its mean {'rose' if change >= 0 else 'fell'} by {abs(change):.2f} points."
    return (
        reached + f"the port "
        f"after as many epochs, {port:.2f}%: a difference of {offset:+.2f} points. Kept along the "
        f"port's curve, that offset gives {PORT_CURVE[1000] + offset:.1f}% at 1000 epochs and "
        f"{PORT_CURVE[3000] + offset:.1f}% at 3000 (Kingma: {KINGMA_ACCURACY[0]:.2f}%), a projection, not a measurement." + trend
    )


def anchor_figure(profile: str, runs: pd.DataFrame) -> plt.Figure:
    """The anchor's test accuracy against M2 epoch (each run, and their mean), the port's
    reported points and Kingma's final accuracy."""
    curves = anchor_curves(profile, runs)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if not curves.empty:
        ax.plot(curves.index, curves.to_numpy(), color=CYCLE[0], lw=0.8, alpha=0.5)
        ax.plot(curves.index, curves.mean(axis=1).to_numpy(), color=CYCLE[0], lw=2, label="this book (runs, and their mean)")
    else:
        ax.text(0.5, 0.5, "not yet run", transform=ax.transAxes, ha="center", va="center", color="0.5")
    ax.plot(PORT_CURVE.index, PORT_CURVE.to_numpy(), color=CYCLE[1], marker="o", ls=":", label="faithful PyTorch port (1 run)")
    ax.axhspan(KINGMA_ACCURACY[0] - KINGMA_ACCURACY[1], KINGMA_ACCURACY[0] + KINGMA_ACCURACY[1], color="0.6", alpha=0.4, lw=0)
    ax.axhline(KINGMA_ACCURACY[0], color="0.4", ls="--", lw=1, label=f"Kingma et al. after 3000 epochs ({KINGMA_ACCURACY[0]:.2f} ± {KINGMA_ACCURACY[1]:.2f})")
    ax.set_xscale("log")
    ax.set_xlabel("M2 epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=9, loc="lower right")
    return fig


def curves_figure(profile: str, runs: pd.DataFrame):
    """Test accuracy against M2 epoch for every (z1, z2) and pairing (mean over runs; the
    anchor dashed in the z1 = z2 = 50 panel), from each run's ``curve.csv``."""
    grid = PAPER.index.tolist()
    fig, axes = plt.subplots(3, 3, figsize=(10, 8), sharex=True, sharey=True)
    colours = dict(zip([*PAPER.columns, ANCHOR], CYCLE))
    for ax, (z1, z2) in zip(axes.flat, grid):
        for configuration in [*PAPER.columns, ANCHOR]:
            curves = cell_curves(profile, runs, configuration, z1, z2)
            if not curves.empty:
                mean = curves.mean(axis=1)
                ax.plot(mean.index, mean.to_numpy(), color=colours[configuration], linestyle="--" if configuration == ANCHOR else "-", label=configuration)
        if not ax.lines:
            ax.text(0.5, 0.5, "not yet run", transform=ax.transAxes, ha="center", va="center", color="0.5")
        ax.set_title(f"z1 = {z1}, z2 = {z2}", fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel("M2 epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy (%)")
    handles = {label: h for ax in axes.flat for h, label in zip(*ax.get_legend_handles_labels())}
    if handles:
        fig.legend(handles.values(), handles.keys(), loc="outside upper center", ncol=len(handles), frameon=False)
    return fig


def main(argv: list[str] | None = None) -> None:
    """One unit of Table 3 in a background job, e.g.
    ``python -m hvae_lib.experiments.table3 cpu --configurations N+N --z1 5``, or the Kingma
    anchor alone with ``--anchor``."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("profile", choices=tuple(PROFILES))
    parser.add_argument("--configurations", nargs="+", choices=tuple(CONFIGURATIONS), default=[c for c in CONFIGURATIONS if c != ANCHOR])
    parser.add_argument("--z1", type=int, nargs="+")
    parser.add_argument("--z2", type=int, nargs="+")
    parser.add_argument("--precision", choices=M2_PRECISIONS, help="M2's precision in training: the precision ablation (default: the profile's, float32 where the CPU lacks native bfloat16)")
    parser.add_argument("--anchor", action="store_true", help=f"train only the anchor ({ANCHOR}, z1 = z2 = 50)")
    parser.add_argument("--no-prune", action="store_true", help="keep every coordinate of a normal M1: the pruning ablation")
    parser.add_argument("--m1-only", action="store_true", help="train (or restore from their parameters) the M1s the chosen cells need, and no M2: a unit of its own")
    args = parser.parse_args(argv)
    setup = PROFILES[args.profile]
    cells = [(ANCHOR, 50, 50)] if args.anchor else [(c, z1, z2) for c in args.configurations for z1 in args.z1 or setup.z1s for z2 in args.z2 or setup.z2s]
    start = time.perf_counter()
    if args.m1_only:
        for model, z1, protocol in dict.fromkeys((CONFIGURATIONS[c][0], z1, m1_protocol(args.profile, c)) for c, z1, _ in cells):
            codes = m1_codes(args.profile, model, z1, protocol)
            print(f"M1 {model} at d = {z1}: codes of dimension {codes['train'].dim} for {len(codes['train'])} training images", flush=True)
        print(f"wall time {time.perf_counter() - start:.0f} s", flush=True)
        return
    precision = args.precision or training_precision(cell_schedule(args.profile, cells[0][0])[0].precision)
    frame = table3_runs(args.profile, cells, precision, prune=not args.no_prune)
    print(frame[["configuration", "z1", "z2", "run", "test accuracy", "valid accuracy", "M1 coordinates"]].to_string(index=False))
    print(f"wall time {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
