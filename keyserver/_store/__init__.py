"""Database layer: typed models, engine factory, migrations."""

from keyserver._store.engine import init_database, make_engine, migrate

__all__ = ["init_database", "make_engine", "migrate"]
