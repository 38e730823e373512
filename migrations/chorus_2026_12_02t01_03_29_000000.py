from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T01:03:29:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "regulator.seed_revision and regulator.admin_fields (issue 18 item 8): corrections to the shipped "
    "data/regulators.json reach existing installs at `chorus migrate`, field by field, except the "
    "fields an admin changed. Both null on existing rows: the first `chorus migrate` after this one "
    "reads which fields admins changed from the audit log (regulator.updated) and applies the rest"
)

_PARAMS = {
    "default": None,
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
    manager.add_column(
        table_class_name="Regulator",
        tablename="regulator",
        column_name="seed_revision",
        db_column_name="seed_revision",
        column_class_name="Varchar",
        column_class=Varchar,
        params={**_PARAMS, "length": 64},
        schema=None,
    )
    manager.add_column(
        table_class_name="Regulator",
        tablename="regulator",
        column_name="admin_fields",
        db_column_name="admin_fields",
        column_class_name="JSON",
        column_class=JSON,
        params=dict(_PARAMS),
        schema=None,
    )
    return manager
