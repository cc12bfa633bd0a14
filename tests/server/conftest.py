import pytest

# The server's unit tests need the server extra; the client-only (3.13) suite does not collect them.
pytest.importorskip("dowhy")
