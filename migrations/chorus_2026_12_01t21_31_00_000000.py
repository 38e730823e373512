from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.base import OnUpdate
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import JSON
from piccolo.columns.column_types import Serial
from piccolo.columns.column_types import Text
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.constraints import Unique
from piccolo.table import Table


class User(Table, tablename="app_user", schema=None):
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


ID = "2026-12-01T21:31:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "member_identity (a member's identity details for filing, sealed under their data key, with "
    "the separate consent given for them) and identity_key (members' data keys wrapped by "
    "CHORUS_DATA_KEY, one per member and one per member and case: deleting one shreds what it sealed)"
)

# identity_key_once: PostgreSQL gets the constraint; SQLite cannot ALTER TABLE ... ADD CONSTRAINT,
# so there it is a unique index of the same name, made right after the table in the same transaction
SQLITE_UNIQUE = 'CREATE UNIQUE INDEX IF NOT EXISTS identity_key_once ON identity_key ("user", "case_id")'


class _Manager(MigrationManager):
    async def _run_add_tables(self, backwards: bool = False) -> None:
        from chorus import db

        sqlite = db.is_sqlite()
        if sqlite:
            self.add_constraints.add_constraints.clear()
        await super()._run_add_tables(backwards=backwards)
        if sqlite and not backwards and not self.preview:
            await db.engine().run_ddl(SQLITE_UNIQUE)



async def forwards():
    manager = _Manager(
        migration_id=ID, app_name="chorus", description=DESCRIPTION
    )

    manager.add_table(
        class_name="MemberIdentity",
        tablename="member_identity",
        schema=None,
        columns=None,
    )

    manager.add_table(
        class_name="IdentityKey",
        tablename="identity_key",
        schema=None,
        columns=None,
    )

    manager.add_column(
        table_class_name="MemberIdentity",
        tablename="member_identity",
        column_name="user",
        db_column_name="user",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": User,
            "on_delete": OnDelete.cascade,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "null": False,
            "primary_key": False,
            "unique": True,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="MemberIdentity",
        tablename="member_identity",
        column_name="sealed",
        db_column_name="sealed",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": True,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="MemberIdentity",
        tablename="member_identity",
        column_name="fields",
        db_column_name="fields",
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
        table_class_name="MemberIdentity",
        tablename="member_identity",
        column_name="consent_version",
        db_column_name="consent_version",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 20,
            "default": "",
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
        table_class_name="MemberIdentity",
        tablename="member_identity",
        column_name="consent_sha256",
        db_column_name="consent_sha256",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": "",
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
        table_class_name="MemberIdentity",
        tablename="member_identity",
        column_name="consented_at",
        db_column_name="consented_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
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
        table_class_name="MemberIdentity",
        tablename="member_identity",
        column_name="updated_at",
        db_column_name="updated_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
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
        table_class_name="IdentityKey",
        tablename="identity_key",
        column_name="user",
        db_column_name="user",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": User,
            "on_delete": OnDelete.cascade,
            "on_update": OnUpdate.cascade,
            "target_column": None,
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
        table_class_name="IdentityKey",
        tablename="identity_key",
        column_name="case_id",
        db_column_name="case_id",
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
        table_class_name="IdentityKey",
        tablename="identity_key",
        column_name="wrapped",
        db_column_name="wrapped",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": True,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="IdentityKey",
        tablename="identity_key",
        column_name="created_at",
        db_column_name="created_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
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

    # a new table: Piccolo writes the constraint into its CREATE TABLE (SQLite too)
    manager.add_constraint(
        table_class_name="IdentityKey",
        tablename="identity_key",
        constraint_name="identity_key_once",
        constraint_class=Unique,
        params={"columns": ["user", "case_id"], "nulls_distinct": True},
        schema=None,
    )

    return manager
