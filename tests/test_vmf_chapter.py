"""The computations of the vMF chapter (``hvae_lib.experiments.vmf_chapter``) that are more than plotting."""

import mpmath
import numpy as np
import pandas as pd
import pytest
import torch

from hvae_lib.experiments import performance
from hvae_lib.experiments import vmf_chapter as chapter


def _integrate_over_angle(f, m, kappa, n=20000):
    """int_{-1}^{1} f(w) g(w) dw with w = cos(theta), by the midpoint rule in theta: the sin(theta)
    of dw removes the (1 - w^2)^(-1/2) endpoint singularity of m = 2, the nodes avoid the
    endpoints, and for a smooth even 2pi-periodic integrand the rule converges very fast."""
    theta = (np.arange(n) + 0.5) * np.pi / n
    w = np.cos(theta)
    return float(np.sum(f(w) * np.exp(chapter.w_log_density(w, m, kappa)) * np.sin(theta)) * np.pi / n)


@pytest.mark.parametrize("m", (2, 3, 4, 10, 100))
@pytest.mark.parametrize("kappa", (0.0, 1.0, 100.0))
def test_w_density_integrates_to_one(m, kappa):
    assert _integrate_over_angle(np.ones_like, m, kappa) == pytest.approx(1.0, abs=1e-6)


def test_w_density_mean_is_the_mean_resultant_length():
    m, kappa = 10, 5.0
    mean = _integrate_over_angle(lambda w: w, m, kappa)
    with mpmath.workdps(30):
        exact = float(mpmath.besseli(m / 2, kappa) / mpmath.besseli(m / 2 - 1, kappa))
    assert mean == pytest.approx(exact, rel=1e-8)


def test_acceptance_rates_are_probabilities_and_match_quadrature():
    rates = chapter.acceptance_rates("smoke", dimensions=(2, 5, 100), kappas=(0.01, 1.0, 30.0, 1e4))
    assert ((rates.exact > 0) & (rates.exact <= 1 + 1e-12)).all()
    assert ((rates.monte_carlo > 0) & (rates.monte_carlo <= 1)).all()
    assert ((rates.monte_carlo - rates.exact).abs() <= 5 * rates.se + 1e-3).all()
    # kappa -> 0: b -> 1, t -> m - 1 and every proposal is accepted.
    assert rates[rates.kappa == 0.01].exact.min() > 0.99


def test_acceptance_quadrature_against_mpmath():
    m, kappa = 2, 1e4  # Beta(1/2, 1/2) proposals, the sharpest case
    h = (m - 1) / 2
    b, a, d = chapter._wood_constants(m, np.float64(kappa))
    norm = mpmath.beta(h, h)

    def integrand(e):
        t = 2 * a * b / (1 - (1 - b) * e)
        return e ** (h - 1) * (1 - e) ** (h - 1) / norm * mpmath.exp((m - 1) * mpmath.log(t) - t + d)

    exact = float(mpmath.quad(integrand, [0, b / 10, b, 10 * b, 0.5, 1]))
    ours = chapter.acceptance_rates("smoke", dimensions=(m,), kappas=(kappa,)).exact.iloc[0]
    assert ours == pytest.approx(exact, rel=1e-9)


def test_official_kl_fails_in_float32_where_ours_does_not():
    m, kappa = 128, 1.7  # ive(63, 1.7) underflows in float32
    exact = chapter.mpmath_kl(m, kappa)
    assert not np.isfinite(chapter.official_kl(m, kappa, np.float32))
    assert chapter.official_kl(m, kappa, np.float64) == pytest.approx(exact, rel=1e-9)
    assert float(chapter.our_kl(m, kappa, torch.float32)) == pytest.approx(exact, rel=1e-6)
    assert float(chapter.our_kl(m, kappa, torch.float64)) == pytest.approx(exact, rel=1e-12)


def test_underflow_onsets_are_increasing_in_kappa():
    onsets = chapter.underflow_onsets("smoke")
    first = onsets["first m with official KL NaN/inf (float32)"]
    assert first.notna().all() and first.is_monotonic_increasing
    assert onsets["ours finite for every m"].all()


def test_soap_bubble_table_matches_chi_distribution():
    table = chapter.soap_bubble_table("smoke")
    assert np.allclose(table["mean |z| (sample)"], table["mean |z| (exact)"], rtol=0.05)
    assert table.loc[100, "share within 10% of sqrt(d)"] > table.loc[2, "share within 10% of sqrt(d)"]


def _fake_results():
    rows = []
    for dtype in ("float32", "float64"):
        for method, t, ok in (("ours", 1.0, True), ("pythae", 12.0, True), ("scipy", 3.0, True),
                              ("power_spherical", 0.8, False), ("floor", 0.25, True)):
            rows.append({"task": "rsample", "dtype": dtype, "m": 3, "kappa": 1.0, "batch": 100, "method": method,
                         "n_timed": 100, "median_s": t, "speedup_ours": t / 1.0, "correct": ok,
                         "bad_share": 0.0 if ok else 1.0, "max_norm_dev": 0.0, "mean_resultant": 0.3,
                         "expected": 0.3, "tolerance": 0.01, "max_rel_dev": np.nan})
        for method, t in (("ours", 0.01, ), ("scipy_ive", 0.5)):
            rows.append({"task": "kl_grad", "dtype": dtype, "m": 3, "kappa": "log-uniform", "batch": 100, "method": method,
                         "n_timed": 100, "median_s": t, "speedup_ours": t / 0.01, "correct": True, "bad_share": 0.0,
                         "max_norm_dev": np.nan, "mean_resultant": np.nan, "expected": np.nan, "tolerance": np.nan,
                         "max_rel_dev": 1e-12})
    return pd.DataFrame(rows)


def test_benchmark_tables_from_results():
    results = _fake_results()
    targets = performance.benchmark_targets(results, "cpu")
    assert list(targets.met) == ["yes", "yes", "yes", "yes"]
    assert targets.iloc[0]["cells impossible given the floor"] == "0"
    assert targets.iloc[1]["worst cell"] == "1.25x slower"  # ours 1.0 s against power_spherical's 0.8 s
    faster = results.assign(median_s=np.where(results["method"] == "power_spherical", 1.85, results["median_s"]))
    assert performance.benchmark_targets(faster, "cpu").iloc[1]["worst cell"] == "1.85x faster"
    sampling = performance.benchmark_sampling_table(results)
    assert sampling.loc[("float32", 3, 1.0), "vs pythae"] == "12.00x"
    assert sampling.loc[("float32", 3, 1.0), "ours / floor"] == pytest.approx(4.0)
    kl = performance.benchmark_kl_table(results)
    assert kl.loc[("float64", 3), "speed-up"] == pytest.approx(50.0)
    failures = performance.benchmark_failures(results)
    assert set(failures.index.get_level_values("method")) == {"power_spherical"} and len(failures) == 2
    assert failures.iloc[0]["bad share"] == "1" and failures.iloc[0]["max | |z| - 1 |"] == "0"
    correct = performance.benchmark_correctness_table(results)
    assert correct.loc[("float32", 3, 1.0), "power_spherical"] == "no" and correct.loc[("float32", 3, 1.0), "ours"] == "yes"


def test_m2_table_gives_seconds_per_epoch_and_ratios_against_the_stored_rows():
    frame = pd.DataFrame(
        [(5, "normal 5", m, ms) for m, ms in [("engine (bfloat16)", 80.0), ("engine (float32)", 160.0), ("concatenated autograd", 280.0), ("floor (float32)", 80.0), ("floor (bfloat16)", 20.0)]],
        columns=["M1 code", "z2", "method", "ms_per_step"],
    )
    row = performance.m2_table(frame).iloc[0]
    assert row["bfloat16 (s)"] == "8.0" and row["float32 (s)"] == "16.0" and row["concatenated (s)"] == "28.0"
    assert row["speed-up"] == "3.5x" and row["of float32 floor"] == "1.00" and row["of bfloat16 floor"] == "0.25"


def test_the_precision_reading_says_which_precision_is_faster_on_each_machine():
    meta = {"device": "CPU X (2 cores, AVX2)", "threads": 2, "torch": "2.14.1", "date": "2026-12-04"}

    def frame(bf16: float, fp32: float, floor16: float, floor32: float) -> pd.DataFrame:
        rows = [("engine (bfloat16)", bf16), ("engine (float32)", fp32), ("floor (bfloat16)", floor16), ("floor (float32)", floor32)]
        return pd.DataFrame([(5, "normal 5", m, ms) for m, ms in rows], columns=["M1 code", "z2", "method", "ms_per_step"])

    emulated = performance.m2_precision_reading(frame(800.0, 200.0, 1000.0, 100.0), meta)
    assert "takes 20.0 s per epoch in float32 and 80.0 s in bfloat16: bfloat16 is 4.0x slower, its matrix products alone 10.0x slower" in emulated
    assert emulated.startswith("Measured on CPU X (2 cores, AVX2) with 2 threads (torch 2.14.1, 2026-12-04)")
    native = performance.m2_precision_reading(frame(80.0, 160.0, 20.0, 80.0), meta)
    assert "bfloat16 is 2.0x faster, its matrix products alone 4.0x" in native


def _ensemble_frame(engine: float, replaced: float, floor32: float, floor16: float, vmf_engine: float | None = None) -> pd.DataFrame:
    rows = []
    for latent in ("normal", "vmf"):
        speed = engine if latent == "normal" or vmf_engine is None else vmf_engine
        for method, speed in [("engine (bfloat16)", speed), ("autograd ensemble", replaced), ("floor (float32)", floor32), ("floor (bfloat16)", floor16)]:
            rows.append({"batch": 64, "d": 10, "latent": latent, "method": method, "images_per_s": speed})
    return pd.DataFrame(rows)


def test_engine_goal_reads_the_ratios_of_the_same_run():
    below = performance.engine_goal(_ensemble_frame(40_000.0, 20_000.0, 50_000.0, 100_000.0))
    assert "normal: 40.0k, 2.0x the replaced engine, 0.80 of the float32 floor (50.0k)" in below
    assert "0.40 of the bfloat16 floor" in below and "goal is not met (2.0x and 2.0x)" in below
    assert "above the float32 floor" in below and "The 60k goal is met by neither latent." in below
    fast = performance.engine_goal(_ensemble_frame(90_000.0, 20_000.0, 120_000.0, 240_000.0))
    assert "goal is met (4.5x and 4.5x)" in fast and "above the float32 floor" not in fast
    assert "The 60k goal is met by normal and vmf." in fast
    split = performance.engine_goal(_ensemble_frame(61_000.0, 20_000.0, 120_000.0, 240_000.0, vmf_engine=43_000.0))
    assert "The 60k goal is met by normal only." in split and "goal is not met (3.0x and 2.1x)" in split
    with pytest.raises(KeyError, match="batch 64, d = 10"):
        performance.engine_goal(_ensemble_frame(1.0, 1.0, 1.0, 1.0).assign(d=2))
