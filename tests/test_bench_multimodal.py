"""benchmarks.multimodal_cases at tiny sizes: the --quick form times gtgen at all cores only and
says so; the one-core figure appears only where the child process ran."""

from benchmarks import multimodal_cases

TINY = {"hidden": (8,), "z": 2, "sweeps": 1, "rounds": 2, "loop_steps": 1, "repeats": 1}


def test_multimodal_round_all_cores_only_without_the_child(monkeypatch) -> None:
    monkeypatch.setattr(multimodal_cases, "_torch_available", lambda: False)
    out = multimodal_cases.multimodal_round(sizes={**TINY, "one_core": False})
    assert out["round_cores_timed"] == ["all_cores"]
    assert out["round_cores"] == "all_cores"
    assert "round_ms_one_core" not in out
    assert out["round_ms"] == out["round_ms_all_cores"] > 0
    assert out["ratio_vs_loop"] is None and "note" in out


def test_quick_sizes_skip_the_one_core_child() -> None:
    assert multimodal_cases._sizes(True, None)["one_core"] is False
    assert multimodal_cases._sizes(False, None)["one_core"] is True
    assert multimodal_cases._sizes(True, None)["all_cores_repeats"] == 1
