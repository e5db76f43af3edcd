"""Seed sensitivity: how much of the run-to-run spread each source of randomness makes alone.

A Table 1 run draws its initial parameters from one seed and its training's random numbers
from another, which feeds three streams: the batch order, the dynamic binarisation and the
posterior samples (``hvae_lib.training.vae_training.STREAMS``). At one cheap cell
(``CELL``: the N-VAE at d = 2 on a tenth of the training images, Table 1's full protocol),
each design of ``SOURCES`` varies one of them over the runs and holds the rest at run 0's
values; "everything" is the ordinary Table 1 design. The test-set estimate (IWAE) always uses
run 0's evaluation seed, so the spread is the training's. Every design trains with float32
matrix products (``PRECISION``), on any CPU, so its runs share one precision wherever they were
trained, as the low-data runs at this cell do.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pandas as pd

from hvae_lib.data import load_images
from hvae_lib.experiments import table1
from hvae_lib.experiments.critique_audit import MODEL_PROFILE
from hvae_lib.experiments.vae_runs import run_config, run_seeds, run_vae
from hvae_lib.results import RunStore
from hvae_lib.stats import format_p, holm, sd_ratio
from hvae_lib.training.vae_training import STREAMS

CELL = {"model": "N-VAE", "d": 2, "fraction": 0.1}
SOURCES = ("initialisation", *STREAMS, "everything")
RUNS = {"smoke": 3, "cpu": 10, "full": 10}
PRECISION = "float32"


def seed_plan(source: str, seed: int) -> tuple[int, int, int, dict[str, int]]:
    """(initialisation, training, evaluation seeds, own stream seeds) of run ``seed`` of the
    design that varies ``source`` alone."""
    base = {"model": CELL["model"], "d": CELL["d"]}
    init, train, evaluation = run_seeds(base, 0)
    varied = run_seeds(base, seed)
    if source == "initialisation":
        return varied[0], train, evaluation, {}
    if source in STREAMS:
        return init, train, evaluation, {source: varied[1]}
    if source == "everything":
        return varied[0], varied[1], evaluation, {}
    raise ValueError(f"source must be one of {SOURCES}, got {source!r}")


def _setup(profile: str):
    setup = table1.profile_setup(MODEL_PROFILE[profile], CELL["fraction"])
    protocol = replace(setup.protocol, schedule=replace(setup.protocol.schedule, precision=PRECISION))
    return setup, protocol


def sensitivity_runs(profile: str, sources: tuple[str, ...] = SOURCES) -> pd.DataFrame:
    """Train (or read) the runs of every design; one row per run with its ``source``. Runs are
    trained under the Table 1 profile ``critique_audit.MODEL_PROFILE[profile]`` (the paper's
    protocol under ``cpu`` and ``full``) on ``CELL``'s share of its training images."""
    setup, protocol = _setup(profile)
    data = load_images("mnist", validation_size=setup.validation_size, split_seed=setup.split_seed)
    train, valid, test = data.train.head(setup.n_train), data.valid.head(setup.n_valid), data.test.head(setup.n_test)
    store = RunStore("seed_sensitivity", profile)
    frames = []
    for source in sources:
        identity = {"model": CELL["model"], "d": CELL["d"], "varied": source}
        frame = run_vae(
            store, identity, table1.MODELS[CELL["model"]], CELL["d"], range(RUNS[profile]), protocol, setup.data(),
            train.images, valid.images, test.images, seed_plan=lambda seed, s=source: seed_plan(s, seed),
        )
        frames.append(frame.assign(source=source))
    return pd.concat(frames, ignore_index=True)


def stored_runs(profile: str) -> pd.DataFrame:
    """The runs of every design stored so far, read without training (one row per run with its
    ``source``), in the order of ``SOURCES``."""
    setup, protocol = _setup(profile)
    store = RunStore("seed_sensitivity", profile)
    rows = []
    for source in SOURCES:
        config = run_config({"model": CELL["model"], "d": CELL["d"], "varied": source}, protocol, setup.data())
        for seed in range(RUNS[profile]):
            record = store.get(config, seed)
            if record is not None:
                rows.append({**record["config"], "run": seed, **record["metrics"], "source": source})
    return pd.DataFrame(rows, columns=None if rows else ["source", "run", "LL", "ELBO", "best_epoch"])


TRAINS_HERE = {"smoke": True, "cpu": False, "full": True}


def chapter_runs(profile: str) -> pd.DataFrame:
    """The runs the variance chapter shows: trained where missing under ``smoke`` and ``full``,
    under ``cpu`` those stored so far (each design is about 16 minutes of 2-core CPU, trained
    as a background unit with ``main``)."""
    return sensitivity_runs(profile) if TRAINS_HERE[profile] else stored_runs(profile)


RATIO = "sd of LL / sd with everything varied (95% CI)"
RATIO_P = "p, equal sd (F test, Holm)"


def _ratios(runs: pd.DataFrame) -> pd.DataFrame:
    """Per source other than "everything" with at least two runs: its test-LL sd against the
    sd with everything varied (``stats.sd_ratio``: ratio, interval, F-test p) and the p-values
    Holm-corrected over those sources."""
    everything = runs.loc[runs["source"] == "everything", "LL"].to_numpy()
    rows = {source: sd_ratio(cell["LL"].to_numpy(), everything) for source, cell in runs.groupby("source", sort=False)
            if source != "everything" and len(cell) > 1 and len(everything) > 1}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["ratio", "low", "high", "p"])
    return frame.assign(holm=holm(frame["p"].to_numpy()) if len(frame) else [])


def sensitivity_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per source: runs, the test LL and ELBO (mean ± sd), the sd as a ratio of the sd when
    everything varies with its 95% interval and the F test of equal sds (Holm-corrected over
    the sources), and the range of the selected epochs."""
    if runs.empty:
        return pd.DataFrame({"source varied": ["all"], "runs": ["none stored yet"]}).set_index("source varied")
    ratios = _ratios(runs)
    rows = []
    for source, cell in runs.groupby("source", sort=False):
        spread = len(cell) > 1
        shown = lambda v: f"{v.mean():.2f} ± {v.std():.2f}" if spread else f"{v.mean():.2f} (1 run)"
        if source in ratios.index:
            r = ratios.loc[source]
            ratio, p = f"{r['ratio']:.2f} ({r['low']:.2f} to {r['high']:.2f})", format_p(r["holm"])
        else:
            ratio, p = ("1.00", "") if source == "everything" and spread else ("not measured yet", "")
        rows.append({
            "source varied": source, "runs": len(cell), "LL": shown(cell["LL"]), "ELBO": shown(cell["ELBO"]),
            RATIO: ratio, RATIO_P: p, "selected epochs": f"{cell['best_epoch'].min():.0f} to {cell['best_epoch'].max():.0f}",
        })
    return pd.DataFrame(rows).set_index("source varied")


def sensitivity_finding(runs: pd.DataFrame, alpha: float = 0.05) -> str:
    """What ``sensitivity_table`` says, in sentences: each source's sd of the test LL against the
    sd with everything varied, which sources alone give a spread the F test cannot tell from
    the full one, whether the variances add up, and the designs not stored yet."""
    measured = runs.groupby("source")["LL"].agg(["std", "size"]) if not runs.empty else pd.DataFrame(columns=["std", "size"])
    measured = measured[measured["size"] > 1]
    missing = [s for s in SOURCES if s not in measured.index]
    if "everything" not in measured.index:
        sds = [f"{source} alone {measured.loc[source, 'std']:.2f} nats over {int(measured.loc[source, 'size'])} runs"
               for source in SOURCES if source in measured.index]
        stored = f"The sd of the test LL so far: {', '.join(sds)}. " if sds else ""
        return f"{stored}Without the design that varies everything there is no share to give yet; not yet stored: {', '.join(missing)}."
    everything = measured.loc["everything", "std"]
    ratios = _ratios(runs)
    parts = [f"{source} alone {measured.loc[source, 'std']:.2f} nats (ratio {ratios.loc[source, 'ratio']:.2f}, "
             f"95% CI {ratios.loc[source, 'low']:.2f} to {ratios.loc[source, 'high']:.2f})" for source in SOURCES if source in ratios.index]
    text = f"With every source varied the test LL has an sd of {everything:.2f} nats over {int(measured.loc['everything', 'size'])} runs"
    text += f"; {', '.join(parts)}." if parts else "."
    full = [s for s in ratios.index if ratios.loc[s, "holm"] >= alpha]
    smaller = [s for s in ratios.index if ratios.loc[s, "holm"] < alpha and ratios.loc[s, "ratio"] < 1]
    larger = [s for s in ratios.index if ratios.loc[s, "holm"] < alpha and ratios.loc[s, "ratio"] > 1]
    if full:
        text += f" The F test (Holm-corrected over the sources, {alpha}) cannot tell the spread of {_names(full)} alone from the full spread"
        text += f"; {_names(smaller)} alone {'gives' if len(smaller) == 1 else 'give'} a smaller one." if smaller else "."
    elif smaller:
        text += f" Each of {_names(smaller)} alone gives a smaller spread than all sources together (F test, Holm-corrected, {alpha})."
    if larger:
        text += f" {_names(larger).capitalize()} alone {'gives' if len(larger) == 1 else 'give'} a larger spread than all sources together."
    if len(ratios) == len(SOURCES) - 1:
        total = (measured.loc[list(ratios.index), "std"] ** 2).sum()
        relation = "more than" if total > everything**2 else "at most"
        text += (f" The four variances sum to {total:.2f} nats², {relation} the {everything**2:.2f} nats² with all varied"
                 + (", so the sources' contributions do not add as independent parts would: the run-to-run spread is not a sum of one part per source."
                    if total > everything**2 else "."))
    if missing:
        text += f" Not yet stored: {', '.join(missing)}."
    return text


def _names(sources: list[str]) -> str:
    """Sources in a sentence: "a", "a and b", "a, b and c"."""
    return sources[0] if len(sources) == 1 else f"{', '.join(sources[:-1])} and {sources[-1]}"


def main(argv: list[str] | None = None) -> None:
    """One unit in a background job, e.g.
    ``python -m hvae_lib.experiments.seed_sensitivity cpu --sources order``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("profile", choices=tuple(RUNS))
    parser.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(sensitivity_table(sensitivity_runs(args.profile, tuple(args.sources))).to_string())
    print(f"wall time {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
