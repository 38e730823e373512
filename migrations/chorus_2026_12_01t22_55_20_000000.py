from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T22:55:20:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "filing.deadline dropped: a filing's deadline is derived from its events and its regulator's "
    "time limits on every read (chorus.filings.deadlines), and the column was written but never "
    "read. GET /api/v1/filings/{id} still serves deadline, derived"
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)
    # a plain nullable DATE, in no index or constraint: ALTER TABLE ... DROP COLUMN on both engines
    manager.drop_column(
        table_class_name="Filing",
        tablename="filing",
        column_name="deadline",
        db_column_name="deadline",
        schema=None,
    )
    return manager
