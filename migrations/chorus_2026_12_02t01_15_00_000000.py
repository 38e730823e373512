from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-02T01:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "merchant_alias.name_doubled: the name key with every character doubled ('星辰' -> '星星辰辰'), "
    "kept on write (chorus.merchants.service._alias_row) and backfilled here, so the PostgreSQL "
    "name search reads it instead of computing regexp_replace(name_key, ...) for every candidate "
    "row; its pg_trgm GIN index replaces the one on that expression (migration 2026-12-01T22:46:29). "
    "SQLite keeps the column too (its search reads name_key)"
)

BATCH = 200  # rows per UPDATE (3 parameters each)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)

    async def run():
        from chorus import db

        engine = db.engine()
        await engine.run_ddl(
            "ALTER TABLE merchant_alias ADD COLUMN name_doubled VARCHAR(400) NOT NULL DEFAULT ''"
        )
        if db.is_sqlite():
            # no regexp_replace in SQLite: doubled here, as the service doubles a new name
            from piccolo.querystring import QueryString

            rows = await engine.run_ddl("SELECT id, name_key FROM merchant_alias")
            for start in range(0, len(rows), BATCH):
                batch = rows[start : start + BATCH]
                cases = " ".join("WHEN {} THEN {}" for _ in batch)
                ids = ", ".join("{}" for _ in batch)
                doubled = [v for r in batch for v in (r["id"], "".join(ch * 2 for ch in r["name_key"]))]
                await engine.run_querystring(
                    QueryString(
                        f"UPDATE merchant_alias SET name_doubled = CASE id {cases} END "  # noqa: S608
                        f"WHERE id IN ({ids})",
                        *doubled,
                        *(r["id"] for r in batch),
                    )
                )
            return
        await engine.run_ddl(
            "UPDATE merchant_alias SET name_doubled = regexp_replace(name_key, '(.)', '\\1\\1', 'g')"
        )
        await engine.run_ddl("DROP INDEX IF EXISTS merchant_alias_name_grams")
        await engine.run_ddl(
            "CREATE INDEX IF NOT EXISTS merchant_alias_doubled_grams ON merchant_alias "
            "USING gin (name_doubled gin_trgm_ops)"
        )

    async def run_backwards():
        from chorus import db

        engine = db.engine()
        if not db.is_sqlite():
            await engine.run_ddl("DROP INDEX IF EXISTS merchant_alias_doubled_grams")
            await engine.run_ddl(
                "CREATE INDEX IF NOT EXISTS merchant_alias_name_grams ON merchant_alias "
                "USING gin (regexp_replace(name_key, '(.)', '\\1\\1', 'g') gin_trgm_ops)"
            )
        await engine.run_ddl("ALTER TABLE merchant_alias DROP COLUMN name_doubled")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
