from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import JSON
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-25T19:35:45:435056"
VERSION = "1.38.0"
DESCRIPTION = "filing.bundle_sha256 (the bundle as filed); complaint.members_total and total_loss (as built, for the regulator protocol)"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="chorus", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Complaint",
        tablename="complaint",
        column_name="members_total",
        db_column_name="members_total",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
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

    manager.add_column(
        table_class_name="Complaint",
        tablename="complaint",
        column_name="total_loss",
        db_column_name="total_loss",
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

    manager.add_column(
        table_class_name="Filing",
        tablename="filing",
        column_name="bundle_sha256",
        db_column_name="bundle_sha256",
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

    return manager
