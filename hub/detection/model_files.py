"""Files a detector is configured with: where a relative name is found, and labels files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hub.detection.object_detector import DetectorError

if TYPE_CHECKING:
    from hub.core import Hub


def find_model_file(hub: Hub, name: str, what: str) -> Path:
    """A user-given file: absolute, else in `<data dir>/models`, else next to the config file.

    `what` names it in the error ("model file", "labels file") when none of those exists.
    """
    path = Path(name).expanduser()
    candidates = [path] if path.is_absolute() else [hub.models_dir / path]
    if not path.is_absolute() and hub.loaded.path is not None:
        candidates.append(hub.loaded.path.parent / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " or ".join(str(candidate) for candidate in candidates)
    raise DetectorError(f"{what} {name} not found (looked for {looked})")


def read_labels(path: Path) -> tuple[str, ...]:
    """Class names from a text file, one per line; line N (from 0) names class N."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DetectorError(f"cannot read labels file {path}: {exc}") from exc
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise DetectorError(f"labels file {path} is empty")
    if "" in lines:
        raise DetectorError(f"labels file {path}: line {lines.index('') + 1} is empty")
    return tuple(lines)
