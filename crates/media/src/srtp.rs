//! SRTP for the forwarding shortcut: the engine's own protection of a connected peer's RTP.
//!
//! str0m does everything until a peer's DTLS handshake is done (ICE, DTLS, the first RTP
//! packets, RTCP throughout). From then on the engine opens that peer's RTP and seals what it
//! sends it here, instead of handing every packet through str0m's receive path, its send queue
//! and a full timeout. Three pieces:
//!
//! - **The key tap** ([`tapped_rtc`]): str0m's DTLS provider, wrapped so that the keying
//!   material DTLS exports (RFC 5764 §4.2) is also put into the peer's [`KeySlot`]. The `Rtc`
//!   is built with the tapped provider; nothing else about its DTLS changes.
//! - **The contexts** ([`Sealer`], [`Opener`]): RFC 3711's key derivation and RFC 7714's
//!   AEAD-AES-GCM on RTP, with the cipher primitives of str0m's crypto provider (aws-lc). Only
//!   the GCM profiles take the shortcut; a peer that negotiated AES-CM with HMAC-SHA1 stays on
//!   str0m's path throughout.
//! - **RTP headers**: the fields routing needs, read from a packet ([`Opened`]), and the header
//!   of a packet the engine sends ([`Outgoing`]) with its MID and audio-level extensions.
//!
//! The sequence numbers the engine gives str0m's `write_rtp` and those it seals with are one
//! numbering (the receiver's `OutStream` in the engine), so both paths can write to one
//! stream and its SRTP index (rollover counter and sequence number) never repeats.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
    SrtpProfile,
};
use str0m::crypto::{
    AeadAes128Gcm, AeadAes128GcmCipher, AeadAes256Gcm, AeadAes256GcmCipher, CryptoError,
    CryptoProvider, SrtpProvider,
};
use str0m::media::{Frequency, Mid};
use str0m::rtp::RtpPacket;
use str0m::{Rtc, RtcConfig};

/// The authentication tag of both GCM profiles (RFC 7714 §14).
pub const TAG_LEN: usize = 16;
/// The session salt of both GCM profiles (RFC 7714 §12).
const SALT_LEN: usize = 12;
/// How far behind the highest packet received an older one may be and still be taken once
/// (RFC 3711 §3.3.2's replay list; 64 packets is 1.28 s of 20 ms frames).
pub const REPLAY_WINDOW: u64 = 64;
/// RFC 3711 §4.3.1's key derivation labels.
const LABEL_RTP_ENCRYPTION: u8 = 0;
const LABEL_RTP_SALT: u8 = 2;

// ---------------------------------------------------------------------------------------------
// The key tap
// ---------------------------------------------------------------------------------------------

/// Where a peer's DTLS instance leaves the SRTP keying material it exported. Shared by the
/// instance (inside the peer's `Rtc`) and the engine; written once per handshake.
#[derive(Default)]
pub struct KeySlot(Mutex<Option<Keys>>);

impl fmt::Debug for KeySlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySlot")
    }
}

impl KeySlot {
    /// The keys of the last handshake, if there was one.
    pub fn get(&self) -> Option<Keys> {
        self.0.lock().ok().and_then(|k| k.clone())
    }

    fn put(&self, keys: Keys) {
        if let Ok(mut k) = self.0.lock() {
            *k = Some(keys);
        }
    }
}

/// What DTLS exported: the profile, the material (both sides' master keys, then both sides'
/// master salts) and whether this side was the DTLS client (whose half it sends with).
#[derive(Clone)]
pub struct Keys {
    pub profile: SrtpProfile,
    material: Vec<u8>,
    pub client: bool,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the material itself.
        f.debug_struct("Keys")
            .field("profile", &self.profile)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// The slot the next DTLS instance built on this thread reports to (set by [`tapped_rtc`]
    /// around `RtcConfig::build`, which creates the instance).
    static NEXT_SLOT: RefCell<Option<Arc<KeySlot>>> = const { RefCell::new(None) };
}

/// str0m's default DTLS provider, with every instance built through [`tapped_rtc`] reporting
/// its keys.
#[derive(Debug)]
struct KeyTap {
    inner: &'static dyn DtlsProvider,
}

impl DtlsProvider for KeyTap {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        self.inner.generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let inner = self.inner.new_dtls(cert, now, dtls_version, mtu)?;
        Ok(match NEXT_SLOT.with(|s| s.borrow_mut().take()) {
            Some(slot) => Box::new(Tapped { inner, slot }),
            None => inner,
        })
    }

    fn is_test(&self) -> bool {
        self.inner.is_test()
    }
}

/// One DTLS instance, passing everything through and copying the exported keys to its slot.
#[derive(Debug)]
struct Tapped {
    inner: Box<dyn DtlsInstance>,
    slot: Arc<KeySlot>,
}

impl DtlsInstance for Tapped {
    fn set_active(&mut self, active: bool) {
        self.inner.set_active(active);
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.inner.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        let out = self.inner.poll_output(buf);
        if let DtlsOutput::KeyingMaterial(material, profile) = &out {
            self.slot.put(Keys {
                profile: *profile,
                material: material.to_vec(),
                client: self.inner.is_active(),
            });
        }
        out
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.inner.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.inner.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.inner.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.inner.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.inner.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.inner.close()
    }
}

/// str0m's default crypto provider with the key tap in place of its DTLS provider.
pub fn tapped_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    static TAP: OnceLock<KeyTap> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let base = str0m::crypto::from_feature_flags();
            let tap = TAP.get_or_init(|| KeyTap {
                inner: base.dtls_provider,
            });
            Arc::new(CryptoProvider {
                dtls_provider: tap,
                ..base
            })
        })
        .clone()
}

/// The SRTP primitives of the tapped provider (str0m's default ones).
pub fn provider() -> &'static dyn SrtpProvider {
    tapped_provider().srtp_provider
}

/// Builds an `Rtc` from `config` with the tapped provider, and the slot its keys will be in
/// once its DTLS handshake is done.
pub fn tapped_rtc(config: RtcConfig, now: Instant) -> (Rtc, Arc<KeySlot>) {
    let slot = Arc::new(KeySlot::default());
    NEXT_SLOT.with(|s| *s.borrow_mut() = Some(slot.clone()));
    let rtc = config.set_crypto_provider(tapped_provider()).build(now);
    // Taken by the instance; cleared in any case so that no later instance reports here.
    NEXT_SLOT.with(|s| s.borrow_mut().take());
    (rtc, slot)
}

// ---------------------------------------------------------------------------------------------
// Key derivation and the AEAD
// ---------------------------------------------------------------------------------------------

/// RFC 3711 §4.3.3's AES-CM PRF with a key derivation rate of 0: the session key or salt of
/// `label` from a master key (16 or 32 bytes) and master salt (at most 14 bytes).
pub fn derive(
    provider: &dyn SrtpProvider,
    master: &[u8],
    master_salt: &[u8],
    label: u8,
    out: &mut [u8],
) {
    let mut x = [0u8; 16];
    let n = master_salt.len().min(14);
    x[..n].copy_from_slice(&master_salt[..n]);
    x[7] ^= label;
    let mut block = [0u8; 32];
    for (round, chunk) in out.chunks_mut(16).enumerate() {
        x[14..].copy_from_slice(&(round as u16).to_be_bytes());
        if master.len() == 32 {
            provider.srtp_aes_256_ecb_round(master, &x, &mut block);
        } else {
            provider.srtp_aes_128_ecb_round(master, &x, &mut block);
        }
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

enum Aead {
    Aes128(Box<dyn AeadAes128GcmCipher>),
    Aes256(Box<dyn AeadAes256GcmCipher>),
}

/// One direction's RTP session key and salt.
struct Session {
    salt: [u8; SALT_LEN],
    aead: Aead,
}

impl Session {
    /// The session of one side (`client`'s half of the material) for sealing or opening;
    /// `None` for a profile the shortcut does not take.
    fn new(provider: &dyn SrtpProvider, keys: &Keys, client: bool, seal: bool) -> Option<Session> {
        let key_len = match keys.profile {
            SrtpProfile::AEAD_AES_128_GCM => AeadAes128Gcm::KEY_LEN,
            SrtpProfile::AEAD_AES_256_GCM => AeadAes256Gcm::KEY_LEN,
            _ => return None,
        };
        let m = &keys.material;
        if m.len() != 2 * (key_len + SALT_LEN) {
            return None;
        }
        let (key_at, salt_at) = if client {
            (0, 2 * key_len)
        } else {
            (key_len, 2 * key_len + SALT_LEN)
        };
        let master = &m[key_at..key_at + key_len];
        let master_salt = &m[salt_at..salt_at + SALT_LEN];
        let mut salt = [0u8; SALT_LEN];
        derive(provider, master, master_salt, LABEL_RTP_SALT, &mut salt);
        let aead = if key_len == AeadAes256Gcm::KEY_LEN {
            let mut k = [0u8; AeadAes256Gcm::KEY_LEN];
            derive(provider, master, master_salt, LABEL_RTP_ENCRYPTION, &mut k);
            Aead::Aes256(provider.aead_aes_256_gcm().create_cipher(k, seal))
        } else {
            let mut k = [0u8; AeadAes128Gcm::KEY_LEN];
            derive(provider, master, master_salt, LABEL_RTP_ENCRYPTION, &mut k);
            Aead::Aes128(provider.aead_aes_128_gcm().create_cipher(k, seal))
        };
        Some(Session { salt, aead })
    }

    #[cfg(test)]
    fn from_session_key(
        provider: &dyn SrtpProvider,
        key: [u8; 16],
        salt: [u8; 12],
    ) -> [Session; 2] {
        let c = provider.aead_aes_128_gcm();
        [true, false].map(|seal| Session {
            salt,
            aead: Aead::Aes128(c.create_cipher(key, seal)),
        })
    }

    /// RFC 7714 §8.1: the IV of the packet with this SSRC and SRTP index.
    fn iv(&self, ssrc: u32, index: u64) -> [u8; 12] {
        let roc = (index >> 16) as u32;
        let seq = index as u16;
        match self.aead {
            Aead::Aes128(_) => AeadAes128Gcm::rtp_iv(self.salt, ssrc, roc, seq),
            Aead::Aes256(_) => AeadAes256Gcm::rtp_iv(self.salt, ssrc, roc, seq),
        }
    }

    fn seal(&mut self, iv: &[u8; 12], aad: &[u8], plain: &[u8], out: &mut [u8]) -> bool {
        match &mut self.aead {
            Aead::Aes128(c) => c.encrypt(iv, aad, plain, out).is_ok(),
            Aead::Aes256(c) => c.encrypt(iv, aad, plain, out).is_ok(),
        }
    }

    /// `sealed` holds at least the tag (checked by the caller).
    fn open(&mut self, iv: &[u8; 12], aad: &[u8], sealed: &[u8], out: &mut [u8]) -> bool {
        match &mut self.aead {
            Aead::Aes128(c) => c.decrypt(iv, &[aad], sealed, out).is_ok(),
            Aead::Aes256(c) => c.decrypt(iv, &[aad], sealed, out).is_ok(),
        }
    }
}

/// The sealing and opening sessions of one side of a handshake, from its exported keys; `None`
/// for a profile the shortcut does not take (AES-CM with HMAC-SHA1) or malformed material.
fn sessions(keys: &Keys) -> Option<(Sealer, Opener)> {
    let seal = Session::new(provider(), keys, keys.client, true)?;
    let open = Session::new(provider(), keys, !keys.client, false)?;
    Some((Sealer { session: seal }, Opener::new(open)))
}

/// What taking over a connected peer's RTP from str0m found ([`take_over`]).
pub enum TakeOver {
    /// DTLS has exported no keys yet, or the peer has no sending stream on its MID yet.
    NotYet,
    /// The handshake chose a profile the shortcut does not take: str0m keeps the media.
    Declined(SrtpProfile),
    Ready(Direct),
}

/// A peer's own SRTP: what it seals its stream on `mid` with, and opens its packets with.
pub struct Direct {
    pub sealer: Sealer,
    pub opener: Opener,
    /// The SSRC of the stream `rtc` sends on the MID.
    pub ssrc: u32,
    /// The profile the handshake chose.
    pub profile: SrtpProfile,
}

/// Sets up the shortcut for the `Rtc` built by [`tapped_rtc`] with `slot`, sending on `mid`.
pub fn take_over(slot: &KeySlot, rtc: &mut Rtc, mid: Mid) -> TakeOver {
    let Some(keys) = slot.get() else {
        return TakeOver::NotYet;
    };
    let Some(ssrc) = rtc
        .direct_api()
        .stream_tx_by_mid(mid, None)
        .map(|tx| *tx.ssrc())
    else {
        return TakeOver::NotYet;
    };
    match sessions(&keys) {
        Some((sealer, opener)) => TakeOver::Ready(Direct {
            sealer,
            opener,
            ssrc,
            profile: keys.profile,
        }),
        None => TakeOver::Declined(keys.profile),
    }
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

/// The header of one packet the engine sends: its numbers in the receiver's stream, and the
/// header extensions the receiver negotiated (one-byte form, RFC 8285).
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub pt: u8,
    pub marker: bool,
    /// Extended sequence number: the SRTP index.
    pub seq: u64,
    pub ts: u32,
    pub ssrc: u32,
    /// The MID extension's id and value.
    pub mid: Option<(u8, &'a [u8])>,
    /// The audio-level extension's id, level (0 to -127 dBov) and voice activity.
    pub audio_level: Option<(u8, i8, bool)>,
}

/// Whether an extension id and value fit RFC 8285's one-byte form.
pub fn one_byte_extension(id: u8, len: usize) -> bool {
    (1..=14).contains(&id) && (1..=16).contains(&len)
}

impl Outgoing<'_> {
    /// Writes the header into `out` (cleared first) and returns its length. An extension that
    /// does not fit the one-byte form is left out.
    fn write(&self, out: &mut Vec<u8>) -> usize {
        out.clear();
        let mid = self
            .mid
            .filter(|(id, value)| one_byte_extension(*id, value.len()));
        let audio_level = self
            .audio_level
            .filter(|(id, _, _)| one_byte_extension(*id, 1));
        let has_ext = mid.is_some() || audio_level.is_some();
        out.push(0x80 | if has_ext { 0x10 } else { 0 });
        out.push(self.pt & 0x7f | if self.marker { 0x80 } else { 0 });
        out.extend_from_slice(&(self.seq as u16).to_be_bytes());
        out.extend_from_slice(&self.ts.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        if has_ext {
            out.extend_from_slice(&[0xbe, 0xde, 0, 0]);
            let start = out.len();
            if let Some((id, level, voice)) = audio_level {
                out.push(id << 4);
                out.push(if voice { 0x80 } else { 0 } | (level.unsigned_abs() & 0x7f));
            }
            if let Some((id, value)) = mid {
                // One to sixteen bytes (checked above): the length field is the length - 1.
                out.push(id << 4 | (value.len() - 1) as u8);
                out.extend_from_slice(value);
            }
            while !(out.len() - start).is_multiple_of(4) {
                out.push(0);
            }
            let words = ((out.len() - start) / 4) as u16;
            out[start - 2..start].copy_from_slice(&words.to_be_bytes());
        }
        out.len()
    }
}

/// Seals RTP for one peer.
pub struct Sealer {
    session: Session,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer")
    }
}

impl Sealer {
    /// One SRTP packet: `header`, then `payload` encrypted, then the tag. Extensions of
    /// `header` that do not fit the one-byte form ([`one_byte_extension`]) are left out.
    /// Returns `None` only when the cipher fails.
    pub fn seal(&mut self, header: &Outgoing<'_>, payload: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(12 + 12 + payload.len() + TAG_LEN);
        let hlen = header.write(&mut out);
        out.resize(hlen + payload.len() + TAG_LEN, 0);
        let iv = self.session.iv(header.ssrc, header.seq);
        let (head, body) = out.split_at_mut(hlen);
        self.session.seal(&iv, head, payload, body).then_some(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Receiving
// ---------------------------------------------------------------------------------------------

/// Why a datagram was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not RTP (STUN, DTLS, RTCP, anything else): str0m's to handle.
    NotRtp,
    /// RTP of a stream the shortcut does not know yet: str0m's to handle.
    OtherStream,
    /// Too short for its header, or a header that runs past the end.
    Malformed,
    /// Its SRTP index was taken already.
    Replayed,
    /// More than [`REPLAY_WINDOW`] packets behind the newest.
    TooOld,
    /// The tag does not match: forged, corrupted, or sealed with other keys.
    Unauthentic,
}

impl Refused {
    /// Whether str0m should have the datagram instead.
    pub fn is_for_str0m(self) -> bool {
        matches!(self, Refused::NotRtp | Refused::OtherStream)
    }
}

/// An RTP packet opened: what routing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub pt: u8,
    /// Extended sequence number (the SRTP index).
    pub seq: u64,
    /// Extended timestamp.
    pub ts: u64,
    pub ssrc: u32,
    pub audio_level: Option<i8>,
    pub voice_activity: Option<bool>,
    pub payload: Vec<u8>,
}

/// The stream the shortcut opens: the SSRC adopted from str0m, the highest index received, the
/// replay list below it and the last extended timestamp.
#[derive(Debug, Clone, Copy)]
struct Inbound {
    ssrc: u32,
    highest: u64,
    /// Bit `i`: index `highest - i` was received.
    seen: u64,
    ts: u64,
}

/// Opens one peer's SRTP.
pub struct Opener {
    session: Session,
    stream: Option<Inbound>,
    /// The negotiated audio-level extension id, to read it from packets.
    audio_level_id: Option<u8>,
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

/// Whether `data` is RTP rather than RTCP or anything else (RFC 7983 and RFC 5761 §4: RTP and
/// RTCP start with 128 to 191; RTCP's packet types 192 to 223 sit where RTP's marker bit and
/// payload type are).
pub fn is_rtp(data: &[u8]) -> bool {
    data.len() >= 12 && (128..192).contains(&data[0]) && !(192..224).contains(&data[1])
}

/// The header's length, or `None` when it runs past `data` (RFC 3550 §5.1, RFC 8285).
fn header_len(data: &[u8]) -> Option<usize> {
    let cc = usize::from(data[0] & 0x0f);
    let mut len = 12 + 4 * cc;
    if data[0] & 0x10 != 0 {
        let words = data.get(len + 2..len + 4)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    (len <= data.len()).then_some(len)
}

/// The value of extension `id` in a header of `hlen` bytes, one-byte or two-byte form.
fn extension(data: &[u8], hlen: usize, id: u8) -> Option<&[u8]> {
    if data[0] & 0x10 == 0 {
        return None;
    }
    let at = 12 + 4 * usize::from(data[0] & 0x0f);
    let profile = u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]);
    let mut i = at + 4;
    let two_byte = profile & 0xfff0 == 0x1000;
    if profile != 0xbede && !two_byte {
        return None;
    }
    while i < hlen {
        let b = data[i];
        if b == 0 {
            i += 1;
            continue;
        }
        let (this, len, value_at) = if two_byte {
            (b, usize::from(*data.get(i + 1)?), i + 2)
        } else {
            if b >> 4 == 15 {
                return None;
            }
            (b >> 4, usize::from(b & 0x0f) + 1, i + 1)
        };
        let value = data
            .get(value_at..value_at + len)
            .filter(|_| value_at + len <= hlen)?;
        if this == id {
            return Some(value);
        }
        i = value_at + len;
    }
    None
}

impl Opener {
    fn new(session: Session) -> Opener {
        Opener {
            session,
            stream: None,
            audio_level_id: None,
        }
    }

    /// The negotiated audio-level extension id (from the answer), if any.
    pub fn set_audio_level_id(&mut self, id: Option<u8>) {
        self.audio_level_id = id;
    }

    /// The SSRC the shortcut opens, if it adopted one.
    pub fn ssrc(&self) -> Option<u32> {
        self.stream.map(|s| s.ssrc)
    }

    /// Takes over the stream `ssrc` after str0m delivered its packet of extended sequence
    /// number `seq` and extended timestamp `ts`: later packets are numbered from these.
    pub fn adopt(&mut self, ssrc: u32, seq: u64, ts: u64) {
        match &mut self.stream {
            Some(s) if s.ssrc == ssrc => {}
            _ => {
                self.stream = Some(Inbound {
                    ssrc,
                    highest: seq,
                    seen: 1,
                    ts,
                })
            }
        }
    }

    /// [`Opener::adopt`] from a packet str0m delivered.
    pub fn adopt_packet(&mut self, p: &RtpPacket) {
        let ts = p.time.rebase(Frequency::FORTY_EIGHT_KHZ).numer();
        self.adopt(*p.header.ssrc, *p.seq_no, ts);
    }

    /// Opens an SRTP packet of the adopted stream. Nothing is changed unless it opens.
    pub fn open(&mut self, data: &[u8]) -> Result<Opened, Refused> {
        if !is_rtp(data) {
            return Err(Refused::NotRtp);
        }
        let ssrc = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
        let Some(stream) = self.stream.filter(|s| s.ssrc == ssrc) else {
            return Err(Refused::OtherStream);
        };
        let hlen = header_len(data).ok_or(Refused::Malformed)?;
        if data.len() < hlen + TAG_LEN {
            return Err(Refused::Malformed);
        }
        let seq16 = u16::from_be_bytes([data[2], data[3]]);
        let index = estimate_index(stream.highest, seq16);
        let ahead = index > stream.highest;
        if !ahead {
            let behind = stream.highest - index;
            if behind >= REPLAY_WINDOW {
                return Err(Refused::TooOld);
            }
            if stream.seen >> behind & 1 == 1 {
                return Err(Refused::Replayed);
            }
        }
        let (aad, sealed) = data.split_at(hlen);
        let mut plain = vec![0u8; sealed.len() - TAG_LEN];
        let iv = self.session.iv(ssrc, index);
        if !self.session.open(&iv, aad, sealed, &mut plain) {
            return Err(Refused::Unauthentic);
        }
        if data[0] & 0x20 != 0 {
            // RTP padding: its last byte counts the padding bytes, itself included.
            let pad = usize::from(plain.last().copied().unwrap_or(0));
            if pad == 0 || pad > plain.len() {
                return Err(Refused::Malformed);
            }
            plain.truncate(plain.len() - pad);
        }
        let ts32 = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
        let ts = extend_ts(stream.ts, ts32);
        let mut s = stream;
        if ahead {
            let step = index - s.highest;
            s.seen = if step >= 64 { 1 } else { s.seen << step | 1 };
            s.highest = index;
            s.ts = ts;
        } else {
            s.seen |= 1 << (s.highest - index);
        }
        self.stream = Some(s);
        let level = self
            .audio_level_id
            .and_then(|id| extension(data, hlen, id))
            .and_then(|v| v.first().copied());
        Ok(Opened {
            pt: data[1] & 0x7f,
            seq: index,
            ts,
            ssrc,
            audio_level: level.map(|b| -((b & 0x7f) as i8)),
            voice_activity: level.map(|b| b & 0x80 != 0),
            payload: plain,
        })
    }
}

/// RFC 3711 §3.3.1: the SRTP index of a packet with sequence number `seq`, the highest index
/// received being `highest`: whichever of the rollover counters around `highest`'s puts it
/// closest.
pub fn estimate_index(highest: u64, seq: u16) -> u64 {
    let base = (highest & !0xffff) | u64::from(seq);
    [
        base.checked_sub(0x1_0000),
        Some(base),
        base.checked_add(0x1_0000),
    ]
    .into_iter()
    .flatten()
    .min_by_key(|c| c.abs_diff(highest))
    .unwrap_or(base)
}

/// Extends a 32-bit RTP timestamp next to the last extended one (either way, by the shorter
/// distance), never below zero.
pub fn extend_ts(last: u64, ts: u32) -> u64 {
    let delta = ts.wrapping_sub(last as u32) as i32;
    last.checked_add_signed(i64::from(delta))
        .unwrap_or(u64::from(ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn key_derivation_matches_rfc_3711_appendix_b3() {
        let master = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
        let salt = hex("0EC675AD498AFEEBB6960B3AABE6");
        let mut key = [0u8; 16];
        derive(provider(), &master, &salt, 0, &mut key);
        assert_eq!(key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut session_salt = [0u8; 14];
        derive(provider(), &master, &salt, 2, &mut session_salt);
        assert_eq!(session_salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        // Longer than one AES block: the counter goes on in the last two bytes.
        let mut auth = [0u8; 20];
        derive(provider(), &master, &salt, 1, &mut auth);
        assert_eq!(auth[..16].to_vec(), hex("CEBE321F6FF7716B6FD4AB49AF256A15"));
    }

    /// RFC 7714 §16.1.1 (AEAD_AES_128_GCM, RTP): the header `8040f17b 8041f8d3 5501a0b2`
    /// and "Gallia est omnis divisa in partes tres", at SRTP index 0x0000f17b.
    const RFC7714_KEY: &str = "000102030405060708090a0b0c0d0e0f";
    const RFC7714_SALT: &str = "517569642070726f2071756f";
    const RFC7714_PLAIN: &str =
        "8040f17b8041f8d35501a0b2 47616c6c696120657374206f6d6e697320646976697361\
        20696e207061727465732074726573";
    const RFC7714_SEALED: &str =
        "8040f17b8041f8d35501a0b2 f24de3a3fb34de6cacba861c9d7e4bcabe633bd5\
        0d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce";

    fn rfc7714_sessions() -> [Session; 2] {
        let key: [u8; 16] = hex(RFC7714_KEY).try_into().unwrap();
        let salt: [u8; 12] = hex(RFC7714_SALT).try_into().unwrap();
        Session::from_session_key(provider(), key, salt)
    }

    #[test]
    fn sealing_matches_rfc_7714_and_opening_reverses_it() {
        let [seal, open] = rfc7714_sessions();
        let mut sealer = Sealer { session: seal };
        let plain = hex(RFC7714_PLAIN);
        let header = Outgoing {
            pt: 0x40,
            marker: false,
            seq: 0xf17b,
            ts: 0x8041_f8d3,
            ssrc: 0x5501_a0b2,
            mid: None,
            audio_level: None,
        };
        let sealed = sealer.seal(&header, &plain[12..]).unwrap();
        assert_eq!(sealed, hex(RFC7714_SEALED));

        let mut opener = Opener::new(open);
        opener.adopt(0x5501_a0b2, 0xf17a, 0x8041_f8d3 - 960);
        let opened = opener.open(&sealed).unwrap();
        assert_eq!(opened.payload, plain[12..].to_vec());
        assert_eq!(
            (opened.seq, opened.pt, opened.ts),
            (0xf17b, 0x40, 0x8041_f8d3)
        );
    }

    fn pair() -> (Sealer, Opener) {
        let [seal, open] = rfc7714_sessions();
        (Sealer { session: seal }, Opener::new(open))
    }

    fn packet(sealer: &mut Sealer, seq: u64, ts: u32, payload: &[u8]) -> Vec<u8> {
        let header = Outgoing {
            pt: 111,
            marker: false,
            seq,
            ts,
            ssrc: 7,
            mid: Some((4, b"0")),
            audio_level: Some((1, -30, true)),
        };
        sealer.seal(&header, payload).unwrap()
    }

    #[test]
    fn the_opener_reads_extensions_and_refuses_replays_old_and_forged_packets() {
        let (mut sealer, mut opener) = pair();
        opener.set_audio_level_id(Some(1));
        let first = packet(&mut sealer, 100, 48_000, b"a");
        assert_eq!(
            opener.open(&first),
            Err(Refused::OtherStream),
            "not adopted yet"
        );
        opener.adopt(7, 99, 47_040);
        let opened = opener.open(&first).unwrap();
        assert_eq!(opened.payload, b"a".to_vec());
        assert_eq!(
            (opened.audio_level, opened.voice_activity),
            (Some(-30), Some(true))
        );
        assert_eq!(opener.open(&first), Err(Refused::Replayed));

        // Out of order within the window: taken once.
        let later = packet(&mut sealer, 103, 50_880, b"d");
        let late = packet(&mut sealer, 101, 48_960, b"b");
        assert_eq!(opener.open(&later).unwrap().seq, 103);
        assert_eq!(opener.open(&late).unwrap().seq, 101);
        assert_eq!(opener.open(&late), Err(Refused::Replayed));

        let far = packet(&mut sealer, 103 + REPLAY_WINDOW + 1, 60_000, b"x");
        assert!(opener.open(&far).is_ok());
        let old = packet(&mut sealer, 102, 49_920, b"c");
        assert_eq!(opener.open(&old), Err(Refused::TooOld));

        let mut forged = packet(&mut sealer, 200, 70_000, b"y");
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(opener.open(&forged), Err(Refused::Unauthentic));
        // A forgery does not move the window: the genuine packet still opens.
        forged[last] ^= 1;
        assert!(opener.open(&forged).is_ok());
    }

    #[test]
    fn extensions_that_do_not_fit_the_one_byte_form_are_left_out() {
        let (mut sealer, mut opener) = pair();
        opener.set_audio_level_id(Some(1));
        opener.adopt(7, 1, 0);
        for (mid, level_id) in [((4, &b""[..]), 15), ((15, &b"0"[..]), 0)] {
            let header = Outgoing {
                pt: 111,
                marker: true,
                seq: 2,
                ts: 960,
                ssrc: 7,
                mid: Some(mid),
                audio_level: Some((level_id, -10, false)),
            };
            let sealed = sealer.seal(&header, b"z").unwrap();
            assert_eq!(sealed[0] & 0x10, 0, "no extension header");
            assert_eq!(sealed.len(), 12 + 1 + TAG_LEN);
            assert_eq!(opener.open(&sealed).unwrap().audio_level, None);
            opener.adopt(8, 1, 0);
            opener.adopt(7, 1, 0);
        }
    }

    #[test]
    fn the_index_rolls_over_and_timestamps_wrap() {
        let (mut sealer, mut opener) = pair();
        opener.adopt(7, 0xfffe, u64::from(u32::MAX) - 960);
        let wrapped = packet(&mut sealer, 0x1_0001, 960, b"w");
        let opened = opener.open(&wrapped).unwrap();
        assert_eq!(opened.seq, 0x1_0001);
        assert_eq!(opened.ts, u64::from(u32::MAX) + 961);
        // The packet just before the rollover, late, still belongs to the old counter.
        let before = packet(&mut sealer, 0xffff, u32::MAX, b"v");
        assert_eq!(opener.open(&before).unwrap().seq, 0xffff);

        assert_eq!(estimate_index(0x2_0005, 0xfff0), 0x1_fff0);
        assert_eq!(estimate_index(0x1_fff0, 0x0005), 0x2_0005);
        assert_eq!(estimate_index(3, 0xffff), 0xffff, "no counter below zero");
        assert_eq!(extend_ts(100, 50), 50);
        assert_eq!(
            extend_ts(10, u32::MAX),
            u64::from(u32::MAX),
            "never below zero"
        );
    }

    #[test]
    fn malformed_and_foreign_datagrams_are_refused_without_panicking() {
        let (mut sealer, mut opener) = pair();
        opener.adopt(7, 1, 0);
        let good = packet(&mut sealer, 2, 960, b"p");
        for n in 0..good.len() {
            let r = opener.open(&good[..n]);
            assert!(r.is_err(), "{n} bytes opened");
        }
        // An extension header whose length runs past the end.
        let mut long = good.clone();
        long[14] = 0xff;
        assert_eq!(opener.open(&long), Err(Refused::Malformed));
        // STUN, DTLS and RTCP are not RTP.
        for first in [[0x00u8, 0x01], [0x16, 0xfe], [0x80, 0xc8], [0x81, 0xc9]] {
            let mut d = good.clone();
            d[..2].copy_from_slice(&first);
            assert_eq!(opener.open(&d), Err(Refused::NotRtp));
        }
        for k in 0..1000 {
            let mut d = good.clone();
            let i = (k * 7919) % d.len();
            d[i] = d[i].wrapping_add(13);
            let _ = opener.open(&d);
        }
    }

    #[test]
    fn material_is_split_by_role_and_other_profiles_are_declined() {
        let material: Vec<u8> = (0..88u8).collect();
        let client = Keys {
            profile: SrtpProfile::AEAD_AES_256_GCM,
            material: material.clone(),
            client: true,
        };
        let server = Keys {
            client: false,
            ..client.clone()
        };
        let (mut client_seal, _) = sessions(&client).unwrap();
        let (_, mut server_open) = sessions(&server).unwrap();
        server_open.adopt(7, 1, 0);
        let p = packet(&mut client_seal, 2, 960, b"hello");
        assert_eq!(server_open.open(&p).unwrap().payload, b"hello".to_vec());
        // The client does not open its own packets.
        let (_, mut client_open) = sessions(&client).unwrap();
        client_open.adopt(7, 1, 0);
        assert_eq!(client_open.open(&p), Err(Refused::Unauthentic));

        let cm = Keys {
            profile: SrtpProfile::AES128_CM_SHA1_80,
            material: vec![0; 60],
            client: true,
        };
        assert!(sessions(&cm).is_none());
        let short = Keys {
            material: vec![0; 10],
            ..client
        };
        assert!(sessions(&short).is_none());
    }
}
