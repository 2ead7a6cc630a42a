"""One endpoint as fast as it goes: the user class of the runner-vs-plain-Locust benchmark.

    locust -f load/benchmark.py --host http://127.0.0.1:8000 --headless -u 20 -t 10s \\
        --bench-path /health/live

No think time, one GET per task, no other option: the same class runs under plain Locust and
under ``alertdrill.load``, so any difference in requests/s is the runner's overhead.
"""

from __future__ import annotations

from typing import Any

from locust import FastHttpUser, constant, events, task


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--bench-path", default="/health/live", help="the one endpoint to hit")


class EndpointUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self) -> None:
        options = self.environment.parsed_options
        path = options.bench_path if options is not None else "/health/live"
        self.client.get(path, name=path)
