"""Training: the loop (:func:`fit`), its per-step :class:`History` and checkpoints."""

from edu_gen.core.train.loop import CheckpointError, History, fit, load_checkpoint, save_checkpoint

__all__ = ["CheckpointError", "History", "fit", "load_checkpoint", "save_checkpoint"]
