"""Long runs: chunks of compiled iterations, progress, orbax checkpoints, resume, NaN stop.

``run_chunks`` drives any training whose state is a pytree and whose work is a jitted function
``chunk(key, state) -> (state, metrics)`` doing a fixed number of iterations (a ``lax.scan``).
The key of chunk c is ``fold_in(key, c)``, so a run resumed from a checkpoint draws exactly the
random numbers the uninterrupted run would have drawn, and ends in the same state.

After every chunk the state is checked for NaN/inf; a bad chunk is discarded, the last good
checkpoint is kept, and ``Diverged`` (a ValueError) says where to find it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp


class Diverged(ValueError):
    """The state went NaN or infinite; the message names the last good checkpoint."""


def all_finite(tree: Any) -> bool:
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
    return bool(all(jnp.all(jnp.isfinite(x)) for x in leaves))


class Checkpoints:
    """An orbax CheckpointManager for one run folder, keeping the newest ``keep`` steps."""

    def __init__(self, directory: str | Path, keep: int = 2):
        self.directory = Path(directory).resolve()
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=keep, create=True, enable_async_checkpointing=False,
            ),
        )

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state: Any) -> None:
        self.manager.save(step, args=ocp.args.StandardSave(state))
        self.manager.wait_until_finished()

    def restore(self, step: int, like: Any) -> Any:
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        return self.manager.restore(step, args=ocp.args.StandardRestore(abstract))

    def close(self) -> None:
        self.manager.close()


def run_chunks(
    chunk: Callable[[jax.Array, Any], tuple[Any, Any]],
    state: Any,
    key: jax.Array,
    chunks: int,
    checkpoint_dir: str | Path | None = None,
    on_chunk: Callable[[int, Any, Any], None] | None = None,
    progress: bool = True,
    description: str = "training",
) -> tuple[Any, int]:
    """Run ``chunks`` chunks from ``state`` (or from the newest checkpoint), returning
    ``(state, chunks_done_before_this_call)``. ``on_chunk(c, state, metrics)`` is called after
    each good chunk c (0-based), e.g. to log metrics."""
    ckpt = Checkpoints(checkpoint_dir) if checkpoint_dir is not None else None
    start = 0
    if ckpt is not None and ckpt.latest_step() is not None:
        start = ckpt.latest_step()
        state = ckpt.restore(start, state)
    resumed_from = start
    bar = _progress(progress, description, chunks, start)
    try:
        for c in range(start, chunks):
            new_state, metrics = chunk(jax.random.fold_in(key, c), state)
            if not all_finite(new_state):
                where = (f"the last good checkpoint is step {ckpt.latest_step()} in {ckpt.directory}"
                         if ckpt is not None and ckpt.latest_step() is not None
                         else "no checkpoint was kept (pass a checkpoint folder)")
                raise Diverged(f"training: NaN or inf in the state during chunk {c}; {where}")
            state = new_state
            if ckpt is not None:
                ckpt.save(c + 1, state)
            if on_chunk is not None:
                on_chunk(c, state, metrics)
            if bar is not None:
                bar[0].update(bar[1], advance=1)
    finally:
        if bar is not None:
            bar[0].stop()
        if ckpt is not None:
            ckpt.close()
    return state, resumed_from


def _progress(enabled: bool, description: str, total: int, done: int):
    if not enabled:
        return None
    from rich.progress import Progress

    progress = Progress(transient=True)
    task = progress.add_task(description, total=total, completed=done)
    progress.start()
    return progress, task


def host(tree: Any) -> Any:
    """Copy a pytree to numpy (for saving metrics or pictures)."""
    return jax.tree.map(np.asarray, tree)
