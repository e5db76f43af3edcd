r"""Adam on one flat float32 buffer, which can also keep the buffer's bfloat16 copy up to date.

For every entry, with gradient g at step t (betas b1, b2, step size lr, eps as
``torch.optim.Adam``; no weight decay, no amsgrad):

    m <- b1 m + (1 - b1) g,    v <- b2 v + (1 - b2) g^2,
    p <- p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).

In float32 the step is ``torch._fused_adam_``, the kernel of ``torch.optim.Adam(fused=True)``,
so it moves the parameters exactly as that optimiser does (the flush below changes its moments,
not its parameters). With a low-precision copy (a training
step whose wide matmuls run in bfloat16) the update is one compiled pass per block of entries that
reads g in the precision it was computed in (bfloat16 for the wide layers, float32 for the latent
block) and writes p, m, v and p's bfloat16 copy together: the same arithmetic, without a separate
pass that casts the weights for the next step and another that widens their gradients for Adam.
Every entry is updated from its own values alone, so a run's parameters do not depend on the
other runs in the buffer.

Moments below the smallest normal float32 (``TINY`` = 1.18e-38) are set to zero after every
step. An entry whose gradient stays zero (the weights of an MNIST border pixel that is always
black) has m and v decay by b1 and b2 per step through the subnormal range before they reach
zero, and on x86 an arithmetic operation on a subnormal takes a slow path of tens of cycles:
after 150 epochs of a Table 1 S-VAE at d = 2, 9% of m and 4% of v were subnormal and a training
step took 1.55 times as long. The flush moves no parameter: such an m changes p by at most
lr * TINY / eps (1e-33), below the rounding of any float32 p larger than 1e-26 in magnitude, and
such a v changes sqrt(v) (at most 1.1e-19, over ``sqrt(1 - b2^t)`` >= 0.03) by less than half a
rounding step of eps (4.4e-16).
"""

from __future__ import annotations

import contextlib
import logging
import warnings

import torch

BETAS = (0.9, 0.999)
EPS = 1e-8
TINY = torch.finfo(torch.float32).tiny


def _flushed(x: torch.Tensor) -> torch.Tensor:
    """``x`` with its subnormal entries (``|x| < TINY``) set to zero (as a product with the
    mask, which the compiled pass vectorises; a ``torch.where`` took twice as long)."""
    return x * (x.abs() >= TINY)


def _update(p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, low: torch.Tensor,
            step_size: torch.Tensor, correction2_sqrt: torch.Tensor) -> None:
    """One Adam update of the block ``p`` (float32) in place, with its copy ``low`` written."""
    b1, b2 = BETAS
    g = g.float()
    m.copy_(_flushed(m * b1 + g * (1 - b1)))
    v.copy_(_flushed(v * b2 + g * g * (1 - b2)))
    p.copy_(p - step_size * m / (v.sqrt() / correction2_sqrt + EPS))
    low.copy_(p)


def _flush(m: torch.Tensor, v: torch.Tensor) -> None:
    """Set the subnormal entries of the moments ``m`` and ``v`` to zero, in place."""
    m.copy_(_flushed(m))
    v.copy_(_flushed(v))


_compiled_update = torch.compile(_update, dynamic=True, fullgraph=True)
_compiled_flush = torch.compile(_flush, dynamic=True, fullgraph=True)
_compiler_failed: list[str] = []


@contextlib.contextmanager
def _quiet_cuda_home_lookup():
    """Keep torch's C++ builder from logging, when the compiler first loads it, that a CUDA build
    of torch finds no CUDA runtime on a CPU-only machine: nothing is wrong there, and a chapter
    must not print to stderr."""
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _compiled(compiled, eager, *args) -> None:
    """``compiled(*args)``, one pass; where torch.compile cannot build it on this machine (no C++
    compiler for the CPU, no Triton for the GPU), ``eager(*args)``, op by op, with a warning."""
    if not _compiler_failed:
        try:
            with _quiet_cuda_home_lookup():
                return compiled(*args)
        except Exception as error:  # torch's compiler errors share no base class beyond Exception
            _compiler_failed.append(f"{type(error).__name__}: {error}".splitlines()[0])
            warnings.warn(f"the compiled Adam pass could not be built ({_compiler_failed[0]}); "
                          "Adam runs op by op, with the same arithmetic, more slowly", RuntimeWarning, stacklevel=3)
    eager(*args)


class FlatAdam:
    """Adam over the float32 buffer ``parameters``, optionally keeping ``low``, its copy in a
    lower precision, equal to the cast of the parameters after every step.

    Args:
        parameters: the float32 buffer (a 1-d tensor), updated in place.
        learning_rate: Adam's step size.
        low: None, or a tensor of ``parameters``' shape in a lower precision.
        state: a state from ``state`` to continue from (its tensors are used, not copied).
    """

    def __init__(self, parameters: torch.Tensor, learning_rate: float, low: torch.Tensor | None = None, state: dict | None = None):
        if parameters.dtype != torch.float32 or parameters.dim() != 1:
            raise ValueError(f"parameters must be a 1-d float32 buffer, got {parameters.dtype} of shape {tuple(parameters.shape)}")
        if low is not None and low.shape != parameters.shape:
            raise ValueError(f"the low-precision copy has shape {tuple(low.shape)}, the parameters {tuple(parameters.shape)}")
        self.parameters, self.learning_rate, self.low = parameters, learning_rate, low
        self.state = state or {
            "step": torch.tensor(0.0, device=parameters.device),
            "exp_avg": torch.zeros_like(parameters),
            "exp_avg_sq": torch.zeros_like(parameters),
        }
        if low is not None:
            low.copy_(parameters)

    def step(self, gradient: torch.Tensor | list[tuple[slice, torch.Tensor]]) -> None:
        """One step. ``gradient`` is the float32 gradient buffer, or, with a low-precision copy,
        the gradient as blocks (a slice of the buffer, the gradient there in any precision) that
        cover the buffer."""
        state = self.state
        state["step"] += 1
        if self.low is None:
            if not isinstance(gradient, torch.Tensor):
                raise TypeError("without a low-precision copy the gradient is one float32 buffer")
            b1, b2 = BETAS
            torch._fused_adam_([self.parameters], [gradient], [state["exp_avg"]], [state["exp_avg_sq"]], [], [state["step"]],
                               lr=self.learning_rate, beta1=b1, beta2=b2, weight_decay=0.0, eps=EPS, amsgrad=False, maximize=False)
            _compiled(_compiled_flush, _flush, state["exp_avg"], state["exp_avg_sq"])
            return
        blocks = [(slice(0, self.parameters.numel()), gradient)] if isinstance(gradient, torch.Tensor) else gradient
        if sum(block.stop - block.start for block, _ in blocks) != self.parameters.numel():
            raise ValueError("the gradient blocks do not cover the parameters")
        t = float(state["step"])
        device = self.parameters.device
        step_size = torch.tensor(self.learning_rate / (1 - BETAS[0] ** t), device=device)
        correction2_sqrt = torch.tensor((1 - BETAS[1] ** t) ** 0.5, device=device)
        for block, g in blocks:
            _compiled(_compiled_update, _update, self.parameters[block], g, state["exp_avg"][block], state["exp_avg_sq"][block],
                      self.low[block], step_size, correction2_sqrt)
