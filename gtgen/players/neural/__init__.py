"""Neural players: a VAE and the paper's symmetric-learning HVAE, as pure-function tuples."""

from gtgen.players.neural.common import NeuralPlayer, TrainState
from gtgen.players.neural.hvae import CONFIGS as HVAE_CONFIGS
from gtgen.players.neural.hvae import HSample, HVAEConfig, HVAEState, hvae_player
from gtgen.players.neural.vae import VAEConfig, vae_player

__all__ = [
    "HVAE_CONFIGS",
    "HSample",
    "HVAEConfig",
    "HVAEState",
    "NeuralPlayer",
    "TrainState",
    "VAEConfig",
    "hvae_player",
    "vae_player",
]
