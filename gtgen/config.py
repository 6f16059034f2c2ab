"""Game configuration files (TOML) for ``gtgen solve``: read, validate, build a Game.

```toml
family = "gaussian"            # gaussian, gaussian-full, bernoulli, categorical, poisson
alpha = [[0.6, 0.4], [0.3, 0.7]]
data = "players.npz"           # arrays player0, player1, ... (relative to this file)
num_classes = 10               # categorical only; default: largest class seen + 1
ridge = 1e-3                   # gaussian-full only: adds ridge·I to every covariance
[solver]
method = "sampled"             # or "exact", "anderson"
rounds = 400
samples = 2000
seed = 0
routing = "expected"           # or "sampled", "meanfield"
draw = "statistics"            # sampled only: or "samples" (default: statistics where it applies)
damping = 1.0
burn_in = 200                  # sampled only; default rounds // 2
tol = 1e-6                     # exact / anderson only
```

Every problem is a ValueError whose message starts with the offending field.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gtgen import files
from gtgen.game import Game
from gtgen.players.expfam import FAMILIES, MAX_CLASSES, family
from gtgen.seeds import check_seed
from gtgen.solvers.solve import check_settings, solve

TOP_KEYS = {"family", "alpha", "data", "num_classes", "ridge", "solver"}
SOLVER_KEYS = {
    "method",
    "rounds",
    "samples",
    "seed",
    "routing",
    "damping",
    "burn_in",
    "tol",
    "memory",
    "draw",
}
SOLVER_DEFAULTS = {"method": "sampled", "rounds": 400, "samples": 1000, "seed": 0}
# gtgen.solve's keyword defaults, read from its signature (one source of truth)
_SOLVE_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(solve).parameters.items()
    if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "reference"
}


class GameConfig(NamedTuple):
    game: Game
    solver: dict[str, Any]  # keyword arguments for gtgen.solve, plus "seed"
    family: str
    ignored: tuple[str, ...] = ()  # settings the method does not use (warned about, not passed)


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file as a dict, or ValueError naming ``config`` and what is wrong with the file
    (gtgen.files.read_toml)."""
    return files.read_toml(path, "config")


def load_config(path: str | Path) -> GameConfig:
    """Read a TOML game file and return the validated game and solver settings."""
    return parse_config(read_toml(path), base=Path(path).parent)


def parse_config(raw: dict[str, Any], base: Path = Path(".")) -> GameConfig:
    """Validate a parsed TOML mapping (paths resolved against ``base``)."""
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise ValueError(
            f"{sorted(unknown)[0]}: unknown key (known: {', '.join(sorted(TOP_KEYS))})"
        )
    for key in ("family", "alpha", "data"):
        if key not in raw:
            raise ValueError(f"{key}: missing (a game needs family, alpha and data)")
    name = raw["family"]
    if not isinstance(name, str) or name not in FAMILIES:
        raise ValueError(f"family: unknown family {name!r}; choose one of {', '.join(FAMILIES)}")
    if not isinstance(raw["alpha"], list):
        raise ValueError("alpha: must be a matrix, a list of rows")
    n = len(raw["alpha"])
    arrays = load_players_npz(raw["data"], base, n)
    size = _family_size(name, arrays, raw.get("num_classes"))
    if "ridge" in raw and name != "gaussian-full":
        raise ValueError('ridge: only for family = "gaussian-full"')
    player = family(name, size, raw.get("ridge"))
    game = Game([player] * n, raw["alpha"], arrays)
    settings = _solver_settings(raw.get("solver", {}))
    ignored = settings.pop("ignored")
    try:
        check_settings(
            game, **{**_SOLVE_DEFAULTS, **{k: v for k, v in settings.items() if k != "seed"}}
        )
    except ValueError as err:
        raise ValueError(f"solver.{err}") from None
    return GameConfig(game, settings, name, ignored)


def load_players_npz(
    value: Any, base: Path, n_players: int, field: str = "data"
) -> list[np.ndarray]:
    """Arrays player0 … player{N-1} from an .npz file, or ValueError naming what is wrong."""
    if not isinstance(value, (str, Path)) or not str(value):
        raise ValueError(f"{field}: must be the path of an .npz file")
    path = (base / value).resolve()
    files_ = files.load_npz(path, field)
    expected = [f"player{i}" for i in range(n_players)]
    missing = [k for k in expected if k not in files_]
    if missing:
        raise ValueError(
            f"{field}: {path.name} lacks {', '.join(missing)} (alpha has {n_players} players)"
        )
    extra = sorted(set(files_) - set(expected))
    if extra:
        raise ValueError(
            f"{field}: {path.name} has {', '.join(extra)} but alpha has {n_players} players"
        )
    return [files_[k] for k in expected]


def _family_size(name: str, arrays: list[np.ndarray], num_classes: Any) -> int:
    for i, a in enumerate(arrays):
        if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            what = "labels" if name == "categorical" else "values"
            raise ValueError(
                f"data: player{i} holds {a.dtype} entries; {what} must be numbers"
                + (" (classes 0 … K−1)" if name == "categorical" else "")
            )
    if name == "categorical":
        if num_classes is not None:
            if isinstance(num_classes, bool) or not isinstance(num_classes, int):
                raise ValueError(f"num_classes: must be an integer, got {num_classes!r}")
            return num_classes
        tops = [
            (float(np.max(a)), i)
            for i, a in enumerate(arrays)
            if np.size(a) and np.all(np.isfinite(a))
        ]
        top, who = max(tops, default=(1.0, 0))
        if top + 1 > MAX_CLASSES:
            raise ValueError(
                f"data: player{who} holds the label {top:.0f}, so the game would have "
                f"{top + 1:.0f} classes (limit {MAX_CLASSES}); labels are classes 0 … K−1 — "
                "fix the stray label or set num_classes"
            )
        return max(int(top) + 1, 2)
    if num_classes is not None:
        raise ValueError('num_classes: only for family = "categorical"')
    shapes = {np.shape(a)[1:] for a in arrays}
    first = np.shape(arrays[0])
    if len(first) != 2:
        raise ValueError(f"data: player0 has shape {first} but {name} needs [n, dim]")
    if len(shapes) > 1:
        raise ValueError(f"data: players have different dimensions {sorted(map(list, shapes))}")
    return first[1]


def _solver_settings(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError("solver: must be a table ([solver])")
    unknown = set(raw) - SOLVER_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise ValueError(f"solver.{key}: unknown key (known: {', '.join(sorted(SOLVER_KEYS))})")
    settings = {**SOLVER_DEFAULTS, **raw}
    seed = settings["seed"]
    if (
        "tol" in settings
        and isinstance(settings["tol"], int)
        and not isinstance(settings["tol"], bool)
    ):
        settings["tol"] = float(settings["tol"])
    check_seed(seed, "solver.seed")
    method = settings["method"]
    ignored = {
        "samples": "sampled",
        "routing": "sampled",
        "burn_in": "sampled",
        "tol": "exact and anderson",
        "memory": "anderson",
    }
    notes = []
    for key, methods in ignored.items():
        if (
            key in raw
            and isinstance(method, str)
            and method not in methods.replace(" and ", " ").split()
        ):
            notes.append(f"solver.{key}: applies to method {methods} only, not {method!r}; ignored")
            del settings[key]
    settings["ignored"] = tuple(notes)
    for key in ("rounds", "samples", "burn_in", "memory"):
        if key in settings and (
            isinstance(settings[key], bool) or not isinstance(settings[key], int)
        ):
            raise ValueError(f"solver.{key}: must be an integer, got {settings[key]!r}")
    return settings
