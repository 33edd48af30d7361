"""Alembic migrations of the mart's restricted layer (``hub mart init`` upgrades to head).

Adding a restricted table: define it on ``hub.mart.models.metadata`` in a module of its own (see
``hub/mart/restricted.py``), then add one revision here whose ``down_revision`` is the current head
(``alembic heads``, or the newest file in ``versions/``). Migrations never import the live models:
they describe the schema as it was at that revision, so an old mart upgrades the same way forever.
"""
