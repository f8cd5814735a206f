"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from models import Base


def test_the_migrated_schema_matches_the_models(app):
    """A model change without its Alembic revision (or the reverse) fails here, not in production."""
    with app.extensions["engine"].connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
