"""The server's layers, as its folders show them: each imports only the layers below it.

wire → engine → fitting → stores → domain (config, metrics and logs are leaves anyone may use).
A new import that points upward fails here, naming the module and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "server/scmfit/server"
LEAVES = {"config", "metrics"}
ALLOWED: dict[str, set[str]] = {
    "domain": {"domain"},
    "stores": {"stores", "domain"},
    "fitting": {"fitting", "domain"},
    "engine": {"engine", "fitting", "stores", "domain"},
    "wire": {"wire", "engine", "fitting", "stores", "domain"},
}


def server_imports(path: Path) -> set[str]:
    """Every module of our server that one file imports, as `layer.module` (or a leaf's name)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("scmfit.server"):
            continue
        rest = str(node.module).removeprefix("scmfit.server").lstrip(".")
        if not rest or rest in ALLOWED:  # `from scmfit.server(.layer) import module`
            found.update(f"{rest}.{alias.name}".lstrip(".") for alias in node.names)
        else:
            found.add(rest)
    return found


def test_every_layer_imports_only_the_layers_below_it() -> None:
    upward: list[str] = []
    for layer, allowed in ALLOWED.items():
        files = sorted((SERVER / layer).rglob("*.py"))
        assert files, layer
        for path in files:
            for target in server_imports(path):
                if target.split(".")[0] in LEAVES or target in allowed or target.split(".")[0] in allowed:
                    continue
                upward.append(f"{path.relative_to(SERVER)} imports scmfit.server.{target}")
    assert upward == []


def top_level_imports(path: Path) -> set[str]:
    """The top-level package of every import in one file, wherever in the file it is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_the_domain_needs_neither_grpc_nor_protobuf_nor_dowhy() -> None:
    for path in (SERVER / "domain").glob("*.py"):
        assert not top_level_imports(path) & {"grpc", "google", "dowhy", "sklearn"}, path.name


def test_no_two_server_modules_import_each_other() -> None:
    """A cycle hides behind function-level imports too (ray_bridge and ray_executor once had one)."""
    imports = {
        str(path.relative_to(SERVER).with_suffix("")).replace("/", "."): server_imports(path)
        for path in SERVER.rglob("*.py")
    }
    cycles = sorted(
        f"{a} <-> {b}" for a, targets in imports.items() for b in targets if a < b and a in imports.get(b, set())
    )
    assert cycles == []


def test_dowhy_is_imported_only_by_the_fitting_layer() -> None:
    users = sorted(str(path.relative_to(SERVER)) for path in SERVER.rglob("*.py") if "dowhy" in top_level_imports(path))
    assert users and all(user.startswith("fitting/") for user in users), users
