"""Piccolo's configuration module: the engine chosen from settings and the one app."""

from piccolo.conf.apps import AppRegistry

from chorus.db import make_engine
from chorus.settings import get_settings

DB = make_engine(get_settings())
APP_REGISTRY = AppRegistry(apps=["chorus.piccolo_app"])
