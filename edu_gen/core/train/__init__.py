"""Training: the loop (:func:`fit`), its players and turns, its :class:`History`, checkpoints.

Modules: ``loop`` (fit), ``players`` (Turn, Player, TurnCycle), ``history`` (History),
``curves`` (plot_losses), ``checkpoint`` (atomic files), ``rng_state`` (RNG capture),
``resume`` (the checkpoint format and the exact replay of an epoch).
"""

from edu_gen.core.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from edu_gen.core.train.history import History
from edu_gen.core.train.loop import fit
from edu_gen.core.train.players import Player, Turn, TurnCycle

__all__ = [
    "CheckpointError",
    "History",
    "Player",
    "Turn",
    "TurnCycle",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
]
