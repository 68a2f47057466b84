// Drives the official Node SDK (@trophyso/node, pinned in package.json) against a server,
// for tests/api_contract/test_node_sdk.py (the Python side is tests/api_contract/node_sdk.py).
//
// stdin: {"baseUrl": "http://localhost:8123", "apiKey": "...", "tenantId": null,
//         "calls": [{"method": "users.get", "args": ["u1"]}, ...]}
// stdout: {"results": [...]}, one per call, in order:
//   {"ok": true, "value": <what the SDK returned, as JSON>, "exchanges": [...]}
//   {"ok": false, "errorClass": "NotFoundError", "statusCode": 404, "body": {...},
//    "message": "<the SDK's error text>", "exchanges": [...]}
// errorClass is the SDK's typed error (BadRequestError, UnauthorizedError, NotFoundError,
// UnprocessableEntityError), TrophyApiError for a status the method does not map,
// ParseError when the response broke the SDK's own schema (statusCode and body are then
// the response's), JsonError when the SDK could not encode the request (a test's mistake).
// `exchanges` are the raw responses the call received: method, url, status, content type
// and the JSON body (or `text` when it is not JSON), for the schema check in Python.
//
// The calls of one input run in order, each with retries off, so a 5xx shows at once.

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { TrophyApiClient, TrophyApiError, TrophyApiTimeoutError } = require("@trophyso/node");
// Not exported from the package root; deep requires are allowed (no "exports" map).
const { ParseError, JsonError } = require("@trophyso/node/core").serialization;

const exchanges = [];
let tenantId = null;

// The SDK calls the global fetch (Node 18+). Wrapping it records every raw response and,
// when asked, adds the Tenant-ID header, which this SDK version has no option for.
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  const headers = { ...(init.headers ?? {}) };
  if (tenantId != null) headers["Tenant-ID"] = tenantId;
  const response = await realFetch(url, { ...init, headers });
  const text = await response.clone().text();
  const exchange = {
    method: init.method ?? "GET",
    url: String(url),
    status: response.status,
    contentType: response.headers.get("content-type"),
  };
  try {
    exchange.body = text.length > 0 ? JSON.parse(text) : null;
  } catch {
    exchange.text = text;
  }
  exchanges.push(exchange);
  return response;
};

// Where each method takes its requestOptions: Fern names that parameter `requestOptions`,
// always last; Function.length cannot tell (`request = {}` defaults stop its count).
function requestOptionsIndex(fn) {
  const signature = /^[\w$]+\s*\(([^)]*)\)/.exec(fn.toString());
  const names = signature ? signature[1].split(",").map((p) => p.split("=")[0].trim()) : [];
  return names.indexOf("requestOptions");
}

function describeError(error, received) {
  const last = received.at(-1);
  if (error instanceof ParseError) {
    return {
      errorClass: "ParseError",
      statusCode: last?.status ?? null,
      body: last?.body ?? last?.text ?? null,
      message: error.message,
    };
  }
  if (error instanceof JsonError) {
    return { errorClass: "JsonError", statusCode: null, body: null, message: error.message };
  }
  if (error instanceof TrophyApiError) {
    return {
      errorClass: error.constructor.name,
      statusCode: error.statusCode ?? null,
      body: error.body ?? null,
      message: error.message,
    };
  }
  if (error instanceof TrophyApiTimeoutError) {
    return { errorClass: "TrophyApiTimeoutError", statusCode: null, body: null, message: "timeout" };
  }
  return {
    errorClass: error?.constructor?.name ?? typeof error,
    statusCode: null,
    body: null,
    message: String(error?.stack ?? error),
  };
}

async function run(client, { method, args = [] }) {
  const [resourceName, methodName] = String(method).split(".");
  const resource = client[resourceName];
  const fn = resource?.[methodName];
  if (typeof fn !== "function") {
    return { ok: false, errorClass: "UnknownMethod", message: `the SDK has no ${method}` };
  }
  const at = requestOptionsIndex(fn);
  if (at < 0 || args.length > at) {
    return {
      ok: false,
      errorClass: "BadCall",
      message: `${method} takes ${at} argument(s) before requestOptions, got ${args.length}`,
    };
  }
  const padded = [...args, ...Array(at - args.length).fill(undefined)];
  padded.push({ maxRetries: 0, timeoutInSeconds: 30 });
  const start = exchanges.length;
  let result;
  try {
    result = { ok: true, value: await fn.apply(resource, padded) };
  } catch (error) {
    result = { ok: false, ...describeError(error, exchanges.slice(start)) };
  }
  result.exchanges = exchanges.slice(start);
  return result;
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  tenantId = input.tenantId ?? null;
  const base = String(input.baseUrl).replace(/\/+$/, "");
  const client = new TrophyApiClient({
    apiKey: input.apiKey,
    environment: { api: `${base}/v1`, admin: `${base}/admin-api/v1` },
  });
  const results = [];
  for (const call of input.calls) results.push(await run(client, call));
  process.stdout.write(JSON.stringify({ results }));
}

main().catch((error) => {
  process.stderr.write(String(error?.stack ?? error) + "\n");
  process.exit(2);
});
