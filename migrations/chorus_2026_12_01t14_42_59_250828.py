from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T14:42:59:250828"
VERSION = "1.38.0"
DESCRIPTION = "complaint.member_view (what plain members are shown); membership.consent_sha256 (the full text consented to)"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="chorus", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Membership",
        tablename="membership",
        column_name="consent_sha256",
        db_column_name="consent_sha256",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": None,
            "null": True,
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

    manager.add_column(
        table_class_name="Complaint",
        tablename="complaint",
        column_name="member_view",
        db_column_name="member_view",
        column_class_name="JSON",
        column_class=JSON,
        params={
            "default": None,
            "null": True,
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
