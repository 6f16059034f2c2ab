"""IV-A's claims over every value of a and seed (report.claims / verdicts / coverage_table) on
hand-made evaluations, and seeds as entries of the one program (tiny training runs)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from gtgen.experiments import mnist_split
from gtgen.experiments.mnist_split import experiment as ms
from gtgen.experiments.mnist_split import report


def fake_results(config: ms.Config, fractions: np.ndarray) -> ms.Results:
    """Results whose evaluation has the given class fractions ``[S, 2, 10]`` (entries in the
    order of ``entries``), with distances and pictures that only fill the shapes."""
    config = mnist_split.validate(config)
    data = mnist_split.load_data(config)
    ent = mnist_split.entries(config, data)
    n = len(ent.alphas)
    assert fractions.shape == (n, 2, 10)
    zeros = np.zeros((n, 2))
    evaluation = ms.Evaluation(
        fractions, zeros + 1, zeros + 2, zeros + 3, np.zeros((n, 2, 4, 8, 8)), 0.95
    )
    return ms.Results(config, ms.Trained(None, ent, [], 0, config.iterations), evaluation, 1.0)


def equilibrium(a: float, p: int) -> np.ndarray:
    """Class fractions of player p at the equilibrium p = (π_p + (1 − a) π_other) / (2 − a)
    with equal classes: 1 / (5 (2 − a)) on own digits, (1 − a) / (5 (2 − a)) on the other's."""
    own = np.isin(np.arange(10), ms.CLASS_SETS[p])
    return np.where(own, 1.0, 1.0 - a) / (5 * (2 - a))


CONFIG = ms.Config(alphas=(0.1, 0.5, 1.0), seed=3, seeds=2, baseline=True)


def equilibrium_fractions(config: ms.Config) -> np.ndarray:
    ent = mnist_split.entries(config, mnist_split.load_data(config))
    return np.stack(
        [
            [equilibrium(1.0 if b else a, p) if not b else np.full(10, 0.1) for p in range(2)]
            for a, b in zip(ent.alphas, ent.baseline)
        ]
    )


def test_entries_are_a_major_with_every_seed_and_a_baseline_per_seed() -> None:
    ent = mnist_split.entries(CONFIG, mnist_split.load_data(CONFIG))
    assert ent.alphas.tolist() == [0.1, 0.1, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0]
    assert ent.seeds.tolist() == [3, 4, 3, 4, 3, 4, 3, 4]
    assert ent.baseline.tolist() == [False] * 6 + [True] * 2
    streams = ms.entry_streams(ent)
    assert streams.tolist()[:6] == [100_000, 100_000, 500_000, 500_000, 10**6, 10**6]
    assert len({(s, k) for s, k in zip(ent.seeds, streams)}) == len(streams)  # all distinct
    np.testing.assert_allclose(ent.alpha[2], [[0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_array_equal(ent.alpha[7], np.eye(2))


def test_claims_hold_at_the_equilibrium_for_every_a_and_seed() -> None:
    results = fake_results(CONFIG, equilibrium_fractions(CONFIG))
    found = report.claims(results)
    # a = 0.1 and 0.5 (coverage) and a = 1 (alone), each for seeds 3 and 4
    assert [(c.alpha, c.seed, c.kind) for c in found] == [
        (0.1, 3, "coverage"),
        (0.1, 4, "coverage"),
        (0.5, 3, "coverage"),
        (0.5, 4, "coverage"),
        (1.0, 3, "alone"),
        (1.0, 4, "alone"),
    ]
    assert all(c.holds for c in found)
    assert found[2].values == pytest.approx([0.5 / 7.5] * 2)  # (1 − a) / (5 (2 − a)) at a = 0.5
    assert found[4].values == pytest.approx([0.0, 0.0])
    verdicts = report.verdicts(found)
    assert [(v.kind, v.holds, v.checked, v.failed) for v in verdicts] == [
        ("coverage", True, 4, ()),
        ("alone", True, 2, ()),
    ]
    assert "a ∈ {0.1, 0.5} × seeds 3, 4" in verdicts[0].text


def test_one_missing_digit_for_one_seed_fails_the_verdict_and_names_it() -> None:
    fractions = equilibrium_fractions(CONFIG)
    fractions[1, 0] = equilibrium(0.1, 0)  # a = 0.1, seed 4, player 0: drop digit 7
    fractions[1, 0, 7], fractions[1, 0, 0] = 0.039, fractions[1, 0, 0] + fractions[1, 0, 7] - 0.039
    fractions[5, 1, :5] += 0.03  # a = 1, seed 4, player 1: 15% of player 0's digits
    fractions[5, 1, 5:] -= 0.03
    results = fake_results(CONFIG, fractions)
    found = report.claims(results)
    assert [c.holds for c in found] == [True, False, True, True, True, False]
    coverage, alone = report.verdicts(found)
    assert not coverage.holds and coverage.failed == ((0.1, 4),)
    assert "fails 1 of 4" in coverage.text and "a = 0.1 (seed 4)" in coverage.text
    assert not alone.holds and alone.failed == ((1.0, 4),)
    table = report.coverage_table(results)
    assert table[0].split() == ["rarest", "digit,", "p0", "/", "p1", "seed", "3", "seed", "4"]
    assert "3.9%" in table[1] and table[1].startswith("a = 0.10")
    assert "[0.0% / 15.0%]" in table[3]  # a = 1: the other player's digits, in brackets
    text = report.report_text(results)
    assert "verdict over every value of a and seed" in text and "[NO ] at every a ≤ 0.5" in text
    assert report.missing_digits(results) == {7: 1}
    assert "under 4% (of 8 models at a ≤ 0.5): digit 7 in 1;" in text


def test_missing_digits_counts_models_under_the_line_most_frequent_first() -> None:
    config = ms.Config(alphas=(0.1, 0.3, 1.0), baseline=False)
    fractions = np.full((3, 2, 10), 0.1)
    fractions[0, :, 8] = fractions[1, 0, 8] = 0.02  # digit 8 low in three models
    fractions[1, 1, 2] = 0.039  # digit 2 in one
    fractions[2, :, :5] = 0.0  # a = 1 is not a coverage entry: not counted
    results = fake_results(config, fractions)
    assert report.missing_digits(results) == {8: 3, 2: 1}
    assert list(report.missing_digits(results)) == [8, 2]
    at_equilibrium = fake_results(CONFIG, equilibrium_fractions(CONFIG))
    assert report.missing_digits(at_equilibrium) == {}
    assert "under 4%" not in report.report_text(at_equilibrium)


def test_the_4_percent_line_is_inclusive_and_the_10_percent_line_strict() -> None:
    config = ms.Config(alphas=(0.5, 1.0), baseline=False)
    fractions = np.stack(
        [[equilibrium(0.5, p) for p in range(2)], [equilibrium(1.0, p) for p in range(2)]]
    )
    fractions[0, 1] = np.full(10, 0.1)
    fractions[0, 1, 3], fractions[0, 1, 4] = 0.04, 0.16  # exactly 4%: holds
    fractions[1, 0, :5], fractions[1, 0, 5:] = 0.18, 0.02  # exactly 10% other: fails
    found = report.claims(fake_results(config, fractions))
    assert [c.holds for c in found] == [True, False]
    assert "seed" not in found[0].text  # one seed: the text does not name it


def test_metrics_carry_seeds_claims_and_verdicts(tmp_path) -> None:
    results = fake_results(CONFIG, equilibrium_fractions(CONFIG))
    m = report.metrics(results)
    assert [(r["alpha"], r["seed"], r["player"]) for r in m["runs"]][:4] == [
        (0.1, 3, 0),
        (0.1, 3, 1),
        (0.1, 4, 0),
        (0.1, 4, 1),
    ]
    assert [v["holds"] for v in m["verdicts"]] == [True, True]
    alphas, rarest = report.by_alpha(results, results.evaluation.class_fractions.min(axis=(1, 2)))
    assert alphas == [0.1, 0.5, 1.0] and rarest.shape == (3, 2)
    np.testing.assert_allclose(rarest[:, 0], [0.9 / 9.5, 0.5 / 7.5, 0.0])


def test_coverage_plot_is_written(tmp_path) -> None:
    results = fake_results(CONFIG, equilibrium_fractions(CONFIG))
    out = report.write_outputs(results, tmp_path / "run")
    for name in ("coverage.png", "frechet.png", "samples.png", "samples/a0.10_seed4_player1.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def leaves(states, index) -> list[np.ndarray]:
    return [np.asarray(x)[index] for x in jax.tree.leaves(states)]


def test_an_entry_trains_alike_whatever_else_the_sweep_holds() -> None:
    """Seeds are entries of one program, and an entry's random numbers depend only on its seed
    and its a: (a = 0.3, seed 1) of three seeds at a = 0.3 is (0.3, seed 1) of seed 1 alone over
    a = 0.1, 0.3, 1. (The smoke run's shapes: one compiled program with test_experiment.)"""
    smoke = mnist_split.smoke_config(iterations=250, baseline=False)
    seeds = mnist_split.validate(smoke._replace(alphas=(0.3,), seeds=3))
    alone = mnist_split.validate(smoke._replace(alphas=(0.1, 0.3, 1.0), seed=1))
    data = mnist_split.load_data(seeds)
    a = mnist_split.train(seeds, data, progress=False)
    b = mnist_split.train(alone, data, progress=False)
    assert a.entries.seeds.tolist() == [0, 1, 2] and b.entries.seeds.tolist() == [1, 1, 1]
    for u, v in zip(leaves(a.states, 1), leaves(b.states, 1)):  # (0.3, seed 1) in both
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)
    # other seeds start elsewhere and train elsewhere
    assert not np.allclose(leaves(a.states, 0)[0], leaves(a.states, 1)[0])


def test_seeds_must_be_a_positive_integer() -> None:
    with pytest.raises(ValueError, match="seeds: must be a positive integer"):
        mnist_split.validate(ms.Config(seeds=0))
    with pytest.raises(ValueError, match="seed must be non-negative"):
        mnist_split.validate(ms.Config(seed=-1))


def test_the_warm_up_trains_every_player_alone_then_the_exchange_starts() -> None:
    """Within the compiled program: while fewer than ``warmup`` updates are done, a chunk with
    the sweep's α trains exactly like a chunk with α = I; afterwards exactly like α itself."""
    config = mnist_split.validate(mnist_split.smoke_config(alphas=(0.3,), seeds=3, baseline=False))
    data = mnist_split.load_data(config)
    ent = mnist_split.entries(config, data)
    _, per_chunk = mnist_split.chunking(config)
    program = ms.sweep_program(
        ms._architecture(config.hvae()),
        config.batch,
        per_chunk,
        float(config.flip_prob),
        config.composition,
        config.own_draw,
    )
    keys = ms.entry_keys(jax.random.key(5), ent)
    alpha, alone = np.asarray(ent.alpha), np.tile(np.eye(2, dtype=np.float32), (3, 1, 1))
    rows, counts = np.asarray(data.rows), np.asarray(ent.counts)
    lr = config.hvae().lr

    def chunk(states, weights, warmup, ramp=0):
        schedule = ms.Schedule(*np.float32([lr, 1.0, 2 * per_chunk, warmup, ramp]))
        return program(keys, states, rows, counts, weights, schedule)[0]

    start = ms.initial_states(config, ent.seeds)
    warm = chunk(start, alpha, per_chunk)
    for u, v in zip(jax.tree.leaves(warm), jax.tree.leaves(chunk(start, alone, 0))):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    assert int(ms.updates_done(jax.tree.map(lambda x: x[0], warm))) == per_chunk
    after = chunk(warm, alpha, per_chunk)  # the warm-up is over: α applies
    for u, v in zip(jax.tree.leaves(after), jax.tree.leaves(chunk(warm, alpha, 0))):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    exchanged = chunk(start, alpha, 0)
    assert not all(
        np.array_equal(np.asarray(u), np.asarray(v))
        for u, v in zip(jax.tree.leaves(warm), jax.tree.leaves(exchanged))
    )
    with pytest.raises(ValueError, match="warmup must be an integer in"):
        mnist_split.validate(config._replace(warmup=config.iterations))
    # the ramp: the first of two ramp chunks after the warm-up trains as α halfway to I
    halfway = 0.5 * (alpha + alone)
    ramped = chunk(warm, alpha, per_chunk, 2 * per_chunk)
    for u, v in zip(jax.tree.leaves(ramped), jax.tree.leaves(chunk(warm, halfway, 0))):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    assert not np.array_equal(np.asarray(jax.tree.leaves(ramped)[0]), jax.tree.leaves(after)[0])
    with pytest.raises(ValueError, match="ramp must be an integer in"):
        mnist_split.validate(config._replace(ramp=config.iterations + 1))


def test_the_ramp_schedule_is_k_over_k_chunks() -> None:
    schedule = ms.Schedule(*np.float32([1e-3, 1.0, 5000, 1000, 2000]))
    shares = [float(schedule.exchange(np.float32(c * 500), 500)) for c in range(8)]
    assert shares == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    at_once = ms.Schedule(*np.float32([1e-3, 1.0, 5000, 1000, 0]))
    assert [float(at_once.exchange(np.float32(c * 500), 500)) for c in range(4)] == [0, 0, 1, 1]


TRACKED = ms.Config(alphas=(0.1, 1.0), seeds=2, baseline=False, iterations=1000, warmup=0, ramp=0)


def tracked(config: ms.Config, final: np.ndarray, low) -> ms.Results:
    """Results with the final class fractions ``final`` and a tracked history of ten chunks
    at the equilibrium, except a = 0.1, seed 1, player 1, whose digit 2 is at ``low(c)``."""
    eq = equilibrium_fractions(config)
    history = []
    for c in range(10):
        f = eq.copy()
        f[1, 1, 2], f[1, 1, 7] = low(c), f[1, 1, 7] + f[1, 1, 2] - low(c)
        losses = np.zeros((4, 2)).tolist()
        history.append(
            {
                "chunk": c,
                "iteration": 100 * (c + 1),
                "loss_p": losses,
                "loss_q": losses,
                "class_fractions": f.tolist(),
            }
        )
    results = fake_results(config, final)
    return results._replace(trained=results.trained._replace(history=history))


def test_budget_advice_says_whether_a_failing_a_was_still_rising() -> None:
    final = equilibrium_fractions(TRACKED)
    final[1, 1, 2], final[1, 1, 7] = 0.03, final[1, 1, 7] + final[1, 1, 2] - 0.03
    rising = report.report_text(tracked(TRACKED, final, lambda c: 0.004 * c))
    assert "a = 0.1: rarest digit +0.4 points over the last fifth, still rising" in rising
    flat = report.report_text(tracked(TRACKED, final, lambda c: 0.03 + 0.0001 * c))
    assert "a = 0.1: rarest digit +0.0 points over the last fifth, levelled off" in flat
    # a = 1 is not a coverage entry, and an a that passes gets no advice
    passing = report.report_text(
        tracked(TRACKED, equilibrium_fractions(TRACKED), lambda c: 0.01 * c)
    )
    assert "over the last fifth, " not in passing and "a = 1:" not in rising


def test_coverage_curve_and_trend_from_the_tracked_history(tmp_path) -> None:
    """The tracked class fractions become the rarest digit's share of the lower player per a,
    iteration and seed; the report's trend is the mean over seeds, and the last fifth's rise."""
    config = TRACKED
    eq = equilibrium_fractions(config)  # entries: (0.1, s0), (0.1, s1), (1, s0), (1, s1)
    results = tracked(config, eq, lambda c: 0.01 * c)
    iterations, alphas, rarest = report.coverage_curve(results)
    assert iterations == list(range(100, 1001, 100)) and alphas == [0.1, 1.0]
    assert rarest.shape == (2, 10, 2)  # [a, iteration, seed]
    np.testing.assert_allclose(rarest[0, :, 0], 0.9 / 9.5)  # seed 0 at the equilibrium
    np.testing.assert_allclose(rarest[0, :, 1], [min(0.01 * c, 0.9 / 9.5) for c in range(10)])
    np.testing.assert_allclose(rarest[1], 0.0)  # a = 1: the other's digits are absent
    lines = report.coverage_trend(results)
    row = next(x for x in lines if x.startswith("a = 0.10"))
    # last fifth (chunks 8, 9) against the fifth before (6, 7), seed 1's digit: +2 points / 2
    assert row.endswith("+1.0 points")
    assert row.split()[3] == f"{100 * (0.9 / 9.5 + 0.0) / 2:.1f}%"  # first chunk, mean of seeds
    out = report.write_outputs(results, tmp_path / "run")
    assert (out / "coverage_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "coverage against iterations" in (out / "report.txt").read_text()


def test_cli_options_reach_the_config() -> None:
    from gtgen.cli import build_parser
    from gtgen.commands.experiments.mnist_split import config_from

    argv = ["experiment", "mnist-split", "--lr-final", "0.25", "--ramp", "3000", "--seeds", "2"]
    config = config_from(build_parser().parse_args(argv))
    assert (config.lr_final, config.ramp, config.seeds) == (0.25, 3000, 2)
    default = config_from(build_parser().parse_args(["experiment", "mnist-split"]))
    assert (default.lr_final, default.batch) == (0.1, 512)  # the digits defaults
    mnist = config_from(build_parser().parse_args(["experiment", "mnist-split", "--data-dir", "x"]))
    assert (mnist.lr_final, mnist.batch) == (1.0, 1000)  # constant, as the authors
