"""The companion mechanisms of the field, each tied to the exchange game.

- ``valuation``     synthetic data as rewards: MMD valuation, Shapley fairness, reward LP,
                    weighted sampling (Tay et al., AAAI 2022).
- ``meanfield``     mean-field decentralised equilibria of linear-quadratic games for massive
                    populations (gtgen's reconstruction of MEMOA).
- ``verification``  unravelling of collaborative learning under private quality and its cure by
                    probabilistic verification (gtgen's reconstruction of Capitaine et al.).

Modules here sit above the core (players, game, round, solvers): they import from it, never the
other way round. Import the submodule you need: ``from gtgen.mechanisms import valuation``.
"""
