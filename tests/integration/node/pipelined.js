// tests/integration/node/pipelined.js - postgres.js (the `postgres` npm package) through
// pgrouter. postgres.js pipelines: each of its connections sends the next query's
// Parse/Bind/Describe/Execute/Sync before the previous one is answered, and prepares
// every query as a named statement of that connection. TASKS concurrent tasks share
// CONNECTIONS connections and run QUERIES queries in all:
//   - `select count(*) ... generate_series(1, $1)`: must give exactly one row, n = $1;
//   - a second named statement with two parameters, every third query;
//   - every hundredth query, a transaction that inserts into itest_pipe and reads
//     the row back inside it (the table is created by pipeline.sh).
//
//   PGR_PORT=6432 node pipelined.js    (user app/app, database appdb)
//
// Prints `ok N queries, E empty results, W wrong results` and exits 0 when E and W
// are 0 and no query failed; otherwise prints the first problems and exits 1.
'use strict';

const postgres = require('postgres');

const CONNECTIONS = 10;
const TASKS = 30;
const QUERIES = 3000;
// Values this run inserts: apart from any earlier run's rows in itest_pipe.
const BASE = 1000000 + Math.floor(Math.random() * 1e9);
const DEADLINE_MS = Number(process.env.PIPE_DEADLINE_MS || 90000);

async function main() {
    const sql = postgres({
        host: '127.0.0.1',
        port: Number(process.env.PGR_PORT),
        user: 'app',
        password: 'app',
        database: 'appdb',
        max: CONNECTIONS,
        connect_timeout: 10,
        idle_timeout: 0,
        onnotice: () => {},
    });
    const st = { done: 0, empty: 0, wrong: 0, errors: 0, first: [] };
    let next = 0;
    const note = (what) => {
        if (st.first.length < 5)
            st.first.push(what);
    };

    async function one(i) {
        const k = 1 + (i % 50);
        if (i % 100 === 99) {
            const rows = await sql.begin(async (tx) => {
                const ins = await tx`insert into itest_pipe (v) values (${BASE + i}) returning v`;
                if (ins.length !== 1 || ins[0].v !== BASE + i)
                    return { bad: `insert returned ${JSON.stringify(ins)}` };
                return tx`select count(*)::int as n from itest_pipe where v = ${BASE + i}`;
            });
            if (rows.bad !== undefined) {
                st.wrong++;
                note(`query ${i}: ${rows.bad}`);
            } else if (rows.length !== 1 || rows[0].n !== 1) {
                st.wrong++;
                note(`query ${i}: transaction read ${JSON.stringify(rows)}`);
            }
            return;
        }
        if (i % 3 === 2) {
            const rows = await sql`select ${k}::int * ${i}::int as p, 'x' || ${k}::text as s`;
            if (rows.length === 0) {
                st.empty++;
                note(`query ${i}: empty result for p/s`);
            } else if (rows.length !== 1 || rows[0].p !== k * i || rows[0].s !== `x${k}`) {
                st.wrong++;
                note(`query ${i}: p/s gave ${JSON.stringify(rows)}`);
            }
            return;
        }
        const rows = await sql`select count(*)::int as n from generate_series(1, ${k}::int)`;
        if (rows.length === 0) {
            st.empty++;
            note(`query ${i}: empty result for count(*)`);
        } else if (rows.length !== 1 || rows[0].n !== k) {
            st.wrong++;
            note(`query ${i}: count(*) of ${k} gave ${JSON.stringify(rows)}`);
        }
    }

    async function task() {
        while (next < QUERIES) {
            const i = next++;
            try {
                await one(i);
            } catch (e) {
                st.errors++;
                note(`query ${i}: ${e.code || ''} ${e.message}`);
            }
            st.done++;
        }
    }

    // An answer pgrouter loses leaves postgres.js waiting for good: say so and fail.
    const watchdog = setTimeout(() => {
        for (const f of st.first)
            console.log(`# ${f}`);
        console.log(`not ok no answer after ${DEADLINE_MS} ms: ${st.done} of ${QUERIES} ` +
                    `queries done, ${st.empty} empty results, ${st.wrong} wrong results`);
        process.exit(1);
    }, DEADLINE_MS);
    await Promise.all(Array.from({ length: TASKS }, task));
    clearTimeout(watchdog);
    await sql.end({ timeout: 5 });
    const line = `${st.done} queries, ${st.empty} empty results, ${st.wrong} wrong results, ` +
                 `${st.errors} errors`;
    if (st.empty + st.wrong + st.errors > 0 || st.done !== QUERIES) {
        for (const f of st.first)
            console.log(`# ${f}`);
        console.log(`not ok ${line}`);
        process.exit(1);
    }
    console.log(`ok ${line}`);
}

main().catch((e) => {
    console.log(`not ok ${e.stack || e}`);
    process.exit(1);
});
