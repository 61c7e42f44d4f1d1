// GraphiQL for this API. Everything the page needs comes from its own
// origin: the server writes the configuration into the page as a JSON
// block (not a script, so the Content-Security-Policy needs no hash for
// it) and serves this bundle, its stylesheet and Monaco's workers next to
// it.
import { createRoot } from 'react-dom/client';
import { GraphiQL, HISTORY_PLUGIN } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';
import './page.css';

const config = JSON.parse(document.getElementById('playground-config').textContent);

// Monaco runs its language services in workers. The bundler's usual
// helpers load them from a CDN or by bundler magic; ours are plain files
// the server lists in the configuration (their names carry their hashes).
globalThis.MonacoEnvironment = {
  getWorker(_id, label) {
    return new Worker(config.workers[label] || config.workers.editor);
  },
};

// Queries over HTTP, subscriptions over graphql-transport-ws, both on the
// endpoint's path: ws: or wss: as the page itself was served.
const url = new URL(config.endpoint, location.href);
const subscriptionUrl = new URL(url);
subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
const fetcher = createGraphiQLFetcher({ url: url.href, subscriptionUrl: subscriptionUrl.href });

// A link may open the playground on a document: ?query=…&variables=…&headers=…
// (how the browser test sets its token without typing into an editor).
const params = new URLSearchParams(location.search);
const initial = (name) => params.get(name) ?? undefined;

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={fetcher}
    plugins={[HISTORY_PLUGIN, explorerPlugin()]}
    defaultQuery={config.defaultQuery}
    defaultHeaders={config.defaultHeaders}
    initialQuery={initial('query')}
    initialVariables={initial('variables')}
    initialHeaders={initial('headers')}
    defaultEditorToolsVisibility="headers"
  />,
);
