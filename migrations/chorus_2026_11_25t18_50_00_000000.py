from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-25T18:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "complaint.markdown compressed with lz4 on PostgreSQL 14+: a 10,000-member complaint (6 MB) "
    "was written in 0.18-0.23 s with the default pglz, 0.03-0.05 s with lz4"
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)

    async def run():
        from chorus import db

        if db.is_sqlite():
            return
        # Only where the server has lz4 (PostgreSQL 14+, built --with-lz4); otherwise keep pglz.
        await db.engine().run_ddl(
            """
            DO $$
            BEGIN
                IF current_setting('server_version_num')::int >= 140000 THEN
                    ALTER TABLE complaint ALTER COLUMN markdown SET COMPRESSION lz4;
                END IF;
            EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
                NULL;
            END $$;
            """
        )

    async def run_backwards():
        from chorus import db

        if db.is_sqlite():
            return
        await db.engine().run_ddl(
            """
            DO $$
            BEGIN
                IF current_setting('server_version_num')::int >= 140000 THEN
                    ALTER TABLE complaint ALTER COLUMN markdown SET COMPRESSION default;
                END IF;
            END $$;
            """
        )

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
