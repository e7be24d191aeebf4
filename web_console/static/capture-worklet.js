// AudioWorklet processor: microphone samples -> 24 kHz PCM16 chunks of ~100 ms.
//
// Runs on the audio rendering thread. It receives 128-frame float blocks at the AudioContext's
// rate (`sampleRate`, a global in the worklet scope), resamples them to the target rate by linear
// interpolation (after a short box low-pass when downsampling, so 48 kHz input does not alias),
// converts to signed 16-bit and posts each full chunk to the main thread as a transferred
// ArrayBuffer, together with the chunk's RMS level (0..1) for the level meter.
//
// The main thread can post "flush" to get the partly filled chunk at once (push-to-talk release).

class PcmCaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.targetRate = opts.targetRate || 24000;
    this.chunkSamples = Math.round((this.targetRate * (opts.chunkMs || 100)) / 1000);
    // Input samples per output sample (2 for a 48 kHz context, 1 for a 24 kHz one).
    this.step = sampleRate / this.targetRate;
    // Box low-pass width in input samples; 1 = no filtering (same rate or upsampling).
    this.boxWidth = Math.max(1, Math.round(this.step));
    this.boxHistory = new Float32Array(this.boxWidth);
    this.boxIndex = 0;
    this.boxSum = 0;
    // Read position, in input samples relative to the start of the current block; -1 means
    // "the last sample of the previous block", kept in `prev` to interpolate across blocks.
    this.pos = 0;
    this.prev = 0;
    this.chunk = new Int16Array(this.chunkSamples);
    this.filled = 0;
    this.sumSquares = 0;
    this.filtered = new Float32Array(128);
    this.port.onmessage = (event) => {
      if (event.data === "flush") this.post(true);
    };
  }

  // Post the current chunk (possibly partial when flushing) and start a new one.
  post(flushed) {
    const samples = this.chunk.slice(0, this.filled);
    const rms = this.filled ? Math.sqrt(this.sumSquares / this.filled) : 0;
    this.port.postMessage({ pcm: samples.buffer, rms, flushed }, [samples.buffer]);
    this.filled = 0;
    this.sumSquares = 0;
  }

  push(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    this.chunk[this.filled++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    this.sumSquares += clamped * clamped;
    if (this.filled === this.chunkSamples) this.post(false);
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true; // nothing connected (yet)
    const n = input[0].length;
    if (this.filtered.length !== n) this.filtered = new Float32Array(n);
    const x = this.filtered;
    for (let i = 0; i < n; i++) {
      // Down-mix to mono (a mic is usually mono already).
      let sample = 0;
      for (let c = 0; c < input.length; c++) sample += input[c][i];
      sample /= input.length;
      if (this.boxWidth > 1) {
        // Running mean over the last `boxWidth` samples.
        this.boxSum += sample - this.boxHistory[this.boxIndex];
        this.boxHistory[this.boxIndex] = sample;
        this.boxIndex = (this.boxIndex + 1) % this.boxWidth;
        sample = this.boxSum / this.boxWidth;
      }
      x[i] = sample;
    }
    while (this.pos < n - 1) {
      const i = Math.floor(this.pos);
      const frac = this.pos - i;
      const a = i < 0 ? this.prev : x[i];
      const b = x[i + 1];
      this.push(a + (b - a) * frac);
      this.pos += this.step;
    }
    this.pos -= n;
    this.prev = x[n - 1];
    return true;
  }
}

registerProcessor("pcm-capture", PcmCaptureProcessor);
