"""``ProfileShape``: the profiles of ``profiles.py`` as a Locust ``LoadTestShape``.

It reads the common options (-u peak users, -r spawn rate, -t run time) and
``--load-profile steady|ramp|spike|soak``. Without ``--load-profile`` it behaves exactly like
a plain run (-u users at -r for -t), so a locustfile that imports it still runs as Locust users
expect.
"""

from __future__ import annotations

from typing import Any

from locust import LoadTestShape, events
from profiles import PROFILES, stage_at


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument(
        "--load-profile",
        choices=(*PROFILES, "none"),
        default="none",
        help="shape of the run: " + ", ".join(PROFILES) + " (default: plain -u/-r/-t)",
    )


class ProfileShape(LoadTestShape):
    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options if self.runner else None
        if options is None:
            return None
        users = int(options.num_users or 1)
        rate = float(options.spawn_rate or 1)
        run_time = float(options.run_time) if options.run_time else None
        profile = options.load_profile
        if profile == "none":
            profile = "steady"
        return stage_at(
            profile, self.get_run_time(), users=users, spawn_rate=rate, run_time=run_time
        )
