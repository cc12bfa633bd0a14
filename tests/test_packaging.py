"""The wheel holds every package of the source tree: pyproject lists packages by hand, and a package
left out works in the editable install but is missing from wheels, the client venvs and the image."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_source_package_is_in_the_wheel() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    roots = {Path(path): name for name, path in config["package-dir"].items()}
    found = set()
    for root, name in roots.items():
        for init in (REPO / root).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / root)
            found.add(".".join((name, *relative.parts)))
    assert found - listed == set()
