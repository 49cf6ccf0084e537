-- malipo schema, version 6: nothing in the hot path that Rust code does not write.

-- An event's processing job is now written beside it by the store's inbox module (in Rust, in
-- the same transaction), not by a trigger that hard-coded the job id's format and the status
-- codes; queued jobs are kept as they are.
DROP TRIGGER IF EXISTS events_enqueue;

-- The per-status counts were kept by triggers that every ingest and every completion paid for,
-- only for /metrics. The store now counts on its read connections: received events from the
-- jobs queue, failed, rejected and suspicious ones from the events_attention index, and the
-- rest from the total.
DROP TRIGGER IF EXISTS events_count_insert;
DROP TRIGGER IF EXISTS events_count_update;
DROP TRIGGER IF EXISTS events_count_delete;
DROP TABLE IF EXISTS event_counts;
