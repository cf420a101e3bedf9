// A client's script on the TypeScript types generated from /openapi.json (openapi-typescript) and
// openapi-fetch: list the accounts a page at a time (cursor), then read one account's history page
// by page. tests/e2e/clients/test_generated_clients.py generates `schema.d.ts` beside it,
// type-checks and compiles it with tsc and runs it under node with DRAVO_API_BASE, DRAVO_API_KEY
// and DRAVO_PAGE_SIZE in the environment; it prints one JSON object with what it read.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

declare const process: { env: Record<string, string | undefined> };

type Account = components["schemas"]["AccountItem"];

const client = createClient<paths>({
  baseUrl: process.env.DRAVO_API_BASE,
  headers: { Authorization: `Bearer ${process.env.DRAVO_API_KEY}` },
});
const limit = Number(process.env.DRAVO_PAGE_SIZE);

const accounts: Pick<Account, "account_id" | "platform" | "last_updated_at">[] = [];
let pages = 0;
let cursor: string | undefined;
for (;;) {
  const { data, error } = await client.GET("/v1/analytics/accounts", {
    params: { query: { limit, cursor } },
  });
  if (error) throw new Error(`listAccounts: ${error.error.code}: ${error.error.message}`);
  pages += 1;
  for (const { account_id, platform, last_updated_at } of data.items) {
    accounts.push({ account_id, platform, last_updated_at });
  }
  if (data.next_cursor === null) break;
  cursor = data.next_cursor;
}

const first = accounts[0];
if (first === undefined) throw new Error("no accounts");
const history: string[] = [];
let historyCursor: string | undefined;
for (;;) {
  const { data, error } = await client.GET("/v1/analytics/accounts/{account_id}/history", {
    params: { path: { account_id: first.account_id }, query: { limit, cursor: historyCursor } },
  });
  if (error) throw new Error(`getAccountHistory: ${error.error.code}: ${error.error.message}`);
  history.push(...data.items.map((snapshot) => snapshot.captured_at));
  if (data.next_cursor === null) break;
  historyCursor = data.next_cursor;
}

const missing = await client.GET("/v1/analytics/accounts", { params: { query: { limit: 0 } } });
console.log(
  JSON.stringify({
    accounts,
    pages,
    history,
    error: { status: missing.response.status, param: missing.error?.error.param },
  }),
);
