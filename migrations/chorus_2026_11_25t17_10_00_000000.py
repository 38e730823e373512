from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-25T17:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "merchant_alias.name_key prefix index on PostgreSQL: LIKE 'x%' cannot use the default btree "
    "index under a non-C collation (bench/resolve.py: name lookups p99 81 ms -> 16 ms)"
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)

    async def run():
        from chorus import db

        if not db.is_sqlite():
            await db.engine().run_ddl(
                "CREATE INDEX IF NOT EXISTS merchant_alias_name_key_prefix "
                "ON merchant_alias (name_key varchar_pattern_ops)"
            )

    async def run_backwards():
        from chorus import db

        if not db.is_sqlite():
            await db.engine().run_ddl("DROP INDEX IF EXISTS merchant_alias_name_key_prefix")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
