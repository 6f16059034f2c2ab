"""Online forecasting by a population of mean-field agents (gtgen's reconstruction of MEMOA's study).

MEMOA's experiments are known only by name (online prediction of periodic, logistic and
concept-drift series; decentralised against greedy baselines). gtgen's version, stated in full:

- Series y_t, t = 0 … T, rescaled to [0.1, 0.85]: ``periodic`` (two sinusoids), ``logistic`` (the
  logistic map z ← 3.7 z (1 − z), chaotic), ``drift`` (concept drift: five regimes, each with its
  own level and period).
- Three agent classes (shares 0.5 / 0.3 / 0.2): ``accurate`` (view noise 0.03), ``noisy`` (0.15)
  and ``offset`` (0.03, but its own target is y_t + 0.12: a class whose local series differs).
  Agent i of class c sees its own noisy view o^i_t = y_t + δ_c + ν^i_t, with ν^i an AR(1)
  (persistence φ = 0.9, stationary s.d. σ_c), and keeps a forecast f^i. Its state is
  x = (f, o) ∈ R²; its control u moves the forecast, f_{t+1} = f_t + b_c u_t (reaction b_c), and
  the view moves with the data (in the model a random walk, whose innovation variance is used
  only by the exact N-player analysis). So f_{t+1}, chosen at t, is its forecast of y_{t+1} + δ_c.
- Stage cost q (f − o)² + q̄ (f − f̄)² + r u²: track its own view, agree with the mean-field
  forecast f̄ (pooling the views), move smoothly. In ``lq_game`` terms: A = I, B = (b_c, 0)ᵀ,
  Q = q [[1, −1], [−1, 1]], Q̄ = q̄ diag(1, 0), Γ = I, η = 0, R = r, reference 0.
- Policies (all affine in the agent's state and the class means, so one simulator runs them on
  the same data): decentralised (the mean-field equilibrium in feedback form on the class means),
  greedy (myopic, ``greedy_policy``) and centralised (the N-player Nash policy, ``nash``).
- Server: the exponential-weights mixture of the decentralised agents' forecasts of y_t against
  the best single agent (``mixture_forecast``), with the regret bounds.
- Worst client: the coupling weight q̄ the server asks agents to play with is the design choice;
  the minimax q̄ on a grid minimises the worst agent's forecast RMSE (pooling helps the noisy
  class, hurts the offset class).
- Population size: the decentralised–centralised cost gap and the ε-Nash gap (exact, model game)
  for N = 10 … 10^5, with fitted log-log slopes; the centralised policy cross-checked against the
  N coupled Riccati equations at small N.
- Exchange game: the distance of the uniform game's mean-field equilibrium to the exact N-player
  one against N, and the sampled exchange at 10^6 players in one program.
"""

from __future__ import annotations

import math
import platform
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy.signal import lfilter

from gtgen.checks import any_integer
from gtgen.experiments.runner import write_experiment
from gtgen.mechanisms import meanfield as mf

SERIES = ("periodic", "logistic", "drift")
CLASSES = ("accurate", "noisy", "offset")
POLICIES = ("decentralised", "greedy", "centralised")
LOW, HIGH = 0.1, 0.85


class Config(NamedTuple):
    series: tuple[str, ...] = SERIES
    steps: int = 400  # horizon T
    agents: int = 300  # population of the forecasting runs
    shares: tuple[float, ...] = (0.5, 0.3, 0.2)
    view_noise: tuple[float, ...] = (0.03, 0.15, 0.03)  # σ_c
    offsets: tuple[float, ...] = (0.0, 0.0, 0.12)  # δ_c: class c's target is y + δ_c
    reaction: tuple[float, ...] = (1.0, 0.8, 1.2)  # b_c
    persistence: float = 0.9  # φ of the view noise
    walk: float = 0.05  # the model's s.d. of the series' steps (exact analysis only)
    tracking: float = 1.0  # q
    coupling: float = 1.0  # q̄
    adjustment: float = 0.3  # r
    coupling_grid: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    gap_agents: tuple[int, ...] = (10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000)
    coupled_agents: int = 10  # N for the coupled-Riccati cross-check
    exchange_sizes: tuple[int, ...] = (10, 30, 100, 300, 1000, 3000)
    exchange_players: int = 1_000_000
    exchange_rounds: int = 40
    exchange_samples: int = 8
    seed: int = 0


def small_config(**changes: Any) -> Config:
    """A configuration that runs in seconds (tests, the notebook's default)."""
    base = Config(
        steps=30,
        agents=30,
        coupling_grid=(0.0, 2.0),
        gap_agents=(10, 100, 1000, 10_000),
        coupled_agents=5,
        exchange_sizes=(10, 100, 1000),
        exchange_players=20_000,
        exchange_rounds=10,
    )
    return base._replace(**changes)


class Claim(NamedTuple):
    text: str
    value: float
    target: str
    holds: bool


class Results(NamedTuple):
    config: Config
    series: dict[str, np.ndarray]  # name -> y [T+1]
    forecasting: dict[str, dict[str, Any]]  # series -> policies, hedge, minimax, paths
    gap: dict[str, Any]  # population sizes, gaps, slopes, coupled cross-check
    exchange: dict[str, Any]
    claims: list[Claim]
    wall_s: float


# --- configuration --------------------------------------------------------------------------


def _int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}: must be an integer >= {low}, got {value!r}")
    return int(value)


def _num(name: str, value: Any, low: float, high: float = math.inf, open_low: bool = False):
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    ok = (
        ok
        and math.isfinite(value)
        and (value > low if open_low else value >= low)
        and value <= high
    )
    if not ok:
        bracket = "(" if open_low else "["
        raise ValueError(f"{name}: must be a number in {bracket}{low}, {high}], got {value!r}")
    return float(value)


def _triple(name: str, values: Any, low: float, open_low: bool = False) -> tuple[float, ...]:
    vals = tuple(values) if isinstance(values, (tuple, list)) else None
    if vals is None or len(vals) != len(CLASSES):
        raise ValueError(
            f"{name}: must be {len(CLASSES)} numbers, one per class "
            f"({', '.join(CLASSES)}), got {values!r}"
        )
    return tuple(_num(f"{name}[{i}]", v, low, open_low=open_low) for i, v in enumerate(vals))


def validate(config: Config) -> Config:
    """``config`` with checked fields; ValueError names the field."""
    if not isinstance(config, Config):
        raise TypeError(f"config: expected a meanfield.Config, got {type(config).__name__}")
    series = tuple(config.series) if isinstance(config.series, (tuple, list)) else (config.series,)
    for s in series:
        if s not in SERIES:
            raise ValueError(f"series: unknown series {s!r}; choose from {', '.join(SERIES)}")
    if not series or len(set(series)) != len(series):
        raise ValueError(f"series: need distinct names from {', '.join(SERIES)}, got {series}")
    shares = _triple("shares", config.shares, 0.0, open_low=True)
    if abs(sum(shares) - 1.0) > 1e-9:
        raise ValueError(f"shares: must sum to 1, got {sum(shares)}")
    grid = tuple(_num("coupling_grid", v, 0.0) for v in config.coupling_grid)
    if not grid:
        raise ValueError("coupling_grid: needs at least one coupling weight")
    gap = tuple(_int("gap_agents", v, len(CLASSES)) for v in config.gap_agents)
    if len(gap) < 2:
        raise ValueError("gap_agents: needs at least two population sizes for a slope")
    sizes = tuple(_int("exchange_sizes", v, 2) for v in config.exchange_sizes)
    if len(sizes) < 2:
        raise ValueError("exchange_sizes: needs at least two population sizes for a slope")
    any_integer("seed", config.seed)
    coupled = _int("coupled_agents", config.coupled_agents, len(CLASSES))
    if coupled * 2 > mf.nplayer.COUPLED_MAX_STATE:
        raise ValueError(f"coupled_agents: at most {mf.nplayer.COUPLED_MAX_STATE // 2}")
    return config._replace(
        series=series,
        steps=_int("steps", config.steps, 2),
        agents=_int("agents", config.agents, len(CLASSES)),
        shares=shares,
        view_noise=_triple("view_noise", config.view_noise, 0.0),
        offsets=_triple("offsets", config.offsets, -1.0),
        reaction=_triple("reaction", config.reaction, 0.0, open_low=True),
        persistence=_num("persistence", config.persistence, 0.0, 0.999),
        walk=_num("walk", config.walk, 0.0),
        tracking=_num("tracking", config.tracking, 0.0, open_low=True),
        coupling=_num("coupling", config.coupling, 0.0),
        adjustment=_num("adjustment", config.adjustment, 0.0, open_low=True),
        coupling_grid=grid,
        gap_agents=gap,
        coupled_agents=coupled,
        exchange_sizes=sizes,
        exchange_players=_int("exchange_players", config.exchange_players, 2),
        exchange_rounds=_int("exchange_rounds", config.exchange_rounds, 2),
        exchange_samples=_int("exchange_samples", config.exchange_samples, 1),
        seed=int(config.seed),
    )


# --- the data and the game ------------------------------------------------------------------


def make_series(name: str, steps: int, seed: int) -> np.ndarray:
    """The synthetic series y [steps + 1], rescaled to [LOW, HIGH]."""
    rng = np.random.default_rng([seed, 1, SERIES.index(name)])
    t = np.arange(steps + 1)
    if name == "periodic":
        y = np.sin(2 * np.pi * t / 40 + rng.uniform(0, 2 * np.pi)) + 0.3 * np.sin(2 * np.pi * t / 9)
    elif name == "logistic":
        z = np.empty(steps + 1)
        z[0] = rng.uniform(0.2, 0.8)
        for i in range(steps):  # a scalar recursion of T steps, generated once
            z[i + 1] = 3.7 * z[i] * (1.0 - z[i])
        y = z
    else:
        regimes = 5
        seg = np.minimum(t * regimes // (steps + 1), regimes - 1)
        levels = rng.uniform(-1.0, 1.0, regimes)
        periods = rng.uniform(15, 60, regimes)
        y = levels[seg] + 0.4 * np.sin(2 * np.pi * t / periods[seg])
    return LOW + (HIGH - LOW) * (y - y.min()) / (y.max() - y.min())


def forecast_game(config: Config, coupling: float | None = None) -> mf.LQGame:
    """The forecasting game of the module docstring as an ``lq_game``."""
    C = len(CLASSES)
    sigma = np.asarray(config.view_noise)
    B = np.zeros((C, 2, 1))
    B[:, 0, 0] = config.reaction
    qbar = config.coupling if coupling is None else coupling
    noise = np.zeros((C, 2, 2))
    noise[:, 0, 0] = 1e-6  # execution noise of the forecast, in the model only
    noise[:, 1, 1] = config.walk**2 + 2.0 * (1.0 - config.persistence) * sigma**2
    start = 0.5 * (LOW + HIGH)
    return mf.lq_game(
        np.eye(2),
        B,
        config.tracking * np.array([[1.0, -1.0], [-1.0, 1.0]]),
        config.adjustment,
        Qbar=qbar * np.diag([1.0, 0.0]),
        noise=noise,
        x0=np.array(config.offsets)[:, None] + np.full(2, start),
        x0_cov=np.diag([0.0, 0.05**2]),
        weights=np.asarray(config.shares),
        horizon=config.steps,
    )


def views(config: Config, y: np.ndarray, types: np.ndarray, index: int) -> np.ndarray:
    """Every agent's noisy view o^i_t = y_t + δ_c + ν^i_t: [T+1, N] (AR(1) noise, vectorised)."""
    rng = np.random.default_rng([config.seed, 2, index])
    sigma = np.asarray(config.view_noise)[types]
    phi = config.persistence
    shocks = rng.standard_normal((y.size, types.size)) * sigma
    shocks[1:] *= math.sqrt(1.0 - phi**2)
    nu = lfilter([1.0], [1.0, -phi], shocks, axis=0)  # ν_t = φ ν_{t−1} + ε_t
    return y[:, None] + np.asarray(config.offsets)[types] + nu


def _forecast_inputs(config, y, types, index):
    o = views(config, y, types, index)
    x0 = np.stack([o[0], o[0]], axis=1)
    noise = np.zeros((config.steps, types.size, 2))
    noise[:, :, 1] = np.diff(o, axis=0)
    return x0, noise


def _rmse(f, y, types, config):
    target = y[1:, None] + np.asarray(config.offsets)[types]
    return np.sqrt(np.mean((f[1:] - target) ** 2, axis=0))


# --- the parts of the run -------------------------------------------------------------------


def _forecasting(config: Config, name: str, index: int) -> dict[str, Any]:
    y = make_series(name, config.steps, config.seed)
    game = forecast_game(config)
    counts = mf.population(game, config.agents)
    types = np.repeat(np.arange(len(CLASSES)), counts)
    x0, noise = _forecast_inputs(config, y, types, index)
    eq = mf.solve(game)
    policies = {
        "decentralised": mf.decentralised_policy(eq),
        "greedy": mf.greedy_policy(game),
        "centralised": mf.nash(game, counts).policy,
    }
    rows, paths = {}, {}
    for label, policy in policies.items():
        sim = mf.simulate(game, counts, policy, x0=x0, noise=noise)
        f = sim.path[:, :, 0]
        rmse = _rmse(f, y, types, config)
        exact = mf.assess(game, counts, policy)
        worst = int(np.argmax(sim.cost))
        rows[label] = {
            "mean_cost": float(sim.cost.mean()),
            "worst_cost": float(sim.cost.max()),
            "worst_class": CLASSES[types[worst]],
            "class_cost": [float(sim.cost[types == c].mean()) for c in range(len(CLASSES))],
            "mean_rmse": float(rmse.mean()),
            "worst_rmse": float(rmse.max()),
            "class_rmse": [float(rmse[types == c].mean()) for c in range(len(CLASSES))],
            "model_regret": exact.regret.tolist(),
            "underperformer_regret": exact.underperformer_regret,
        }
        paths[label] = f
    mix = mf.mixture_forecast(paths["decentralised"][1:], y[1:])
    hedge = {
        "rmse": mix.rmse,
        "best_rmse": mix.best_rmse,
        "best_client": mix.best,
        "best_client_class": CLASSES[types[mix.best]],
        "regret": mix.regret,
        "bound": mix.bound,
        "eta": mix.eta,
        "hedge_regret": mix.hedge.regret,
        "hedge_bound": mix.hedge.bound,
        "hedge_eta": mix.hedge.eta,
        "mean_client_rmse": float(
            np.sqrt(np.mean((np.clip(paths["decentralised"][1:], 0, 1) - y[1:, None]) ** 2))
        ),
        "final_weight_by_class": [
            float(mix.weights[-1][types == c].sum()) for c in range(len(CLASSES))
        ],
    }
    worst, mean, regret = [], [], []
    for q in config.coupling_grid:
        g = forecast_game(config, coupling=q)
        policy = mf.decentralised_policy(mf.solve(g))
        sim = mf.simulate(g, counts, policy, x0=x0, noise=noise)
        rmse = _rmse(sim.path[:, :, 0], y, types, config)
        worst.append(float(rmse.max()))
        mean.append(float(rmse.mean()))
        regret.append(mf.assess(g, counts, policy).underperformer_regret)
    best = int(np.argmin(worst))
    minimax = {
        "grid": list(config.coupling_grid),
        "worst_rmse": worst,
        "mean_rmse": mean,
        "underperformer_regret": regret,
        "coupling": config.coupling_grid[best],
        "worst_at_minimax": worst[best],
    }
    noisy = int(np.flatnonzero(types == CLASSES.index("noisy"))[0])
    shown = {
        "truth": y,
        "mixture": np.concatenate([[np.nan], mix.prediction]),
        "best_client": paths["decentralised"][:, mix.best],
        "noisy_decentralised": paths["decentralised"][:, noisy],
        "noisy_greedy": paths["greedy"][:, noisy],
    }
    return {
        "policies": rows,
        "hedge": hedge,
        "minimax": minimax,
        "counts": counts.tolist(),
        "equilibrium_residual": eq.residual,
        "paths": shown,
    }


def _slope(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = y > 0
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def _gap(config: Config) -> dict[str, Any]:
    game = forecast_game(config)
    eq = mf.solve(game)
    pops = np.stack([mf.population(game, n) for n in config.gap_agents])
    cen = mf.nash_many(game, pops)
    out: dict[str, Any] = {"agents": list(config.gap_agents)}
    forms = {
        "feedback": mf.decentralised_policy(eq),
        "open_loop": mf.decentralised_policy(eq, feedback=False),
        "greedy": mf.greedy_policy(game),
    }
    for label, policy in forms.items():
        gaps, eps, worst = [], [], []
        for i, counts in enumerate(pops):
            a = mf.assess(game, counts, policy)
            gaps.append(float(np.max(np.abs(a.cost - cen[i].cost))))
            eps.append(a.underperformer_regret)
            worst.append(a.worst_cost)
        out[label] = {
            "cost_gap": gaps,
            "epsilon": eps,
            "worst_cost": worst,
            "cost_gap_slope": _slope(config.gap_agents, gaps),
            "epsilon_slope": _slope(config.gap_agents, eps),
        }
    out["centralised_worst_cost"] = [float(c.cost.max()) for c in cen]
    out["meanfield_cost"] = eq.cost.tolist()
    centre = cen[0].policy
    out["centralised_regret"] = mf.assess(game, pops[0], centre).underperformer_regret
    counts = mf.population(game, config.coupled_agents)
    coupled = mf.nash_coupled(game, counts)
    reduced = mf.nash(game, counts)
    per_agent = reduced.cost[coupled.types]
    out["coupled"] = {
        "agents": int(counts.sum()),
        "cost_difference": float(np.max(np.abs(coupled.cost - per_agent))),
        "cost": coupled.cost.tolist(),
    }
    return out


def _exchange(config: Config) -> dict[str, Any]:
    scaling = mf.exchange.distance_scaling(config.exchange_sizes, a=0.5, seed=config.seed)
    run = mf.exchange.sampled_exchange(
        config.exchange_players,
        0.5,
        rounds=config.exchange_rounds,
        samples=config.exchange_samples,
        seed=config.seed,
    )
    return {
        "a": 0.5,
        "players": scaling.players.tolist(),
        "distance": scaling.distance.tolist(),
        "predicted": scaling.predicted.tolist(),
        "slope": scaling.slope,
        "sampled": {
            "players": run.players,
            "rounds": run.rounds,
            "samples": run.samples,
            "distance": run.distance,
            "rms_distance": run.rms_distance,
            "meanfield_bias": run.meanfield_bias,
            "noise_scale": run.noise_scale,
            "wall_s": run.wall_s,
        },
    }


def _claims(forecasting, gap, exchange) -> list[Claim]:
    wins = [
        s
        for s, f in forecasting.items()
        if f["policies"]["decentralised"]["worst_cost"] < f["policies"]["greedy"]["worst_cost"]
    ]
    need = min(2, len(forecasting))
    out = [
        Claim(
            f"decentralised beats greedy in worst-agent cost on {len(wins)} of "
            f"{len(forecasting)} series ({', '.join(wins) or 'none'})",
            len(wins),
            f">= {need}",
            len(wins) >= need,
        )
    ]
    for form in ("feedback", "open_loop"):
        for key in ("cost_gap_slope", "epsilon_slope"):
            v = gap[form][key]
            out.append(
                Claim(
                    f"{form} decentralised policy: log-log slope of the "
                    f"{key.removesuffix('_slope').replace('_', ' ')} against N",
                    v,
                    "<= -0.5",
                    bool(v <= -0.5),
                )
            )
    worst_regret = max(f["hedge"]["regret"] - f["hedge"]["bound"] for f in forecasting.values())
    out.append(
        Claim(
            "server mixture: measured regret − ln K/η (max over series)",
            worst_regret,
            "<= 0",
            worst_regret <= 0,
        )
    )
    worst_hedge = max(
        f["hedge"]["hedge_regret"] - f["hedge"]["hedge_bound"] for f in forecasting.values()
    )
    out.append(
        Claim(
            "Hedge: measured regret − (ln K/η + ηT/8) (max over series)",
            worst_hedge,
            "<= 0",
            worst_hedge <= 0,
        )
    )
    d = gap["coupled"]["cost_difference"]
    out.append(
        Claim(
            f"centralised policy: reduced Nash = {gap['coupled']['agents']} coupled "
            "Riccati equations (max cost difference)",
            d,
            "<= 1e-8",
            d <= 1e-8,
        )
    )
    r = gap["centralised_regret"]
    out.append(
        Claim(
            "centralised policy is a Nash equilibrium (under-performer regret)",
            r,
            "<= 1e-8",
            r <= 1e-8,
        )
    )
    res = max(f["equilibrium_residual"] for f in forecasting.values())
    out.append(
        Claim(
            "decentralised equilibrium satisfies both recursions (max residual)",
            res,
            "<= 1e-8",
            res <= 1e-8,
        )
    )
    out.append(
        Claim(
            "exchange game: log-log slope of |μ_MF − μ*| against N",
            exchange["slope"],
            "<= -0.5",
            exchange["slope"] <= -0.5,
        )
    )
    return out


def run(config: Config | None = None, out_dir: str | Path | None = None, log=None) -> Results:
    """Run the whole study (see the module docstring); write the outputs into ``out_dir``."""
    config = validate(Config() if config is None else config)
    start = time.perf_counter()
    say = log or (lambda _msg: None)
    forecasting = {}
    for i, name in enumerate(config.series):
        say(f"forecasting: {name}")
        forecasting[name] = _forecasting(config, name, i)
    say("population sizes: decentralised against centralised")
    gap = _gap(config)
    say(f"exchange game: {config.exchange_players} players")
    exchange = _exchange(config)
    series = {name: forecasting[name]["paths"]["truth"] for name in config.series}
    results = Results(
        config,
        series,
        forecasting,
        gap,
        exchange,
        _claims(forecasting, gap, exchange),
        time.perf_counter() - start,
    )
    if out_dir is not None:
        write_outputs(results, out_dir)
    return results


# --- outputs --------------------------------------------------------------------------------


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items() if k != "paths"}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def metrics(results: Results) -> dict[str, Any]:
    """What results.json holds."""
    return _jsonable(
        {
            "config": results.config._asdict(),
            "classes": list(CLASSES),
            "forecasting": results.forecasting,
            "gap": results.gap,
            "exchange": results.exchange,
            "claims": [c._asdict() for c in results.claims],
            "wall_s": results.wall_s,
            "machine": {"platform": platform.platform(), "python": platform.python_version()},
        }
    )


def report_text(results: Results) -> str:
    c = results.config
    lines = [
        (
            f"Mean-field forecasting (gtgen's reconstruction of MEMOA): {c.agents} agents, "
            f"T = {c.steps}, coupling q̄ = {c.coupling}, classes {', '.join(CLASSES)} "
            f"(shares {', '.join(f'{s:g}' for s in c.shares)})"
        ),
        "",
    ]
    lines.append(
        f"{'series':<10} {'policy':<14} {'mean cost':>10} {'worst cost':>11} "
        f"{'mean RMSE':>10} {'worst RMSE':>11} {'ε (model)':>10}"
    )
    for name, f in results.forecasting.items():
        for p in POLICIES:
            r = f["policies"][p]
            lines.append(
                f"{name:<10} {p:<14} {r['mean_cost']:>10.3f} {r['worst_cost']:>11.3f} "
                f"{r['mean_rmse']:>10.4f} {r['worst_rmse']:>11.4f} "
                f"{r['underperformer_regret']:>10.2e}"
            )
    lines += [
        "",
        "server (exponential-weights mixture of the decentralised agents' forecasts of y):",
    ]
    for name, f in results.forecasting.items():
        h = f["hedge"]
        lines.append(
            f"  {name:<10} mixture RMSE {h['rmse']:.4f}, best client {h['best_rmse']:.4f} "
            f"({h['best_client_class']}), mean client {h['mean_client_rmse']:.4f}; "
            f"regret {h['regret']:.3f} ≤ ln K/η = {h['bound']:.2f}; Hedge regret "
            f"{h['hedge_regret']:.3f} ≤ {h['hedge_bound']:.2f}"
        )
    lines += ["", "worst-client design: worst agent's forecast RMSE against the coupling q̄:"]
    for name, f in results.forecasting.items():
        m = f["minimax"]
        cells = ", ".join(f"{q:g}: {w:.4f}" for q, w in zip(m["grid"], m["worst_rmse"]))
        lines.append(f"  {name:<10} {cells}  → minimax q̄ = {m['coupling']:g}")
    m = next(iter(results.forecasting.values()))["minimax"]
    cells = ", ".join(f"{q:g}: {r:.1e}" for q, r in zip(m["grid"], m["underperformer_regret"]))
    lines.append(f"  under-performer regret of the decentralised policy (exact): {cells}")
    g = results.gap
    lines += [
        "",
        "decentralised against centralised (exact, model game), max over classes:",
        (
            f"  {'N':>8} {'gap fb':>10} {'ε fb':>10} {'gap open':>10} {'ε open':>10} "
            f"{'ε greedy':>10}"
        ),
    ]
    for i, n in enumerate(g["agents"]):
        lines.append(
            f"  {n:>8} {g['feedback']['cost_gap'][i]:>10.3e} "
            f"{g['feedback']['epsilon'][i]:>10.3e} {g['open_loop']['cost_gap'][i]:>10.3e} "
            f"{g['open_loop']['epsilon'][i]:>10.3e} {g['greedy']['epsilon'][i]:>10.3e}"
        )
    lines.append(
        f"  slopes: feedback gap {g['feedback']['cost_gap_slope']:.2f}, ε "
        f"{g['feedback']['epsilon_slope']:.2f}; open-loop gap "
        f"{g['open_loop']['cost_gap_slope']:.2f}, ε {g['open_loop']['epsilon_slope']:.2f}"
    )
    e = results.exchange
    s = e["sampled"]
    lines += [
        "",
        (
            f"exchange game (a = {e['a']}): |μ_MF − μ*| slope {e['slope']:.2f} over N = "
            f"{e['players'][0]} … {e['players'][-1]}; sampled exchange at {s['players']} players, "
            f"{s['rounds']} rounds × {s['samples']} samples: max distance to the mean-field "
            f"closed form {s['distance']:.2e} (noise scale {s['noise_scale']:.1e}, mean-field "
            f"bias {s['meanfield_bias']:.1e}), {s['wall_s']:.1f} s"
        ),
        "",
        "checks:",
    ]
    for claim in results.claims:
        mark = "ok  " if claim.holds else "FAIL"
        lines.append(f"  {mark} {claim.text}: {claim.value:.4g} (need {claim.target})")
    lines.append(f"\nwall time {results.wall_s:.1f} s")
    return "\n".join(lines)


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def pictures(results: Results, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    names = list(results.forecasting)
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.6 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        p = results.forecasting[name]["paths"]
        ax.plot(p["truth"], color="k", lw=1.2, label="series y")
        ax.plot(p["noisy_greedy"], color="tab:red", lw=0.8, alpha=0.7, label="noisy agent, greedy")
        ax.plot(
            p["noisy_decentralised"], color="tab:blue", lw=0.8, label="noisy agent, decentralised"
        )
        ax.plot(p["mixture"], color="tab:green", lw=1.0, ls="--", label="server mixture")
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("value")
    axes[0, 0].legend(fontsize=7, ncol=4)
    axes[-1, 0].set_xlabel("t")
    written.append(_save(fig, folder / "forecasts.png"))

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    width = 0.8 / len(POLICIES)
    x = np.arange(len(names))
    for j, p in enumerate(POLICIES):
        for ax, key in zip(axes, ("mean_cost", "worst_cost")):
            ax.bar(
                x + j * width,
                [results.forecasting[s]["policies"][p][key] for s in names],
                width,
                label=p,
            )
    for ax, title in zip(axes, ("mean cost per agent", "worst agent's cost")):
        ax.set_xticks(x + width, names)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=8)
    written.append(_save(fig, folder / "costs.png"))

    g = results.gap
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for form, colour in (("feedback", "tab:blue"), ("open_loop", "tab:orange")):
        r = g[form]
        label = form.replace("_", "-")
        for key, style, what in (
            ("cost_gap", "o-", "|J_dec − J_cen|"),
            ("epsilon", "s--", "ε-Nash"),
        ):
            text = f"{label}: {what} (slope {r[key + '_slope']:.2f})"
            ax.loglog(g["agents"], r[key], style, color=colour, label=text)
    ax.set_xlabel("agents N")
    ax.set_ylabel("max over classes")
    ax.set_title("decentralised against centralised (exact)", fontsize=9)
    ax.legend(fontsize=7)
    written.append(_save(fig, folder / "gap_vs_n.png"))

    fig, ax = plt.subplots(figsize=(6, 3.8))
    for name in names:
        m = results.forecasting[name]["minimax"]
        ax.plot(m["grid"], m["worst_rmse"], "o-", label=f"{name}: worst agent")
        ax.plot(
            m["grid"], m["mean_rmse"], ":", color=ax.lines[-1].get_color(), label=f"{name}: mean"
        )
    ax.set_xlabel("coupling weight q̄")
    ax.set_ylabel("forecast RMSE")
    ax.set_title("worst-client design: the minimax coupling", fontsize=9)
    ax.legend(fontsize=7)
    written.append(_save(fig, folder / "coupling.png"))
    return written


def write_outputs(results: Results, out_dir: str | Path) -> Path:
    """results.json, report.txt and the plots, written atomically into ``out_dir``."""
    return write_experiment(
        out_dir, metrics(results), report_text(results), lambda folder: pictures(results, folder)
    )
