// How the desktop asks for the microphone, and the two settings it keeps: the chosen devices
// (localStorage) and the audio test mode (the URL).
import type { IceServer } from '../state/protocol';

/**
 * The audio test mode, `?audio-test=1` in the desktop's URL (for the end-to-end audio test):
 * the microphone is asked for without the browser's echo cancellation, noise suppression and
 * automatic gain control (they would bend a test tone), and `window.__switchboardAudio` exposes
 * the call's remote stream, inbound statistics and selected ICE pair. Off in the product.
 */
export function audioTestMode(search: string = typeof location !== 'undefined' ? location.search : ''): boolean {
  const v = new URLSearchParams(search).get('audio-test');
  return v !== null && v !== '0' && v !== 'false';
}

/**
 * In the audio test mode only, `&ice-transport-policy=relay` has the connection use TURN relay
 * candidates only (the end-to-end TURN test forces its calls through coturn with it). Otherwise
 * undefined: the browser's default ('all'), as in the product.
 */
export function testIceTransportPolicy(search: string = typeof location !== 'undefined' ? location.search : ''): RTCIceTransportPolicy | undefined {
  if (!audioTestMode(search)) return undefined;
  return new URLSearchParams(search).get('ice-transport-policy') === 'relay' ? 'relay' : undefined;
}

/**
 * getUserMedia's audio constraints: the browser's defaults (voice processing on) in the product,
 * raw audio in the test mode; a chosen device exactly ('' is the system default).
 */
export function microphoneConstraints(deviceId: string, processing: boolean): MediaTrackConstraints | true {
  const c: MediaTrackConstraints = {};
  if (!processing) {
    c.echoCancellation = false;
    c.noiseSuppression = false;
    c.autoGainControl = false;
  }
  if (deviceId) c.deviceId = { exact: deviceId };
  return Object.keys(c).length === 0 ? true : c;
}

/** The server's STUN/TURN list as RTCPeerConnection takes it. */
export function rtcIceServers(servers: IceServer[]): RTCIceServer[] {
  return servers.map((s) => ({
    urls: s.urls,
    ...(s.username != null ? { username: s.username } : {}),
    ...(s.credential != null ? { credential: s.credential } : {}),
  }));
}

const DEVICE_KEYS = { input: 'switchboard.audio.input', output: 'switchboard.audio.output' } as const;

export function storedDevice(kind: 'input' | 'output'): string {
  try {
    return localStorage.getItem(DEVICE_KEYS[kind]) ?? '';
  } catch {
    return '';
  }
}

export function storeDevice(kind: 'input' | 'output', id: string): void {
  try {
    if (id) localStorage.setItem(DEVICE_KEYS[kind], id);
    else localStorage.removeItem(DEVICE_KEYS[kind]);
  } catch {
    // not kept
  }
}
