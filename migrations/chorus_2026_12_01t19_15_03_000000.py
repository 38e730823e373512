from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T19:15:03:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "Filing status needs_information renamed needs_info (issue 14): rows a development database "
    "recorded under the old name (filings, their events, case timeline and notification data) move "
    "to the new one"
)

OLD, NEW = "needs_information", "needs_info"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)

    async def rename(old: str, new: str) -> None:
        from chorus import db

        engine = db.engine()
        for table in ("filing", "filing_event"):
            await engine.run_ddl(f"UPDATE {table} SET status = '{new}' WHERE status = '{old}'")  # noqa: S608
        # JSON payloads that carry the status (the case timeline, notifications): only the quoted
        # value, as written by json.dumps ("status": "needs_information")
        cast = "" if db.is_sqlite() else "::text"
        back = "" if db.is_sqlite() else "::json"
        for table in ("case_event", "notify_event", "notify_inbox"):
            await engine.run_ddl(
                f"UPDATE {table} SET data = REPLACE(data{cast}, '\"{old}\"', '\"{new}\"'){back} "  # noqa: S608
                f"WHERE data{cast} LIKE '%\"{old}\"%'"
            )

    async def run() -> None:
        await rename(OLD, NEW)

    async def run_backwards() -> None:
        await rename(NEW, OLD)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
