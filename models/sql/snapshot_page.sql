-- A page of an account's history (GET /v1/analytics/accounts/{id}/history): one row per snapshot,
-- (captured_at, id, the item as JSON text), oldest first. The account's workspace is checked
-- before (models.queries.account_in_workspace); this reads its snapshots only.
--
-- Loaded by models/statements.py (for models/queries.py.snapshot_page):
--   * `:name` are bound parameters;
--   * a line ending in `-- when <filter>` is kept only when that filter is given;
--   * every other `--` comment is dropped before the statement is sent.
--
-- One row more than the page (:limit is the page size + 1) tells whether a next page exists. Each
-- range is a scan of the (account_id, captured_at) index from its start; `after` is a keyset seek.
SELECT captured_at, id,
       '{"captured_at":'
        -- In UTC, truncated to the second, as strftime does.
        || coalesce('"' || to_char(captured_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":"MI":"SS"Z"') || '"', 'null')
        || ',"sync_status":' || to_json(sync_status::text)::text
        -- Only integers (as in account_page.sql: a jsonb number of scale 0), keys by code point.
        || ',"metrics":' || (SELECT '{' || coalesce(string_agg(to_json(m.key)::text || ':' || m.value::text, ','
                                 ORDER BY m.key COLLATE "C"), '') || '}'
               FROM jsonb_each(CASE WHEN jsonb_typeof(metrics) = 'object' THEN metrics END) AS m
              WHERE jsonb_typeof(m.value) = 'number' AND scale(m.value::numeric) = 0)
        || '}' AS item
  FROM metric_snapshots
 WHERE account_id = :account_id
   AND captured_at >= :since  -- when since
   AND captured_at <= :until  -- when until
   AND (captured_at, id) > (:after_at, :after_id)  -- when after
 ORDER BY captured_at, id
 LIMIT :limit
