/**
 * Versioned schema migrations for the store. Each entry moves the schema from version i to i+1;
 * `PRAGMA user_version` records where a database stands, so an old store opens and upgrades in
 * one transaction.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: domains, snapshot metadata, events, jobs.
  `
  CREATE TABLE domains (
    uuid          TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    persistent    INTEGER NOT NULL CHECK (persistent IN (0, 1)),
    -- The persistent definition; NULL for a transient domain.
    config_xml    TEXT,
    -- The running definition; NULL when inactive.
    live_xml      TEXT,
    -- Runtime ID while active, NULL while inactive: the one source of "is it active".
    id            INTEGER,
    state         INTEGER NOT NULL,
    reason        INTEGER NOT NULL,
    autostart     INTEGER NOT NULL DEFAULT 0,
    max_mem       INTEGER NOT NULL,
    memory        INTEGER NOT NULL,
    vcpus         INTEGER NOT NULL,
    -- Managed save image reference (driver-specific: a file path, or 'memory' for the simulator).
    managed_save  TEXT,
    current_snapshot TEXT,
    -- Driver runtime record (JSON: pid, monitor socket, ...), NULL while inactive.
    runtime       TEXT,
    CHECK (persistent = 1 OR id IS NOT NULL),
    CHECK (managed_save IS NULL OR persistent = 1),
    CHECK (persistent = 1 OR config_xml IS NULL)
  );
  -- Unique among running domains; partial, so defining and undefining inactive domains (the
  -- common durable writes) touch one index fewer.
  CREATE UNIQUE INDEX domains_by_id ON domains (id) WHERE id IS NOT NULL;
  CREATE TABLE snapshots (
    domain_uuid   TEXT NOT NULL REFERENCES domains(uuid) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    parent        TEXT,
    seq           INTEGER NOT NULL,
    state         TEXT NOT NULL,
    creation_time INTEGER NOT NULL,
    memory        TEXT NOT NULL,
    external      INTEGER NOT NULL,
    xml           TEXT NOT NULL,
    UNIQUE (domain_uuid, name)
  );
  -- Covers the tree query, so listing and filtering never read the XML bodies.
  CREATE INDEX snapshots_tree ON snapshots (domain_uuid, seq, name, parent, state, memory, external, creation_time);
  CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,
    origin        TEXT NOT NULL,
    uuid          TEXT NOT NULL,
    name          TEXT NOT NULL,
    id            INTEGER NOT NULL,
    event         INTEGER NOT NULL,
    detail        INTEGER NOT NULL
  );
  CREATE TABLE jobs (
    domain_uuid   TEXT PRIMARY KEY,
    job           TEXT NOT NULL,
    owner_pid     INTEGER NOT NULL,
    owner_start   TEXT NOT NULL,
    owner_token   TEXT NOT NULL,
    started_at    INTEGER NOT NULL
  );
  CREATE TABLE counters (
    name          TEXT PRIMARY KEY,
    value         INTEGER NOT NULL
  );
  INSERT INTO counters (name, value) VALUES ('next_domain_id', 1);
  `,
  // 2: checkpoint metadata (libvirt's virDomainCheckpoint*). `current` marks the checkpoint a new
  // one is made the child of (libvirt keeps such a current checkpoint, but has no API to read it).
  `
  CREATE TABLE checkpoints (
    domain_uuid   TEXT NOT NULL REFERENCES domains(uuid) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    parent        TEXT,
    seq           INTEGER NOT NULL,
    creation_time INTEGER NOT NULL,
    current       INTEGER NOT NULL DEFAULT 0 CHECK (current IN (0, 1)),
    xml           TEXT NOT NULL,
    UNIQUE (domain_uuid, name)
  );
  CREATE INDEX checkpoints_tree ON checkpoints (domain_uuid, seq, name, parent, creation_time, current);
  `,
  // 3: virtual networks (libvirt's network driver). `active` is the one source of "is it up";
  // `runtime` what the host side needs to stop it (dnsmasq's pid, the NAT table), JSON.
  `
  CREATE TABLE networks (
    uuid          TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    persistent    INTEGER NOT NULL CHECK (persistent IN (0, 1)),
    config_xml    TEXT,
    live_xml      TEXT,
    active        INTEGER NOT NULL CHECK (active IN (0, 1)),
    autostart     INTEGER NOT NULL DEFAULT 0,
    runtime       TEXT,
    CHECK (persistent = 1 OR active = 1),
    CHECK (persistent = 0 OR config_xml IS NOT NULL)
  );
  `,
  // 4: storage pools (libvirt's storage driver) and the volumes of simulated pools (the test
  // driver's; a directory pool's volumes are its files, found by refresh).
  `
  CREATE TABLE storage_pools (
    uuid          TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    persistent    INTEGER NOT NULL CHECK (persistent IN (0, 1)),
    active        INTEGER NOT NULL CHECK (active IN (0, 1)),
    autostart     INTEGER NOT NULL DEFAULT 0,
    -- The definition (pool XML as written back, without sizes).
    xml           TEXT NOT NULL,
    CHECK (persistent = 1 OR active = 1)
  );
  CREATE TABLE storage_volumes (
    pool_uuid     TEXT NOT NULL REFERENCES storage_pools(uuid) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    path          TEXT NOT NULL,
    -- The volume as the simulator keeps it (JSON: sizes, format, backing).
    data          TEXT NOT NULL,
    UNIQUE (pool_uuid, name)
  );
  CREATE INDEX storage_volumes_by_path ON storage_volumes (path);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
