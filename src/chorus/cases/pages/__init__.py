"""The case domain's pages: the report wizard (``report.py``), and the member's pages beside it."""

from __future__ import annotations

from litestar import Router

from chorus.cases.pages import case, organize, report


def page_routers() -> list[Router]:
    return [*report.page_routers(), *case.page_routers(), *organize.page_routers()]
