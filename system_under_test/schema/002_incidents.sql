-- Incidents opened from Alertmanager notifications (seed G), their timeline, and the alerts
-- seen per incident.

CREATE TABLE incidents (
    id           bigserial PRIMARY KEY,
    -- Alertmanager's groupKey: identifies the alert group an incident is about.
    group_key    text NOT NULL CHECK (length(group_key) BETWEEN 1 AND 8192),
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    severity     text NOT NULL,
    title        text NOT NULL,
    alertname    text NOT NULL,
    labels       jsonb NOT NULL DEFAULT '{}'::jsonb,
    annotations  jsonb NOT NULL DEFAULT '{}'::jsonb,
    external_url text NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL,
    resolved_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT incidents_resolved_at_iff_resolved
        CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);

-- At most one open incident per alert group. This index, not application code, is what makes
-- concurrent duplicate deliveries create a single incident (INSERT ... ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX incidents_one_open_per_group ON incidents (group_key) WHERE status = 'open';
CREATE INDEX incidents_newest ON incidents (created_at DESC, id DESC);
CREATE INDEX incidents_status_newest ON incidents (status, created_at DESC, id DESC);

-- The timeline: append-only, except that consecutive 'deduplicated' events are collapsed into
-- one (details.count) so repeated deliveries cannot grow it without bound.
CREATE TABLE incident_events (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    -- clock_timestamp(): events appended in one transaction still get distinct, ordered times.
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind        text NOT NULL CHECK (kind IN ('created', 'alert_firing', 'alert_resolved',
                                              'deduplicated', 'resolved', 'notified',
                                              'notify_failed')),
    message     text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX incident_events_by_incident ON incident_events (incident_id, id);

-- Each alert instance (fingerprint + startsAt: a re-fire gets a new startsAt) seen for an
-- incident, so a repeated delivery of the same alert adds no timeline event, and a stale firing
-- delivery arriving after its resolution does not reopen anything.
CREATE TABLE incident_alerts (
    incident_id   bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    fingerprint   text NOT NULL,
    starts_at     timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('firing', 'resolved')),
    alertname     text NOT NULL,
    severity      text NOT NULL,
    labels        jsonb NOT NULL DEFAULT '{}'::jsonb,
    ends_at       timestamptz,
    generator_url text NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, fingerprint, starts_at)
);
CREATE INDEX incident_alerts_by_fingerprint ON incident_alerts (fingerprint, starts_at);
