"""Repository-level conftest: intentionally empty of plugins.

The rvcqa plugin loads through its ``pytest11`` entry point (``pip install -e .``), and the test
run enables ``pytester`` with ``-p pytester`` in ``pyproject.toml``. Nothing is declared here
because this file is also seen when the shipped ``quality_tests/`` run from a user's RVC folder
(where a ``pytest_plugins`` here would be an error in pytest 8).
"""
