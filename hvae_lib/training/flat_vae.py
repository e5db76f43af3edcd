r"""The VAE ensemble's training step, with its parameters in one flat buffer and its backward
pass written out.

``FlatVAE`` holds the parameters of R runs of a ``VAE`` in one float32 tensor, the master copy,
and trains them with one fused Adam step over that tensor (``hvae_lib.training.flat_adam``).
Each parameter is a contiguous block of shape (R, *shape) in it, so every layer's matmul reads its
weights in place. The step is the same mathematics as ``VAE.elbo_terms`` followed by autograd,
organised for speed:

- The wide layers (the encoder's, and the decoder's after its first) run their matmuls in
  ``precision`` (float32, or bfloat16 with float32 accumulation inside each matmul) on a copy of
  the weights in that precision, which Adam's pass writes as it updates the master copy; their
  gradients stay in that precision until Adam reads them. Their backward is written out: for a
  layer y = x W + b,
      dW = x^T dy,   db = sum_n dy,   dx = dy W^T,   and through the activation a = f(x)
  dx <- dx * f'(x), read from a alone: [a > 0] for a ReLU, 1 - exp(-a) for a softplus
  (sigmoid(x) = 1 - exp(-softplus(x))).
- The latent block (the two heads, the posterior, its sample, the KL and the decoder's first
  layer) is small and runs in float32 under autograd, so every posterior family and its KL are
  exactly those of ``hvae_lib.distributions``.
- The reconstruction term needs no forward value, only its gradient in the logits:
  d/dlogits [BCE(logits, x)] = sigmoid(logits) - x (Bernoulli), (mean - x) / sigma^2 (Gaussian).

The loss of run r is mean_n [beta KL_n - log p(x_n | z_n)]; runs share nothing, so each run's
update is the one it would get alone. ``gradient`` chooses the estimator of the reconstruction
term's gradient for the vMF posterior: "g_rep" (the official code's, the accepted eps of the
rejection sampler held fixed) or "g_rep+g_cor" (the paper's full gradient, Lemma 2), which adds
    g_cor = mean_n f_n d/dtheta log( g(w_n | kappa_n) / r(w_n | kappa_n) ),   f_n = -log p(x_n | z_n),
from ``VonMisesFisher.rsample_with_correction``; for m = 3 (d = 2) the sampler has no rejection
and g_cor is exactly 0. ``select`` keeps a subset of the runs (their parameters and
Adam state), so runs that early stopping has frozen cost nothing afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hvae_lib.distributions import Noise
from hvae_lib.models.vae import VAE
from hvae_lib.training.flat_adam import FlatAdam

PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}
GRADIENTS = ("g_rep", "g_rep+g_cor")


@dataclass(frozen=True)
class _Slot:
    """Where one parameter lives: ``offset`` counts the entries of one run before it, so in a
    buffer of R runs its block starts at R * offset (and in a (R, P) row layout at column
    ``offset``)."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def size(self) -> int:
        return int(torch.Size(self.shape).numel())


class FlatVAE:
    """The runs of ``model`` as one float32 buffer, trained by ``step``.

    Args:
        model: the ensemble whose architecture and initial parameters are taken (not modified).
        learning_rate: Adam's step size (betas 0.9, 0.999, eps 1e-8, as ``torch.optim.Adam``).
        precision: "float32" or "bfloat16", the dtype of the wide layers' matmuls in training.
        gradient: "g_rep" or "g_rep+g_cor" (vMF posterior only), the reconstruction gradient's
            estimator (see the module docstring).
    """

    def __init__(self, model: VAE, learning_rate: float, precision: str = "float32", gradient: str = "g_rep"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {precision!r}")
        if gradient not in GRADIENTS:
            raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}")
        if gradient != "g_rep" and (model.latent != "vmf" or model.circle_sampler != "vmf"):
            raise ValueError(f"g_cor exists only for the vMF posterior's rejection sampler, not for the {model.latent!r} posterior "
                             f"(circle sampler {model.circle_sampler!r})")
        self.model = model
        self.gradient_estimator = gradient
        self.dtype = PRECISIONS[precision]
        self.learning_rate = learning_rate
        self.slots: dict[str, _Slot] = {}
        offset = 0
        for name, p in model.named_parameters():
            self.slots[name] = _Slot(name, tuple(p.shape[1:]), offset)
            offset += self.slots[name].size
        self.runs = model.runs
        self._encoder = [self._layer_names(f"encoder.{i}") for i, m in enumerate(model.encoder) if hasattr(m, "weight")]
        decoder = [self._layer_names(f"decoder.{i}") for i, m in enumerate(model.decoder) if hasattr(m, "weight")]
        self._decoder_first, self._decoder = decoder[0], decoder[1:]
        self._latent_block = ("loc_head.weight", "loc_head.bias", "scale_head.weight", "scale_head.bias", *self._decoder_first)
        self._set_parameters(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).float(), None)

    def _activate(self, x: torch.Tensor) -> torch.Tensor:
        """The model's activation, in place where it can be."""
        return x.relu_() if self.model.activation == "relu" else F.softplus(x)

    def _activation_backward(self, d: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """d * f'(x) from the activation's output a = f(x)."""
        if self.model.activation == "relu":
            return torch.ops.aten.threshold_backward(d, out, 0)
        return d * torch.expm1(-out).neg_()

    @staticmethod
    def _layer_names(prefix: str) -> tuple[str, str]:
        return f"{prefix}.weight", f"{prefix}.bias"

    def _set_parameters(self, flat: torch.Tensor, adam_state: dict | None) -> None:
        """Take ``flat`` as the parameters, with their gradient buffers and Adam (its state
        ``adam_state``, or a new one); in bfloat16 the weights' copy and the wide layers' gradient
        live in buffers of that precision."""
        self.parameters, self.grad = flat, torch.zeros_like(flat)
        low = None if self.dtype == torch.float32 else torch.empty_like(flat, dtype=self.dtype)
        self.grad_low = None if low is None else torch.empty_like(low)
        self.optimizer = FlatAdam(flat, self.learning_rate, low, adam_state)
        self._gradient_blocks = None if low is None else self._blocks()

    def _blocks(self) -> list[tuple[slice, torch.Tensor]]:
        """The gradient as Adam reads it in bfloat16: consecutive parameters merged into blocks,
        float32 (``grad``) for the latent block's and low precision (``grad_low``) for the rest."""
        blocks = []
        for name, slot in self.slots.items():
            source = self.grad if name in self._latent_block else self.grad_low
            start, stop = self.runs * slot.offset, self.runs * (slot.offset + slot.size)
            if blocks and blocks[-1][1] is source and blocks[-1][0].stop == start:
                blocks[-1] = (slice(blocks[-1][0].start, stop), source)
            else:
                blocks.append((slice(start, stop), source))
        return [(block, source[block]) for block, source in blocks]

    @property
    def weights(self) -> torch.Tensor:
        """The parameters in the training step's precision (the buffer itself in float32)."""
        return self.parameters if self.optimizer.low is None else self.optimizer.low

    def view(self, flat: torch.Tensor, name: str) -> torch.Tensor:
        """Parameter ``name`` of every run, shape (runs, *shape), as a view of the buffer ``flat``
        (the parameters, their gradient, an Adam moment or a cast copy)."""
        slot, runs = self.slots[name], self.runs
        return flat[runs * slot.offset : runs * (slot.offset + slot.size)].view(runs, *slot.shape)

    def rows(self) -> torch.Tensor:
        """The current parameters as (runs, P), one row per run (a copy)."""
        return torch.cat([self.view(self.parameters, name).reshape(self.runs, -1) for name in self.slots], dim=1)

    def _gather(self, flat: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.view(flat, name)[index].reshape(-1) for name in self.slots])

    def select(self, runs: list[int]) -> None:
        """Keep only the runs ``runs`` (indices into the current runs), with their Adam state."""
        index = torch.tensor(runs, device=self.parameters.device)
        kept = {k: (v if k == "step" else self._gather(v, index)) for k, v in self.optimizer.state.items()}
        flat = self._gather(self.parameters, index)
        self.runs = len(runs)
        self._set_parameters(flat, kept)

    def state_dict(self) -> dict:
        return {"runs": self.runs, "parameters": self.parameters.clone(), "optimizer": self.optimizer.state}

    def load_state_dict(self, state: dict) -> None:
        self.runs = state["runs"]
        self._set_parameters(state["parameters"].clone(), {k: v.clone() for k, v in state["optimizer"].items()} or None)

    def write_into(self, model: VAE, rows: torch.Tensor) -> None:
        """Copy ``rows`` (runs, P), one row per run of ``model`` (as ``rows()`` gives), into the
        parameters of ``model``."""
        with torch.no_grad():
            for name, p in model.named_parameters():
                slot = self.slots[name]
                p.copy_(rows[:, slot.offset : slot.offset + slot.size].reshape(p.shape).to(p.dtype))

    # The training step.

    def step(self, x: torch.Tensor, beta: float, noise: Noise) -> None:
        """One Adam step of every run on its batch ``x`` (runs, n, x_dim): x in {0, 1} for the
        Bernoulli likelihood (any dtype), real-valued for the Gaussian."""
        self._backward(x, beta, noise)
        self.optimizer.step(self.grad if self._gradient_blocks is None else self._gradient_blocks)

    def gradient(self, x: torch.Tensor, beta: float, noise: Noise) -> torch.Tensor:
        """The gradient of every run's loss on its batch ``x`` in float32, written into (and
        returned as) ``grad`` (the buffer layout; ``view`` reads one parameter of it)."""
        self._backward(x, beta, noise)
        if self.grad_low is not None:
            for name in self.slots:
                if name not in self._latent_block:
                    self.view(self.grad, name).copy_(self.view(self.grad_low, name))
        return self.grad

    def _backward(self, x: torch.Tensor, beta: float, noise: Noise) -> None:
        """The gradient of every run's loss on its batch ``x``: the wide layers' in ``grad_low``
        (``grad`` in float32), the latent block's in ``grad``."""
        rows, weights, grad = self.parameters, self.weights, self.grad
        grad16 = grad if self.grad_low is None else self.grad_low
        n = x.shape[1]

        activations = [x.to(self.dtype)]
        for w, b in self._encoder:
            activations.append(self._activate(self._linear(weights, w, b, activations[-1])))
        hidden = activations[-1].float()
        latent = self._normal_latent if self.model.latent == "normal" else self._autograd_latent
        first, latent_backward = latent(rows, hidden, beta / n, noise)
        decoded = [first.to(self.dtype)]
        for i, (w, b) in enumerate(self._decoder):
            out = self._linear(weights, w, b, decoded[-1])
            decoded.append(self._activate(out) if i < len(self._decoder) - 1 else out)

        out = decoded.pop().float()
        d_out = self._output_gradient(out, x).mul_(1 / n)
        # f_n / n, the weight of d log(g / r) in the loss's gradient (g_cor), where it is used
        correction_weight = None if self.gradient_estimator == "g_rep" else self._negative_log_likelihood(out, x).mul_(1 / n)
        for (w, b), inputs in zip(reversed(self._decoder), reversed(decoded)):
            d_out = self._backward_linear(weights, grad16, w, b, inputs, d_out.to(self.dtype), activated_input=inputs is not decoded[0])
        d_hidden, latent_grads = latent_backward(d_out.float(), correction_weight)
        d_out = self._activation_backward(d_hidden, hidden)
        for index in range(len(self._encoder) - 1, -1, -1):
            w, b = self._encoder[index]
            d_out = self._backward_linear(weights, grad16, w, b, activations[index], d_out.to(self.dtype), activated_input=index > 0)
        for name, value in latent_grads.items():
            self.view(grad, name).copy_(value)

    def _linear(self, weights, w, b, x):
        return torch.baddbmm(self.view(weights, b), x, self.view(weights, w))

    def _backward_linear(self, weights, grad, w, b, inputs, d_out, activated_input):
        """Write dW, db of y = x W + b into ``grad`` (a buffer of ``d_out``'s dtype); return dx
        (through the activation when x is an activation's output), or None for the first layer."""
        torch.bmm(inputs.transpose(1, 2), d_out, out=self.view(grad, w))
        torch.sum(d_out, dim=1, keepdim=True, out=self.view(grad, b))
        if w == self._encoder[0][0]:
            return None
        d_in = torch.bmm(d_out, self.view(weights, w).transpose(1, 2))
        return self._activation_backward(d_in, inputs) if activated_input else d_in

    def _autograd_latent(self, rows, hidden, kl_weight, noise):
        """Heads, posterior, one sample, KL and the decoder's first layer (with its activation), in
        float32 under autograd, for any posterior family. Returns the first decoder activation
        and a function that takes its gradient (and, for g_cor, the weight f_n / n of each
        sample's log-ratio) and returns the gradient in ``hidden`` and the block's parameter
        gradients."""
        model = self.model
        names = ["loc_head.weight", "loc_head.bias", "scale_head.weight", "scale_head.bias", *self._decoder_first]
        leaves = {name: self.view(rows, name).detach().requires_grad_() for name in names}
        hidden = hidden.detach().requires_grad_()
        loc = torch.baddbmm(leaves["loc_head.bias"], hidden, leaves["loc_head.weight"])
        raw_scale = torch.baddbmm(leaves["scale_head.bias"], hidden, leaves["scale_head.weight"])
        q = model.posterior_from_heads(loc, raw_scale)
        if self.gradient_estimator == "g_rep":
            z, log_ratio = model.rsample(q, noise), None
        else:
            z, log_ratio = q.rsample_with_correction(noise=noise)
        kl = torch.distributions.kl_divergence(q, model.prior()).float()
        w, b = self._decoder_first
        first = self._activate(torch.baddbmm(leaves[b], z, leaves[w]))

        def backward(d_first, correction_weight=None):
            outputs, weights = [first, kl], [d_first, torch.full_like(kl, kl_weight)]
            if log_ratio is not None and log_ratio.requires_grad:  # m = 3: log_ratio is a constant 0
                outputs.append(log_ratio)
                weights.append(correction_weight.to(log_ratio.dtype))
            torch.autograd.backward(outputs, weights)
            return hidden.grad, {name: leaf.grad for name, leaf in leaves.items()}

        return first.detach(), backward

    def _normal_latent(self, rows, hidden, kl_weight, noise):
        r"""The latent block of the N-VAE with its backward written out (what autograd computes
        for ``_autograd_latent``, in fewer operations):

            loc = h W_l + b_l,  s = softplus(h W_s + b_s) + 1e-6,  z = loc + s eps,
            KL = sum_j [ (loc_j^2 + s_j^2 - 1) / 2 - log s_j ],  a = f(z W_d + b_d);
            dz = da' W_d^T (da' = da f'(.)),  dloc = dz + c loc,
            draw = (dz eps + c (s - 1/s)) sigmoid(h W_s + b_s),  dh = dloc W_l^T + draw W_s^T,
        with c the KL's weight in the loss."""
        view = lambda name: self.view(rows, name)
        loc = torch.baddbmm(view("loc_head.bias"), hidden, view("loc_head.weight"))
        raw = torch.baddbmm(view("scale_head.bias"), hidden, view("scale_head.weight"))
        scale = F.softplus(raw) + 1e-6
        eps = noise.randn(noise.split(loc.numel()), loc.dtype, loc.device).reshape(loc.shape)
        z = torch.addcmul(loc, scale, eps)
        w, b = self._decoder_first
        first = self._activate(torch.baddbmm(view(b), z, view(w)))

        def backward(d_first, correction_weight=None):
            d_pre = self._activation_backward(d_first, first)
            grads = {w: torch.bmm(z.transpose(1, 2), d_pre), b: d_pre.sum(dim=1, keepdim=True)}
            dz = torch.bmm(d_pre, view(w).transpose(1, 2))
            d_loc = dz.add(loc, alpha=kl_weight)
            d_raw = (dz * eps).add_(scale - 1 / scale, alpha=kl_weight).mul_(torch.sigmoid(raw))
            for head, d_head in (("loc_head", d_loc), ("scale_head", d_raw)):
                grads[f"{head}.weight"] = torch.bmm(hidden.transpose(1, 2), d_head)
                grads[f"{head}.bias"] = d_head.sum(dim=1, keepdim=True)
            d_hidden = torch.bmm(d_loc, view("loc_head.weight").transpose(1, 2))
            return d_hidden.baddbmm_(d_raw, view("scale_head.weight").transpose(1, 2)), grads

        return first, backward

    def _negative_log_likelihood(self, out, x):
        """f_n = -log p(x_n | z_n) per example, (runs, n), from the decoder output."""
        return -self.model.log_likelihood_from_outputs(x.to(out.dtype), out)

    def _output_gradient(self, out, x):
        """The gradient of -log p(x | z) in the decoder output (summed over pixels)."""
        if self.model.likelihood == "bernoulli":
            return torch.sigmoid(out).sub_(x)
        return (out - x).mul_(1 / self.model.noise_scale**2)

    # Evaluation (float32 throughout).

    @torch.no_grad()
    def elbo(self, x: torch.Tensor, noise: Noise, batch_size: int = 1000, beta: float = 1.0) -> torch.Tensor:
        """The one-sample ELBO (log p(x|z) - beta KL, beta = 1 by default) averaged over the
        examples ``x`` (n, x_dim) shared by all runs, per run, with the current parameters in
        float32."""
        rows = self.parameters
        total = torch.zeros(self.runs, dtype=torch.float64, device=rows.device)
        for start in range(0, x.shape[0], batch_size):
            chunk = x[start : start + batch_size].float().expand(self.runs, -1, -1)
            h = chunk
            for w, b in self._encoder:
                h = self._activate(self._linear(rows, w, b, h))
            loc = self._linear(rows, "loc_head.weight", "loc_head.bias", h)
            q = self.model.posterior_from_heads(loc, self._linear(rows, "scale_head.weight", "scale_head.bias", h))
            out = self._activate(self._linear(rows, *self._decoder_first, self.model.rsample(q, noise)))
            for i, (w, b) in enumerate(self._decoder):
                out = self._linear(rows, w, b, out)
                out = self._activate(out) if i < len(self._decoder) - 1 else out
            if self.model.likelihood == "bernoulli":
                log_px = -F.binary_cross_entropy_with_logits(out, chunk, reduction="none").sum(-1)
            else:
                log_px = torch.distributions.Normal(out, self.model.noise_scale).log_prob(chunk).sum(-1)
            kl = torch.distributions.kl_divergence(q, self.model.prior())
            total += (log_px - beta * kl).double().sum(dim=1)
        return total / x.shape[0]
