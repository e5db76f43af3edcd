"""Adam on the flat parameter buffer: torch's fused kernel in float32, and the pass that also
writes the bfloat16 copy of the weights."""

from __future__ import annotations

import pytest
import torch

from hvae_lib.training.flat_adam import FlatAdam

SIZE, SPLIT = 1003, 700  # an odd size, so the compiled pass has a remainder after its vectors


def _gradients(steps: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return [torch.randn(SIZE, generator=generator) * 10.0 ** -(k % 3) for k in range(steps)]


def _torch_adam(start: torch.Tensor, gradients: list[torch.Tensor], lr: float) -> torch.Tensor:
    parameter = torch.nn.Parameter(start.clone())
    optimizer = torch.optim.Adam([parameter], lr=lr, fused=True)
    for g in gradients:
        parameter.grad = g.clone()
        optimizer.step()
    return parameter.detach()


def test_float32_steps_are_torch_fused_adam_exactly():
    start = torch.randn(SIZE, generator=torch.Generator().manual_seed(1))
    gradients = _gradients(4)
    flat = start.clone()
    adam = FlatAdam(flat, 1e-2)
    for g in gradients:
        adam.step(g)
    assert torch.equal(flat, _torch_adam(start, gradients, 1e-2))
    assert float(adam.state["step"]) == 4


def test_bfloat16_copy_follows_the_adam_of_torch():
    """With a bfloat16 copy and the gradient in two blocks (bfloat16, then float32), the float32
    parameters move as torch.optim.Adam moves them given the same gradient values (to float32
    rounding: the pass may contract multiply-adds), and the copy is their cast after every step."""
    start = torch.randn(SIZE, generator=torch.Generator().manual_seed(1))
    gradients = [torch.cat([g[:SPLIT].bfloat16().float(), g[SPLIT:]]) for g in _gradients(4)]
    flat, low = start.clone(), torch.empty(SIZE, dtype=torch.bfloat16)
    adam = FlatAdam(flat, 1e-2, low)
    assert torch.equal(low, start.bfloat16())
    for g in gradients:
        adam.step([(slice(0, SPLIT), g[:SPLIT].bfloat16()), (slice(SPLIT, SIZE), g[SPLIT:])])
        assert torch.equal(low, flat.bfloat16())
    torch.testing.assert_close(flat, _torch_adam(start, gradients, 1e-2), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_moments_decaying_below_the_normal_range_become_zero_and_move_no_parameter(precision):
    """After one unit gradient and 900 zero ones, m = 0.1 * 0.9^t has decayed through the
    subnormal range (below 1.2e-38 after about 815 steps) and v = 0.001 * 0.999^t has not: every
    m is zero, no moment is subnormal, and the parameters are bit for bit those of torch's Adam,
    which keeps the subnormal m."""
    start = torch.randn(SIZE, generator=torch.Generator().manual_seed(1))
    gradients = [torch.ones(SIZE)] + [torch.zeros(SIZE)] * 900
    flat = start.clone()
    low = None if precision == "float32" else torch.empty(SIZE, dtype=torch.bfloat16)
    adam = FlatAdam(flat, 1e-3, low)
    for g in gradients:
        adam.step(g)
    tiny = torch.finfo(torch.float32).tiny
    m, v = adam.state["exp_avg"], adam.state["exp_avg_sq"]
    assert torch.equal(m, torch.zeros(SIZE)) and bool((v >= tiny).all())
    reference = torch.nn.Parameter(start.clone())
    optimizer = torch.optim.Adam([reference], lr=1e-3, fused=True)
    for g in gradients:
        reference.grad = g.clone()
        optimizer.step()
    kept = optimizer.state[reference]["exp_avg"]
    assert bool(((kept != 0) & (kept.abs() < tiny)).all())  # torch keeps them: the test can fail
    if precision == "float32":
        assert torch.equal(flat, reference.detach())
    else:
        torch.testing.assert_close(flat, reference.detach(), rtol=1e-6, atol=1e-7)


def test_each_entry_moves_as_it_would_in_any_other_buffer():
    """An entry's update depends on its own values alone: the same entries at another position
    (another remainder of the vector width) of a longer buffer end bit for bit the same."""
    start = torch.randn(SIZE, generator=torch.Generator().manual_seed(1))
    gradients = _gradients(3)
    alone, shifted = start.clone(), torch.cat([torch.zeros(5), start])
    low_alone, low_shifted = torch.empty(SIZE, dtype=torch.bfloat16), torch.empty(SIZE + 5, dtype=torch.bfloat16)
    adam_alone, adam_shifted = FlatAdam(alone, 1e-3, low_alone), FlatAdam(shifted, 1e-3, low_shifted)
    for g in gradients:
        adam_alone.step(g.bfloat16())
        adam_shifted.step(torch.cat([torch.ones(5), g]).bfloat16())
    assert torch.equal(alone, shifted[5:]) and torch.equal(low_alone, low_shifted[5:])


def test_bad_buffers_and_gradients_are_refused():
    with pytest.raises(ValueError, match="1-d float32 buffer"):
        FlatAdam(torch.zeros(4, dtype=torch.float64), 1e-3)
    with pytest.raises(ValueError, match="low-precision copy has shape"):
        FlatAdam(torch.zeros(4), 1e-3, torch.zeros(3, dtype=torch.bfloat16))
    with pytest.raises(ValueError, match="do not cover"):
        FlatAdam(torch.zeros(4), 1e-3, torch.zeros(4, dtype=torch.bfloat16)).step([(slice(0, 3), torch.zeros(3))])
    with pytest.raises(TypeError, match="one float32 buffer"):
        FlatAdam(torch.zeros(4), 1e-3).step([(slice(0, 4), torch.zeros(4))])


def test_without_a_compiler_the_pass_runs_op_by_op_with_a_warning(monkeypatch):
    """Where torch.compile cannot build the pass, Adam warns and runs the same arithmetic eagerly."""
    from hvae_lib.training import flat_adam

    def no_compiler(*args):
        raise RuntimeError("no C++ compiler found")

    monkeypatch.setattr(flat_adam, "_compiled_update", no_compiler)
    monkeypatch.setattr(flat_adam, "_compiler_failed", [])
    start = torch.randn(SIZE, generator=torch.Generator().manual_seed(1))
    gradients = _gradients(2)
    flat, low = start.clone(), torch.empty(SIZE, dtype=torch.bfloat16)
    adam = FlatAdam(flat, 1e-2, low)
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler found"):
        adam.step(gradients[0])
    adam.step(gradients[1])
    torch.testing.assert_close(flat, _torch_adam(start, gradients, 1e-2), rtol=1e-6, atol=1e-7)
    assert torch.equal(low, flat.bfloat16())


def test_building_the_pass_prints_nothing(tmp_path):
    """The first bfloat16 step compiles the pass; in a fresh process with an empty compiler cache
    it writes nothing to stderr (a chapter that trains must not print there; a CUDA build of
    torch on a CPU-only machine would otherwise log that it found no CUDA runtime)."""
    import os
    import subprocess
    import sys

    code = ("import torch\nfrom hvae_lib.training.flat_adam import FlatAdam\n"
            "p = torch.randn(100)\nFlatAdam(p, 1e-3, torch.empty(100, dtype=torch.bfloat16)).step(torch.randn(100).bfloat16())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
