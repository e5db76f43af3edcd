"""The book's models: the (ensemble) VAE of Table 1, the graph auto-encoders of Table 4, and the
follow-up paper's image VAE with its compression objective."""

from hvae_lib.models.compression_loss import CompressionLoss, standard_kld
from hvae_lib.models.ensemble import EnsembleLinear, EnsembleMLP
from hvae_lib.models.image_vae import ImageVAE
from hvae_lib.models.vae import VAE
from hvae_lib.models.vgae import GCNEncoder, ScaledInnerProductDecoder, SVGAE, n_vgae, s_vgae

__all__ = [
    "CompressionLoss", "EnsembleLinear", "EnsembleMLP", "GCNEncoder", "ImageVAE", "SVGAE",
    "ScaledInnerProductDecoder", "VAE", "n_vgae", "s_vgae", "standard_kld",
]
