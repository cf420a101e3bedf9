-- The page of GET /v1/analytics/accounts as PostgreSQL renders it: one row of (the 200 body as
-- JSON text, the next page's cursor or NULL). The row rules (docs: models/row_rules.py says the
-- same in Python, and a test holds the two equal) are the CASEs of the `item` column below.
--
-- Loaded by models/statements.py (for models/queries.py):
--   * `:name` are bound parameters (psycopg prepares the statement after a few runs);
--   * a line ending in `-- when <filter>` is kept only when that filter is given;
--   * `$metric_order` and `$next_cursor` are rendered once, at import, from METRIC_ORDER and
--     models.cursor, so the published key order and the cursor encoding have one source each;
--   * every other `--` comment is dropped before the statement is sent.
--
-- One row more than the page (:fetch = :limit + 1) tells whether a next page exists; its cursor is
-- the position of the page's last row.
SELECT '{"items":[' || page.items || '],"total":' || page.total
       || ',"next_cursor":' || coalesce(to_json(page.next_cursor)::text, 'null') || '}',
       page.next_cursor
  FROM (SELECT coalesce(string_agg(p.item, ',' ORDER BY p.n) FILTER (WHERE p.n <= :limit), '') AS items,
               count(*) FILTER (WHERE p.n <= :limit) AS total,
               CASE WHEN count(*) > :limit
                    THEN max(CASE WHEN p.n = :limit THEN $next_cursor END) END AS next_cursor
          FROM (SELECT r.*, row_number() OVER (ORDER BY r.created_at, r.id) AS n
                  FROM (
    -- One account row as JSON text, fields in the seed's order, with :now the moment staleness is
    -- judged at. An outer join: an account whose sync row is missing still shows, as pending.
    SELECT a.created_at, a.id, a.workspace_id,
           '{"account_id":' || to_json(a.id::text)::text
        || ',"platform":' || to_json(a.platform::text)::text
        || ',"handle":' || coalesce(to_json(a.handle)::text, 'null')
        || ',"platform_account_id":' || coalesce(to_json(a.platform_account_id)::text, 'null')
        -- Pending: no metrics. Otherwise only integers: jsonb prints a number (never with an
        -- exponent) with `scale` digits after the point, so a scale of 0 is exactly what JSON
        -- readers take for an integer (it keeps 3 and 1e3, drops 1.0, 1.5, strings, booleans,
        -- nulls). Keys in the platform's published order, then the others by code point.
        || ',"metrics":' || CASE WHEN r.pending THEN '{}' ELSE
               (SELECT '{' || coalesce(string_agg(to_json(m.key)::text || ':' || m.value::text, ','
                    ORDER BY coalesce(array_position($metric_order, m.key), 2147483647), m.key COLLATE "C"), '') || '}'
                  FROM jsonb_each(CASE WHEN jsonb_typeof(s.metrics) = 'object' THEN s.metrics END) AS m
                 WHERE jsonb_typeof(m.value) = 'number' AND scale(m.value::numeric) = 0) END
        -- The string warnings in order, then the deferred note while the row is stale (or pending).
        || ',"warnings":[' || concat_ws(',', w.items,
               CASE WHEN s.deferred_note <> '' AND NOT coalesce(w.has_note, false)
                         AND (r.pending OR s.stale_after IS NULL OR s.stale_after <= :now)
                    THEN to_json(s.deferred_note)::text END) || ']'
        || ',"sync_status":' || to_json(r.status)::text
        || ',"error_message":' || coalesce(to_json(s.error_message)::text, 'null')
        -- Times in UTC, truncated to the second, as strftime does.
        || ',"last_updated_at":' || CASE WHEN r.pending THEN 'null' ELSE
               coalesce('"' || to_char(s.last_updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":"MI":"SS"Z"') || '"', 'null') END
        || ',"stale_after":' || CASE WHEN r.pending THEN 'null' ELSE
               coalesce('"' || to_char(s.stale_after AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":"MI":"SS"Z"') || '"', 'null') END
        || '}' AS item
      -- The accounts of the page: disconnected ones are gone from the API; the cursor is a keyset
      -- seek, a range scan of ix_accounts_workspace_created from the position.
      FROM (SELECT * FROM accounts
             WHERE true
               AND workspace_id = :workspace_id AND disconnected_at IS NULL  -- when workspace_id
               AND id = :account_id  -- when account_id
               AND platform = :platform  -- when platform
               AND (created_at, id) > (:after_created_at, :after_id)  -- when after
             ORDER BY created_at, id LIMIT :fetch) AS a
      LEFT JOIN account_sync AS s ON s.account_id = a.id
     CROSS JOIN LATERAL (
           SELECT coalesce(nullif(s.sync_status, ''), 'pending') AS status,
                  coalesce(nullif(s.sync_status, ''), 'pending') = 'pending' AS pending) AS r
      LEFT JOIN LATERAL (
           SELECT string_agg(e.value::text, ',' ORDER BY e.n) AS items,
                  bool_or(e.value = to_jsonb(s.deferred_note)) AS has_note
             FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s.warnings) = 'array' THEN s.warnings END)
                  WITH ORDINALITY AS e(value, n)
            WHERE jsonb_typeof(e.value) = 'string') AS w ON true
                       ) AS r) AS p) AS page
