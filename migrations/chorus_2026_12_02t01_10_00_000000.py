from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import Date, ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.constraints import Unique
from piccolo.table import Table

ID = "2026-12-02T01:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "Each member's escalation ladder (issue 16 item 3): membership.paid_with and membership.bought_on "
    "(how they paid, where they bought; null: not said) and ladder_progress (membership, step, state "
    "done|refused, happened_on, updated_at), one row per member and step"
)


class Membership(Table, tablename="membership", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )


_PARAMS = {
    "null": False,
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


class _UniqueAsIndexOnSQLite(MigrationManager):
    """SQLite cannot ``ALTER TABLE … ADD CONSTRAINT`` (Piccolo adds unique constraints that way,
    even to a new table): there the same uniqueness is a unique index."""

    async def run(self, backwards: bool = False) -> None:
        from chorus import db

        if not db.is_sqlite():
            await super().run(backwards=backwards)
            return
        constraints = list(self.add_constraints.add_constraints)
        self.add_constraints.add_constraints.clear()
        await super().run(backwards=backwards)
        if backwards or self.preview:
            return
        for c in constraints:
            columns = ", ".join(f'"{name}"' for name in c.constraint._meta.params["columns"])
            await db.engine().run_ddl(
                f'CREATE UNIQUE INDEX IF NOT EXISTS "{c.constraint._meta.name}" ON "{c.tablename}" ({columns})'
            )


async def forwards():
    manager = _UniqueAsIndexOnSQLite(migration_id=ID, app_name="chorus", description=DESCRIPTION)

    for column in ("paid_with", "bought_on"):
        manager.add_column(
            table_class_name="Membership",
            tablename="membership",
            column_name=column,
            db_column_name=column,
            column_class_name="Varchar",
            column_class=Varchar,
            params={**_PARAMS, "length": 20, "default": None, "null": True},
            schema=None,
        )

    manager.add_table(class_name="LadderProgress", tablename="ladder_progress", schema=None, columns=None)
    manager.add_column(
        table_class_name="LadderProgress",
        tablename="ladder_progress",
        column_name="membership",
        db_column_name="membership",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            **_PARAMS,
            "references": Membership,
            "on_delete": OnDelete.cascade,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "index": True,
        },
        schema=None,
    )
    manager.add_column(
        table_class_name="LadderProgress",
        tablename="ladder_progress",
        column_name="step",
        db_column_name="step",
        column_class_name="Varchar",
        column_class=Varchar,
        params={**_PARAMS, "length": 60, "default": ""},
        schema=None,
    )
    manager.add_column(
        table_class_name="LadderProgress",
        tablename="ladder_progress",
        column_name="state",
        db_column_name="state",
        column_class_name="Varchar",
        column_class=Varchar,
        params={**_PARAMS, "length": 12, "default": ""},
        schema=None,
    )
    manager.add_column(
        table_class_name="LadderProgress",
        tablename="ladder_progress",
        column_name="happened_on",
        db_column_name="happened_on",
        column_class_name="Date",
        column_class=Date,
        params={**_PARAMS, "default": None, "null": True},
        schema=None,
    )
    manager.add_column(
        table_class_name="LadderProgress",
        tablename="ladder_progress",
        column_name="updated_at",
        db_column_name="updated_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={**_PARAMS, "default": TimestamptzNow()},
        schema=None,
    )
    manager.add_constraint(
        table_class_name="LadderProgress",
        tablename="ladder_progress",
        constraint_name="ladder_progress_once",
        constraint_class=Unique,
        params={"columns": ["membership", "step"], "nulls_distinct": True},
        schema=None,
    )
    return manager
