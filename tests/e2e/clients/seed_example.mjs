// The published endpoint's own JavaScript example, copied from the seed text of
// GET /v1/analytics/accounts (seed-api-accounts.txt, beside docs/contract.md's source) and changed
// only in its base URL: https://api.dravo.dev is the test API's, from DRAVO_API_BASE.
const response = await fetch(process.env.DRAVO_API_BASE + "/v1/analytics/accounts", { method: "GET", headers: { "Authorization": "Bearer " + process.env.DRAVO_API_KEY,}});const data = await response.json();console.log(data);
