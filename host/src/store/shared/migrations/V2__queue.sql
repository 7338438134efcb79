-- Runs submitted to the JetStream queue: what `runtask status` shows.
-- A worker claims a run for one attempt (the message's delivery count);
-- only the attempt holding the claim may finish it.
CREATE TABLE queued_runs (
    id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    task_data TEXT NOT NULL,
    parent TEXT,
    submitted_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'finished', 'dead')),
    attempt INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    started_at TEXT,
    finished_at TEXT,
    status TEXT,
    report TEXT,
    error TEXT
);
CREATE INDEX queued_runs_parent ON queued_runs(parent);
