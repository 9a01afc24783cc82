//! Issue 19, a gap left after finding 6: eight connections trickling a body held every webhook
//! slot (`MAX_IN_FLIGHT`, 8) for the whole 30 s read timeout, so no delivery from anyone else
//! was read. Now at most `MAX_PER_ADDRESS` (4) bodies from one address are read at once, and a
//! body that arrives slower than 16 KiB/s after the first 3 s is dropped with 408.
//!
//! The slow senders are bound to other loopback addresses (127.0.0.2, …: the whole of
//! 127.0.0.0/8 is the loopback on Linux) than the forge's delivery (127.0.0.1). No forge runs
//! here and no run starts (no Docker needed): the delivery is a GitHub `ping`, signed as GitHub
//! signs it, and the requests are written on raw sockets.

#[path = "support/hook_project.rs"]
mod hook_project;
#[path = "support/source_addr.rs"]
mod source_addr;
mod support;

use hook_project::{Answer, HookProject, answer_within, sign};
use source_addr::connect_from;
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const MAX_PER_ADDRESS: usize = 4;
const WRONG: &str = "sha256=0000000000000000000000000000000000000000000000000000000000000000";

fn project() -> HookProject {
    project_with(&[])
}

fn project_with(serve_args: &[&str]) -> HookProject {
    let steps = "- name: t\n  service: app\n  command: 'true'\n";
    let files = [("codeship-services.yml", "app:\n  image: busybox\n"), ("codeship-steps.yml", steps)];
    HookProject::start(&files, &[("web", "")], &[], serve_args)
}

/// A delivery from `source` announcing 1 MiB with a well-formed (wrong) signature, whose body
/// comes at 50 bytes a second (10 every 200 ms) until the server answers or `stop` is set.
struct SlowSender {
    conn: TcpStream,
}

impl SlowSender {
    fn start(p: &HookProject, source: &str, stop: &Arc<AtomicBool>) -> SlowSender {
        SlowSender::forwarded(p, source, None, stop)
    }

    /// [`SlowSender::start`] with an `X-Forwarded-For` header (as a proxy in front would add).
    fn forwarded(p: &HookProject, source: &str, forwarded_for: Option<&str>, stop: &Arc<AtomicBool>) -> SlowSender {
        let addr = p.url.strip_prefix("http://").unwrap();
        let mut conn = connect_from(source, addr);
        let xff = forwarded_for.map(|a| format!("X-Forwarded-For: {a}\r\n")).unwrap_or_default();
        let head = format!(
            "POST /hooks/web HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n\
             X-GitHub-Delivery: slow\r\nX-Hub-Signature-256: {WRONG}\r\n{xff}Content-Length: {}\r\n\r\n",
            1024 * 1024
        );
        conn.write_all(head.as_bytes()).unwrap();
        let (mut writer, stop) = (conn.try_clone().unwrap(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) && writer.write_all(b"          ").is_ok() {
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        SlowSender { conn }
    }

    /// The server's answer, if it comes within `wait`.
    fn answer_within(&mut self, wait: Duration) -> Option<Answer> {
        answer_within(&mut self.conn, wait)
    }
}

/// A signed `ping` from 127.0.0.1, as GitHub sends one when a webhook is set up.
fn ping(p: &HookProject) -> (Answer, Duration) {
    ping_forwarded(p, None)
}

/// [`ping`] with an `X-Forwarded-For` header.
fn ping_forwarded(p: &HookProject, forwarded_for: Option<&str>) -> (Answer, Duration) {
    let body = br#"{"zen":"Design for failure.","hook_id":1}"#;
    let addr = p.url.strip_prefix("http://").unwrap();
    let mut c = connect_from("127.0.0.1", addr);
    let xff = forwarded_for.map(|a| format!("X-Forwarded-For: {a}\r\n")).unwrap_or_default();
    let head = format!(
        "POST /hooks/web HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-GitHub-Event: ping\r\n\
         X-GitHub-Delivery: ping-1\r\nX-Hub-Signature-256: {}\r\n{xff}Content-Length: {}\r\n\r\n",
        sign(body),
        body.len()
    );
    let start = Instant::now();
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(body).unwrap();
    let a = answer_within(&mut c, Duration::from_secs(10)).expect("an answer to the ping");
    (a, start.elapsed())
}

#[test]
fn slow_senders_from_one_address_do_not_starve_a_delivery_from_another() {
    let p = project();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut slow: Vec<SlowSender> = (0..8).map(|_| SlowSender::start(&p, "127.0.0.2", &stop)).collect();
    std::thread::sleep(Duration::from_millis(500));

    // The forge's delivery, from elsewhere, is read at once.
    let (a, took) = ping(&p);
    assert_eq!(a.status, 202, "{:?}", a.body);
    assert!(took < Duration::from_secs(2), "the delivery waited {took:?}");
    println!("the delivery from 127.0.0.1 was answered in {took:?}");

    // Of the eight, four were told at once to come back; four were read, too slowly, and
    // dropped with 408 a little after the 3 s grace (not after the 30 s read timeout).
    let mut codes: Vec<u16> =
        slow.iter_mut().map(|s| s.answer_within(Duration::from_secs(8)).map_or(0, |a| a.status)).collect();
    codes.sort();
    assert_eq!(codes, [408, 408, 408, 408, 503, 503, 503, 503], "after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    println!("the slow senders were all answered {:?} after they started", started.elapsed());
    stop.store(true, Ordering::Relaxed);
    let log = p.log();
    assert!(log.contains("too slowly"), "{log}");
}

/// Slow senders from several addresses can fill every slot, for a moment: the minimum rate
/// frees them within seconds, and a delivery retried (GitHub's `Retry-After: 5`) is read.
#[test]
fn slow_senders_from_many_addresses_hold_the_slots_for_seconds_not_for_the_read_timeout() {
    let p = project();
    let stop = Arc::new(AtomicBool::new(false));
    let sources = ["127.0.0.2", "127.0.0.3"];
    let mut slow: Vec<SlowSender> = sources
        .iter()
        .flat_map(|s| std::iter::repeat_n(*s, MAX_PER_ADDRESS))
        .map(|s| SlowSender::start(&p, s, &stop))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (a, _) = ping(&p);
    assert_eq!(a.status, 503, "all eight slots are held: {:?}", a.body);
    let start = Instant::now();
    let accepted = loop {
        let (a, _) = ping(&p);
        if a.status == 202 {
            break start.elapsed();
        }
        assert_eq!(a.status, 503, "{:?}", a.body);
        assert!(start.elapsed() < Duration::from_secs(10), "the slow senders still hold the slots");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(accepted < Duration::from_secs(5), "read after {accepted:?}");
    println!("with every slot held by slow senders, a delivery was read {accepted:?} later");
    for s in &mut slow {
        let a = s.answer_within(Duration::from_secs(5)).expect("an answer to the slow sender");
        assert_eq!(a.status, 408, "{:?}", a.body);
        assert!(a.body["error"].as_str().unwrap().contains("16 KiB/s"), "{:?}", a.body);
    }
    stop.store(true, Ordering::Relaxed);
}

/// Behind a proxy every connection comes from the proxy. With `--trust-forwarded-for` the
/// client is the address the proxy appends to `X-Forwarded-For`; without it, the header is
/// not looked at, so a client naming other addresses in it gains nothing.
#[test]
fn behind_a_trusted_proxy_clients_count_by_their_forwarded_address_and_only_then() {
    let stop = Arc::new(AtomicBool::new(false));
    // The proxy is 127.0.0.1; slow senders are 203.0.113.7 (what a client wrote itself before
    // the proxy's entry is not looked at); the forge is 192.0.2.10.
    let p = project_with(&["--trust-forwarded-for"]);
    let mut slow: Vec<SlowSender> = (0..8)
        .map(|i| SlowSender::forwarded(&p, "127.0.0.1", Some(&format!("10.9.9.{i}, 203.0.113.7")), &stop))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (a, took) = ping_forwarded(&p, Some("192.0.2.10"));
    assert_eq!(a.status, 202, "{:?}", a.body);
    assert!(took < Duration::from_secs(2), "the delivery waited {took:?}");
    let mut codes: Vec<u16> =
        slow.iter_mut().map(|s| s.answer_within(Duration::from_secs(8)).map_or(0, |a| a.status)).collect();
    codes.sort();
    assert_eq!(codes, [408, 408, 408, 408, 503, 503, 503, 503]);
    drop(p);

    // Not trusted: eight senders from 127.0.0.2, each naming another address, are one client.
    let p = project();
    let mut slow: Vec<SlowSender> =
        (0..8).map(|i| SlowSender::forwarded(&p, "127.0.0.2", Some(&format!("198.51.100.{i}")), &stop)).collect();
    let mut codes: Vec<u16> =
        slow.iter_mut().map(|s| s.answer_within(Duration::from_secs(8)).map_or(0, |a| a.status)).collect();
    codes.sort();
    assert_eq!(codes, [408, 408, 408, 408, 503, 503, 503, 503]);
    stop.store(true, Ordering::Relaxed);
}
