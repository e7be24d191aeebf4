// Shared harness for the @openai/agents-realtime scenarios (run by tests/test_client_agents_node.py).
//
// A scenario connects a RealtimeSession over the SDK's own WebSocket transport to the URL given as
// `--url`, drives one kind of turn, and prints ONE line of JSON on stdout:
//   {"ok": true, "result": {...}, "serverEvents": [...], "clientEvents": [...], "history": [...]}
// or {"ok": false, "error": "...", ...the same records} with exit code 1. Every wait has a timeout.
//
// Nothing in the SDK's connection path is replaced: the raw frames are recorded by wrapping the
// `ws` package's WebSocket (the class the SDK's Node shim uses) and listening to `transport_event`.

import { WebSocket } from 'ws';
import { RealtimeAgent, RealtimeSession } from '@openai/agents-realtime';

const WAIT_MS = 10_000;

export const clientEvents = [];
const originalSend = WebSocket.prototype.send;
WebSocket.prototype.send = function send(data, ...rest) {
  try {
    clientEvents.push(JSON.parse(data.toString()));
  } catch {
    clientEvents.push({ unparsable: String(data).slice(0, 200) });
  }
  return originalSend.call(this, data, ...rest);
};

export function parseArgs(argv = process.argv.slice(2)) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    args[argv[i].replace(/^--/, '')] = argv[i + 1];
  }
  if (!args.url) throw new Error('usage: node <scenario>.mjs --url ws://HOST:PORT/v1/realtime');
  return args;
}

/**
 * A promise for the arguments (an array) of the first `name` event of `emitter` that satisfies
 * `predicate`, with a timeout.
 */
export function waitFor(emitter, name, predicate = () => true, timeoutMs = WAIT_MS) {
  const waiting = new Promise((resolve, reject) => {
    const onEvent = (...args) => {
      let matched;
      try {
        matched = predicate(...args);
      } catch (error) {
        cleanup();
        reject(error);
        return;
      }
      if (matched) {
        cleanup();
        resolve(args);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${name}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      emitter.off(name, onEvent);
    };
    emitter.on(name, onEvent);
  });
  // Scenarios set waiters up before acting and await them in turn: a waiter that fails before its
  // turn must not end the process as an unhandled rejection (awaiting it still throws).
  waiting.catch(() => {});
  return waiting;
}

/** Wait for a raw server event of type `type` (seen through the session's `transport_event`). */
export function waitForServerEvent(session, type, predicate = () => true, timeoutMs = WAIT_MS) {
  return waitFor(session, 'transport_event', (e) => e.type === type && predicate(e), timeoutMs).then(
    ([event]) => event,
  );
}

/**
 * Run a scenario: `body(session, record)` drives the session; `record` is the object reported as
 * `result`. The session is built from `agentOptions` and `sessionOptions`, connected to `--url`.
 */
export async function runScenario({ agentOptions, sessionOptions = {} }, body) {
  const args = parseArgs();
  const serverEvents = [];
  const sdkErrors = [];
  const record = {};
  let session;
  let output;
  try {
    const agent = new RealtimeAgent({ name: 'tester', ...agentOptions });
    session = new RealtimeSession(agent, {
      transport: 'websocket',
      model: 'gpt-realtime',
      tracingDisabled: true,
      ...sessionOptions,
    });
    session.on('transport_event', (event) => serverEvents.push(event));
    session.on('error', (error) => sdkErrors.push(describe(error.error)));
    const created = waitForServerEvent(session, 'session.created');
    await withTimeout(session.connect({ apiKey: 'sk-test', url: args.url }), 'connect');
    record.sessionCreated = (await created).session;
    await body(session, record);
    output = { ok: sdkErrors.length === 0, error: sdkErrors.join('; ') || undefined };
  } catch (error) {
    output = { ok: false, error: describe(error), sdkErrors };
  } finally {
    try {
      session?.close();
    } catch (error) {
      output.closeError = describe(error);
    }
  }
  Object.assign(output, {
    result: record,
    history: session ? session.history : [],
    serverEvents: serverEvents.filter((e) => e.type !== 'response.output_audio.delta'),
    audioDeltaBytes: serverEvents
      .filter((e) => e.type === 'response.output_audio.delta')
      .reduce((total, e) => total + Buffer.from(e.delta, 'base64').length, 0),
    clientEvents: clientEvents.map(shorten),
  });
  // Exit only once the report is flushed: a pipe takes it asynchronously, and exiting at once
  // cuts a large report short.
  process.stdout.write(`${JSON.stringify(output)}\n`, () => process.exit(output.ok ? 0 : 1));
}

export function withTimeout(promise, what, timeoutMs = WAIT_MS) {
  let timer;
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describe(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  // A WebSocket `error` event wraps the Error; a server `error` event carries `error.message`.
  if (error?.error instanceof Error || typeof error?.message === 'string') {
    return describe(error.error instanceof Error ? error.error : new Error(error.message));
  }
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

// Audio appends are reported by size only, to keep the report small.
function shorten(event) {
  if (event.type === 'input_audio_buffer.append' && typeof event.audio === 'string') {
    return { ...event, audio: `<${Buffer.from(event.audio, 'base64').length} bytes>` };
  }
  return event;
}
