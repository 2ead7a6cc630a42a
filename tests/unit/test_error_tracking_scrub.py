"""What the service's Sentry scrubber removes before an event leaves the process."""

from __future__ import annotations

import pytest

from system_under_test.error_tracking import FILTERED, scrub
from system_under_test.settings import Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.DEF-123_x", "abc.DEF-123_x"),
        ("login failed password=hunter2 for bob", "hunter2"),
        ("token: tok-42", "tok-42"),
        # FastAPI's dependency value as it shows up in reprs (frame locals, messages).
        ("HTTPAuthorizationCredentials(scheme='Bearer', credentials='s3cr3t.tok')", "s3cr3t.tok"),
        ('{"api_key": "k-9"}', "k-9"),
    ],
)
def test_secrets_in_free_text_are_filtered(text: str, secret: str) -> None:
    cleaned = scrub(text)
    assert secret not in cleaned
    assert FILTERED in cleaned


def test_sensitive_keys_are_filtered_anywhere_and_other_values_kept() -> None:
    event = {
        "request": {"headers": [["Authorization", "Bearer x"], ["X-Request-ID", "r-1"]]},
        "extra": {"session_id": "abc", "user_count": 3},
        "breadcrumbs": [{"data": {"password": "p"}}],
    }
    cleaned = scrub(event)
    assert cleaned["request"]["headers"] == [["Authorization", FILTERED], ["X-Request-ID", "r-1"]]
    assert cleaned["extra"] == {"session_id": FILTERED, "user_count": 3}
    assert cleaned["breadcrumbs"] == [{"data": {"password": FILTERED}}]


def test_frame_locals_are_never_sent() -> None:
    from system_under_test.error_tracking import ErrorTracker

    settings = Settings(sentry_dsn="http://key@127.0.0.1:9/1")
    tracker = ErrorTracker(settings)
    try:
        assert tracker.client is not None
        assert tracker.client.options["include_local_variables"] is False
    finally:
        tracker.close()
