// Text turn: a user message through session.sendMessage(), a text-only reply.
import { runScenario, waitFor, waitForServerEvent } from './harness.mjs';

await runScenario(
  {
    agentOptions: { instructions: 'Answer briefly.' },
    sessionOptions: { config: { outputModalities: ['text'] } },
  },
  async (session, record) => {
    record.sessionUpdated = (await waitForServerEvent(session, 'session.updated')).session;
    const agentEnd = waitFor(session, 'agent_end');
    const done = waitForServerEvent(session, 'response.done');
    session.sendMessage('Hello from Node');
    record.responseDone = (await done).response;
    const [, , output] = await agentEnd;
    record.agentEndOutput = output;
  },
);
