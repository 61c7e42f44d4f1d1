// Subscribes with the graphql-ws client, configured as the README shows,
// and prints one JSON line per thing the client reports: {"next": result},
// {"error": close code or GraphQL errors}, {"complete": true}.
//
//   node subscribe.mjs ws://host/query <token or ""> <document> <variables as JSON>
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, query, variables] = process.argv.slice(2);
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const client = createClient({
  url,
  webSocketImpl: WebSocket, // Node 20 has no global WebSocket
  connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
  retryAttempts: 0,
  on: { connected: () => print({ connected: true }) },
});

client.subscribe(
  { query, variables: JSON.parse(variables) },
  {
    next: (result) => print({ next: result }),
    error: (err) => {
      print({ error: Array.isArray(err) ? err : (err?.code ?? String(err)) });
      client.dispose();
    },
    complete: () => {
      print({ complete: true });
      client.dispose();
    },
  },
);
