'use strict';
/*
 * CancelTask through the official Node.js SDK (@alicloud/ecs20140526), once per task id
 * given, against a running taskcancel serve with fault rules in force. Prints one JSON line
 * per call: {"task", "ok", "name", "code", "statusCode", "retryAfter", "ms"}.
 *
 * Usage: node node_fault_rules.js http://127.0.0.1:PORT TASK_ID...
 * Short timeouts and no retries, so every fault surfaces as the SDK's own error.
 */

const Ecs = require('@alicloud/ecs20140526');
const { Config } = require('@alicloud/openapi-client');
const $dara = require('@darabonba/typescript');

async function main() {
  const [base, ...tasks] = process.argv.slice(2);
  const url = new URL(base);
  const client = new Ecs.default(
    new Config({
      accessKeyId: 'testid',
      accessKeySecret: 'testsecret',
      regionId: 'cn-hangzhou',
      endpoint: url.host,
      protocol: 'HTTP',
    }),
  );
  const runtime = new $dara.RuntimeOptions({ autoretry: false, readTimeout: 2000, connectTimeout: 2000 });
  for (const task of tasks) {
    const request = new Ecs.CancelTaskRequest({ regionId: 'cn-hangzhou', taskId: task });
    const started = Date.now();
    let line;
    try {
      const response = await client.cancelTaskWithOptions(request, runtime);
      line = { task, ok: true, statusCode: response.statusCode };
    } catch (error) {
      line = {
        task,
        ok: false,
        name: error.name,
        code: error.code === undefined ? null : error.code,
        statusCode: error.statusCode === undefined ? null : error.statusCode,
        retryAfter: error.retryAfter === undefined ? null : error.retryAfter,
      };
    }
    line.ms = Date.now() - started;
    console.log(JSON.stringify(line));
  }
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
