// Audio turn with the SDK's default session config (semantic_vad, input transcription, audio out):
// a speech clip is streamed with session.sendAudio() in 100 ms chunks; the server's VAD ends the
// turn, transcribes it (the mock: "audio of N ms") and answers in audio ("You said: ...").
import { readFileSync } from 'node:fs';
import { runScenario, waitFor, waitForServerEvent } from './harness.mjs';

const CLIP = new URL('../fixtures/audio/go_forward_human.wav', import.meta.url);
const CHUNK_BYTES = 4800; // 100 ms of 24 kHz PCM16 mono

/** The PCM samples of a mono 24 kHz 16-bit WAV file (its `data` chunk). */
function wavSamples(path) {
  const file = readFileSync(path);
  let offset = 12;
  while (offset + 8 <= file.length) {
    const id = file.toString('ascii', offset, offset + 4);
    const size = file.readUInt32LE(offset + 4);
    if (id === 'fmt ') {
      const channels = file.readUInt16LE(offset + 10);
      const rate = file.readUInt32LE(offset + 12);
      const bits = file.readUInt16LE(offset + 22);
      if (channels !== 1 || rate !== 24000 || bits !== 16) throw new Error('not 24 kHz mono PCM16');
    }
    if (id === 'data') return file.subarray(offset + 8, offset + 8 + size);
    offset += 8 + size + (size % 2);
  }
  throw new Error('no data chunk');
}

await runScenario({ agentOptions: { instructions: 'Answer briefly.' } }, async (session, record) => {
  record.sessionUpdated = (await waitForServerEvent(session, 'session.updated')).session;
  let sdkAudioBytes = 0;
  session.on('audio', (event) => {
    sdkAudioBytes += event.data.byteLength;
  });
  const started = waitForServerEvent(session, 'input_audio_buffer.speech_started');
  const stopped = waitForServerEvent(session, 'input_audio_buffer.speech_stopped');
  const transcribed = waitForServerEvent(
    session,
    'conversation.item.input_audio_transcription.completed',
  );
  const done = waitForServerEvent(session, 'response.done');
  const audioStopped = waitFor(session, 'audio_stopped');

  const pcm = wavSamples(CLIP);
  for (let start = 0; start < pcm.length; start += CHUNK_BYTES) {
    const chunk = pcm.subarray(start, start + CHUNK_BYTES);
    session.sendAudio(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength));
  }
  record.clipBytes = pcm.length;
  record.speechStarted = await started;
  record.speechStopped = await stopped;
  record.transcript = (await transcribed).transcript;
  record.responseDone = (await done).response;
  await audioStopped;
  record.sdkAudioBytes = sdkAudioBytes;
});
