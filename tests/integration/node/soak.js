// tests/integration/node/soak.js - the node-postgres workload of the soak test
// (tests/integration/soak.sh): CLIENTS clients through pgrouter for SECS seconds, each
// running a read by named prepared statement (autocommit: a replica) and a transaction
// that increments the client's own counter row and reads it back, by named statements
// too.  Errors are recorded with their time and SQLSTATE (a connection lost without one
// counts as 08006, connection_failure); a wrong answer is an error of kind WRONG.  At
// the end every counter row is read from the primary directly: it must have moved by
// the commits the client saw, plus at most those whose outcome it could not know.
//
//   PGR_PORT=6432 PRIMARY_PORT=5432 CLIENTS=10 SECS=60 OUT=node.json node soak.js
//
// Writes OUT (JSON: reads, commits, transactions, errors, wrong) and prints one line.
'use strict';

const fs = require('fs');
const { Client } = require('pg');

const CLIENTS = Number(process.env.CLIENTS || 10);
const SECS = Number(process.env.SECS || 60);
const ACCOUNTS = 100000;
const ROW0 = 2000;

const READ = { name: 'soak-read', text: 'SELECT aid, abalance FROM pgbench_accounts WHERE aid = $1' };
const BUMP = { name: 'soak-bump', text: 'UPDATE soak_counter SET n = n + 1 WHERE id = $1 RETURNING n' };
const LOOK = { name: 'soak-look', text: 'SELECT n FROM soak_counter WHERE id = $1' };

function newClient(port, appName) {
    const c = new Client({
        host: '127.0.0.1', port, user: 'app', password: 'app', database: 'appdb',
        connectionTimeoutMillis: 10000, application_name: appName,
    });
    c.broken = false;
    // a lost server connection is reported by the query that was running;
    // without a listener the 'error' event would end the process
    c.on('error', () => { c.broken = true; });
    c.on('end', () => { c.broken = true; });
    return c;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function runClient(idx, deadline, st) {
    const row = ROW0 + idx;
    let client = null;
    const record = (phase, e) => {
        const code = e && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code
            : phase === 'WRONG' ? 'WRONG' : '08006';
        st.errors.push({ t: Date.now() / 1000, state: code, kind: `node-${phase}`,
                         msg: String(e && e.message ? e.message : e).split('\n')[0].slice(0, 200) });
    };
    while (Date.now() < deadline) {
        let phase = 'connect';
        try {
            if (client === null) {
                client = newClient(Number(process.env.PGR_PORT), 'soak-node');
                await client.connect();
            }
            phase = 'read';
            const aid = 1 + Math.floor(Math.random() * ACCOUNTS);
            const r = await client.query({ ...READ, values: [aid] });
            if (r.rows.length !== 1 || r.rows[0].aid !== aid)
                record('WRONG', `read of aid ${aid} gave ${JSON.stringify(r.rows)}`);
            else
                st.reads++;
            phase = 'tx';
            await client.query('BEGIN');
            const n = (await client.query({ ...BUMP, values: [row] })).rows[0].n;
            const m = (await client.query({ ...LOOK, values: [row] })).rows[0].n;
            if (n !== m)
                record('WRONG', `counter ${row}: UPDATE gave ${n}, SELECT ${m}`);
            phase = 'commit';
            await client.query('COMMIT');
            st.commits++;
        } catch (e) {
            record(phase, e);
            if (phase === 'commit')
                st.uncertain[idx]++;
            if (client !== null && !client.broken && phase !== 'connect') {
                try {
                    await client.query('ROLLBACK');
                } catch (e2) {
                    client.broken = true;
                }
            }
            if (client !== null && (client.broken || phase === 'connect')) {
                client.end().catch(() => {});
                client = null;
            }
            await sleep(200);
        }
    }
    if (client !== null)
        await client.end().catch(() => {});
}

async function counters() {
    const c = newClient(Number(process.env.PRIMARY_PORT), 'soak-node-check');
    await c.connect();
    try {
        const r = await c.query('SELECT id, n FROM soak_counter WHERE id >= $1 AND id < $2',
                                [ROW0, ROW0 + CLIENTS]);
        const m = new Map();
        for (const x of r.rows)
            m.set(x.id, x.n);
        return m;
    } finally {
        await c.end();
    }
}

async function main() {
    const st = { reads: 0, commits: 0, errors: [], uncertain: new Array(CLIENTS).fill(0) };
    const perClient = new Array(CLIENTS).fill(0);
    const before = await counters();
    const deadline = Date.now() + SECS * 1000;
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => {
        const own = { reads: 0, commits: 0, errors: st.errors, uncertain: st.uncertain };
        return runClient(i, deadline, own).then(() => {
            st.reads += own.reads;
            st.commits += own.commits;
            perClient[i] = own.commits;
        });
    }));
    const after = await counters();
    const wrong = st.errors.filter((e) => e.state === 'WRONG').map((e) => e.msg);
    for (let i = 0; i < CLIENTS; i++) {
        const d = (after.get(ROW0 + i) || 0) - (before.get(ROW0 + i) || 0);
        if (d < perClient[i] || d > perClient[i] + st.uncertain[i])
            wrong.push(`counter ${ROW0 + i} moved by ${d}; the client saw ${perClient[i]} ` +
                       `commits (+${st.uncertain[i]} unknown)`);
    }
    const out = { reads: st.reads, commits: st.commits, transactions: st.reads + st.commits,
                  errors: st.errors.filter((e) => e.state !== 'WRONG'), wrong };
    fs.writeFileSync(process.env.OUT, JSON.stringify(out));
    console.log(`node: ${out.reads} reads, ${out.commits} commits, ${out.errors.length} errors, ` +
                `${wrong.length} wrong`);
}

main().catch((e) => {
    console.log(`error: ${e && e.message ? e.message : e}`);
    process.exit(1);
});
