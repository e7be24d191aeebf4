// The official `openai` package's own Realtime clients (run by tests/test_client_openai_node.py):
//
//   node scenario_openai_sdk.mjs --base-url https://127.0.0.1:PORT/v1 --api-key KEY --client ws
//
// `--client ws` is `OpenAIRealtimeWS` from 'openai/realtime/ws' (the `ws` package, the key in an
// Authorization header); `--client websocket` is `OpenAIRealtimeWebSocket` from
// 'openai/realtime/websocket' (the platform's WebSocket, as in a browser: the key in the
// `openai-insecure-api-key.<key>` subprotocol; Node 20 needs --experimental-websocket). Both build
// their URL from the client's `baseURL` and always dial wss:, so the server must speak TLS; the
// certificate is trusted through NODE_EXTRA_CA_CERTS, with no verification turned off.
//
// One session: session.update (text output, one function tool), a text turn, then a tool turn
// (the call, its output sent back, the reply that uses it). Prints ONE line of JSON on stdout:
//   {"ok": true, "url": "...", "result": {...}, "serverEvents": [...], "clientEvents": [...]}
// or {"ok": false, "error": "...", ...} with exit code 1. Every wait has a timeout.

import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { OpenAIRealtimeWebSocket } from 'openai/realtime/websocket';

const WAIT_MS = 10_000;
const TOOL = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city.',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const QUESTION = 'What is the weather in Paris? Please use get_weather.';
const TOOL_OUTPUT = '{"city":"Paris","temperature_c":21}';

function parseArgs(argv = process.argv.slice(2)) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  if (!args['base-url'] || !args['api-key'] || !['ws', 'websocket'].includes(args.client)) {
    throw new Error('usage: --base-url URL --api-key KEY --client ws|websocket');
  }
  return args;
}

/** Server events in arrival order, and a way to wait for the next one of a type. An SDK error
 * (a failed connection, a server `error` event) fails every wait at once. */
class EventLog {
  constructor(rt) {
    this.events = [];
    this.cursor = 0; // events before it were already waited for
    this.waiters = new Set();
    this.errors = [];
    rt.on('event', (event) => {
      this.events.push(event);
      for (const waiter of this.waiters) waiter();
    });
    rt.on('error', (error) => {
      this.errors.push(`${error.name}: ${error.message}`);
      for (const waiter of this.waiters) waiter();
    });
  }

  next(type, predicate = () => true, timeoutMs = WAIT_MS) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.errors.length) {
          done();
          reject(new Error(`SDK error while waiting for ${type}: ${this.errors.join('; ')}`));
          return;
        }
        for (let i = this.cursor; i < this.events.length; i += 1) {
          const event = this.events[i];
          if (event.type === type && predicate(event)) {
            this.cursor = i + 1;
            done();
            resolve(event);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${type}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
}

function userMessage(text) {
  return {
    type: 'conversation.item.create',
    item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
  };
}

async function converse(rt, log, record) {
  record.sessionCreated = (await log.next('session.created')).session;
  rt.send({
    type: 'session.update',
    session: {
      type: 'realtime',
      output_modalities: ['text'],
      instructions: 'Answer briefly.',
      tools: [TOOL],
    },
  });
  record.sessionUpdated = (await log.next('session.updated')).session;

  // A text turn.
  rt.send(userMessage('Hello over TLS'));
  rt.send({ type: 'response.create' });
  record.textResponse = (await log.next('response.done')).response;

  // A tool turn: the model calls the tool, the client answers, the model uses the answer.
  rt.send(userMessage(QUESTION));
  rt.send({ type: 'response.create' });
  const call = (await log.next('response.done')).response;
  record.toolCallResponse = call;
  const fn = call.output.find((item) => item.type === 'function_call');
  if (!fn) throw new Error(`no function_call in ${JSON.stringify(call.output)}`);
  rt.send({
    type: 'conversation.item.create',
    item: { type: 'function_call_output', call_id: fn.call_id, output: TOOL_OUTPUT },
  });
  rt.send({ type: 'response.create' });
  record.finalResponse = (await log.next('response.done')).response;
}

async function main() {
  const args = parseArgs();
  const client = new OpenAI({ apiKey: args['api-key'], baseURL: args['base-url'] });
  const Realtime = args.client === 'ws' ? OpenAIRealtimeWS : OpenAIRealtimeWebSocket;
  const record = {};
  const clientEvents = [];
  let rt;
  let log;
  let output;
  try {
    rt = new Realtime({ model: 'gpt-realtime' }, client);
    const send = rt.send.bind(rt);
    rt.send = (event) => {
      clientEvents.push(event);
      send(event);
    };
    log = new EventLog(rt);
    await converse(rt, log, record);
    output = { ok: log.errors.length === 0, error: log.errors.join('; ') || undefined };
  } catch (error) {
    output = { ok: false, error: `${error.name}: ${error.message}` };
  } finally {
    try {
      rt?.close();
    } catch (error) {
      if (output) output.closeError = String(error);
    }
  }
  Object.assign(output, {
    url: rt?.url?.toString(),
    result: record,
    serverEvents: log ? log.events : [],
    clientEvents,
  });
  process.stdout.write(`${JSON.stringify(output)}\n`);
  process.exit(output.ok ? 0 : 1);
}

main();
