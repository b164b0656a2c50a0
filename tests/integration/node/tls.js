// tests/integration/node/tls.js - node-postgres (pg) and postgres.js over TLS through
// pgrouter: sslmode require (no certificate check) and verify-full (the test CA, host name
// "localhost" checked against the certificate), a query each, and for pg the negotiated
// protocol. pgrouter's instance requires TLS, so a login alone proves it was used.
//
//   PGR_PORT=6432 TLS_CA=ca.crt node tls.js    (user app/app, database appdb)
//
// Prints `ok pg-require TLSv1.3, pg-verify-full TLSv1.3, postgres-require,
// postgres-verify-full` and exits 0, or prints the first failure and exits 1.
'use strict';

const fs = require('fs');
const { Client } = require('pg');
const postgres = require('postgres');

const port = Number(process.env.PGR_PORT);
const ca = fs.readFileSync(process.env.TLS_CA);
const modes = {
    require: { rejectUnauthorized: false },
    'verify-full': { ca, servername: 'localhost', rejectUnauthorized: true },
};

async function viaPg(name) {
    const client = new Client({ host: '127.0.0.1', port, user: 'app', password: 'app',
                                database: 'appdb', ssl: modes[name],
                                connectionTimeoutMillis: 10000 });
    await client.connect();
    try {
        const r = await client.query('SELECT $1::int * 2 AS n', [21]);
        if (r.rows[0].n !== 42)
            throw new Error(`pg ${name}: got ${JSON.stringify(r.rows)}`);
        const s = client.connection.stream;
        if (!s.encrypted)
            throw new Error(`pg ${name}: the stream is not TLS`);
        return `pg-${name} ${s.getProtocol()}`;
    } finally {
        await client.end();
    }
}

async function viaPostgresJs(name) {
    const sql = postgres({ host: '127.0.0.1', port, user: 'app', password: 'app',
                           database: 'appdb', ssl: modes[name], max: 1,
                           connect_timeout: 10 });
    try {
        const r = await sql`SELECT ${'tls'}::text || '-' || ${7}::int AS v`;
        if (r[0].v !== 'tls-7')
            throw new Error(`postgres.js ${name}: got ${JSON.stringify(r)}`);
        return `postgres-${name}`;
    } finally {
        await sql.end({ timeout: 5 });
    }
}

async function main() {
    const out = [];
    for (const name of Object.keys(modes)) {
        out.push(await viaPg(name));
        out.push(await viaPostgresJs(name));
    }
    console.log(`ok ${out.join(', ')}`);
}

main().catch((e) => {
    console.log(`error: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
});
