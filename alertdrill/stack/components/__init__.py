"""Components a stack is made of, each runnable as a throwaway local process."""

from __future__ import annotations

from alertdrill.stack.components.alertmanager import AlertmanagerComponent
from alertdrill.stack.components.exporters import (
    BlackboxExporterComponent,
    ExporterComponent,
    NodeExporterComponent,
    PostgresExporterComponent,
    RedisExporterComponent,
)
from alertdrill.stack.components.postgres import PostgresComponent
from alertdrill.stack.components.prometheus import ConfigFiles, PrometheusComponent, ScrapeTarget
from alertdrill.stack.components.redis import RedisComponent
from alertdrill.stack.components.server import LocalServer

__all__ = [
    "AlertmanagerComponent",
    "BlackboxExporterComponent",
    "ConfigFiles",
    "ExporterComponent",
    "LocalServer",
    "NodeExporterComponent",
    "PostgresComponent",
    "PostgresExporterComponent",
    "PrometheusComponent",
    "RedisComponent",
    "RedisExporterComponent",
    "ScrapeTarget",
]
