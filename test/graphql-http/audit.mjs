// Runs graphql-http's GraphQL-over-HTTP server audits against the URL
// given as the only argument and prints the results as JSON, one object
// per audit: {id, name, status ("ok" | "warn" | "error"), reason}.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://host:port/query');
  process.exit(2);
}
const results = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  results.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason ?? '' });
}
process.stdout.write(JSON.stringify(results));
