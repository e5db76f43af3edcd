"""The book's models: the (ensemble) VAE of Table 1 and the graph auto-encoders of Table 4."""

from hvae_lib.models.ensemble import EnsembleLinear, EnsembleMLP
from hvae_lib.models.vae import VAE
from hvae_lib.models.vgae import GCNEncoder, ScaledInnerProductDecoder, SVGAE, n_vgae, s_vgae

__all__ = ["EnsembleLinear", "EnsembleMLP", "GCNEncoder", "SVGAE", "ScaledInnerProductDecoder", "VAE", "n_vgae", "s_vgae"]
