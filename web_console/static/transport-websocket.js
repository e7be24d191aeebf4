// The WebSocket transport: the Realtime API's JSON events as text frames on `/v1/realtime`.
//
// Over a WebSocket the page moves the audio itself: it streams the microphone as
// `input_audio_buffer.append` events and plays the `response.output_audio.delta` events it
// receives (audio.js), so this module only carries events.
//
// Both transports have the same shape, which is all app.js knows of them:
//
//   const transport = new WebSocketTransport({ onEvent, onClose, log });
//   await transport.connect(key);  // set up; `session.created` then arrives through onEvent
//   transport.send(event);         // false when it cannot be sent (not open)
//   transport.close();             // by the page: onClose is not called
//
// onEvent(event) gets each parsed server event, onClose({code, reason}) is called once when the
// connection ends without the page asking (`reason` a short lowercase phrase for the error
// line, null for a normal close), log(event) records a page-local event in the event log.

const CLOSE_REASONS = {
  1001: "the server is going away",
  1006: "the connection was lost or refused",
  1008: "refused by the server's policy (origin not allowed?)",
  1011: "the server hit an internal error",
  1012: "the server is restarting",
  1013: "the server is at its session limit; try again later",
  3000: "authentication failed",
  4000: "invalid request",
};

export class WebSocketTransport {
  constructor({ onEvent, onClose, log }) {
    this.kind = "websocket";
    this.label = "WebSocket";
    this.onEvent = onEvent;
    this.onClose = onClose;
    this.log = log;
    this.socket = null;
  }

  /**
   * Open the socket (the handshake goes on in the background: a refused key is answered with an
   * `error` event and a close, like every other refusal). Rejects only when the browser will not
   * even try, e.g. a key with characters a subprotocol cannot carry.
   */
  async connect(key) {
    const url = new URL("v1/realtime", document.baseURI);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    // Browsers cannot set an Authorization header: the key travels as a subprotocol.
    const protocols = ["realtime"];
    if (key) protocols.push(`openai-insecure-api-key.${key}`);
    let socket;
    try {
      socket = new WebSocket(url, protocols);
    } catch (error) {
      throw Object.assign(new Error(`Cannot open the connection: ${error.message}`), {
        code: "invalid_key_format",
      });
    }
    this.socket = socket;
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        this.log({ type: "console.unparsable_frame", data: String(message.data) });
        return;
      }
      this.onEvent(event);
    };
    socket.onclose = (close) => {
      this.log({ type: "console.closed", code: close.code, reason: close.reason });
      this.socket = null;
      const why = close.reason || CLOSE_REASONS[close.code] || "closed by the server";
      this.onClose({
        code: `close_${close.code}`,
        reason: close.code === 1000 ? null : `connection closed: ${why} (code ${close.code})`,
      });
    };
  }

  send(event) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(event));
    return true;
  }

  close() {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onmessage = socket.onclose = null;
    if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) {
      socket.close(1000, "bye");
    }
  }
}
