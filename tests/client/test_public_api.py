"""The public surface: an explicit __all__, a py.typed marker, the retry policy, and no DoWhy."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from importlib import resources

import scmfit.client
from scmfit.client import _channel


def test_all_names_exist_and_nothing_public_is_missing() -> None:
    exported = set(scmfit.client.__all__)
    assert all(hasattr(scmfit.client, name) for name in exported)
    public = {
        name
        for name, value in vars(scmfit.client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)  # submodules such as compat
    }
    assert public - exported <= {"annotations"}


def test_package_is_typed() -> None:
    assert resources.files("scmfit.client").joinpath("py.typed").is_file()


def test_retry_policy_retries_unavailable_and_busy_but_never_invalid_argument() -> None:
    config = json.loads(_channel.SERVICE_CONFIG)
    method, fit = config["methodConfig"]
    assert {"service": "scmfit.v1.CausalModelService"} in method["name"]
    assert method["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]  # pushback: _retry.py
    assert method["retryPolicy"]["maxAttempts"] > 1
    # FitModel is retried by the client itself (gRPC's retries left it hanging on a killed server).
    assert fit == {"name": [{"service": "scmfit.v1.CausalModelService", "method": "FitModel"}]}


def test_importing_the_client_and_compat_never_imports_dowhy_or_the_server() -> None:
    code = (
        "import sys, scmfit.client, scmfit.client.compat, scmfit.client.cli;"
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in {'dowhy', 'sklearn', 'pandas'} or m.startswith('scmfit.server')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    # `scmfit.client.cli` may import scmfit.server.cli (argparse and config only) for `serve`.
    allowed = {"scmfit.server", "scmfit.server.cli", "scmfit.server.config"}
    assert [m for m in eval(out) if m not in allowed] == []
