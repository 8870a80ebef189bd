"""An import refreshes its visibility facts in one statement.

The deferred trigger of migration 0009 refreshes the `track_library` fact of each changed upload at commit: a
function call, a lock and two statements per row, the larger part of an import transaction's commit (100
uploads: ~16 of its ~50 ms). The import now marks its batch UPDATE of the uploads (the transaction-local setting
`funkwhale.facts_by_statement`, on only around that statement) and refreshes the facts of every (track, library)
pair the batch finished in one statement after it (importer/store.finish_uploads_txn); the update trigger is not
queued for the rows of a marked statement. Every other change of an upload refreshes as before.

Revision ID: 0012_import_speed
Revises: 0011_search_cpu
Create Date: 2026-12-05
"""

from alembic import op

revision = "0012_import_speed"
down_revision = "0011_search_cpu"
branch_labels = None
depends_on = None

_CHANGED = (
    "OLD.import_status IS DISTINCT FROM NEW.import_status OR OLD.track_id IS DISTINCT FROM NEW.track_id"
    " OR OLD.library_id IS DISTINCT FROM NEW.library_id OR OLD.duration IS DISTINCT FROM NEW.duration"
)


def _update_trigger(when: str) -> str:
    return f"""
    DROP TRIGGER upload_track_library_update ON upload;
    CREATE CONSTRAINT TRIGGER upload_track_library_update AFTER UPDATE ON upload DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION upload_track_library();
    """


def upgrade() -> None:
    op.execute(
        _update_trigger(f"({_CHANGED}) AND current_setting('funkwhale.facts_by_statement', true) IS DISTINCT FROM 'on'")
    )


def downgrade() -> None:
    op.execute(_update_trigger(_CHANGED))
