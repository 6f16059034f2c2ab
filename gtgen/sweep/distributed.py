"""Where a sweep runs: one CPU device per core, and several processes (hosts) through JAX's own
distributed runtime."""

from __future__ import annotations

import os

import jax

from gtgen.checks import integer


def cpu_core_count() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def use_cpu_cores(count: int | None = None) -> int:
    """Give JAX one CPU device per core, so a sweep on a CPU machine runs on every core.

    XLA runs the small fused loops of a solver round on one thread; a sweep sharded over per-core
    CPU devices runs its shards side by side (sweep-1000: 1.9x on 2 cores, benchmarks/RESULTS.md).
    Programs that use the default device only are unaffected. Call it first, before any JAX
    computation (JAX fixes its devices when its backends start; ``gtgen sweep`` does this itself).
    The CPU devices of a GPU or TPU machine are not the ones a sweep uses, so it is harmless there.

    Args:
      count: devices to create (default: the cores this process may use).
    Returns:
      The count set.
    Raises:
      RuntimeError: JAX has already started its backends.
      ValueError: count is not a positive integer.
    """
    count = cpu_core_count() if count is None else count
    count = integer("count", count)
    jax.config.update("jax_num_cpu_devices", count)
    return count


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
    if num_processes is not None:
        integer("num_processes", num_processes)
    if process_id is not None and (
        not isinstance(process_id, int) or not 0 <= process_id < (num_processes or 1)
    ):
        raise ValueError(f"process_id: must be in [0, {num_processes}), got {process_id!r}")
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(coordinator, num_processes, process_id)
