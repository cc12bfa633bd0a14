"""Every Python block of the README runs as written, against a real server: the blocks are found and
run by pytest-examples, with SCMFIT_ADDRESS pointing `Client()` at this session's server. A block not
meant to run says so in its fence: ```python {test="skip"}."""

from __future__ import annotations

import pytest
from pytest_examples import CodeExample, EvalExample, find_examples

from tests.serverproc import REPO, ServerProcess

EXAMPLES = list(find_examples(REPO / "README.md"))


def test_the_readme_has_python_blocks_to_run() -> None:
    runnable = [example for example in EXAMPLES if example.prefix_settings().get("test") != "skip"]
    assert len(runnable) >= 3


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_readme_block_runs(
    example: CodeExample, eval_example: EvalExample, server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    if example.prefix_settings().get("test") == "skip":
        pytest.skip("marked as not meant to run")
    monkeypatch.setenv("SCMFIT_ADDRESS", server.address)
    eval_example.run(example)
