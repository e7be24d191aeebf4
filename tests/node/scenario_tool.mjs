// Tool turn: the agent has a `get_weather` function tool (zod parameters). The mock LLM calls a
// tool whose name is in the user's text with {"text": <the text>}; the SDK runs the tool, sends the
// function_call_output and asks for the next response, which the mock answers "Tool result: <O>".
import { tool } from '@openai/agents-realtime';
import { z } from 'zod';
import { runScenario, waitFor, waitForServerEvent } from './harness.mjs';

const calls = [];
const getWeather = tool({
  name: 'get_weather',
  description: 'The weather in a city.',
  parameters: z.object({ text: z.string() }),
  execute: async ({ text }) => {
    calls.push(text);
    return JSON.stringify({ city: 'Paris', temperature_c: 21 });
  },
});

await runScenario(
  {
    agentOptions: { instructions: 'Use tools.', tools: [getWeather] },
    sessionOptions: { config: { outputModalities: ['text'] } },
  },
  async (session, record) => {
    const toolStart = waitFor(session, 'agent_tool_start');
    const toolEnd = waitFor(session, 'agent_tool_end');
    // The second response.done is the answer to the tool's output.
    let responses = 0;
    const finalDone = waitForServerEvent(session, 'response.done', () => ++responses === 2);
    session.sendMessage('What is the weather in Paris? Please use get_weather.');
    const [, , startedTool, { toolCall }] = await toolStart;
    record.toolStarted = { name: startedTool.name, arguments: toolCall.arguments };
    const [, , , result] = await toolEnd;
    record.toolResult = result;
    record.finalResponse = (await finalDone).response;
    record.calls = calls;
  },
);
