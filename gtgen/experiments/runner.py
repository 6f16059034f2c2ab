"""What every experiment shares: chunked long runs, checkpoints and resume, NaN stop, outputs.

``run_chunks`` drives any training whose state is a pytree and whose work is a jitted function
``chunk(key, state) -> (state, metrics)`` doing a fixed number of iterations (a ``lax.scan``).
The key of chunk c is ``fold_in(key, c)``, so a run resumed from a checkpoint draws exactly the
random numbers the uninterrupted run would have drawn, and ends in the same state.

After every chunk the state is checked for NaN/inf; a bad chunk is discarded, the last good
checkpoint is kept, and ``Diverged`` (a ValueError) says where to find it.

``open_checkpoints`` stamps a checkpoint folder with the run's identity (``run.json``) and
refuses a folder of another run; ``History`` keeps the per-chunk records beside the
checkpoints; ``write_folder_atomically`` writes an experiment's outputs so that a failure never
leaves half of them.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from gtgen.files import check_out_dir, make_out_dir


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
                max_to_keep=keep,
                create=True,
                enable_async_checkpointing=False,
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
    per_chunk: int | None = None,
) -> tuple[Any, int]:
    """Run ``chunks`` chunks from ``state`` (or from the newest checkpoint), returning
    ``(state, chunks_done_before_this_call)``. ``on_chunk(c, state, metrics)`` is called after
    each good chunk c (0-based), e.g. to log metrics.

    A checkpoint folder holding more chunks than ``chunks`` is refused (its state is not the
    one of the run asked for); ``per_chunk`` (iterations per chunk) only phrases that message.
    A start that fails before its first checkpoint leaves no folder behind.
    """
    ckpt = Checkpoints(checkpoint_dir) if checkpoint_dir is not None else None
    start = 0
    fresh = ckpt is not None and ckpt.latest_step() is None
    if ckpt is not None and ckpt.latest_step() is not None:
        start = ckpt.latest_step()
        if start > chunks:
            ckpt.close()
            unit = (
                f"{start * per_chunk} iterations, more than the {chunks * per_chunk} asked for"
                if per_chunk
                else f"{start} chunks, more than the {chunks} asked for"
            )
            raise ValueError(
                f"checkpoint_dir: {ckpt.directory} holds a run of {unit}, so it "
                "cannot be resumed as this run; ask for at least as many, or use "
                "another folder"
            )
        try:
            state = ckpt.restore(start, state)
        except Exception as err:  # noqa: BLE001 - any unreadable checkpoint is a damaged folder
            ckpt.close()
            raise ValueError(
                f"checkpoint_dir: the checkpoint of step {start} in "
                f"{ckpt.directory} cannot be read ({type(err).__name__}); delete "
                "that step's folder to resume from the one before, or use another "
                "folder"
            ) from None
    resumed_from = start
    bar = _progress(progress, description, chunks, start)
    try:
        for c in range(start, chunks):
            new_state, metrics = chunk(jax.random.fold_in(key, c), state)
            if not all_finite(new_state):
                where = (
                    f"the last good checkpoint is step {ckpt.latest_step()} in {ckpt.directory}"
                    if ckpt is not None and ckpt.latest_step() is not None
                    else "no checkpoint was kept (pass a checkpoint folder)"
                )
                raise Diverged(f"training: NaN or inf in the state during chunk {c}; {where}")
            state = new_state
            if ckpt is not None:
                ckpt.save(c + 1, state)
            if on_chunk is not None:
                on_chunk(c, state, metrics)
            if bar is not None:
                bar[0].update(bar[1], advance=1)
    except BaseException:
        if fresh and ckpt.latest_step() is None:
            ckpt.close()
            remove_failed_start(ckpt.directory)
        raise
    finally:
        if bar is not None:
            bar[0].stop()
        if ckpt is not None:
            ckpt.close()
    return state, resumed_from


def remove_failed_start(checkpoint_dir: str | Path) -> None:
    """Remove a checkpoint folder that holds no checkpoint (only what a start wrote: run.json,
    history.jsonl, orbax's empty layout), and its parent if that is then empty."""
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        return
    ckpt = Checkpoints(folder)
    has_steps = ckpt.latest_step() is not None
    ckpt.close()
    if has_steps:
        return
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()  # only if empty


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


def write_folder_atomically(out: str | Path, fill: Callable[[Path], object]) -> Path:
    """Let ``fill(tmp)`` write into a temporary folder beside ``out``, then move everything
    into ``out``: a failure never leaves half-written output. Entries of ``out`` with other
    names (e.g. checkpoints) are kept."""
    out = check_out_dir(out)
    make_out_dir(out.parent)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as tmp:
        tmp = Path(tmp)
        fill(tmp)
        out.mkdir(exist_ok=True)
        for entry in tmp.iterdir():
            target = out / entry.name
            if target.is_dir():
                shutil.rmtree(target)
            entry.replace(target)
    return out


def open_checkpoints(
    checkpoint_dir: Path, identity: dict, defaults: dict | None = None
) -> list[dict]:
    """Record the run's ``identity`` in the folder, or refuse a folder of a different run;
    return the per-chunk history up to the newest checkpoint (later lines, from an interrupted
    chunk that was never saved, are dropped from the file too).

    ``defaults`` fills keys that folders written by older versions lack.
    """
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    stamp = checkpoint_dir / "run.json"
    ckpt = Checkpoints(checkpoint_dir)
    started = ckpt.latest_step() is not None
    ckpt.close()
    if stamp.exists() and started:  # a run.json without checkpoints is a start that failed
        try:
            saved = json.loads(stamp.read_text())
        except (ValueError, UnicodeDecodeError):
            raise ValueError(
                f"checkpoint_dir: {stamp} is not valid JSON (a damaged folder); "
                "restore it or use another folder"
            ) from None
        if not isinstance(saved, dict):
            raise ValueError(f"checkpoint_dir: {stamp} does not hold a run's settings")
        saved = {**(defaults or {}), **saved}
        diff = sorted(k for k in identity if saved.get(k) != identity[k])
        if diff:
            raise ValueError(
                f"checkpoint_dir: {checkpoint_dir} holds a run with different "
                f"{', '.join(diff)}; use another folder or the same settings"
            )
    else:
        stamp.write_text(json.dumps(identity, indent=1))
    ckpt = Checkpoints(checkpoint_dir)
    done = ckpt.latest_step() or 0
    ckpt.close()
    path = checkpoint_dir / "history.jsonl"
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    history = []
    for line in filter(str.strip, lines):
        try:
            record = json.loads(line)
        except ValueError:  # a line cut short by an interruption
            continue
        if (
            isinstance(record, dict)
            and isinstance(record.get("chunk"), int)
            and (record["chunk"] < done)
        ):
            history.append(record)
    path.write_text("".join(json.dumps(h) + "\n" for h in history))
    return history


def append_history(checkpoint_dir: Path | None, history: list[dict], record: dict) -> None:
    """Add one chunk's record to ``history`` and, with a checkpoint folder, to its file."""
    history.append(record)
    if checkpoint_dir is not None:
        with open(checkpoint_dir / "history.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")


def write_experiment(
    out_dir: str | Path,
    numbers: dict,
    report: str,
    pictures: Callable[[Path], object],
    json_name: str = "results.json",
) -> Path:
    """What every experiment leaves behind, written atomically into ``out_dir``: ``numbers`` as
    ``json_name``, ``report`` as report.txt, and whatever ``pictures(folder)`` draws."""

    def fill(tmp: Path) -> None:
        (tmp / json_name).write_text(json.dumps(numbers, indent=1))
        (tmp / "report.txt").write_text(report + "\n")
        pictures(tmp)

    return write_folder_atomically(out_dir, fill)


def checkpoints_under(out_dir: str | Path | None, checkpoint_dir: str | Path | None) -> Path | None:
    """Where a run keeps its checkpoints: ``checkpoint_dir`` if given, else
    ``out_dir/checkpoints`` (None without either: no checkpoints)."""
    if checkpoint_dir is None and out_dir is not None:
        return Path(out_dir) / "checkpoints"
    return checkpoint_dir


def compute_and_write(
    compute: Callable[..., Any],
    write_outputs: Callable[[Any, str | Path], object],
    config: Any,
    out_dir: str | Path | None,
    **options: Any,
) -> Any:
    """``compute(config, out_dir=out_dir, **options)``'s results, written to ``out_dir`` by
    ``write_outputs`` when there is one: an experiment's ``run``."""
    results = compute(config, out_dir=out_dir, **options)
    if out_dir is not None:
        write_outputs(results, out_dir)
    return results
