-- Audit retention deletes by age; without this index each purge scans the table.
CREATE INDEX audit_events_at ON audit_events (at);
