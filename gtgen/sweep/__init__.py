"""Sweeps: many games in one compiled program, sharded over devices and hosts.

    from gtgen.sweep import sweep
    result = sweep("examples/sweep-gaussian.toml", out="runs/sweep-gaussian", progress=True)
    result = sweep(a=[0.2, 0.5, 0.8], seeds=16, players=8, method="exact")
    result.rows[0]["rate"], result.meta["compilations"]

Command line: ``gtgen sweep CONFIG.toml [--out DIR]``.

Settings (TOML keys or keyword arguments; any of them given as a list is a grid axis, and
``seeds = 32`` is the axis 0 … 31; ``[[points]]`` tables list sub-grids instead):

    family      gaussian | gaussian-full | bernoulli | poisson | categorical   ("gaussian")
                | vae: neural players on the embedded digits (gtgen.sweep.neural; ``samples`` is
                  their batch, ``rounds`` their training rounds, method sampled, N ≤ 10)
    dim         sample dimension, classes for categorical                        (2)
    players     N                                                                (8)
    alpha       uniform | dirichlet | ring | star | small-world (gtgen.sweep.families) ("uniform")
    a           self-weight α_ii in (0, 1]                                       (0.5)
    concentration, neighbors, rewire   parameters of dirichlet / ring / small-world
    seeds       count or list of seeds: data, random α and the solver key        (1)
    data_size, spread   synthetic private data (gtgen.sweep.families)            (100, 2.0)
    data_file   .npz with player0 … player{N-1} instead of synthetic data
    method, routing, rounds, samples, damping, burn_in, memory   as for gtgen.solve
    tol         distance to the closed form that counts as reached               (0.01)
    stop_tol    exact / anderson stop on the relative step                       (1e-6)
    batch       most points per compiled call and per resumable chunk            (256)

One row per point holds the settings and: rate ρ(B), observed_rate (from the trace),
rounds_run, rounds_to_tol (first round within ``tol`` of the closed form, -1 if never),
distance (final, to the closed form μ* = (I − B)^{-1} D m in float64), residual, nash_gap_max /
nash_gap_mean (KL(p_BR ‖ p_i) over players), final_loss (neural players: mean training loss at
the end; NaN for exponential families, as distance, residual and gaps are for neural players)
and wall_s (the point's share of its chunk's run).

Output folder: results.csv, results.parquet (plus each point's distance trace), sweep.json
(points, distinct_shapes, compilations, wall_s, …), distance_vs_rounds.png, rate_vs_a.png,
error_vs_samples.png (exponential-family points), loss_vs_a.png (neural points) and
chunks/ (the resumable state: rerunning resumes).

Compilation: the settings that fix shapes (family, dim, players, method, routing, rounds,
samples, memory, data size, and for large games the α family) define a group; α, seeds, data,
damping, burn-in and tolerances are traced inputs, so each group compiles exactly once.
``compilations`` in sweep.json counts every XLA compilation in the process during the sweep.

Devices: the sweep axis is sharded over every device (``jax.sharding.Mesh`` with
``jax.shard_map``); games with more than ``DENSE_MAX`` players keep α sparse
(gtgen.sweep.structured) and shard the player axis. Results do not depend on the sharding.
On a CPU machine JAX sees one device unless told otherwise; ``gtgen.sweep.use_cpu_cores()``
(called right after ``import jax``; ``gtgen sweep`` does it itself) gives it one per core, so the
sweep runs on every core.

Several hosts: start one process per host and call ``gtgen.sweep.initialize`` (a thin wrapper of
``jax.distributed.initialize``) before anything else touches JAX:

    from gtgen.sweep import initialize, sweep
    initialize("10.0.0.1:1234", num_processes=2, process_id=RANK)   # on CPU: gloo collectives
    result = sweep("sweep.toml", out="/shared/runs/sweep")            # same call on every host

or ``gtgen sweep sweep.toml --coordinator 10.0.0.1:1234 --num-processes 2 --process-id RANK``.
Every process builds the same plan, feeds its devices' slice of each chunk, and gathers the
results; process 0 writes the folder and decides which chunks are already done.
"""

from gtgen.sweep.api import RESULT_COLUMNS, SweepResult, sweep
from gtgen.sweep.config import (
    ALPHA_FAMILIES,
    DENSE_MAX,
    SETTINGS,
    SweepConfig,
    load_config,
    parse_config,
)
from gtgen.sweep.distributed import initialize, use_cpu_cores
from gtgen.sweep.families import Structure, alpha_matrix, structure, synthetic_data
from gtgen.sweep.runner import compile_count

__all__ = [
    "ALPHA_FAMILIES",
    "DENSE_MAX",
    "RESULT_COLUMNS",
    "SETTINGS",
    "Structure",
    "SweepConfig",
    "SweepResult",
    "alpha_matrix",
    "compile_count",
    "initialize",
    "load_config",
    "parse_config",
    "structure",
    "sweep",
    "synthetic_data",
    "use_cpu_cores",
]
