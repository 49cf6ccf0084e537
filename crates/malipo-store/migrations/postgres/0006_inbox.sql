-- malipo schema, version 6: in SQLite, the triggers that queued jobs and kept event counts were
-- dropped here in favour of the store's Rust code. The PostgreSQL schema never had them; this
-- version is kept so both schemas count the same versions.
SELECT 1;
