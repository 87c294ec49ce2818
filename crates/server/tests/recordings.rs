//! Recordings: the service over a real relay with two str0m peers sending tones (dual channel,
//! pause and resume, stop, each tone on its own channel), a recording cut short by a crash
//! repaired and listed at the next start, and the REST resources of a real server over what
//! its data directory holds (list, fetch, `.wav`, `.mp3`, delete, Twilio's errors).

#[path = "../../media/tests/common/mod.rs"]
mod common;
mod support;

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{amplitude_at, Client};
use support::*;
use switchboard_center::media::{MediaPeer, MediaSource};
use switchboard_center::recording::{RecordingTarget, Track};
use switchboard_media::io::{Relay, RelayConfig};
use switchboard_media::{Graph, MediaEvent, PeerId, Source};
use switchboard_server::driver::Clock;
use switchboard_server::recordings::{status, write_json, PauseBehavior, Recordings, StartOptions};
use switchboard_server::Limits;
use switchboard_sid::Sid;

struct Browser {
    socket: UdpSocket,
    client: Client,
}

impl Browser {
    fn new(tone: f32) -> (Browser, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let addr = socket.local_addr().unwrap();
        let (client, offer) = Client::new(Instant::now(), addr, tone);
        (Browser { socket, client }, offer)
    }

    fn pump(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            self.client.receive(Instant::now(), from, &buf[..n]);
        }
        self.client.timeout(Instant::now());
        for (_, to, data) in std::mem::take(&mut self.client.outbox) {
            let _ = self.socket.send_to(&data, to);
        }
    }
}

/// Pumps both browsers for `d` (they send their tones every 20 ms).
async fn pump_for(a: &mut Browser, b: &mut Browser, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        a.pump();
        b.pump();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn channels_of(path: &std::path::Path) -> (Vec<i16>, Vec<i16>, u16) {
    let mut r = hound::WavReader::open(path).unwrap();
    let n = r.spec().channels;
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    if n == 1 {
        return (s, Vec::new(), 1);
    }
    (
        s.iter().step_by(2).copied().collect(),
        s.iter().skip(1).step_by(2).copied().collect(),
        n,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_channel_recording_pauses_resumes_and_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut relay = Relay::spawn(RelayConfig::new(listen)).unwrap();
    let handle = relay.handle();
    let (hooks, mut posted) = tokio::sync::mpsc::channel(16);
    let service = Recordings::open(
        dir.path().to_owned(),
        Some(handle.clone()),
        Some(hooks),
        Clock::default(),
        ACCOUNT.parse().unwrap(),
        "http://switchboard.test".into(),
    )
    .unwrap();
    assert!(service.list(|_| true).is_empty());

    let (mut a, offer_a) = Browser::new(440.0);
    let (mut b, offer_b) = Browser::new(880.0);
    let answer_a = handle.add_peer(PeerId(1), offer_a).await.unwrap();
    let answer_b = handle.add_peer(PeerId(2), offer_b).await.unwrap();
    a.client.accept_answer(Instant::now(), &answer_a);
    b.client.accept_answer(Instant::now(), &answer_b);
    handle
        .set_graph(
            Graph::new()
                .with(PeerId(1), [Source::Peer(PeerId(2))])
                .with(PeerId(2), [Source::Peer(PeerId(1))]),
        )
        .await
        .unwrap();
    let start = Instant::now();
    let mut connected = BTreeSet::new();
    while connected.len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(15), "never connected");
        pump_for(&mut a, &mut b, Duration::from_millis(5)).await;
        while let Ok(e) = relay.events().try_recv() {
            if let MediaEvent::Connected(p) = e {
                connected.insert(p);
            }
        }
    }

    // The caller (a, 440 Hz) on the left, the callee (b, 880 Hz) on the right.
    let channels = [
        [MediaSource::Peer(MediaPeer(1))].into(),
        [MediaSource::Peer(MediaPeer(2))].into(),
    ];
    let call = Sid::from_u128(7);
    let m = service
        .start_with_channels(
            RecordingTarget::Call(call, Track::Both),
            channels,
            StartOptions {
                channels: 2,
                status_callback: Some("http://hooks.test/rec".into()),
                status_callback_events: vec!["in-progress".into(), "completed".into()],
                ..StartOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(m.status, status::IN_PROGRESS);
    let sid = m.sid.parse().unwrap();
    let hook = posted.recv().await.unwrap();
    assert_eq!(hook.url, "http://hooks.test/rec");
    let param = |h: &switchboard_server::events::Delivery, k: &str| {
        h.params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(param(&hook, "RecordingStatus"), "in-progress");
    assert_eq!(param(&hook, "RecordingSid"), m.sid);
    assert_eq!(param(&hook, "CallSid"), call.to_string());

    pump_for(&mut a, &mut b, Duration::from_millis(1_500)).await;
    // Paused (skip): the file does not grow meanwhile.
    assert_eq!(
        service
            .pause(sid, PauseBehavior::Skip)
            .await
            .unwrap()
            .status,
        status::PAUSED
    );
    pump_for(&mut a, &mut b, Duration::from_millis(1_000)).await;
    assert_eq!(
        service.resume(sid).await.unwrap().status,
        status::IN_PROGRESS
    );
    pump_for(&mut a, &mut b, Duration::from_millis(1_000)).await;
    let done = service.stop(sid).await.unwrap();
    assert_eq!(done.status, status::COMPLETED);
    let secs = done.duration_s.unwrap();
    assert!(
        (2..=3).contains(&secs),
        "2.5 s recorded, not the pause: {secs}"
    );
    let hook = posted.recv().await.unwrap();
    assert_eq!(param(&hook, "RecordingStatus"), "completed");
    assert_eq!(param(&hook, "RecordingChannels"), "2");
    assert_eq!(param(&hook, "RecordingDuration"), secs.to_string());
    assert_eq!(
        param(&hook, "RecordingUrl"),
        format!("http://switchboard.test/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}")
    );

    let wav = service.wav_path(sid).unwrap();
    let (left, right, n) = channels_of(&wav);
    assert_eq!(n, 2);
    // Past the first half second (the peers' first frames).
    let (left, right) = (&left[8_000..], &right[8_000..]);
    let (l440, l880) = (
        amplitude_at(left, 440.0, 16_000),
        amplitude_at(left, 880.0, 16_000),
    );
    let (r440, r880) = (
        amplitude_at(right, 440.0, 16_000),
        amplitude_at(right, 880.0, 16_000),
    );
    assert!(l440 > 1_000.0 && l880 < l440 / 10.0, "left: {l440} {l880}");
    assert!(r880 > 1_000.0 && r440 < r880 / 10.0, "right: {r440} {r880}");

    // A mono recording: the two sides summed into one channel.
    let mono = service
        .start_with_channels(
            RecordingTarget::Call(call, Track::Both),
            [
                [MediaSource::Peer(MediaPeer(1))].into(),
                [MediaSource::Peer(MediaPeer(2))].into(),
            ],
            StartOptions {
                channels: 1,
                ..StartOptions::default()
            },
        )
        .await
        .unwrap();
    let mono_sid = mono.sid.parse().unwrap();
    pump_for(&mut a, &mut b, Duration::from_millis(1_200)).await;
    let mono = service.stop(mono_sid).await.unwrap();
    assert_eq!(
        (mono.status.as_str(), mono.channels),
        (status::COMPLETED, 1)
    );
    let (both, _, n) = channels_of(&service.wav_path(mono_sid).unwrap());
    assert_eq!(n, 1);
    let both = &both[8_000.min(both.len())..];
    assert!(amplitude_at(both, 440.0, 16_000) > 1_000.0);
    assert!(amplitude_at(both, 880.0, 16_000) > 1_000.0);

    // A crash while recording: the process dies before the stop; the file has its start
    // header (sizes 0) and its frames, the sidecar says in-progress.
    let cut = service
        .start_with_channels(
            RecordingTarget::Call(call, Track::Both),
            [
                [MediaSource::Peer(MediaPeer(1))].into(),
                [MediaSource::Peer(MediaPeer(2))].into(),
            ],
            StartOptions::default(),
        )
        .await
        .unwrap();
    pump_for(&mut a, &mut b, Duration::from_millis(1_500)).await;
    drop(service);
    relay.shutdown().unwrap();
    let cut_wav = dir.path().join(format!("{}.wav", cut.sid));
    // What a killed writer leaves: the header as written at start (no sizes).
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&cut_wav)
            .unwrap();
        f.seek(SeekFrom::Start(4)).unwrap();
        f.write_all(&0u32.to_le_bytes()).unwrap();
        f.seek(SeekFrom::Start(40)).unwrap();
        f.write_all(&0u32.to_le_bytes()).unwrap();
    }
    write_json(&dir.path().join(format!("{}.json", cut.sid)), &cut).unwrap();
    // And a WAV that lost its sidecar altogether (a copy of the first recording).
    let orphan: Sid<switchboard_sid::Recording> = Sid::from_u128(0xabc);
    std::fs::copy(&wav, dir.path().join(format!("{orphan}.wav"))).unwrap();

    let again = Recordings::open(
        dir.path().to_owned(),
        None,
        None,
        Clock::default(),
        ACCOUNT.parse().unwrap(),
        "http://switchboard.test".into(),
    )
    .unwrap();
    let all = again.list(|_| true);
    assert_eq!(all.len(), 4, "{all:#?}");
    let repaired = again.get(cut.sid.parse().unwrap()).unwrap();
    assert_eq!(repaired.status, status::COMPLETED);
    assert!(repaired.duration_s.unwrap() >= 1, "{repaired:?}");
    let (left, right, _) = channels_of(&again.wav_path(cut.sid.parse().unwrap()).unwrap());
    assert!(amplitude_at(&left[8_000..], 440.0, 16_000) > 1_000.0);
    assert!(amplitude_at(&right[8_000..], 880.0, 16_000) > 1_000.0);
    assert_eq!(again.get(orphan).unwrap().status, status::COMPLETED);
    assert_eq!(again.get(sid).unwrap(), done);

    // The REST resources of a real server over this directory (beside its database).
    let server_dir = tempfile::tempdir().unwrap();
    let data = server_dir.path().join("recordings");
    std::fs::create_dir_all(&data).unwrap();
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let p = f.unwrap().path();
        std::fs::copy(&p, data.join(p.file_name().unwrap())).unwrap();
    }
    let server = Server::start_in(server_dir, Limits::default(), Clock::default()).await;
    let base = format!("{}/2010-04-01/Accounts/{ACCOUNT}", server.base);
    let list = server.get(&format!("{base}/Recordings.json")).await;
    assert_eq!(list["recordings"].as_array().unwrap().len(), 4, "{list}");
    let one = server.get(&format!("{base}/Recordings/{sid}.json")).await;
    assert_eq!(one["sid"], sid.to_string());
    assert_eq!(one["status"], "completed");
    assert_eq!(one["channels"], 2);
    assert_eq!(one["duration"], secs.to_string());
    assert_eq!(one["call_sid"], call.to_string());
    assert_eq!(one["source"], "StartCallRecordingAPI");
    assert_eq!(
        one["uri"],
        format!("/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}.json")
    );
    let by_call = server
        .get(&format!("{base}/Recordings.json?CallSid={call}"))
        .await;
    assert_eq!(by_call["recordings"].as_array().unwrap().len(), 3);
    let call_list = server
        .get(&format!("{base}/Calls/{call}/Recordings.json"))
        .await;
    assert_eq!(call_list["recordings"].as_array().unwrap().len(), 3);
    let client = reqwest::Client::new();
    let media = client
        .get(format!("{base}/Recordings/{sid}.wav"))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), 200);
    assert_eq!(media.headers()["content-type"], "audio/x-wav");
    assert_eq!(
        media.bytes().await.unwrap().to_vec(),
        std::fs::read(&wav).unwrap()
    );
    let mp3 = client
        .get(format!("{base}/Recordings/{sid}.mp3"))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    if cfg!(feature = "mp3") {
        assert_eq!(mp3.status(), 200);
    } else {
        assert_eq!(mp3.status(), 415);
        let body: serde_json::Value = serde_json::from_str(&mp3.text().await.unwrap()).unwrap();
        assert!(body["message"].as_str().unwrap().contains("MP3"), "{body}");
    }
    // Pausing a finished recording is refused, naming the parameter.
    let (code, body) = server
        .post(
            &format!("{base}/Calls/{call}/Recordings/{sid}.json"),
            &[("Status", "paused")],
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("Status"));
    // Starting on a call that does not exist.
    let (code, body) = server
        .post(&format!("{base}/Calls/{call}/Recordings.json"), &[])
        .await;
    assert_eq!((code, body["code"].clone()), (404, 20404.into()), "{body}");
    let deleted = client
        .delete(format!("{base}/Recordings/{sid}.json"))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = server.get(&format!("{base}/Recordings/{sid}.json")).await;
    assert_eq!(gone["code"], 20404, "{gone}");
    assert!(server.stop().await);
}
