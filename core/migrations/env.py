"""Alembic environment of the core: the URL comes from the caller (`core.migrate`)."""

from alembic import context

from core.db import make_engine
from core.schema import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # a batch rebuild drops and renames tables other tables refer to
            _sqlite_foreign_keys(connection, on=False)
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=sqlite
        )
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            _sqlite_foreign_keys(connection, on=True)
    engine.dispose()


def _sqlite_foreign_keys(connection, on: bool) -> None:
    """Turn SQLite's foreign key enforcement off or on: outside a transaction, so on the
    driver's connection (SQLAlchemy would begin one first); on again only if every key holds."""
    raw = connection.connection.driver_connection
    if on:
        broken = raw.execute("pragma foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration broke {len(broken)} foreign key(s): {broken[:5]}")
    raw.execute(f"pragma foreign_keys={'on' if on else 'off'}")


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
