r"""Variational graph auto-encoders (Kipf & Welling 2016) with a Gaussian or a vMF posterior.

Encoder (both models): a two-layer GCN with a shared first layer and one second layer per head,

    H = ReLU(Â X W_0),   head_k(H) = Â H W_k,   Â = D^(-1/2) (A + I) D^(-1/2),

GCNs without bias, as in Kipf's reference code.

- N-VGAE: q(z_i | X, A) = N(mu_i, diag sigma_i^2), mu = head_1(H), log sigma = head_2(H), prior
  N(0, I). This is ``torch_geometric.nn.VGAE`` unchanged.
- S-VGAE (Davidson et al. 2018): q(z_i | X, A) = vMF(mu_i, kappa_i) on S^(d-1) in R^d with
  mu = head_1(H) / |head_1(H)|, kappa = softplus(head_2(H)) + 1, prior U(S^(d-1)).

Decoder: p(A_ij = 1 | z) = sigmoid(s z_i . z_j). Kipf's decoder has s = 1; on the sphere
z_i . z_j lies in [-1, 1], so s = exp(log s) may be learned (``learn_scale``).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import kl_divergence

with warnings.catch_warnings():
    # torch_geometric scripts a class with torch.jit.script, which torch 2.14 deprecates.
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")
    from torch_geometric.nn import GCNConv, InnerProductDecoder, VGAE

from hvae_lib.distributions import HypersphericalUniform, VonMisesFisher


class GCNEncoder(nn.Module):
    """X, A -> (head_1(H), head_2(H)) with H = ReLU(GCN(X)): the raw outputs of the two heads,
    with ``head_channels`` output channels each.

    The GCN normalisation Â is computed once and cached (``cached=True``): call it with one
    graph only, the training graph.
    """

    def __init__(self, in_channels: int, hidden_channels: int, head_channels: tuple[int, int]):
        super().__init__()
        self.hidden = GCNConv(in_channels, hidden_channels, cached=True, bias=False)
        self.heads = nn.ModuleList(GCNConv(hidden_channels, c, cached=True, bias=False) for c in head_channels)

    def forward(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
        h = F.relu(self.hidden(x, edge_index))
        first, second = (head(h, edge_index) for head in self.heads)
        return first, second


class VMFHeads(GCNEncoder):
    """The S-VGAE encoder: (mu, kappa) = (head_1 / |head_1|, softplus(head_2) + 1); the kappa head
    has one output channel, kappa has shape (N,)."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int):
        super().__init__(in_channels, hidden_channels, (out_channels, 1))

    def forward(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
        direction, kappa = super().forward(x, edge_index)
        return _unit(direction), F.softplus(kappa.squeeze(-1)) + 1


def _unit(v: Tensor) -> Tensor:
    """v / |v| row by row; a zero row (a node with neither features nor edges, as CiteSeer has, for
    which a bias-free GCN outputs exactly 0) becomes e_1, so that every mean direction is a unit
    vector."""
    norm = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    e1 = torch.zeros_like(v[:1])
    e1[0, 0] = 1
    return torch.where(norm > 0, v / torch.where(norm > 0, norm, 1), e1)


class ScaledInnerProductDecoder(InnerProductDecoder):
    """sigmoid(s z_i . z_j), computed as PyG's decoder on sqrt(s) z; s = exp(log_scale), learned
    when ``learn_scale`` (initialised at s = 1), else fixed at 1."""

    def __init__(self, learn_scale: bool = False):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(()), requires_grad=learn_scale)

    @property
    def scale(self) -> float:
        return self.log_scale.detach().exp().item()

    def _scaled(self, z: Tensor) -> Tensor:
        return z * torch.exp(self.log_scale / 2)

    def forward(self, z: Tensor, edge_index: Tensor, sigmoid: bool = True) -> Tensor:
        return super().forward(self._scaled(z), edge_index, sigmoid)

    def forward_all(self, z: Tensor, sigmoid: bool = True) -> Tensor:
        return super().forward_all(self._scaled(z), sigmoid)


class SVGAE(VGAE):
    """PyG's VGAE with a vMF posterior: ``encode`` samples z ~ vMF(mu, kappa) in training
    (Algorithm 1 of the paper, reparameterised) and returns the mean direction mu in evaluation;
    ``kl_loss`` is the mean over nodes of KL(vMF(mu_i, kappa_i) || U(S^(d-1)))."""

    def __init__(self, encoder: VMFHeads, learn_scale: bool = False):
        super().__init__(encoder, ScaledInnerProductDecoder(learn_scale))

    def encode(self, x: Tensor, edge_index: Tensor) -> Tensor:
        loc, kappa = self.encoder(x, edge_index)
        self.posterior = VonMisesFisher(loc, kappa)
        return self.posterior.rsample() if self.training else loc

    def kl_loss(self) -> Tensor:
        dim = self.posterior.event_shape[0]
        return kl_divergence(self.posterior, HypersphericalUniform(dim, dtype=self.posterior.loc.dtype)).mean()


def n_vgae(in_channels: int, latent: int = 16, hidden: int = 32) -> VGAE:
    """Kipf & Welling's VGAE: GCN(hidden) -> (mu, log sigma) in R^latent, inner-product decoder."""
    return VGAE(GCNEncoder(in_channels, hidden, (latent, latent)), ScaledInnerProductDecoder(learn_scale=False))


def s_vgae(in_channels: int, latent: int = 16, hidden: int = 32, learn_scale: bool = False) -> SVGAE:
    """The S-VGAE with z on S^(latent-1) in R^latent."""
    return SVGAE(VMFHeads(in_channels, hidden, latent), learn_scale)
