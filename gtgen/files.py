"""Reading the files a user hands to gtgen (TOML configs, .npz data), with one message per problem.

Each function raises ``ValueError`` whose message starts with the field the file was given as
(``config``, ``data``, ``data_file``) and says what to do: a missing file, a folder, an .npy
where an .npz is expected, a damaged archive, a config that is not UTF-8 or starts with a
byte-order mark, broken TOML.
"""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

_BOM = b"\xef\xbb\xbf"


def _existing_file(path: Path, field: str, kind: str) -> Path:
    if path.is_dir():
        raise ValueError(f"{field}: {path} is a folder, not {kind}")
    if not path.is_file():
        raise ValueError(f"{field}: file {path} not found")
    return path


def read_toml(path: str | Path, field: str = "config") -> dict[str, Any]:
    """A TOML file as a dict."""
    path = _existing_file(Path(path), field, "a TOML file")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ValueError(f"{field}: cannot read {path} ({err.strerror or err})") from None
    if raw.startswith(_BOM):
        raise ValueError(
            f"{field}: {path.name} starts with a byte-order mark (BOM); save it as "
            "UTF-8 without BOM"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{field}: {path.name} is not UTF-8 text (byte {raw[err.start]:#04x} at "
            f"offset {err.start}); save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{field}: not valid TOML in {path.name} ({err})") from None


def load_npz(path: str | Path, field: str) -> dict[str, np.ndarray]:
    """Every array of an .npz file (no pickles)."""
    path = _existing_file(Path(path), field, "an .npz file")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{field}: cannot read {path} as .npz ({err})") from None
    if isinstance(loaded, np.ndarray):
        raise ValueError(
            f"{field}: {path.name} is an .npy file (one array); save the players' "  # noqa: TRY004 - bad input is a ValueError
            "arrays with np.savez(path, player0=..., player1=...)"
        )
    try:
        with loaded as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise ValueError(f"{field}: cannot read {path} as .npz ({err})") from None


def check_out_dir(out: str | Path) -> Path:
    """``out`` as a Path, or ValueError if it is a file, lies under a file, or cannot be
    written (checked before a run, so that a long computation does not end in an unwritable
    destination)."""
    import os

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} exists and is not a folder; choose a folder")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"--out: {parent} is a file, so {out} cannot be a folder; choose another")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(
            f"--out: cannot write into {parent} (permission denied); choose a writable folder"
        )
    return out


def make_out_dir(out: str | Path) -> Path:
    """``check_out_dir``, then create the folder, or ValueError naming ``--out`` and why not."""
    out = check_out_dir(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(
            f"--out: cannot create {out} ({err.strerror or err}); choose a writable folder"
        ) from None
    return out
