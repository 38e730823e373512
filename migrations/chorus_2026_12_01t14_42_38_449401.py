from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T14:42:38:449401"
VERSION = "1.38.0"
DESCRIPTION = "Reply senders on filing events (sender, from_regulator); effect_done.done_at indexed for purging"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="chorus", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="FilingEvent",
        tablename="filing_event",
        column_name="from_regulator",
        db_column_name="from_regulator",
        column_class_name="Boolean",
        column_class=Boolean,
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

    manager.add_column(
        table_class_name="FilingEvent",
        tablename="filing_event",
        column_name="sender",
        db_column_name="sender",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 320,
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

    manager.alter_column(
        table_class_name="EffectDone",
        tablename="effect_done",
        column_name="done_at",
        db_column_name="done_at",
        params={"index": True},
        old_params={"index": False},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    return manager
