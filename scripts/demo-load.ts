// The demo's write load: a few transactions a second on the sandbox's source primary (new customers with their
// orders, orders changing status, balances moving, old orders deleted), so that the streams have something to
// carry during and after the clone. Runs until SIGINT/SIGTERM, then prints how many transactions it wrote.
// Usage: node --import tsx scripts/demo-load.ts PORT DB [TPS]

import { connect } from '../src/sandbox/index.ts';

const port = Number(process.argv[2]);
const db = process.argv[3] ?? 'commerce';
const tps = Number(process.argv[4] ?? 20);
if (!(port > 0) || !/^\w+$/.test(db) || !(tps > 0)) {
  process.stderr.write('usage: demo-load.ts PORT DB [TPS]\n');
  process.exit(2);
}

const conn = await connect({ port });
await conn.query(`SET SESSION time_zone = '+00:00'; USE \`${db}\``);
const [[{ maxCustomer, maxOrder }]] = (await conn.query(
  'SELECT (SELECT MAX(customer_id) FROM customer) AS maxCustomer, (SELECT MAX(order_id) FROM corder) AS maxOrder',
)) as unknown as [[{ maxCustomer: string; maxOrder: string }]];
let customer = Number(maxCustomer) + 1_000_000;
let order = Number(maxOrder) + 1_000_000;
const ksid = (expr: string) => `CAST(CONV(SUBSTRING(MD5(${expr}), 1, 16), 16, 10) AS UNSIGNED)`;
let stop = false;
let written = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => (stop = true));

while (!stop) {
  const kind = written % 4;
  const statements: string[] = [];
  if (kind === 0) {
    // A new customer and two orders, on the customer's shard.
    customer++;
    statements.push(
      `INSERT INTO customer (customer_id, keyspace_id, email, name, created, balance) VALUES (${customer}, ${ksid(String(customer))}, 'new${customer}@example.com', 'Demo ✓ ${customer}', NOW(6), 0)`,
    );
    for (let i = 0; i < 2; i++)
      statements.push(
        `INSERT INTO corder (order_id, customer_id, keyspace_id, sku, price, status, note) VALUES (${++order}, ${customer}, ${ksid(String(customer))}, 'SKU-DEMO', ${(order % 10000) / 100}, 'new', 'demo order 🎁')`,
      );
  } else if (kind === 1) {
    statements.push(
      `UPDATE corder SET status = ELT(1 + FLOOR(RAND() * 4), 'new', 'paid', 'shipped', 'cancelled') WHERE order_id = 1 + FLOOR(RAND() * ${Number(maxOrder)})`,
    );
  } else if (kind === 2) {
    statements.push(
      `UPDATE customer SET balance = balance + 1.25 WHERE customer_id IN (1 + FLOOR(RAND() * ${Number(maxCustomer)}), 1 + FLOOR(RAND() * ${Number(maxCustomer)}))`,
    );
  } else {
    statements.push(`DELETE FROM corder WHERE order_id = 1 + FLOOR(RAND() * ${Number(maxOrder)})`);
  }
  try {
    await conn.query(['BEGIN', ...statements, 'COMMIT'].join(';'));
    written++;
  } catch (err) {
    process.stderr.write(`demo load: ${(err as Error).message}\n`);
    await conn.query('ROLLBACK').catch(() => {});
  }
  await new Promise((r) => setTimeout(r, 1000 / tps));
}
await conn.end();
process.stdout.write(`demo load: ${written} transactions written\n`);
