from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T22:46:29:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "PostgreSQL: pg_trgm GIN indexes for GET /api/v1/merchants?q= (issue 15 goal 5): on the "
    "merchant names doubled ('星辰' -> '星星辰辰', so a two-character fragment has trigrams; "
    "chorus.merchants.service.SEARCH_DOUBLED is the same expression) and on their pinyin. "
    "SQLite searches the same columns without them"
)

EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_trgm"
INDEXES = (
    "CREATE INDEX IF NOT EXISTS merchant_alias_name_grams ON merchant_alias "
    "USING gin (regexp_replace(name_key, '(.)', '\\1\\1', 'g') gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS merchant_alias_pinyin_grams ON merchant_alias "
    "USING gin (pinyin_key gin_trgm_ops)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)

    async def run():
        from chorus import db

        if db.is_sqlite():
            return
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it
        await db.engine().run_ddl(EXTENSION)
        for statement in INDEXES:
            await db.engine().run_ddl(statement)

    async def run_backwards():
        from chorus import db

        if db.is_sqlite():
            return
        for name in ("merchant_alias_name_grams", "merchant_alias_pinyin_grams"):
            await db.engine().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
