from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T19:22:53:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "regulator.time_limits: time limits as dated, cited rules (issue 14; null until `chorus migrate` "
    "seeds the set data/regulators.json names). The seeded market-regulation bureaus lose the wrong "
    "citation (第十九条 / 第三十四条 of the 暂行办法) and their undated 7/45 working days, which the "
    "dated rules replace - only where the row still holds what the seed wrote"
)

WRONG_NOTES = {
    "cn-12315": (
        "《市场监督管理投诉举报处理暂行办法》第十九条（七个工作日内决定是否受理）、"
        "第三十四条（四十五个工作日内终结调解）",
        "受理、调解时限见本机构的时限规则：2026年4月14日前收到的投诉适用《市场监督管理投诉举报处理暂行办法》"
        "（2022年修正）第十四条、第二十一条第一款第（五）项，4月15日起适用《市场监督管理投诉举报处理办法》"
        "（总局令第121号）",
    ),
    "cn-gd-amr": (
        "省级市场监督管理部门；时限同《市场监督管理投诉举报处理暂行办法》",
        "省级市场监督管理部门；时限同全国12315平台（见本机构的时限规则）",
    ),
    "cn-gd-sz-amr": (
        "市级市场监督管理部门；时限同《市场监督管理投诉举报处理暂行办法》",
        "市级市场监督管理部门；时限同全国12315平台（见本机构的时限规则）",
    ),
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Regulator",
        tablename="regulator",
        column_name="time_limits",
        db_column_name="time_limits",
        column_class_name="JSON",
        column_class=JSON,
        params={
            "default": None,
            "null": True,
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

    async def run() -> None:
        from chorus import db

        engine = db.engine()
        for slug, (old, new) in WRONG_NOTES.items():
            assert "'" not in old + new + slug  # constants, quoted as SQL literals below
            # an admin's own edit of the note (or of the limits) is left alone
            await engine.run_ddl(
                f"UPDATE regulator SET note = '{new}', accept_working_days = NULL, "  # noqa: S608
                f"finish_working_days = NULL WHERE slug = '{slug}' AND note = '{old}' "
                "AND accept_working_days = 7 AND finish_working_days = 45"
            )

    manager.add_raw(run)
    return manager
