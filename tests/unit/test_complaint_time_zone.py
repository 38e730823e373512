"""Times in a complaint are the regulator's local time (Beijing time for China's regulators), not
UTC (issue 14 item 8): the version's time and the days of its timeline, whatever zone the
service recorded them in."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from chorus.complaints.build import build_markdown
from chorus.complaints.service import regulator_info
from tests.unit.test_build import REGULATORS, complaint


def test_a_version_built_late_in_the_utc_day_is_dated_the_next_day_in_beijing() -> None:
    late = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)  # 04:00 on 2 December in Beijing
    beijing = dataclasses.replace(REGULATORS["samr"], time_zone="Asia/Shanghai")
    markdown = build_markdown(complaint(generated_at=late, regulator=beijing))
    assert "生成时间：2026-12-02T04:00:00+08:00" in markdown
    assert "2026-12-01T20:00:00+00:00" not in markdown and "+00:00" not in markdown
    # evidence recorded at 17:30 UTC on 3 October counts on the 4th, as in Beijing
    assert "- 2026-10-04：1 名投诉人付款后未收到商品；记录证据 2 份" in markdown


def test_the_regulators_calendar_gives_the_zone() -> None:
    row = {
        "name": "全国12315平台",
        "jurisdiction": "中国 全国",
        "channel": "manual",
        "address": "https://www.12315.cn/",
        "template_kind": "samr",
        "contact_disclosure": "masked",
        "calendar": "CN",
    }
    assert regulator_info(row).time_zone == "Asia/Shanghai"
    assert regulator_info({**row, "calendar": "US"}).time_zone == "America/New_York"
    assert regulator_info({**row, "calendar": "XX"}).time_zone is None  # as recorded (UTC)
