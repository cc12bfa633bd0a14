"""A pytest plugin that points lift-sys's own tests at scmfit, without editing them.

    SCMFIT_ADDRESS=127.0.0.1:50051 pytest -p liftsys_plugin tests/causal

It rebinds `DoWhyClient`, `DoWhySubprocessError` and `fit_scm` in lift-sys's `dowhy_client`
module and in every lift-sys module that imported them, before any test runs.
`--scmfit-unskip NAME` removes module-level skip marks from the test file NAME (for example
test_scm_fitter_dynamic.py, which lift-sys skips because its subprocess was too slow to run).
With SCMFIT_LIFTSYS_BASELINE=1 nothing is swapped (only the unskip applies): the same selection of
tests then runs against lift-sys's own subprocess client, for a like-for-like comparison.
It contains no lift-sys code; it only knows the three names lift-sys's client exports.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import pytest

from scmfit.client import compat

BASELINE = os.environ.get("SCMFIT_LIFTSYS_BASELINE") == "1"
REPLACED = {} if BASELINE else {"DoWhyClient": compat.DoWhyClient, "DoWhySubprocessError": compat.DoWhySubprocessError}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--scmfit-unskip", action="append", default=[], help="test files whose module skip to drop")


def pytest_configure(config: pytest.Config) -> None:
    if BASELINE:
        return
    original = importlib.import_module("lift_sys.causal.dowhy_client")
    patch(original, {**REPLACED, "fit_scm": compat.fit_scm})
    for name, module in list(sys.modules.items()):
        if name.startswith("lift_sys") and module is not original:
            patch(module, REPLACED)


def patch(module: Any, names: dict[str, Any]) -> None:
    for name, replacement in names.items():
        if name in vars(module):
            setattr(module, name, replacement)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unskip = set(config.getoption("--scmfit-unskip"))
    for item in items:
        module = getattr(item, "module", None)
        if module is not None:
            patch(module, REPLACED)  # test modules that imported the names themselves
        if str(item.path.name) in unskip:
            for node in item.listchain():  # the module's pytestmark lives on the Module node
                node.own_markers = [mark for mark in node.own_markers if mark.name != "skip"]
