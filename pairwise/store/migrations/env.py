"""Alembic's entry point for the store's migrations: run on the connection the store hands over.

The store calls :func:`pairwise.store.schema.migrate`, which opens a connection, takes a lock (so
that app processes starting together migrate once) and runs ``alembic upgrade head`` on it.
"""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
