// tests/integration/node/prepared.js - node-postgres named prepared statements through
// pgrouter in transaction mode: CLIENTS concurrent clients, QUERIES queries in all, each
// { name: 'get-n', text: 'SELECT $1::int + 1 AS n' }; node-postgres sends Parse once per
// connection and then only Bind/Execute with the name, whichever server pgrouter picks.
// Every other query of a client also runs a second named statement, 'get-s', whose text
// differs, so that two names live side by side on the servers.
//
//   PGR_PORT=6432 node prepared.js    (user app/app, database appdb)
//
// Prints `ok N queries, M server backends` and exits 0, or prints the first wrong
// result or error and exits 1.
'use strict';

const { Client } = require('pg');

const CLIENTS = 4;
const QUERIES = 100;

async function runClient(c, out) {
    const client = new Client({
        host: '127.0.0.1',
        port: Number(process.env.PGR_PORT),
        user: 'app',
        password: 'app',
        database: 'appdb',
        connectionTimeoutMillis: 10000,
    });
    await client.connect();
    try {
        for (let k = 0; k < QUERIES / CLIENTS; k++) {
            const i = c * 1000 + k;
            const r = await client.query({ name: 'get-n', text: 'SELECT $1::int + 1 AS n',
                                           values: [i] });
            if (r.rows.length !== 1 || r.rows[0].n !== i + 1)
                throw new Error(`client ${c}: get-n(${i}) gave ${JSON.stringify(r.rows)}`);
            out.queries++;
            if (k % 2 === 0) {
                const s = await client.query({
                    name: 'get-s',
                    text: "SELECT $1::text || '-' || pg_backend_pid() AS s",
                    values: [`c${c}k${k}`],
                });
                const got = s.rows.length === 1 ? s.rows[0].s : undefined;
                if (typeof got !== 'string' || !got.startsWith(`c${c}k${k}-`))
                    throw new Error(`client ${c}: get-s gave ${JSON.stringify(s.rows)}`);
                out.pids.add(got.slice(got.lastIndexOf('-') + 1));
            }
        }
    } finally {
        await client.end();
    }
}

async function main() {
    const out = { queries: 0, pids: new Set() };
    const results = await Promise.allSettled(
        Array.from({ length: CLIENTS }, (_, c) => runClient(c, out)));
    const bad = results.filter((r) => r.status === 'rejected');
    if (bad.length > 0) {
        const e = bad[0].reason;
        console.log(`${bad.length} of ${CLIENTS} clients failed; first: ` +
                    `${e && e.code ? e.code + ' ' : ''}${e && e.message ? e.message : e}`);
        process.exit(1);
    }
    if (out.queries !== QUERIES) {
        console.log(`${out.queries} of ${QUERIES} get-n queries answered`);
        process.exit(1);
    }
    console.log(`ok ${out.queries} queries, ${out.pids.size} server backends`);
}

main().catch((e) => {
    console.log(`error: ${e && e.message ? e.message : e}`);
    process.exit(1);
});
