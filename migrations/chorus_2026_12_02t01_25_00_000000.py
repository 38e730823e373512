from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import JSON, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.constraints import Unique
from piccolo.table import Table

ID = "2026-12-02T01:25:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "link_proposal (issue 16 item 2): a report that reached a merchant by a strong identifier under a "
    "name the merchant did not bear, for a moderator to confirm or reject; one per merchant and name"
)


class Merchant(Table, tablename="merchant", schema=None):
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
    manager.add_table(class_name="LinkProposal", tablename="link_proposal", schema=None, columns=None)

    def column(name, cls, **params):
        manager.add_column(
            table_class_name="LinkProposal",
            tablename="link_proposal",
            column_name=name,
            db_column_name=name,
            column_class_name=cls.__name__,
            column_class=cls,
            params={**_PARAMS, **params},
            schema=None,
        )

    column(
        "merchant",
        ForeignKey,
        references=Merchant,
        on_delete=OnDelete.cascade,
        on_update=OnUpdate.cascade,
        target_column=None,
        index=True,
    )
    column("name", Varchar, length=200, default="")
    column("name_key", Varchar, length=200, default="")
    column("match_keys", JSON, default="[]")
    column("case", Integer, default=None, null=True)
    column("status", Varchar, length=10, default="open", index=True)
    column("created_at", Timestamptz, default=TimestamptzNow())
    column("decided_by", Integer, default=None, null=True)
    column("decided_at", Timestamptz, default=None, null=True)
    manager.add_constraint(
        table_class_name="LinkProposal",
        tablename="link_proposal",
        constraint_name="link_proposal_once",
        constraint_class=Unique,
        params={"columns": ["merchant", "name_key"], "nulls_distinct": True},
        schema=None,
    )
    return manager
