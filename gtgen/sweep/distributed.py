"""Several processes (hosts) running one sweep, through JAX's own distributed runtime."""

from __future__ import annotations

import jax


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    cpu_collectives: str = "gloo",
) -> None:
    """``jax.distributed.initialize`` for a sweep; call it first, before any other JAX work.

    Args:
      coordinator: ``"host:port"`` of process 0 (all three None: detected from SLURM, Open MPI or
        the TPU environment, as jax.distributed.initialize does).
      num_processes: how many processes take part.
      process_id: this process's rank, 0 … num_processes − 1.
      cpu_collectives: collectives between CPU processes (``"gloo"``; ``"mpi"`` needs MPI).
    """
    given = [coordinator is not None, num_processes is not None, process_id is not None]
    if any(given) and not all(given):
        raise ValueError("coordinator: give coordinator, num_processes and process_id together")
    if num_processes is not None and (not isinstance(num_processes, int) or num_processes < 1):
        raise ValueError(f"num_processes: must be a positive integer, got {num_processes!r}")
    if process_id is not None and (
        not isinstance(process_id, int) or not 0 <= process_id < (num_processes or 1)
    ):
        raise ValueError(f"process_id: must be in [0, {num_processes}), got {process_id!r}")
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(coordinator, num_processes, process_id)
