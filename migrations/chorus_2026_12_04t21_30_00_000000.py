from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T21:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "membership.consent_versions: every complaint version a member read and agreed to "
    '([{"id", "sha256"}]), so that a case filed with several regulators records an agreement to '
    "each regulator's latest version, not only to the newest version of the case; filled from "
    "consent_complaint_id / consent_sha256 by the next migration (Piccolo runs raw steps before added columns)"
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Membership",
        tablename="membership",
        column_name="consent_versions",
        db_column_name="consent_versions",
        column_class_name="JSON",
        column_class=JSON,
        params={
            "default": "[]",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
