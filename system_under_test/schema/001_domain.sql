-- Domain of the reference service: tenants, their users and items, and the audit log.
-- Applied once, in one transaction, by migrate.py. UUID keys (gen_random_uuid is built in since
-- PostgreSQL 13) so ids are unguessable and reveal nothing about how many rows exist.

CREATE TABLE tenants (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    slug       text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{2,40}$'),
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Superusers belong to no tenant; everyone else belongs to exactly one.
    tenant_id     uuid        REFERENCES tenants (id) ON DELETE CASCADE,
    -- Stored lowercased so uniqueness is case-insensitive without a functional index.
    email         text        NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) <= 254),
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('superuser', 'admin', 'member')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_tenant_matches_role CHECK ((role = 'superuser') = (tenant_id IS NULL))
);
CREATE INDEX users_tenant_id_idx ON users (tenant_id);

CREATE TABLE items (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text        NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    quantity    integer     NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Every item query filters by tenant and pages in creation order.
CREATE INDEX items_tenant_id_idx ON items (tenant_id, created_at, id);

-- No foreign keys on purpose: an audit trail must outlive the rows it talks about.
CREATE TABLE audit_log (
    id            bigserial   PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor_user_id uuid,
    tenant_id     uuid,
    action        text        NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    target_type   text        NOT NULL CHECK (length(target_type) BETWEEN 1 AND 40),
    target_id     text,
    details       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    request_id    text
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_tenant_id_idx ON audit_log (tenant_id, at DESC);
