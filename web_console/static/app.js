// The console page: one Realtime API session over WebRTC or a WebSocket, its audio, and its UI.
//
// Protocol in brief (GA Realtime API): after `session.created` the page sends `session.update`
// with its settings and renders server events: transcripts, streaming assistant text, errors.
// The transports (transport-webrtc.js, transport-websocket.js) carry the same events; they
// differ in who moves the audio:
// - WebRTC (the default where the browser has it): the microphone and the reply travel on audio
//   tracks. The server plays the reply, reports it with `output_audio_buffer.started/stopped/
//   cleared`, and on barge-in truncates the reply to what it played; the page only asks it to
//   stop with `output_audio_buffer.clear`.
// - WebSocket: the page streams the microphone as `input_audio_buffer.append` (24 kHz PCM16
//   base64, ~100 ms per event) and plays the audio deltas gaplessly; barge-in stops playback and
//   tells the server what was heard with `conversation.item.truncate`.

import {
  LevelMeter,
  MicCapture,
  PCM_RATE,
  PcmPlayer,
  arrayBufferToBase64,
  createAudioContext,
  openMicrophone,
} from "./audio.js";
import { WebRTCTransport } from "./transport-webrtc.js";
import { WebSocketTransport } from "./transport-websocket.js";

const $ = (id) => document.getElementById(id);
const els = {
  status: $("status"),
  settingsForm: $("settings-form"),
  connect: $("connect"),
  voice: $("voice"),
  instructions: $("instructions"),
  apiKey: $("api-key"),
  apiKeyHint: $("api-key-hint"),
  webrtcHint: $("webrtc-hint"),
  speaker: $("speaker"),
  stop: $("stop"),
  error: $("error"),
  errorText: $("error-text"),
  errorClose: $("error-close"),
  conversation: $("conversation"),
  meter: $("meter"),
  meterBar: $("meter-bar"),
  talk: $("talk"),
  playback: $("playback"),
  latency: $("latency"),
  textForm: $("text-form"),
  textInput: $("text-input"),
  send: $("send"),
  logPanel: $("log-panel"),
  logCount: $("log-count"),
  logFilter: $("log-filter"),
  logAudio: $("log-audio"),
  logClear: $("log-clear"),
  log: $("log"),
};

const PCM_FORMAT = { type: "audio/pcm", rate: PCM_RATE };
const BYTES_PER_MS = (PCM_RATE * 2) / 1000; // PCM16 mono
const LOG_LIMIT = 500; // events kept in the log (oldest dropped)
const AUDIO_CHUNK_TYPES = new Set(["input_audio_buffer.append", "response.output_audio.delta"]);
// Errors that only mean "that was already over": logged, not shown.
const QUIET_ERROR_CODES = new Set(["response_cancel_not_active"]);
const HAS_WEBRTC = typeof window.RTCPeerConnection === "function";
const CONNECT_TIMEOUT_MS = 20000; // from Connect to `session.created`
// Push-to-talk over WebRTC: after the release, the track keeps sending this long before the
// commit, so the last words (in the browser's capture and encoder, and on the wire) are in it.
const PTT_TAIL_MS = 250;
const SETTINGS_KEY = "realtime-console-settings";
const DEFAULT_INSTRUCTIONS =
  "You are a helpful, friendly voice assistant. Keep your answers short and conversational.";

// The page's state, readable from devtools and by the end-to-end tests (window.consoleState).
const state = {
  transport: HAS_WEBRTC ? "webrtc" : "websocket", // the transport chosen for the next connection
  connected: false, // session.created received and the transport open
  connecting: false,
  call_id: null, // WebRTC: the call's id (rtc_...)
  session_id: null,
  session: null, // the last session object the server reported
  mode: "vad", // "vad" (hands-free) or "ptt" (push-to-talk)
  mic: false, // microphone capture running
  level: 0, // microphone level, 0..1
  ptt_active: false,
  response_active: false,
  playing: false, // assistant audio sounding now (WebRTC: between output_audio_buffer events)
  played_ms: 0, // WebSocket: assistant audio heard in this connection
  received_audio_ms: 0, // WebSocket: assistant audio received in this connection
  sent_audio_ms: 0, // WebSocket: microphone audio sent in this connection
  last_error: null, // {code, message}
  errors: [],
  transcripts: [], // {role: "user"|"assistant", item_id, text, status}
  turns: [], // {response_id, item_id, latency_ms, origin}
  truncations: [], // {item_id, audio_end_ms}: sent by the page (WebSocket), by the server (WebRTC)
  events: { sent: 0, received: 0 },
  log_size: 0,
};
window.consoleState = state;

let transport = null; // the connection: a WebRTCTransport or a WebSocketTransport
let connectTimer = null;
let audioContext = null;
let mic = null; // WebSocket: the MicCapture that streams the microphone as events
let micStream = null; // WebRTC: the microphone's MediaStream (sent on the call's track)
let levelMeter = null; // WebRTC: the microphone's level for the meter
let player = null; // WebSocket: plays the audio deltas
let userClosed = false;
let eventCounter = 0;
let serverConfig = null;
let assistantAudioSeen = false; // the voice cannot change after this
let currentResponseId = null;
const mutedResponses = new Set(); // interrupted responses: their late audio deltas are dropped
const responseItems = new Map(); // response_id -> the item id of its message (WebRTC latency)
const playingResponses = new Set(); // WebRTC: responses between output_audio_buffer.started and
// .stopped/.cleared, i.e. being played on the server's track
const bubbles = new Map(); // item_id -> {el, text, meta, transcript}
// Latency of a turn: from its origin (end of speech, push-to-talk release, message sent) to the
// first audio of the response that answers it (its first delta, or over WebRTC its
// output_audio_buffer.started).
let turnOrigin = null; // {at: performance.now(), label, responseId}
// sentMs: the audio of this press (WebSocket: sent in appends; WebRTC: the time held).
const ptt = { held: false, awaitingFlush: false, sentMs: 0, heldSince: 0 };

// ---- small helpers ----------------------------------------------------------------------------

function setStatus(kind, text) {
  els.status.dataset.state = kind;
  els.status.textContent = text;
}

function showError(code, message) {
  state.last_error = { code: code || null, message };
  state.errors.push(state.last_error);
  els.errorText.textContent = code ? `${message} (${code})` : message;
  els.error.hidden = false;
}

function clearError() {
  state.last_error = null;
  els.error.hidden = true;
}

function modeLabel() {
  const mode = state.mode === "vad" ? "hands-free" : "push-to-talk";
  return transport ? `${mode} · ${transport.label}` : mode;
}

/** True on a WebRTC connection (the server plays the audio). */
function overWebRTC() {
  return transport !== null && transport.kind === "webrtc";
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

// ---- sending ----------------------------------------------------------------------------------

/** Send a client event (with an event_id, echoed by the server in errors it causes). */
function send(event) {
  const full = { event_id: `evt_console_${++eventCounter}`, ...event };
  if (!transport || !transport.send(full)) return false;
  state.events.sent += 1;
  logEvent("out", full);
  return true;
}

/** The session settings from the form, as a GA session object for session.update. */
function sessionConfig() {
  return {
    type: "realtime",
    instructions: els.instructions.value.trim(),
    output_modalities: ["audio"],
    audio: {
      input: {
        format: PCM_FORMAT,
        transcription: { model: "whisper-1" }, // the user's words appear in the conversation
        turn_detection:
          state.mode === "vad"
            ? { type: "server_vad", create_response: true, interrupt_response: true }
            : null, // push-to-talk: the page commits and asks for responses itself
      },
      output: { format: PCM_FORMAT, voice: els.voice.value },
    },
  };
}

// ---- connecting -------------------------------------------------------------------------------

async function loadServerConfig() {
  try {
    const reply = await fetch("console/config", { cache: "no-store" });
    if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
    serverConfig = await reply.json();
  } catch (error) {
    serverConfig = null;
    els.apiKeyHint.textContent =
      `Could not ask the server about authentication (${error.message}).`;
    return null;
  }
  if (!serverConfig.auth_required) {
    els.apiKeyHint.textContent = "Not needed: this server has no API keys configured.";
  } else if (serverConfig.client_secrets) {
    els.apiKeyHint.textContent =
      "Optional: left empty, the server mints a one-time client secret for this page.";
  } else {
    els.apiKeyHint.textContent =
      "Required: this server needs an API key or an ek_ client secret.";
    els.apiKeyHint.closest("details").open = true;
  }
  return serverConfig;
}

/**
 * The key to present when the key field is empty: an ek_ client secret minted by the server
 * when it wants one and offers one, else none (the server then answers with its own error).
 */
async function keyFromServer() {
  const config = (await loadServerConfig()) || {};
  if (!config.auth_required || !config.client_secrets) return "";
  const reply = await fetch("console/session", { method: "POST", cache: "no-store" });
  const body = await reply.json().catch(() => ({}));
  if (!reply.ok) {
    const error = body.error || {};
    throw Object.assign(new Error(error.message || `HTTP ${reply.status}`), { code: error.code });
  }
  logEvent("local", {
    type: "console.client_secret",
    value: `${body.value.slice(0, 6)}… (elided)`,
    expires_at: body.expires_at,
  });
  return body.value;
}

async function connect() {
  if (transport || state.connecting) return;
  userClosed = false;
  clearError();
  state.connecting = true;
  updateControls();
  setStatus("connecting", "Connecting…");
  // Created inside the click: browsers only let a page start audio after a user gesture.
  if (!audioContext) audioContext = createAudioContext();
  audioContext.resume().catch(() => {});
  const kind = state.transport === "webrtc" && HAS_WEBRTC ? "webrtc" : "websocket";
  const callbacks = {
    onEvent: (event) => onServerEvent(connection, event),
    onClose: (close) => onTransportClosed(connection, close),
    log: (event) => logEvent("local", event),
  };
  const connection =
    kind === "webrtc"
      ? new WebRTCTransport({ ...callbacks, speaker: els.speaker })
      : new WebSocketTransport(callbacks);
  transport = connection;
  clearTimeout(connectTimer);
  connectTimer = setTimeout(() => {
    if (transport !== connection || state.connected) return;
    showError("connect_timeout", `No session after ${CONNECT_TIMEOUT_MS / 1000} s: giving up.`);
    teardown();
  }, CONNECT_TIMEOUT_MS);

  // WebRTC sends the microphone on the call's track, so it is asked for first (and the client
  // secret minted after the permission prompt, which may take the user a while).
  const microphone = kind === "webrtc" ? await openCallMicrophone() : null;
  if (transport !== connection) {
    microphone?.getTracks().forEach((track) => track.stop()); // disconnected meanwhile
    return;
  }
  micStream = microphone; // stopped by teardown from here on
  let key = els.apiKey.value.trim();
  try {
    if (!key) key = await keyFromServer();
  } catch (error) {
    if (transport !== connection) return;
    const code = error.code || "client_secret_failed";
    showError(code, `Could not get a client secret: ${error.message}`);
    teardown();
    return;
  }
  if (transport !== connection) return;
  if (kind === "webrtc") {
    if (microphone) startLevelMeter(microphone);
    // Push-to-talk: the track carries the microphone only while the button is held.
    connection.setMicrophoneLive(state.mode === "vad");
  }
  try {
    await connection.connect(key, microphone);
  } catch (error) {
    if (transport !== connection) return;
    if (error.server) onServerError({ code: error.code, message: error.message });
    else showError(error.code || "connect_failed", error.message);
    teardown();
    return;
  }
  if (transport !== connection) return;
  if (kind === "webrtc") state.call_id = connection.callId;
  else startMicrophone(); // in parallel with the handshake
}

function disconnect() {
  userClosed = true;
  teardown();
}

/** A server event from the current transport (a late one from an old transport is ignored). */
function onServerEvent(connection, event) {
  if (connection !== transport) return;
  state.events.received += 1;
  logEvent("in", event);
  handleServerEvent(event);
}

/** The transport ended without the page asking (the server closed it, or it was lost). */
function onTransportClosed(connection, { code, reason }) {
  if (connection !== transport) return;
  if (reason) {
    if (state.last_error) {
      // The server usually explains itself with an error event first: keep it, add the close.
      showError(state.last_error.code, `${state.last_error.message} — ${reason}`);
    } else {
      showError(code, reason.charAt(0).toUpperCase() + reason.slice(1));
    }
  }
  teardown();
}

/** Back to the disconnected state: transport, microphone and playback all stopped. */
function teardown() {
  const wasConnected = state.connected;
  clearTimeout(connectTimer);
  if (transport) transport.close();
  transport = null;
  if (mic) mic.stop();
  mic = null;
  if (levelMeter) levelMeter.stop();
  levelMeter = null;
  if (micStream) micStream.getTracks().forEach((track) => track.stop());
  micStream = null;
  if (player) player.stop();
  player = null;
  Object.assign(state, {
    connected: false,
    connecting: false,
    call_id: null,
    mic: false,
    level: 0,
    ptt_active: false,
    response_active: false,
    playing: false,
  });
  ptt.held = ptt.awaitingFlush = false;
  turnOrigin = null;
  playingResponses.clear();
  responseItems.clear();
  setMeter(0);
  if (!state.last_error || userClosed) setStatus("idle", "Disconnected");
  else setStatus("error", wasConnected ? "Disconnected (error)" : "Could not connect");
  updateControls();
}

function microphoneRefused(error) {
  showError(
    "microphone_unavailable",
    `Microphone unavailable (${error.name || error.message}): you can still type messages.`,
  );
}

/** WebRTC: the microphone for the call's track, or null (refused: the call only listens). */
async function openCallMicrophone() {
  if (!navigator.mediaDevices) {
    showError(
      "no_microphone",
      "This browser cannot capture audio here (it needs https or localhost).",
    );
    return null;
  }
  try {
    return await openMicrophone();
  } catch (error) {
    microphoneRefused(error);
    return null;
  }
}

/** WebRTC: the browser sends the track itself; the meter reads the stream on the side. */
function startLevelMeter(stream) {
  levelMeter = new LevelMeter(audioContext, stream, showLevel);
  state.mic = true;
  updateControls();
}

/** WebSocket: capture the microphone with the worklet, to send it as append events. */
async function startMicrophone() {
  if (!navigator.mediaDevices || !window.AudioWorkletNode) {
    showError(
      "no_microphone",
      "This browser cannot capture audio here (it needs https or localhost).",
    );
    return;
  }
  const capture = new MicCapture(audioContext, onMicChunk);
  const connection = transport;
  try {
    await capture.start();
  } catch (error) {
    capture.stop();
    if (transport === connection) microphoneRefused(error);
    return;
  }
  if (transport !== connection) {
    capture.stop(); // disconnected while the permission prompt was open
    return;
  }
  mic = capture;
  state.mic = true;
  updateControls();
}

// ---- microphone -------------------------------------------------------------------------------

function setMeter(level) {
  state.level = level;
  els.meterBar.style.transform = `scaleX(${level})`;
  const percent = Math.round(level * 100);
  if (Math.abs(percent - Number(els.meter.getAttribute("aria-valuenow"))) >= 5) {
    els.meter.setAttribute("aria-valuenow", String(percent));
  }
}

/** The microphone's RMS level on the meter: -60 dBFS .. 0 dBFS. */
function showLevel(rms) {
  const db = 20 * Math.log10(Math.max(rms, 1e-6));
  setMeter(Math.min(1, Math.max(0, (db + 60) / 60)));
}

/** WebSocket: one ~100 ms chunk from the capture worklet: meter, then (maybe) send it. */
function onMicChunk({ pcm, rms, flushed }) {
  showLevel(rms);
  const streaming = state.mode === "vad" || ptt.held || ptt.awaitingFlush;
  if (state.connected && streaming && pcm.byteLength > 0) {
    send({ type: "input_audio_buffer.append", audio: arrayBufferToBase64(pcm) });
    state.sent_audio_ms += pcm.byteLength / BYTES_PER_MS;
    if (state.mode === "ptt") ptt.sentMs += pcm.byteLength / BYTES_PER_MS;
  }
  if (flushed && ptt.awaitingFlush) {
    ptt.awaitingFlush = false;
    finishPushToTalk();
  }
}

// ---- push-to-talk -----------------------------------------------------------------------------

function pttDown() {
  if (!state.connected || state.mode !== "ptt" || ptt.held || ptt.awaitingFlush) return;
  if (!state.mic) {
    showError("no_microphone", "No microphone: push-to-talk needs one. Type a message instead.");
    return;
  }
  ptt.held = true;
  ptt.sentMs = 0;
  ptt.heldSince = performance.now();
  state.ptt_active = true;
  interrupt("local");
  send({ type: "input_audio_buffer.clear" });
  if (overWebRTC()) transport.setMicrophoneLive(true);
  els.talk.setAttribute("aria-pressed", "true");
  els.talk.textContent = "Listening… release to send";
}

function pttUp() {
  if (!ptt.held) return;
  ptt.held = false;
  state.ptt_active = false;
  els.talk.setAttribute("aria-pressed", "false");
  els.talk.textContent = "Hold to talk";
  ptt.awaitingFlush = true;
  if (overWebRTC()) {
    // The words spoken just before the release are still on their way on the track: keep it
    // on a moment longer, then commit.
    ptt.sentMs = performance.now() - ptt.heldSince;
    const connection = transport;
    setTimeout(() => {
      if (transport !== connection || !ptt.awaitingFlush) return;
      ptt.awaitingFlush = false;
      connection.setMicrophoneLive(state.mode === "vad" || ptt.held);
      finishPushToTalk();
    }, PTT_TAIL_MS);
    return;
  }
  // Collect the partly filled chunk first, so the commit includes every word.
  if (!mic || !mic.flush()) {
    ptt.awaitingFlush = false;
    finishPushToTalk();
    return;
  }
  setTimeout(() => {
    // The worklet always answers; this only guards against a suspended audio context.
    if (ptt.awaitingFlush) {
      ptt.awaitingFlush = false;
      finishPushToTalk();
    }
  }, 500);
}

function finishPushToTalk() {
  if (!state.connected) return;
  if (ptt.sentMs < 100) {
    // The server rejects commits under 100 ms (input_audio_buffer_commit_empty).
    send({ type: "input_audio_buffer.clear" });
    showError("too_short", "Hold to talk a little longer: at least 0.1 s of audio is needed.");
    return;
  }
  send({ type: "input_audio_buffer.commit" });
  send({ type: "response.create" });
  turnOrigin = { at: performance.now(), label: "release" };
}

/** Space is push-to-talk, except where it types or toggles something (fields, summaries). */
function spaceIsPushToTalk(event) {
  if (event.code !== "Space" || !state.connected || state.mode !== "ptt") return false;
  const target = event.target;
  return !(target.closest && target.closest("input, textarea, select, summary, [contenteditable]"));
}

// ---- barge-in ---------------------------------------------------------------------------------

/**
 * Stop the assistant at once. `reason` is "speech" (server VAD heard the user: the server cancels
 * the response itself) or "local" (push-to-talk press, a typed message, the Stop button: the page
 * cancels it). Over a WebSocket the page stops its playback and tells the server how much of the
 * item was actually heard; over WebRTC the server plays the audio, so it stops it and truncates
 * the item to what it played (speech: by itself; local: on output_audio_buffer.clear, which also
 * cancels the response).
 */
function interrupt(reason) {
  if (overWebRTC()) {
    if (reason === "local" && (state.playing || state.response_active)) {
      send({ type: "output_audio_buffer.clear" });
    }
    return;
  }
  if (state.response_active && currentResponseId) {
    mutedResponses.add(currentResponseId);
    if (reason === "local") send({ type: "response.cancel" });
  }
  if (!player) return;
  const cut = player.stop();
  if (cut && cut.playedMs < cut.receivedMs) {
    send({
      type: "conversation.item.truncate",
      item_id: cut.itemId,
      content_index: cut.contentIndex,
      audio_end_ms: cut.playedMs,
    });
    state.truncations.push({ item_id: cut.itemId, audio_end_ms: cut.playedMs });
    const bubble = bubbles.get(cut.itemId);
    if (bubble) {
      bubble.el.classList.add("interrupted");
      addMeta(bubble, `interrupted after ${seconds(cut.playedMs)}`);
    }
  }
  updatePlayback();
}

// ---- conversation bubbles ---------------------------------------------------------------------

function transcriptEntry(itemId, role) {
  let entry = state.transcripts.find((t) => t.item_id === itemId);
  if (!entry) {
    entry = { role, item_id: itemId, text: "", status: "in_progress" };
    state.transcripts.push(entry);
  }
  return entry;
}

/** The bubble of an item, created at the end of the conversation if new. */
function bubble(itemId, role) {
  let existing = bubbles.get(itemId);
  if (existing) return existing;
  els.conversation.querySelector(".empty")?.remove();
  const el = document.createElement("div");
  el.className = `bubble ${role}`;
  el.dataset.itemId = itemId;
  const who = document.createElement("p");
  who.className = "who";
  who.textContent = { user: "You", assistant: "Assistant", tool: "Tool" }[role] || role;
  const text = document.createElement("p");
  text.className = "text";
  const meta = document.createElement("p");
  meta.className = "meta";
  el.append(who, text, meta);
  const nearBottom =
    els.conversation.scrollHeight - els.conversation.scrollTop - els.conversation.clientHeight < 80;
  els.conversation.append(el);
  if (nearBottom) els.conversation.scrollTop = els.conversation.scrollHeight;
  existing = { el, text, meta, metaParts: [], transcript: transcriptEntry(itemId, role) };
  if (role === "tool") existing.transcript.role = "tool";
  bubbles.set(itemId, existing);
  return existing;
}

function setText(b, text, status) {
  b.text.textContent = text;
  b.transcript.text = text;
  if (status) b.transcript.status = status;
  b.el.classList.toggle("pending", status === "pending");
  els.conversation.scrollTop = els.conversation.scrollHeight;
}

function appendText(b, delta) {
  setText(b, b.transcript.text + delta);
}

/** Notes under a bubble ("first audio after 240 ms", "interrupted after 1.2 s"). */
function addMeta(b, note) {
  b.metaParts.push(note);
  b.meta.textContent = b.metaParts.join(" · ");
}

function setPending(b, note) {
  b.el.classList.add("pending");
  b.meta.textContent = [...b.metaParts, note].join(" · ");
}

function onItemAdded(item) {
  if (item.type === "message") {
    const b = bubble(item.id, item.role === "user" ? "user" : "assistant");
    const typed = (item.content || []).find((part) => part.type === "input_text");
    if (typed) setText(b, typed.text, "completed");
    else if (item.role === "user" && !b.transcript.text) setPending(b, "transcribing…");
  } else if (item.type === "function_call") {
    const b = bubble(item.id, "tool");
    setText(b, `${item.name}(${item.arguments || ""})`);
  } else if (item.type === "function_call_output") {
    setText(bubble(item.id, "tool"), `→ ${item.output}`, "completed");
  }
}

// ---- server events ----------------------------------------------------------------------------

function handleServerEvent(event) {
  switch (event.type) {
    case "session.created":
      state.connected = true;
      state.connecting = false;
      state.session_id = event.session.id;
      state.sent_audio_ms = state.received_audio_ms = state.played_ms = 0;
      state.session = event.session;
      clearTimeout(connectTimer);
      if (!overWebRTC()) {
        player = new PcmPlayer(audioContext);
        player.onIdle = updatePlayback;
      }
      send({ type: "session.update", session: sessionConfig() });
      setStatus("connected", `Connected · ${modeLabel()}`);
      updateControls();
      break;
    case "session.updated":
      state.session = event.session;
      setStatus("connected", `Connected · ${modeLabel()}`);
      break;
    case "error":
      onServerError(event.error || {});
      break;
    case "input_audio_buffer.speech_started": {
      interrupt("speech");
      const b = bubble(event.item_id, "user");
      setPending(b, "listening…");
      break;
    }
    case "input_audio_buffer.speech_stopped":
      turnOrigin = { at: performance.now(), label: "end of speech" };
      setPending(bubble(event.item_id, "user"), "transcribing…");
      break;
    case "conversation.item.added":
      onItemAdded(event.item);
      break;
    case "conversation.item.input_audio_transcription.delta":
      appendText(bubble(event.item_id, "user"), event.delta || "");
      break;
    case "conversation.item.input_audio_transcription.completed": {
      const b = bubble(event.item_id, "user");
      setText(b, event.transcript, "completed");
      b.meta.textContent = b.metaParts.join(" · ");
      break;
    }
    case "conversation.item.input_audio_transcription.failed": {
      const b = bubble(event.item_id, "user");
      setText(b, "(transcription failed)", "failed");
      b.meta.textContent = event.error?.message || "";
      break;
    }
    case "response.created":
      state.response_active = true;
      currentResponseId = event.response.id;
      // The first response created after a turn's origin is the one that answers it.
      if (turnOrigin && !turnOrigin.responseId) turnOrigin.responseId = event.response.id;
      break;
    case "response.output_audio_transcript.delta":
    case "response.output_text.delta":
      appendText(bubble(event.item_id, "assistant"), event.delta || "");
      break;
    case "response.output_audio_transcript.done":
      setText(bubble(event.item_id, "assistant"), event.transcript, "completed");
      break;
    case "response.output_text.done":
      setText(bubble(event.item_id, "assistant"), event.text, "completed");
      break;
    case "response.function_call_arguments.done":
      setText(bubble(event.item_id, "tool"), `${event.name}(${event.arguments})`, "completed");
      break;
    case "response.output_item.added":
      if (event.item?.type === "message") responseItems.set(event.response_id, event.item.id);
      break;
    case "response.output_audio.delta": // WebSocket only
      onAudioDelta(event);
      break;
    // WebRTC only: the server's track plays the reply, and says when.
    case "output_audio_buffer.started":
      playingResponses.add(event.response_id);
      assistantAudioSeen = true;
      noteFirstAudio(event.response_id, responseItems.get(event.response_id));
      updatePlayback();
      break;
    case "output_audio_buffer.stopped":
    case "output_audio_buffer.cleared":
      playingResponses.delete(event.response_id);
      responseItems.delete(event.response_id);
      updatePlayback();
      break;
    case "response.done":
      onResponseDone(event.response);
      break;
    case "conversation.item.truncated": {
      // Over WebRTC the server cut the reply (barge-in, output_audio_buffer.clear) to what it
      // had played; over a WebSocket this confirms the page's own truncate.
      const b = bubbles.get(event.item_id);
      if (b) b.el.classList.add("interrupted");
      if (overWebRTC()) {
        state.truncations.push({ item_id: event.item_id, audio_end_ms: event.audio_end_ms });
        if (b) {
          b.metaParts = b.metaParts.filter((part) => part !== "interrupted");
          addMeta(b, `interrupted after ${seconds(event.audio_end_ms)}`);
        }
      }
      break;
    }
    default:
      break; // everything else is only logged
  }
}

function onServerError(error) {
  if (QUIET_ERROR_CODES.has(error.code)) return;
  let message = error.message || "Unknown error";
  if (error.code === "invalid_api_key") {
    message += " Check the key under Authentication.";
  }
  showError(error.code, message);
}

/** The first audio of a response: the latency of the turn it answers, if one is being timed. */
function noteFirstAudio(responseId, itemId) {
  if (!turnOrigin || (turnOrigin.responseId && turnOrigin.responseId !== responseId)) return;
  const latency = Math.round(performance.now() - turnOrigin.at);
  state.turns.push({
    response_id: responseId,
    item_id: itemId || null,
    latency_ms: latency,
    origin: turnOrigin.label,
  });
  const note = `first audio ${latency} ms after ${turnOrigin.label}`;
  if (itemId) addMeta(bubble(itemId, "assistant"), note);
  els.latency.textContent = `Last turn: ${latency} ms (${turnOrigin.label} → first audio)`;
  turnOrigin = null;
}

/** WebSocket: a delta of the reply's audio, queued for gapless playback. */
function onAudioDelta(event) {
  if (mutedResponses.has(event.response_id) || !player) return; // interrupted: drop
  noteFirstAudio(event.response_id, event.item_id);
  assistantAudioSeen = true;
  player.enqueue(event.item_id, event.content_index || 0, event.delta);
  state.received_audio_ms += (event.delta.length * 3) / 4 / BYTES_PER_MS;
  updatePlayback();
}

function onResponseDone(response) {
  if (response.id === currentResponseId) state.response_active = false;
  // A reply without audio (text only, failed, cancelled) ends its turn's latency measurement.
  if (turnOrigin && turnOrigin.responseId === response.id) turnOrigin = null;
  mutedResponses.delete(response.id);
  const details = response.status_details || {};
  if (response.status === "failed") {
    const error = details.error || {};
    showError(error.code || "response_failed", `The response failed: ${error.message || "?"}`);
  }
  for (const item of response.output || []) {
    const b = bubbles.get(item.id);
    if (!b) continue;
    if (response.status === "cancelled") {
      b.el.classList.add("interrupted");
      if (!b.metaParts.some((part) => part.startsWith("interrupted"))) addMeta(b, "interrupted");
    }
    b.el.classList.remove("pending");
  }
}

// ---- playback state ---------------------------------------------------------------------------

function updatePlayback() {
  if (player) {
    player.prune();
    state.playing = player.playing;
    state.played_ms = Math.round(player.totalPlayedMs());
  } else {
    state.playing = playingResponses.size > 0; // WebRTC (empty when disconnected)
  }
  els.playback.dataset.playing = String(state.playing);
  els.playback.textContent = state.playing ? "Assistant speaking…" : "Speaker idle";
  els.stop.disabled = !(state.connected && (state.playing || state.response_active));
}

setInterval(updatePlayback, 100);

// ---- event log --------------------------------------------------------------------------------

const logEntries = []; // {dir, type, time, text, row}

/** JSON of an event with base64 audio replaced by its size (the log stays readable and small). */
function elidedJson(event) {
  return JSON.stringify(
    event,
    (key, value) => {
      const isAudio =
        key === "audio" || (key === "delta" && event.type === "response.output_audio.delta");
      if (isAudio && typeof value === "string" && value.length > 32) {
        return `<${Math.floor((value.length * 3) / 4)} bytes of base64 audio elided>`;
      }
      return value;
    },
    2,
  );
}

function logVisible(entry) {
  if (!els.logAudio.checked && AUDIO_CHUNK_TYPES.has(entry.type)) return false;
  const filter = els.logFilter.value.trim().toLowerCase();
  return !filter || entry.type.toLowerCase().includes(filter);
}

function logRow(entry) {
  const row = document.createElement("li");
  row.className = `log-entry ${entry.dir}${entry.type === "error" ? " is-error" : ""}`;
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  const time = document.createElement("time");
  time.textContent = entry.time.toISOString().slice(11, 23);
  const dir = document.createElement("span");
  dir.className = "dir";
  dir.textContent = { in: "↓ server", out: "↑ client", local: "· page" }[entry.dir];
  const type = document.createElement("code");
  type.textContent = entry.type;
  summary.append(time, dir, type);
  const body = document.createElement("pre");
  body.textContent = entry.text;
  details.append(summary, body);
  row.append(details);
  return row;
}

function logEvent(dir, event) {
  const entry = {
    dir,
    type: String(event.type || "(no type)"),
    time: new Date(),
    text: elidedJson(event),
    row: null,
  };
  logEntries.push(entry);
  if (logEntries.length > LOG_LIMIT) logEntries.shift().row?.remove();
  state.log_size = logEntries.length;
  if (logVisible(entry)) {
    const list = els.log;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    entry.row = logRow(entry);
    list.append(entry.row);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
  updateLogCount();
}

function updateLogCount() {
  const shown = els.log.childElementCount;
  els.logCount.textContent =
    shown === logEntries.length
      ? `${logEntries.length} events`
      : `${shown} of ${logEntries.length} events shown`;
}

function rebuildLog() {
  els.log.replaceChildren();
  for (const entry of logEntries) {
    entry.row = logVisible(entry) ? logRow(entry) : null;
    if (entry.row) els.log.append(entry.row);
  }
  els.log.scrollTop = els.log.scrollHeight;
  updateLogCount();
}

// ---- controls ---------------------------------------------------------------------------------

function updateControls() {
  const busy = state.connecting && !state.connected;
  els.connect.textContent = state.connected ? "Disconnect" : busy ? "Connecting…" : "Connect";
  els.connect.classList.toggle("primary", !state.connected);
  els.connect.disabled = busy;
  els.connect.setAttribute("aria-busy", String(busy));
  els.textInput.disabled = els.send.disabled = !state.connected;
  els.talk.disabled = !(state.connected && state.mode === "ptt" && state.mic);
  els.talk.hidden = state.mode !== "ptt";
  els.meter.parentElement.classList.toggle("live", state.mic);
  // The transport is chosen before connecting.
  for (const radio of document.querySelectorAll('input[name="transport"]')) {
    radio.disabled = Boolean(transport) || (radio.value === "webrtc" && !HAS_WEBRTC);
  }
}

function saveSettings() {
  const settings = {
    transport: state.transport,
    mode: state.mode,
    voice: els.voice.value,
    instructions: els.instructions.value,
  };
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    // storage disabled: settings just do not persist
  }
}

function loadSettings() {
  let settings = {};
  try {
    settings = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}");
  } catch {
    settings = {};
  }
  if (settings.mode === "vad" || settings.mode === "ptt") state.mode = settings.mode;
  document.querySelector(`input[name="mode"][value="${state.mode}"]`).checked = true;
  if (settings.transport === "websocket" || (settings.transport === "webrtc" && HAS_WEBRTC)) {
    state.transport = settings.transport;
  }
  document.querySelector(`input[name="transport"][value="${state.transport}"]`).checked = true;
  els.webrtcHint.hidden = HAS_WEBRTC;
  if (settings.voice) els.voice.value = settings.voice;
  els.instructions.value =
    typeof settings.instructions === "string" ? settings.instructions : DEFAULT_INSTRUCTIONS;
}

els.settingsForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (state.connected || transport) disconnect();
  else connect();
});

for (const radio of document.querySelectorAll('input[name="transport"]')) {
  radio.addEventListener("change", () => {
    state.transport = radio.value;
    saveSettings();
  });
}

for (const radio of document.querySelectorAll('input[name="mode"]')) {
  radio.addEventListener("change", () => {
    state.mode = radio.value;
    saveSettings();
    updateControls();
    if (overWebRTC() && !ptt.held) transport.setMicrophoneLive(state.mode === "vad");
    if (!state.connected) return;
    if (state.mode === "ptt") send({ type: "input_audio_buffer.clear" });
    send({
      type: "session.update",
      session: {
        type: "realtime",
        audio: { input: { turn_detection: sessionConfig().audio.input.turn_detection } },
      },
    });
  });
}

els.voice.addEventListener("change", () => {
  saveSettings();
  if (!state.connected) return;
  if (assistantAudioSeen) {
    showError(
      "cannot_update_voice",
      "The voice cannot change once the assistant has spoken; it applies from the next connection.",
    );
    return;
  }
  send({
    type: "session.update",
    session: { type: "realtime", audio: { output: { voice: els.voice.value } } },
  });
});

els.instructions.addEventListener("change", () => {
  saveSettings();
  if (state.connected) {
    send({
      type: "session.update",
      session: { type: "realtime", instructions: els.instructions.value.trim() },
    });
  }
});

els.textForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = els.textInput.value.trim();
  if (!text || !state.connected) return;
  interrupt("local");
  send({
    type: "conversation.item.create",
    item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
  });
  send({ type: "response.create" });
  turnOrigin = { at: performance.now(), label: "message sent" };
  els.textInput.value = "";
});

els.errorClose.addEventListener("click", clearError);
els.stop.addEventListener("click", () => interrupt("local"));

// Push-to-talk with the pointer (mouse, touch, pen): held while pressed.
els.talk.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  els.talk.setPointerCapture(event.pointerId);
  pttDown();
});
for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
  els.talk.addEventListener(type, pttUp);
}
els.talk.addEventListener("contextmenu", (event) => event.preventDefault()); // phone long-press

// ... and with the Space key.
document.addEventListener("keydown", (event) => {
  if (!spaceIsPushToTalk(event)) return;
  event.preventDefault(); // no page scroll, no button click
  if (!event.repeat) pttDown();
});
document.addEventListener("keyup", (event) => {
  if (event.code === "Space" && ptt.held) {
    event.preventDefault();
    pttUp();
  }
});
window.addEventListener("blur", pttUp); // never leave the microphone "held"

els.logFilter.addEventListener("input", rebuildLog);
els.logAudio.addEventListener("change", rebuildLog);
els.logClear.addEventListener("click", () => {
  logEntries.length = 0;
  state.log_size = 0;
  rebuildLog();
});

window.addEventListener("pagehide", () => {
  if (transport) disconnect();
});

// The current transport (its `pc` and `callId` over WebRTC), for devtools and tests.
Object.defineProperty(window, "consoleTransport", { get: () => transport });

loadSettings();
updateControls();
updatePlayback();
loadServerConfig();
