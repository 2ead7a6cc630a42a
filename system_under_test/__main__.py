"""`python -m system_under_test`: run the service with settings from the environment."""

from __future__ import annotations

import uvicorn

from system_under_test.app import create_app
from system_under_test.settings import Settings


def main() -> None:
    settings = Settings()  # the one place the environment is read
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        # The service writes its own JSON access log; uvicorn's would duplicate it as text.
        access_log=False,
        log_level="warning",
        # SIGTERM → in-flight requests drain for at most this long, then exit.
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
