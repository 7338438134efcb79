-- Settings of this store, chosen once: `bucket` names the JetStream
-- Object Store of its blobs, one per index, so that a gc of one store
-- never removes the blobs of another on the same NATS servers.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
