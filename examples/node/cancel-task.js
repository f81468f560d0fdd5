'use strict';
/*
 * The official Alibaba Cloud Node.js SDK for ECS (@alicloud/ecs20140526) against a running
 * `taskcancel serve --clock fake`, the way a JavaScript test suite would use it:
 *
 *   reset the emulator, seed tasks through its control plane, cancel with ACS3 signing
 *   (the SDK's default) and with signatureAlgorithm "v2" (V1 HMAC-SHA1), cancel again and
 *   get IncorrectTaskStatus (HTTP 403), advance the fake clock and see a scheduled task
 *   finish, reset again and see the seeded tasks gone. In between it verifies its own
 *   calls through the emulator's request journal (GET /_taskcancel/requests) and prints
 *   why the repeated cancel was refused (the journal's Decision).
 *
 * Usage:  node cancel-task.js http://127.0.0.1:PORT      (or set TASKCANCEL_ENDPOINT)
 *
 * Prints one "ok N - ..." line per check. On the first mismatch it prints
 * "not ok N - ..." with what was expected and what came back, and exits 1; a usage
 * error exits 2. The control plane (/_taskcancel/...) is called with Node's built-in
 * fetch; TASKCANCEL_CONTROL_TOKEN, when set, is sent as "Authorization: Bearer TOKEN".
 */

const diagnosticsChannel = require('node:diagnostics_channel');
const Ecs = require('@alicloud/ecs20140526');
const { Config } = require('@alicloud/openapi-client');

const EcsClient = Ecs.default;
const REGION = 'cn-hangzhou';
const ACCESS_KEY_ID = 'testid'; // the emulator's default account
const ACCESS_KEY_SECRET = 'testsecret';
const TIMEOUT_MS = 10000;

const ACS3_TASK = 't-node-acs3-import';
const V1_TASK = 't-node-v1-export';
const SCHEDULED_TASK = 't-node-scheduled-import';
const PROCESSING_SECONDS = 600;

// The code a repeated cancel gets, by the emulator's profile (README "The contract", row 6).
const INCORRECT_TASK_STATUS = { 2017: 'IncorrectTaskStatus', current: 'InvalidTaskId.IncorrectTaskStatus' };

class Mismatch extends Error {}

let checks = 0;

function check(label, ok, detail) {
  checks += 1;
  if (!ok) {
    throw new Mismatch(`not ok ${checks} - ${label}: ${detail}`);
  }
  console.log(`ok ${checks} - ${label}`);
}

function parseEndpoint(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' || !url.port || (url.pathname !== '/' && url.pathname !== '')) {
    return null;
  }
  return url;
}

// --- the control plane, with fetch --------------------------------------------------

async function control(base, method, path, body, expectedStatus) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (process.env.TASKCANCEL_CONTROL_TOKEN) {
    headers.authorization = `Bearer ${process.env.TASKCANCEL_CONTROL_TOKEN}`;
  }
  let response;
  try {
    response = await fetch(new URL(path, base), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const cause = error.cause ? ` (${error.cause.code || error.cause.message})` : '';
    throw new Mismatch(`not ok - ${method} ${path}: no answer from ${base.origin}: ${error.message}${cause}`);
  }
  const text = await response.text();
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  check(
    `${method} ${path} answers HTTP ${expectedStatus} with a JSON object`,
    response.status === expectedStatus && answer !== null && typeof answer === 'object',
    `got HTTP ${response.status}: ${text.slice(0, 300) || '(empty body)'}`,
  );
  return answer;
}

// --- the SDK, and what it put on the wire ---------------------------------------------

// Every request the SDK sends goes through node:http; this channel (a public Node API)
// shows each one, so the program can tell which signature scheme was used.
const sent = [];
diagnosticsChannel.subscribe('http.client.request.start', ({ request }) => {
  sent.push({ path: request.path, authorization: request.getHeader('authorization') });
});

function sdkClient(endpoint, extra) {
  const config = new Config({
    accessKeyId: ACCESS_KEY_ID,
    accessKeySecret: ACCESS_KEY_SECRET,
    regionId: REGION,
    endpoint: endpoint.host, // "127.0.0.1:PORT": host and port, no scheme
    protocol: 'HTTP', // every ECS API in the SDK says HTTPS; the emulator speaks plain HTTP
    ...extra,
  });
  return new EcsClient(config);
}

async function sdkCall(label, call) {
  sent.length = 0;
  try {
    return { response: await call(), wire: sent.slice() };
  } catch (error) {
    if (error instanceof Mismatch) throw error;
    if (error.code === undefined || error.statusCode === undefined) {
      throw new Mismatch(`not ok - ${label}: the SDK failed without an answer: ${error.stack || error}`);
    }
    return { error, wire: sent.slice() };
  }
}

function describeError(error) {
  return `${error.name} code=${error.code} statusCode=${error.statusCode} message=${error.message}`;
}

function expectSuccess(label, outcome) {
  check(
    label,
    outcome.error === undefined && outcome.response.statusCode === 200 && Boolean(outcome.response.body.requestId),
    outcome.error ? describeError(outcome.error) : `statusCode=${outcome.response.statusCode}`,
  );
}

function expectError(label, outcome, code, statusCode) {
  check(
    label,
    outcome.error !== undefined && outcome.error.code === code && outcome.error.statusCode === statusCode,
    outcome.error
      ? `expected ${code} (HTTP ${statusCode}), got ${describeError(outcome.error)}`
      : `expected ${code} (HTTP ${statusCode}), the call succeeded`,
  );
}

function expectSigned(label, wire, scheme) {
  const requests = wire.length === 1 ? `one request, ${wire[0].authorization || wire[0].path}` : `${wire.length} requests`;
  let ok = wire.length === 1;
  if (ok && scheme === 'ACS3') {
    ok = String(wire[0].authorization).startsWith(`ACS3-HMAC-SHA256 Credential=${ACCESS_KEY_ID},`);
  } else if (ok) {
    const query = new URL(wire[0].path, 'http://x').searchParams;
    ok = wire[0].authorization === undefined
      && query.get('SignatureMethod') === 'HMAC-SHA1'
      && query.get('SignatureVersion') === '1.0'
      && query.get('AccessKeyId') === ACCESS_KEY_ID
      && Boolean(query.get('Signature'));
  }
  check(label, ok, `expected one ${scheme}-signed request, got ${requests}`);
}

async function taskStatus(client, taskId) {
  const outcome = await sdkCall(`DescribeTaskAttribute ${taskId}`, () =>
    client.describeTaskAttribute(new Ecs.DescribeTaskAttributeRequest({ regionId: REGION, taskId })));
  return outcome;
}

// --- the checks ---------------------------------------------------------------------

async function run(base) {
  const health = await control(base, 'GET', '/_taskcancel/health', undefined, 200);
  check(
    `health: ready, clock fake (profile ${health.Profile}, store ${health.Store})`,
    health.Status === 'ready' && health.Clock === 'fake' && health.Profile in INCORRECT_TASK_STATUS,
    `expected Status "ready", Clock "fake" (start with: taskcancel serve --clock fake), a known Profile; got ${JSON.stringify(health)}`,
  );

  await control(base, 'POST', '/_taskcancel/reset', undefined, 200);
  await control(base, 'POST', '/_taskcancel/tasks', {
    Tasks: [
      { TaskId: ACS3_TASK, RegionId: REGION, TaskAction: 'ImportImage', TaskStatus: 'Processing' },
      { TaskId: V1_TASK, RegionId: REGION, TaskAction: 'ExportImage', TaskStatus: 'Processing' },
      {
        TaskId: SCHEDULED_TASK,
        RegionId: REGION,
        TaskAction: 'ImportImage',
        TaskStatus: 'Processing',
        // No CreationTime: the schedule starts now, by the emulator's (fake) clock.
        Schedule: { QueuedSeconds: 0, ProcessingSeconds: PROCESSING_SECONDS, Outcome: 'Finished' },
      },
    ],
  }, 201);

  const acs3 = sdkClient(base);
  const v1 = sdkClient(base, { signatureAlgorithm: 'v2' });
  const cancel = (client, taskId) => sdkCall(`CancelTask ${taskId}`, () =>
    client.cancelTask(new Ecs.CancelTaskRequest({ regionId: REGION, taskId })));

  let outcome = await cancel(acs3, ACS3_TASK);
  expectSuccess(`CancelTask ${ACS3_TASK} (ACS3): HTTP 200 with a RequestId`, outcome);
  expectSigned('  ... signed ACS3-HMAC-SHA256 (Authorization header)', outcome.wire, 'ACS3');

  outcome = await cancel(v1, V1_TASK);
  expectSuccess(`CancelTask ${V1_TASK} (signatureAlgorithm "v2"): HTTP 200 with a RequestId`, outcome);
  expectSigned('  ... signed V1 HMAC-SHA1 (Signature in the query)', outcome.wire, 'V1');

  const code = INCORRECT_TASK_STATUS[health.Profile];
  outcome = await cancel(acs3, ACS3_TASK);
  expectError(`CancelTask ${ACS3_TASK} again (ACS3): ${code}, HTTP 403`, outcome, code, 403);
  outcome = await cancel(v1, V1_TASK);
  expectError(`CancelTask ${V1_TASK} again (V1): ${code}, HTTP 403`, outcome, code, 403);

  // The emulator's request journal: what it received since the reset, and why it answered
  // so -- the same check a test in any language can make of its own calls.
  const journal = await control(base, 'GET', '/_taskcancel/requests?Action=CancelTask', undefined, 200);
  const entries = Array.isArray(journal.Requests) ? journal.Requests : [];
  const calls = entries.map((entry) => `${entry.TaskId} ${entry.Signature} ${entry.Code}`);
  const expectedCalls = [
    `${ACS3_TASK} ACS3 OK`,
    `${V1_TASK} V1 OK`,
    `${ACS3_TASK} ACS3 ${code}`,
    `${V1_TASK} V1 ${code}`,
  ];
  check(
    'journal: the four CancelTask calls, in order, with their signature and code',
    JSON.stringify(calls) === JSON.stringify(expectedCalls),
    `expected ${JSON.stringify(expectedCalls)}, got ${JSON.stringify(calls)}`,
  );
  const decision = (entries[2] && entries[2].Decision) || {};
  const task = decision.Task || {};
  check(
    `journal: the repeated cancel was decided by ${decision.Step} ${decision.Check} (row ${decision.Rule}), task ${task.TaskStatus}`,
    decision.Step === 'rules' && decision.Check === 'INCORRECT_TASK_STATUS' && decision.Rule === 6
      && task.TaskStatus === 'Deleted',
    `got ${JSON.stringify(entries[2])}`,
  );

  outcome = await taskStatus(acs3, ACS3_TASK);
  check(
    `DescribeTaskAttribute ${ACS3_TASK}: Deleted (cancelled)`,
    !outcome.error && outcome.response.body.taskStatus === 'Deleted',
    outcome.error ? describeError(outcome.error) : `TaskStatus ${outcome.response.body.taskStatus}`,
  );

  outcome = await taskStatus(acs3, SCHEDULED_TASK);
  check(
    `DescribeTaskAttribute ${SCHEDULED_TASK}: Processing before the clock moves`,
    !outcome.error && outcome.response.body.taskStatus === 'Processing',
    outcome.error ? describeError(outcome.error) : `TaskStatus ${outcome.response.body.taskStatus}`,
  );

  await control(base, 'POST', '/_taskcancel/clock', { AdvanceSeconds: PROCESSING_SECONDS + 1 }, 200);
  outcome = await sdkCall(`DescribeTasks ${SCHEDULED_TASK}`, () =>
    v1.describeTasks(new Ecs.DescribeTasksRequest({ regionId: REGION, taskIds: SCHEDULED_TASK })));
  const listed = outcome.error ? [] : (outcome.response.body.taskSet || {}).task || [];
  check(
    `DescribeTasks ${SCHEDULED_TASK} (V1): Finished ${PROCESSING_SECONDS + 1}s later`,
    listed.length === 1 && listed[0].taskId === SCHEDULED_TASK && listed[0].taskStatus === 'Finished',
    outcome.error ? describeError(outcome.error) : `tasks ${JSON.stringify(listed)}`,
  );
  outcome = await taskStatus(acs3, SCHEDULED_TASK);
  check(
    `DescribeTaskAttribute ${SCHEDULED_TASK} (ACS3): Finished, TaskProcess 100%`,
    !outcome.error && outcome.response.body.taskStatus === 'Finished' && outcome.response.body.taskProcess === '100%',
    outcome.error ? describeError(outcome.error) : JSON.stringify(outcome.response.body),
  );

  await control(base, 'POST', '/_taskcancel/reset', undefined, 200);
  outcome = await taskStatus(acs3, ACS3_TASK);
  expectError(`after reset, ${ACS3_TASK} is gone: InvalidTaskId.NotFound, HTTP 400`, outcome, 'InvalidTaskId.NotFound', 400);
}

async function main() {
  const text = process.argv[2] || process.env.TASKCANCEL_ENDPOINT;
  const base = text ? parseEndpoint(text) : null;
  if (!base) {
    console.error(
      `usage: node cancel-task.js http://HOST:PORT (or set TASKCANCEL_ENDPOINT); got ${JSON.stringify(text || '')}: ` +
        'need the http://HOST:PORT that taskcancel serve printed on its "listening on" line',
    );
    return 2;
  }
  try {
    await run(base);
  } catch (error) {
    if (!(error instanceof Mismatch)) throw error;
    console.error(error.message);
    return 1;
  }
  console.log(`all ${checks} checks passed against ${base.origin}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`not ok - unexpected error: ${error.stack || error}`);
    process.exitCode = 1;
  },
);
