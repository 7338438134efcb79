-- The index of the shared store: what LocalStore keeps in SQLite.
-- `pending` names the run attempt that created an artifact while that
-- attempt has not finished; such an artifact is seen by that attempt only.
CREATE TABLE artifacts (
    id BIGSERIAL PRIMARY KEY,
    category TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT,
    pending TEXT
);
CREATE INDEX artifacts_category ON artifacts(category);
CREATE INDEX artifacts_created_by ON artifacts(created_by);
CREATE INDEX artifacts_pending ON artifacts(pending) WHERE pending IS NOT NULL;
CREATE TABLE files (
    artifact_id BIGINT NOT NULL REFERENCES artifacts(id),
    name TEXT NOT NULL,
    size BIGINT NOT NULL CHECK (size >= 0),
    sha256 TEXT NOT NULL,
    PRIMARY KEY (artifact_id, name)
);
CREATE INDEX files_sha256 ON files(sha256);
CREATE TABLE relations (
    source BIGINT NOT NULL REFERENCES artifacts(id),
    target BIGINT NOT NULL REFERENCES artifacts(id),
    relation TEXT NOT NULL CHECK (relation IN ('relates-to', 'extends', 'built-using')),
    PRIMARY KEY (source, target, relation)
);
CREATE INDEX relations_target ON relations(target);
CREATE TABLE collections (
    id BIGSERIAL PRIMARY KEY,
    category TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (category, name)
);
CREATE TABLE collection_items (
    id BIGSERIAL PRIMARY KEY,
    collection_id BIGINT NOT NULL REFERENCES collections(id),
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    artifact_id BIGINT REFERENCES artifacts(id),
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT,
    removed_at TEXT,
    removed_by TEXT
);
CREATE UNIQUE INDEX collection_items_active
    ON collection_items(collection_id, name) WHERE removed_at IS NULL;
CREATE INDEX collection_items_artifact ON collection_items(artifact_id);
CREATE TABLE runs (
    seq BIGSERIAL UNIQUE,
    id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    params TEXT NOT NULL,
    parent TEXT,
    status TEXT NOT NULL,
    finished_at TEXT NOT NULL
);
CREATE INDEX runs_params ON runs(task, params);
-- A run's own records (results.yaml, audit.jsonl, provenance), as the
-- local store keeps them under runs/RUN-ID/.
CREATE TABLE run_files (
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    content BYTEA NOT NULL,
    PRIMARY KEY (run_id, name)
);
