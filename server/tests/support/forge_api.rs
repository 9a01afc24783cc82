//! A stand-in for a forge's commit-status API (no forge runs in these tests): a plain HTTP/1.1
//! listener over `std::net::TcpListener` that answers every request with the next of the given
//! answers (then always `otherwise`) and records what it received.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// As an answer code: take the request and never answer.
pub const HANG: u16 = 0;

pub struct StatusApi {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    otherwise: Arc<AtomicU16>,
}

impl StatusApi {
    /// Answers `answers` in turn, then `otherwise` (with a body naming the forge as down for
    /// an error code) to every request.
    pub fn start(answers: Vec<(u16, &'static str)>, otherwise: u16) -> StatusApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let recorded = received.clone();
        let otherwise = Arc::new(AtomicU16::new(otherwise));
        let answer_code = otherwise.clone();
        std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() || line.is_empty() {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() {
                        break;
                    }
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let len = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                recorded.lock().unwrap().push(Received { method, path, headers, body });
                let otherwise = answer_code.load(Ordering::SeqCst);
                if otherwise == HANG {
                    // A forge that took the request and never answers; the connection is held.
                    std::thread::spawn(move || {
                        std::thread::sleep(std::time::Duration::from_secs(120));
                        drop(stream);
                    });
                    continue;
                }
                let fallback = if otherwise < 300 { "{}" } else { "{\"message\":\"the forge is down\"}" };
                let (code, text) = answers.next().unwrap_or((otherwise, fallback));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        StatusApi { url, received, otherwise }
    }

    /// From now on, answer `code` once the given answers are used up (a forge coming back).
    pub fn answer_from_now_on(&self, code: u16) {
        self.otherwise.store(code, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
