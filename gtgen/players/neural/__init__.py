"""Neural players as pure-function tuples: a VAE, the paper's symmetric-learning HVAE (IV-A) and
its joint label–image player with a classifier (IV-B)."""

from gtgen.players.neural.common import NeuralPlayer, TrainState
from gtgen.players.neural.hvae import CONFIGS as HVAE_CONFIGS
from gtgen.players.neural.hvae import HSample, HVAEConfig, HVAEState, hvae_player
from gtgen.players.neural.joint import (
    DIGITS_CAPACITIES,
    FMNIST_CAPACITIES,
    JointConfig,
    JointState,
    joint_player,
)
from gtgen.players.neural.multimodal import MultimodalConfig, classify, multimodal_player
from gtgen.players.neural.vae import VAEConfig, vae_player

__all__ = [
    "DIGITS_CAPACITIES",
    "FMNIST_CAPACITIES",
    "HVAE_CONFIGS",
    "HSample",
    "HVAEConfig",
    "HVAEState",
    "JointConfig",
    "JointState",
    "MultimodalConfig",
    "NeuralPlayer",
    "TrainState",
    "VAEConfig",
    "classify",
    "hvae_player",
    "joint_player",
    "multimodal_player",
    "vae_player",
]
