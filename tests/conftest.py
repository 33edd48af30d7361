"""Fixtures for every test folder come from plugins in tests/plugins/ (so no folder imports another's
conftest): ``services`` has the real broker and PostgreSQL, per-test settings and their helpers."""

pytest_plugins = ["tests.plugins.services"]
