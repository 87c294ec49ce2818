import { describe, expect, it } from 'vitest';
import { audioTestMode, microphoneConstraints, rtcIceServers, storeDevice, storedDevice, testIceTransportPolicy } from './settings';

describe('audio settings', () => {
  it('asks for the browser defaults in the product, raw audio in the test mode', () => {
    expect(microphoneConstraints('', true)).toBe(true);
    expect(microphoneConstraints('mic-2', true)).toEqual({ deviceId: { exact: 'mic-2' } });
    expect(microphoneConstraints('', false)).toEqual({ echoCancellation: false, noiseSuppression: false, autoGainControl: false });
    expect(microphoneConstraints('mic-2', false)).toEqual({
      echoCancellation: false,
      noiseSuppression: false,
      autoGainControl: false,
      deviceId: { exact: 'mic-2' },
    });
  });
  it('is in the test mode only with ?audio-test', () => {
    expect(audioTestMode('')).toBe(false);
    expect(audioTestMode('?audio-test=1')).toBe(true);
    expect(audioTestMode('?x=1&audio-test')).toBe(true);
    expect(audioTestMode('?audio-test=0')).toBe(false);
    expect(audioTestMode('?audio-test=false')).toBe(false);
  });
  it('uses relay candidates only with ?ice-transport-policy=relay in the test mode', () => {
    expect(testIceTransportPolicy('')).toBeUndefined();
    expect(testIceTransportPolicy('?audio-test=1')).toBeUndefined();
    expect(testIceTransportPolicy('?audio-test=1&ice-transport-policy=relay')).toBe('relay');
    expect(testIceTransportPolicy('?ice-transport-policy=relay&audio-test')).toBe('relay');
    // Not in the product, and nothing but 'relay'.
    expect(testIceTransportPolicy('?ice-transport-policy=relay')).toBeUndefined();
    expect(testIceTransportPolicy('?audio-test=0&ice-transport-policy=relay')).toBeUndefined();
    expect(testIceTransportPolicy('?audio-test=1&ice-transport-policy=all')).toBeUndefined();
    expect(testIceTransportPolicy('?audio-test=1&ice-transport-policy=bogus')).toBeUndefined();
  });
  it('hands the server’s ICE servers to RTCPeerConnection without nulls', () => {
    expect(
      rtcIceServers([
        { urls: ['stun:s:3478'], username: null, credential: null },
        { urls: ['turn:t:3478?transport=udp'], username: 'u', credential: 'p' },
      ]),
    ).toEqual([{ urls: ['stun:s:3478'] }, { urls: ['turn:t:3478?transport=udp'], username: 'u', credential: 'p' }]);
  });
  it('keeps the chosen devices', () => {
    storeDevice('input', 'mic-2');
    expect(storedDevice('input')).toBe('mic-2');
    storeDevice('input', '');
    expect(storedDevice('input')).toBe('');
    expect(storedDevice('output')).toBe('');
  });
});
