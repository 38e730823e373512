from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Real, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T19:46:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "filing_event.proposed_status, confidence, phrase (a regulator's reply read into a proposed "
    "status) and confirms (the organizer's update that confirms or corrects that proposal)"
)


def _params(default: object) -> dict[str, object]:
    return {
        "default": default,
        "null": True,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)
    for name, column_class, extra in (
        ("proposed_status", Varchar, {"length": 20}),
        ("confidence", Real, {}),
        ("phrase", Varchar, {"length": 200}),
        ("confirms", Integer, {}),
    ):
        manager.add_column(
            table_class_name="FilingEvent",
            tablename="filing_event",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params={**_params(None), **extra},
            schema=None,
        )
    return manager
