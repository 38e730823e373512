"""The notification domain's pages: the inbox and its badge (``inbox.py``), the settings
(``settings.py``: preferences, password, leaving a case, deleting the account)."""

from __future__ import annotations

from litestar import Router

from chorus.notifications.pages import inbox, settings
from chorus.web.pages import page_router


def page_routers() -> list[Router]:
    return [page_router(*inbox.handlers(), *settings.handlers())]
