"""Mean-field decentralised equilibria for massive populations (gtgen's reconstruction of MEMOA).

MEMOA (Yang, Emerson, Tavakoli, Kratsios, arXiv 2605.05492) is public only as an abstract: agents
act on their own state and the mean field; the decentralised policy is unique, in closed form,
optimal for a worst-client criterion, and approaches the centralised Nash policy as the
population grows; a server mixes the clients' predictions by online weights. gtgen implements
the standard discrete-time linear-quadratic mean-field game (Huang, Caines & Malhamé 2007) as its
formulation of these claims; the formulation below is gtgen's, not the paper's.

The game (``lq_game``). Agents in C type classes (shares π_c; per class A_c, B_c, weights,
noise, targets). An agent of class c:

    x_{t+1} = A_c x_t + B_c u_t + w_t,  w_t ~ N(0, W_c) i.i.d.,  x_0 ~ N(x̄_{c,0}, Σ_c),
    J = E Σ_{t<T} β^t [‖x_t − y_t‖²_Q + ‖x_t − Γ x̄_t − η‖²_Q̄ + ‖u_t‖²_R] + β^T [‖x_T − y_T‖²_Q
        + ‖x_T − Γ x̄_T − η‖²_Q̄],

x̄_t the population mean (the mean field); Q, Q̄ ⪰ 0, R ≻ 0. ``horizon=None``: the discounted
infinite horizon (β < 1, (√βA, √βB) stabilisable), constant targets, stationary mean field.

Decentralised equilibrium (``solve``). Backward Riccati recursion and offset for a given mean
field path, forward mean-field recursion under the resulting policy, to the fixed point: by the
damped iteration or as one linear two-point boundary system (block elimination by a decoupling
field); lax.scan over time, vmap over classes, float64. Stationary: P by doubling (equal to
scipy.linalg.solve_discrete_are(√βA, √βB, Q + Q̄, R)), then one linear solve.

N players (``nash``, ``nash_coupled``, ``best_response``, ``evaluate``, ``assess``). In the
N-player game x̄ includes the agent itself. The centralised Nash policy solves the coupled
Riccati equations (on the joint state for small N; reduced exactly by symmetry to a system of
size (C+1)·n for any N); the ε-Nash gap of the decentralised policy is the gain of one agent's
exact LQ best response while the others keep it (and by Monte Carlo, ``simulate``).

Worst-client criterion (gtgen's formalisation). ``assess`` reports per class the cost J_c, the
best-response cost inf_v J_c(v, others) and the regret; the under-performer regret is
max_c (J_c − inf_v J_c), reported beside the mean and the worst cost max_c J_c. Choices that
minimise it: (1) the policy — among policies on the agent's own state and the mean field, the
decentralised policy in feedback form (regret O(1/N²)) beats its open-loop form (O(1/N)) and the
greedy baseline (no decay); the exact minimiser, regret 0, is ``nash``, which lies in the same
class (own state and class means at run time; only its computation needs the class sizes).
(2) The coupling weight Q̄ the server asks agents to play with: it changes the game cost itself,
so the experiment (``gtgen.experiments.meanfield``) chooses it on a grid by the worst agent's
forecast error (minimax), reporting the under-performer regret at each value beside it.

Baselines: ``greedy_policy`` (myopic: each step minimises the next stage cost with the mean field
held at its current value) and the centralised ``nash`` policy.

Online weighting (``hedge``, ``mixture_forecast``): exponential weights over clients with the
textbook regret bounds beside the measured regret.

Tie to the exchange game (``exchange``): the uniform exchange game is a mean-field game; its
decentralised equilibrium μ_i = a m_i + (1 − a) μ̄ is O(1/N) from the exact N-player one, and
its sampled exchange runs at 10^6 players on the structured round of ``gtgen.sweep.structured``.
"""

from gtgen.mechanisms.meanfield import exchange
from gtgen.mechanisms.meanfield.equilibrium import (
    Equilibrium,
    Policy,
    StationaryEquilibrium,
    decentralised_policy,
    greedy_policy,
    residuals,
    solve,
)
from gtgen.mechanisms.meanfield.game import LQGame, check_counts, lq_game, population, random_game
from gtgen.mechanisms.meanfield.montecarlo import Deviation, Simulation, deviation, simulate
from gtgen.mechanisms.meanfield.nplayer import (
    Assessment,
    BestResponse,
    CoupledNash,
    Nash,
    assess,
    best_response,
    evaluate,
    nash,
    nash_coupled,
    nash_many,
)
from gtgen.mechanisms.meanfield.online import HedgeResult, Mixture, hedge, mixture_forecast

__all__ = [
    "Assessment",
    "BestResponse",
    "CoupledNash",
    "Deviation",
    "Equilibrium",
    "HedgeResult",
    "LQGame",
    "Mixture",
    "Nash",
    "Policy",
    "Simulation",
    "StationaryEquilibrium",
    "assess",
    "best_response",
    "check_counts",
    "decentralised_policy",
    "deviation",
    "evaluate",
    "exchange",
    "greedy_policy",
    "hedge",
    "lq_game",
    "mixture_forecast",
    "nash",
    "nash_coupled",
    "nash_many",
    "population",
    "random_game",
    "residuals",
    "simulate",
    "solve",
]
