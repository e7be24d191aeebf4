// The WebRTC transport, as in OpenAI's browser quickstart: one RTCPeerConnection with the
// microphone on an audio track, the assistant's voice on the server's audio track (played by an
// <audio> element), and the same JSON events as the WebSocket on the `oai-events` data channel.
// The SDP offer is posted to `/v1/realtime/calls` with the key as a bearer token; the reply is
// the SDP answer (201, `Location: /v1/realtime/calls/{call_id}`).
//
// What differs from the WebSocket, for the page: the browser sends and plays the audio, so
// there is no `input_audio_buffer.append` and no `response.output_audio.delta`; the server reports
// its playback with `output_audio_buffer.started` / `stopped` / `cleared`, truncates an
// interrupted reply to what it played itself, and stops playback on `output_audio_buffer.clear`.
//
// Same interface as transport-websocket.js (see there), plus:
//   connect(key, microphone)  // microphone: a MediaStream, or null to only listen
//   setMicrophoneLive(live)   // push-to-talk: the track carries the microphone only while held
//   callId, pc                // the call's id, and the peer connection (devtools, tests)

const EVENTS_CHANNEL = "oai-events";
// ICE gathering is waited for (so the offer carries the browser's candidates) at most this long:
// the server also learns the browser's address from its connectivity checks, so an offer without
// candidates still connects wherever the browser can reach the server.
const GATHER_TIMEOUT_MS = 1000;
const OFFER_TIMEOUT_MS = 15000; // the POST of the offer

export class WebRTCTransport {
  constructor({ onEvent, onClose, log, speaker }) {
    this.kind = "webrtc";
    this.label = "WebRTC";
    this.onEvent = onEvent;
    this.onClose = onClose;
    this.log = log;
    this.speaker = speaker; // the <audio> element that plays the server's track
    this.pc = null;
    this.channel = null;
    this.sender = null; // the RTCRtpSender of our audio track
    this.micTrack = null;
    this.live = true; // whether the track carries the microphone (see setMicrophoneLive)
    this.callId = null;
    this.closed = false;
  }

  async connect(key, microphone) {
    const pc = new RTCPeerConnection();
    this.pc = pc;
    pc.ontrack = (event) => {
      this.speaker.srcObject = event.streams[0] || new MediaStream([event.track]);
      // Autoplay is allowed: the page got a click (Connect) before this.
      this.speaker.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") this.ended("the WebRTC connection failed");
    };

    // Our audio: the microphone, or nothing (we still receive the server's audio).
    this.micTrack = microphone ? microphone.getAudioTracks()[0] : null;
    const transceiver = pc.addTransceiver(this.micTrack || "audio", {
      direction: this.micTrack ? "sendrecv" : "recvonly",
      streams: microphone ? [microphone] : [],
    });
    this.sender = transceiver.sender;
    if (this.micTrack && !this.live) await this.sender.replaceTrack(null);

    const channel = pc.createDataChannel(EVENTS_CHANNEL);
    this.channel = channel;
    channel.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        this.log({ type: "console.unparsable_message", data: String(message.data) });
        return;
      }
      this.onEvent(event);
    };
    // The server closes the channel when it ends the call (after an `error` event saying why,
    // when there is a why).
    channel.onclose = () => this.ended("the call ended");

    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc, GATHER_TIMEOUT_MS);
    if (this.closed) return;

    let reply;
    try {
      reply = await fetch(new URL("v1/realtime/calls", document.baseURI), {
        method: "POST",
        body: pc.localDescription.sdp,
        headers: {
          "Content-Type": "application/sdp",
          ...(key ? { Authorization: `Bearer ${key}` } : {}),
        },
        signal: AbortSignal.timeout(OFFER_TIMEOUT_MS),
      });
    } catch (error) {
      throw Object.assign(new Error(`The call could not be placed: ${error.message}`), {
        code: "call_failed",
      });
    }
    if (reply.status !== 201) {
      // The server's refusals are the API's JSON errors (401 invalid_api_key, 429, ...).
      const body = await reply.json().catch(() => ({}));
      const error = body.error || {};
      this.log({ type: "console.call_refused", status: reply.status, error });
      throw Object.assign(new Error(error.message || `HTTP ${reply.status}`), {
        code: error.code || `http_${reply.status}`,
        server: true, // an API error: shown like an `error` event
      });
    }
    const answer = await reply.text();
    this.callId = (reply.headers.get("Location") || "").split("/").pop() || null;
    this.log({ type: "console.call_created", call_id: this.callId });
    if (this.closed) return;
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
  }

  /**
   * Push-to-talk: send the microphone only while `live` (nothing at all otherwise). May be called
   * before connect(), to start with the microphone off.
   */
  async setMicrophoneLive(live) {
    this.live = live;
    if (!this.sender || !this.micTrack || this.closed) return;
    // No track means no RTP: with turn detection off the server would otherwise append every
    // idle second to the input buffer.
    await this.sender.replaceTrack(live ? this.micTrack : null);
  }

  send(event) {
    if (!this.channel || this.channel.readyState !== "open") return false;
    this.channel.send(JSON.stringify(event));
    return true;
  }

  /** The call ended without the page asking: report it once. */
  ended(reason) {
    if (this.closed) return;
    this.log({ type: "console.closed", call_id: this.callId, reason });
    this.close();
    this.onClose({ code: "call_ended", reason });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.channel) this.channel.onmessage = this.channel.onclose = null;
    if (this.pc) {
      this.pc.ontrack = this.pc.onconnectionstatechange = null;
      this.pc.close(); // the server sees the DTLS close and ends the call
    }
    this.speaker.srcObject = null;
  }
}

/** Resolve when the peer connection has gathered its ICE candidates, or after `timeoutMs`. */
function iceGathered(pc, timeoutMs) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}
