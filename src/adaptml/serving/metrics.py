"""Prometheus metrics of one app (its own CollectorRegistry, so tests can build many apps).

Every label comes from a fixed set, so no request can grow the exposition: routes are the app's own rules, methods
the standard ones, statuses the three-digit codes; anything else is counted as "other".
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from adaptml.serving.loaded import LoadedModels
from adaptml.serving.predict import PredictionResult
from adaptml.serving.validation import is_version_name

__all__ = ["METHODS", "OTHER", "Metrics", "method_label", "status_label"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER


class Metrics:
    """Requests by route and status, latency by route, rows predicted and failed per model, served version."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.requests = Counter(
            "adaptml_http_requests", "HTTP requests answered", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "adaptml_http_request_duration_seconds",
            "Time to answer a request",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter("adaptml_rows_predicted", "Rows predicted", ["model", "engine"], registry=self.registry)
        self.row_errors = Counter(
            "adaptml_prediction_errors", "Rows a model could not predict", ["model"], registry=self.registry
        )
        self.version = Gauge(
            "adaptml_model_version_info",
            "The model version being served (value 1)",
            ["project", "version"],
            registry=self.registry,
        )

    def init_app(self, app: Flask) -> None:
        app.before_request(self._start)
        app.after_request(self._finish)

    @staticmethod
    def _start() -> None:
        g.adaptml_started = time.perf_counter()

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once: prometheus_client validates and locks on every call, a
        cost comparable to a compiled one-row prediction. Label values are bounded (routes, statuses, models)."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children.setdefault(key, metric.labels(*labels))
        return child

    def _finish(self, response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule is not None else OTHER
        self._child(self.requests, route, method_label(request.method), status_label(response.status_code)).inc()
        started = g.get("adaptml_started")
        if started is not None:
            self._child(self.latency, route).observe(time.perf_counter() - started)
        return response

    def observe(self, result: PredictionResult) -> None:
        for output in result.outputs:
            self._child(self.rows, output.name, result.engine).inc(result.row_count - len(output.errors))
            if output.errors:
                self._child(self.row_errors, output.name).inc(len(output.errors))

    def served(self, models: LoadedModels) -> None:
        self.version.clear()
        version = models.version if is_version_name(models.version) else OTHER
        self.version.labels(models.project, version).set(1)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
