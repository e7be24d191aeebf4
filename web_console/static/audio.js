// Audio for the console: the microphone, and for the WebSocket transport its capture
// (AudioWorklet -> 24 kHz PCM16 chunks) and gapless playback of the server's 24 kHz PCM16 deltas,
// with exact accounting of what was heard (for `conversation.item.truncate` on barge-in).
// Over WebRTC the browser sends and plays the audio itself; only `openMicrophone` and the
// `LevelMeter` are used there.

export const PCM_RATE = 24000;

/** Create the page's AudioContext; 24 kHz when the browser allows it (no resampling at all). */
export function createAudioContext() {
  const Context = window.AudioContext || window.webkitAudioContext;
  try {
    return new Context({ sampleRate: PCM_RATE, latencyHint: "interactive" });
  } catch {
    return new Context({ latencyHint: "interactive" });
  }
}

// ---- base64 <-> PCM16 -------------------------------------------------------------------------

/** Base64 of the bytes of an ArrayBuffer (done in slices: String.fromCharCode has arg limits). */
export function arrayBufferToBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Base64 PCM16 little-endian -> Float32 samples in -1..1. */
export function base64ToFloat32(b64) {
  const binary = atob(b64);
  const count = binary.length >> 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let value = binary.charCodeAt(2 * i) | (binary.charCodeAt(2 * i + 1) << 8);
    if (value >= 0x8000) value -= 0x10000; // sign of a 16-bit sample
    out[i] = value / 0x8000;
  }
  return out;
}

// ---- microphone -------------------------------------------------------------------------------

/** Ask for the microphone (the permission prompt). Rejects when refused or absent. */
export function openMicrophone() {
  return navigator.mediaDevices.getUserMedia({
    audio: {
      channelCount: 1,
      // The browser's echo canceller keeps the assistant's voice out of the microphone, so
      // server VAD does not take it for the user barging in.
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
    },
  });
}

/**
 * The level of a microphone stream, for the meter when nothing else reads the samples (WebRTC:
 * the browser encodes the track itself). `onLevel(rms)` is called every `intervalMs`.
 */
export class LevelMeter {
  constructor(ctx, stream, onLevel, intervalMs = 100) {
    this.source = ctx.createMediaStreamSource(stream);
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 2048; // ~43 ms of samples at 48 kHz per reading
    this.source.connect(this.analyser);
    const samples = new Float32Array(this.analyser.fftSize);
    this.timer = setInterval(() => {
      this.analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      onLevel(Math.sqrt(sum / samples.length));
    }, intervalMs);
  }

  stop() {
    clearInterval(this.timer);
    this.source.disconnect();
  }
}

/**
 * The microphone through the `pcm-capture` worklet. `onChunk({pcm, rms, flushed})` receives each
 * ~100 ms chunk of 24 kHz PCM16 (an ArrayBuffer) with its RMS level.
 */
export class MicCapture {
  constructor(ctx, onChunk) {
    this.ctx = ctx;
    this.onChunk = onChunk;
    this.stream = null;
    this.source = null;
    this.node = null;
  }

  async start() {
    this.stream = await openMicrophone();
    await this.ctx.audioWorklet.addModule(new URL("./capture-worklet.js", import.meta.url));
    this.source = this.ctx.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.ctx, "pcm-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      processorOptions: { targetRate: PCM_RATE, chunkMs: 100 },
    });
    this.node.port.onmessage = (event) => this.onChunk(event.data);
    this.source.connect(this.node);
  }

  /** Ask for the partly filled chunk now (it arrives through onChunk with flushed = true). */
  flush() {
    if (this.node) this.node.port.postMessage("flush");
    return Boolean(this.node);
  }

  stop() {
    if (this.source) this.source.disconnect();
    if (this.node) {
      this.node.port.onmessage = null;
      this.node.disconnect();
    }
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    this.stream = this.source = this.node = null;
  }
}

// ---- playback ---------------------------------------------------------------------------------

/**
 * Plays PCM16 deltas back to back: each delta becomes an AudioBufferSourceNode started exactly
 * when the previous one ends (`nextTime`), so there are no gaps or clicks between deltas.
 * Each item's scheduled segments are kept, so `playedMs(item)` is what the listener really heard
 * (time elapsed inside the segments, not the audio received, which runs far ahead).
 */
export class PcmPlayer {
  constructor(ctx) {
    this.ctx = ctx;
    this.output = ctx.createGain();
    this.output.connect(ctx.destination);
    this.sources = new Set();
    this.nextTime = 0;
    // item_id -> {itemId, contentIndex, segments: [{start, duration}], doneMs, receivedMs}, where
    // doneMs is the audio of segments already played out and dropped by prune().
    this.items = new Map();
    this.totalPlayedBefore = 0; // ms heard from items dropped by stop()
    this.onIdle = null;
  }

  /** Queue one base64 PCM16 delta of `itemId` for playback right after what is queued. */
  enqueue(itemId, contentIndex, b64) {
    const samples = base64ToFloat32(b64);
    if (samples.length === 0) return;
    const buffer = this.ctx.createBuffer(1, samples.length, PCM_RATE);
    buffer.copyToChannel(samples, 0);
    const source = this.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.output);
    // A little lead time when starting from silence, so the first buffer is not cut short.
    const start = Math.max(this.nextTime, this.ctx.currentTime + 0.05);
    source.start(start);
    this.nextTime = start + buffer.duration;
    this.sources.add(source);
    source.onended = () => {
      this.sources.delete(source);
      if (this.sources.size === 0 && this.onIdle) this.onIdle();
    };
    let item = this.items.get(itemId);
    if (!item) {
      item = { itemId, contentIndex, segments: [], doneMs: 0, receivedMs: 0 };
      this.items.set(itemId, item);
    }
    item.segments.push({ start, duration: buffer.duration });
    item.receivedMs += (samples.length * 1000) / PCM_RATE;
  }

  /** True while queued audio is still sounding. */
  get playing() {
    return this.sources.size > 0 && this.ctx.currentTime < this.nextTime;
  }

  /** Milliseconds of `item` heard so far. */
  playedMs(item) {
    const now = this.ctx.currentTime;
    let seconds = 0;
    for (const { start, duration } of item.segments) {
      seconds += Math.min(Math.max(now - start, 0), duration);
    }
    return item.doneMs + seconds * 1000;
  }

  /** Milliseconds heard in this connection, all items together. */
  totalPlayedMs() {
    let total = this.totalPlayedBefore;
    for (const item of this.items.values()) total += this.playedMs(item);
    return total;
  }

  /** The item being heard right now, or the next one to be heard (null if all played out). */
  currentItem() {
    for (const item of this.items.values()) {
      if (this.playedMs(item) < item.receivedMs - 0.5) return item;
    }
    return null;
  }

  /**
   * Stop at once (barge-in). Returns what was cut: `{itemId, contentIndex, playedMs,
   * receivedMs}` for the item being heard, or null if nothing was left to play.
   */
  stop() {
    const item = this.currentItem();
    const cut = item
      ? {
          itemId: item.itemId,
          contentIndex: item.contentIndex,
          playedMs: Math.floor(this.playedMs(item)),
          receivedMs: item.receivedMs,
        }
      : null;
    // Record what was heard before dropping the schedule.
    this.totalPlayedBefore = this.totalPlayedMs();
    for (const source of this.sources) {
      source.onended = null;
      try {
        source.stop();
      } catch {
        // never started: nothing to stop
      }
    }
    this.sources.clear();
    this.items.clear();
    this.nextTime = 0;
    if (this.onIdle) this.onIdle();
    return cut;
  }

  /** Fold segments that have played out into their item's doneMs (keeps the bookkeeping small). */
  prune() {
    const now = this.ctx.currentTime;
    for (const item of this.items.values()) {
      while (item.segments.length && now >= item.segments[0].start + item.segments[0].duration) {
        item.doneMs += item.segments.shift().duration * 1000;
      }
    }
  }
}
