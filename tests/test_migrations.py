"""The migrations build exactly the schema the models describe (the equivalent of `flask db check`)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from plixo.extensions import db
from plixo.model import Base


def test_migrated_schema_matches_the_models():
    # The session-wide schema was built by running every migration (see conftest._rebuild_schema).
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
