"""The low-data regime: Table 1's protocol on a share of the training images, and the earlier
reproduction's training defects ablated one at a time there.

The earlier reproduction trained on a tenth of MNIST. Its explanation of its disagreements with
the paper ("the N-VAE suffers posterior collapse with less data") is tested by training both
families under Table 1's protocol (early stopping, IWAE-500, the same 10k validation and 10k
test images) on ``FRACTIONS`` of the 50k training images; every run stores what Tables 1-2 and
the audit need (K-NN accuracies and their earlier-code variants, active units, kappa).

Its defects, each alone, on a tenth of the data (``DEFECTS``):

- ``S^(d-1) latent``: its S-VAE with ``latent_dim = d`` lives on S^(d-1) in R^d: our S-VAE at
  d - 1 (a circle at d = 2), compared with the N-VAE at d;
- ``wrapped Gaussian``: on that circle, its sampler (angle sd 1/kappa, ``CIRCLE_SAMPLERS``);
- ``fixed binarisation``: the training images binarised once;
- ``selection in the warm-up``: early stopping on the warm-up-weighted validation loss.

Its third explanation, a schedule calibrated on the full data set (KL warm-up, learning rate),
is tested by changing one schedule setting at a time on that tenth (``SCHEDULE_SETTINGS``, at
``SCHEDULE_DIMS``): the same seeds, so each setting is paired with the clean runs.

The K-NN settings (100 test images, labels with replacement, k = 5) need no training: every run
stores them (``reproduction_audit.knn_variants``). A run's seeds depend on its model and d only,
so a defect run starts from the same parameters and noise as its clean twin: the comparisons
are paired.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pandas as pd

from hvae_lib.experiments import table1
from hvae_lib.experiments.vae_runs import VAEProtocol
from hvae_lib.results import training_precision

FRACTIONS = (0.1, 0.3)
DEFECT_FRACTION = 0.1
DEFECT_DIMS = (2, 5)
DEFECTS = ("S^(d-1) latent", "wrapped Gaussian", "fixed binarisation", "selection in the warm-up")
# On a tenth of the data an epoch has a tenth of the steps: the 100-epoch KL warm-up anneals ten
# times faster in steps and Adam at 1e-3 takes a tenth of the updates per epoch.
SCHEDULE_SETTINGS = ("learning rate 3e-3", "learning rate 3e-4", "warm-up three times longer")
SCHEDULE_DIMS = (2,)


def schedule_protocol(profile: str, setting: str) -> VAEProtocol:
    """The profile's Table 1 protocol with one schedule setting changed: Adam's learning rate
    (1e-3 in Table 1) or the KL warm-up tripled (at most 500 epochs are raised where needed so
    that ``patience`` epochs still fit after it)."""
    protocol = table1.PROFILES[profile].protocol
    schedule = protocol.schedule
    if setting == "learning rate 3e-3":
        schedule = replace(schedule, learning_rate=3e-3)
    elif setting == "learning rate 3e-4":
        schedule = replace(schedule, learning_rate=3e-4)
    elif setting == "warm-up three times longer":
        warmup = 3 * schedule.warmup_epochs
        schedule = replace(schedule, warmup_epochs=warmup, max_epochs=max(schedule.max_epochs, warmup + schedule.patience))
    else:
        raise ValueError(f"setting must be one of {SCHEDULE_SETTINGS}, got {setting!r}")
    return replace(protocol, schedule=schedule)


def schedule_runs(
    profile: str, setting: str, dims: tuple[int, ...] = SCHEDULE_DIMS, runs: int | None = None, train: bool = True, precision: str | None = None,
) -> pd.DataFrame:
    """Train (or read; with ``train=False`` only those stored so far) both families' runs under
    one schedule setting on ``DEFECT_FRACTION`` of the training images, with ``setting``."""
    protocol = schedule_protocol(profile, setting)
    if train:
        frame = table1.table1_runs(profile, dims, precision, runs=runs, fraction=DEFECT_FRACTION, protocol=protocol)
    else:
        frame = _select(table1.stored_runs(profile, DEFECT_FRACTION, protocol), dims, None)
    return frame.assign(setting=setting) if not frame.empty else pd.DataFrame(columns=["model", "d", "run", "setting"])


def defect_protocol(profile: str, defect: str) -> VAEProtocol:
    """The profile's Table 1 protocol with one defect of the earlier reproduction."""
    protocol = table1.PROFILES[profile].protocol
    if defect == "S^(d-1) latent":
        return protocol
    if defect == "wrapped Gaussian":
        return replace(protocol, circle_sampler="wrapped_normal")
    if defect == "fixed binarisation":
        return replace(protocol, binarization="fixed")
    if defect == "selection in the warm-up":
        return replace(protocol, schedule=replace(protocol.schedule, selection="weighted_loss"))
    raise ValueError(f"defect must be one of {DEFECTS}, got {defect!r}")


def defect_cells(defect: str, dims: tuple[int, ...] = DEFECT_DIMS) -> list[tuple[str, int]]:
    """The (model, trained d) of a defect at the reproduction's ``dims``: both families, except
    where the defect concerns the S-VAE's sphere (trained at d - 1; the wrapped Gaussian only
    exists on the circle, d = 2)."""
    if defect == "S^(d-1) latent":
        return [("S-VAE", d - 1) for d in dims]
    if defect == "wrapped Gaussian":
        return [("S-VAE", 1)] if 2 in dims else []
    return [(model, d) for d in dims for model in table1.MODELS]


def low_data_runs(
    profile: str, fraction: float, dims: tuple[int, ...] | None = None, models: tuple[str, ...] | None = None,
    runs: int | None = None, train: bool = True, precision: str | None = None,
) -> pd.DataFrame:
    """Train (or read) the profile's Table 1 runs on ``fraction`` of the training images (in
    ``precision``, or the profile's); with ``train=False`` only the runs stored so far, in
    either training precision."""
    if train:
        return table1.table1_runs(profile, dims, precision, runs=runs, models=models, fraction=fraction)
    return _select(table1.stored_runs(profile, fraction), dims, models)


def _select(frame: pd.DataFrame, dims: tuple[int, ...] | None, models: tuple[str, ...] | None) -> pd.DataFrame:
    if frame.empty:
        return frame
    keep = pd.Series(True, index=frame.index)
    if dims:
        keep &= frame["d"].isin(dims)
    if models:
        keep &= frame["model"].isin(models)
    return frame[keep]


def defect_runs(
    profile: str, defect: str, dims: tuple[int, ...] = DEFECT_DIMS, runs: int | None = None, train: bool = True, precision: str | None = None,
) -> pd.DataFrame:
    """Train (or read; with ``train=False`` only those stored so far) the runs of one defect on
    ``DEFECT_FRACTION`` of the training images; ``d`` in the table is the reproduction's (the
    S^(d-1) rows were trained at d - 1)."""
    protocol = defect_protocol(profile, defect)
    frames = []
    for model, trained_d in defect_cells(defect, dims):
        if train:
            frame = table1.table1_runs(profile, (trained_d,), precision, runs=runs, models=(model,), fraction=DEFECT_FRACTION, protocol=protocol)
        else:
            frame = _select(table1.stored_runs(profile, DEFECT_FRACTION, protocol), (trained_d,), (model,))
        shown = trained_d + 1 if defect in ("S^(d-1) latent", "wrapped Gaussian") else trained_d
        frames.append(frame.assign(defect=defect, trained_d=trained_d, d=shown))
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["model", "d", "run", "defect", "trained_d"])


def main(argv: list[str] | None = None) -> None:
    """One unit of the low-data runs in a background job, e.g.
    ``python -m hvae_lib.experiments.low_data_runs full --fraction 0.1 --dims 2 --runs 5`` or
    ``python -m hvae_lib.experiments.low_data_runs full --defect "fixed binarisation" --runs 5`` or
    ``python -m hvae_lib.experiments.low_data_runs full --schedule "learning rate 3e-3" --runs 5``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("profile", choices=tuple(table1.PROFILES))
    parser.add_argument("--fraction", type=float, default=DEFECT_FRACTION)
    parser.add_argument("--dims", type=int, nargs="+")
    parser.add_argument("--models", nargs="+", choices=tuple(table1.MODELS))
    parser.add_argument("--defect", choices=DEFECTS)
    parser.add_argument("--schedule", choices=SCHEDULE_SETTINGS)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--precision", choices=("float32", "bfloat16"), help="training matmuls (default: the profile's, float32 where the CPU lacks native bfloat16)")
    args = parser.parse_args(argv)
    args.precision = args.precision or training_precision(table1.PROFILES[args.profile].protocol.schedule.precision)
    start = time.perf_counter()
    if args.defect and args.schedule:
        parser.error("--defect and --schedule change different things: give one")
    if args.schedule:
        frame = schedule_runs(args.profile, args.schedule, tuple(args.dims) if args.dims else SCHEDULE_DIMS, args.runs, precision=args.precision)
    elif args.defect:
        frame = defect_runs(args.profile, args.defect, tuple(args.dims) if args.dims else DEFECT_DIMS, args.runs, precision=args.precision)
    else:
        dims, models = (tuple(args.dims) if args.dims else None), (tuple(args.models) if args.models else None)
        frame = low_data_runs(args.profile, args.fraction, dims, models, args.runs, precision=args.precision)
    print(frame[["model", "d", "run", "LL", "ELBO", "epochs", "best_epoch"]].to_string(index=False))
    print(f"wall time {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
