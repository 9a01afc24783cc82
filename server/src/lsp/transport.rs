//! The stdio transport: LSP frames (`Content-Length` headers, a blank line, a JSON body) read
//! and written by two threads, like lsp-server's `Connection::stdio`, whose reader ends the
//! whole session at the first frame it cannot read (a malformed header, a body that is not
//! JSON, a lone UTF-16 surrogate such as `"\ud83d"` in a string). Here a bad frame is answered
//! and the session goes on:
//! - a body that is not a message but has an `id` gets JSON-RPC's "invalid request" (-32600)
//!   for that id; a body that is not JSON, or has no usable id, is reported to the client as a
//!   `window/logMessage` (a JSON-RPC "parse error" would need `"id": null`, which lsp-server's
//!   types cannot write);
//! - a lone surrogate escape becomes U+FFFD (also one UTF-16 unit, so positions do not move),
//!   as JavaScript clients produce them from unpaired halves in a buffer;
//! - headers are read a bounded line at a time and a body is at most [`MAX_FRAME`] bytes (a
//!   longer one is skipped unread); after a broken header the reader looks for the next
//!   `Content-Length` line.

use crossbeam_channel::{Receiver, Sender, bounded};
use lsp_server::{ErrorCode, Message, Notification, RequestId, Response};
use lsp_types::notification::Notification as _;
use std::borrow::Cow;
use std::io::{self, BufRead, Read};
use std::thread;

/// The largest message body read. A document is at most 1 MiB for the core (it refuses more
/// with SW002); in JSON, escaped, it can double, and a client may send it twice in one frame.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;
/// The longest header line, and the most header lines, of one frame.
const MAX_HEADER_LINE: usize = 8 * 1024;
const MAX_HEADERS: usize = 32;

pub struct IoThreads {
    reader: thread::JoinHandle<io::Result<()>>,
    writer: thread::JoinHandle<io::Result<()>>,
}

impl IoThreads {
    pub fn join(self) -> io::Result<()> {
        let reader = self.reader.join().map_err(|_| io::Error::other("the stdin reader panicked"))?;
        let writer = self.writer.join().map_err(|_| io::Error::other("the stdout writer panicked"))?;
        reader.and(writer)
    }
}

/// Messages from stdin and to stdout, over channels (`lsp_server::Connection`'s halves).
pub fn stdio() -> (Sender<Message>, Receiver<Message>, IoThreads) {
    let (out_tx, out_rx) = bounded::<Message>(0);
    let writer = thread::Builder::new()
        .name("lsp-writer".into())
        .spawn(move || {
            let mut stdout = io::stdout().lock();
            out_rx.into_iter().try_for_each(|m| m.write(&mut stdout))
        })
        .expect("spawn the LSP writer thread");
    let (in_tx, in_rx) = bounded::<Message>(0);
    let answers = out_tx.clone();
    let reader = thread::Builder::new()
        .name("lsp-reader".into())
        .spawn(move || read_loop(&mut io::stdin().lock(), &in_tx, &answers))
        .expect("spawn the LSP reader thread");
    (out_tx, in_rx, IoThreads { reader, writer })
}

/// Read frames until the input ends or the client says `exit`; messages go to `messages`,
/// answers to bad frames to `answers`.
pub fn read_loop(input: &mut impl BufRead, messages: &Sender<Message>, answers: &Sender<Message>) -> io::Result<()> {
    loop {
        let body = match read_frame(input)? {
            Frame::End => return Ok(()),
            Frame::Body(body) => body,
            Frame::Bad(problem) => {
                log(answers, problem);
                continue;
            }
        };
        match decode(&body) {
            Decoded::Message(m) => {
                let exit = matches!(&m, Message::Notification(n) if n.method == lsp_types::notification::Exit::METHOD);
                if messages.send(m).is_err() {
                    // The main loop has ended: nobody is listening any more.
                    return Ok(());
                }
                if exit {
                    return Ok(());
                }
            }
            Decoded::Invalid { id: Some(id), problem } => {
                let message = format!("invalid request: {problem}");
                let _ =
                    answers.send(Message::Response(Response::new_err(id, ErrorCode::InvalidRequest as i32, message)));
            }
            Decoded::Invalid { id: None, problem } => log(answers, problem),
        }
    }
}

/// Tell the client, in its log, about a frame that was dropped.
fn log(answers: &Sender<Message>, problem: String) {
    let params = lsp_types::LogMessageParams {
        typ: lsp_types::MessageType::ERROR,
        message: format!("slipway: ignored a message from the editor: {problem}"),
    };
    let note = Notification::new(lsp_types::notification::LogMessage::METHOD.to_string(), params);
    let _ = answers.send(Message::Notification(note));
}

enum Frame {
    /// The input ended (between frames or inside one).
    End,
    Body(Vec<u8>),
    /// A frame that was skipped, and why.
    Bad(String),
}

/// One frame: header lines up to a blank one, then `Content-Length` bytes.
fn read_frame(input: &mut impl BufRead) -> io::Result<Frame> {
    // A frame whose length is known is read whatever else is wrong with its headers.
    let mut length: Option<Result<usize, String>> = None;
    let mut problem = None;
    let mut line = Vec::new();
    let mut headers = 0;
    loop {
        match read_line(input, &mut line)? {
            Line::End => return Ok(Frame::End),
            Line::TooLong => {
                headers += 1;
                problem = Some(format!("a header line is longer than {MAX_HEADER_LINE} bytes"));
                continue;
            }
            Line::Text => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if headers == 0 {
                continue; // blank lines between frames
            }
            break;
        }
        headers += 1;
        if headers > MAX_HEADERS {
            // Not headers: skip on to a line with a length, or to a blank line.
            problem = Some(format!("a frame has more than {MAX_HEADERS} header lines"));
        }
        // The header may follow the rest of a frame whose length was wrong or missing.
        let lower = text.to_ascii_lowercase();
        if let Some(at) = lower.find("content-length:") {
            let value = text[at + "content-length:".len()..].trim();
            length = Some(value.parse::<usize>().map_err(|_| format!("bad Content-Length `{}`", clip(value))));
        }
    }
    let length = match length {
        Some(Ok(n)) => n,
        Some(Err(bad)) => return Ok(Frame::Bad(bad)),
        None => return Ok(Frame::Bad(problem.unwrap_or_else(|| "a frame without Content-Length".into()))),
    };
    if length > MAX_FRAME {
        let skipped = io::copy(&mut input.by_ref().take(length as u64), &mut io::sink())?;
        if skipped < length as u64 {
            return Ok(Frame::End);
        }
        return Ok(Frame::Bad(format!("a message of {length} bytes is over the limit of {MAX_FRAME} bytes")));
    }
    let mut body = vec![0; length];
    match input.read_exact(&mut body) {
        Ok(()) => Ok(Frame::Body(body)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Frame::End),
        Err(e) => Err(e),
    }
}

enum Line {
    Text,
    /// Over [`MAX_HEADER_LINE`]; the rest of the line was read and dropped.
    TooLong,
    End,
}

/// One line (with its `\n`) into `line`, at most [`MAX_HEADER_LINE`] bytes of it kept.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Line> {
    line.clear();
    let mut too_long = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(if line.is_empty() && !too_long { Line::End } else { Line::Text });
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + take <= MAX_HEADER_LINE {
            line.extend_from_slice(&buf[..take]);
        } else {
            too_long = true;
        }
        input.consume(take);
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Text });
        }
    }
}

enum Decoded {
    Message(Message),
    Invalid { id: Option<RequestId>, problem: String },
}

fn decode(body: &[u8]) -> Decoded {
    let invalid = |problem: String| Decoded::Invalid { id: None, problem };
    let Ok(text) = std::str::from_utf8(body) else {
        return invalid("the message is not UTF-8 (JSON-RPC parse error)".into());
    };
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(first) => match replace_lone_surrogates(text) {
            Cow::Owned(fixed) => match serde_json::from_str(&fixed) {
                Ok(v) => v,
                Err(e) => return invalid(format!("the message is not JSON (JSON-RPC parse error): {e}")),
            },
            Cow::Borrowed(_) => return invalid(format!("the message is not JSON (JSON-RPC parse error): {first}")),
        },
    };
    let id = value.get("id").and_then(|id| serde_json::from_value::<RequestId>(id.clone()).ok());
    if !value.is_object() {
        return Decoded::Invalid { id, problem: "the message is not a JSON object".into() };
    }
    // An `id` that is neither a number nor a string (an object, say) would make the message
    // read as a notification and be dropped without a word; it is reported instead.
    if id.is_none() && value.get("id").is_some_and(|i| !i.is_null()) {
        return Decoded::Invalid { id: None, problem: "the message's `id` is not a number or a string".into() };
    }
    match serde_json::from_value::<Message>(value) {
        Ok(m) => Decoded::Message(m),
        Err(e) => Decoded::Invalid { id, problem: format!("not a request, response or notification: {e}") },
    }
}

/// `text` (JSON) with every `\uXXXX` escape of a lone UTF-16 surrogate replaced by `\ufffd`;
/// borrowed when there is none.
pub fn replace_lone_surrogates(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let unit = |at: usize| -> Option<u16> {
        let hex = bytes.get(at..at + 6)?;
        if hex[0] != b'\\' || hex[1] != b'u' {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
    };
    let is_high = |u: u16| (0xD800..0xDC00).contains(&u);
    let is_low = |u: u16| (0xDC00..0xE000).contains(&u);
    let mut out: Option<String> = None;
    let mut copied = 0;
    let (mut i, mut in_string) = (0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                let Some(u) = unit(i) else {
                    i += 2; // another escape: skip the escaped character
                    continue;
                };
                let paired = is_high(u) && unit(i + 6).is_some_and(is_low);
                if paired {
                    i += 12;
                    continue;
                }
                if is_high(u) || is_low(u) {
                    let o = out.get_or_insert_with(String::new);
                    o.push_str(&text[copied..i]);
                    o.push_str("\\ufffd");
                    copied = i + 6;
                }
                i += 6;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

/// At most 40 characters of untrusted text, for a message.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Write one message as a frame (what the writer thread does; for tests).
#[cfg(test)]
fn frame(body: &str) -> Vec<u8> {
    use std::io::Write;
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.write_all(body.as_bytes()).unwrap();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_become_the_replacement_character() {
        for (given, want) in [
            (r#"{"a":"x\ud83d"}"#, r#"{"a":"x\ufffd"}"#),
            (r#"{"a":"\ude00y"}"#, r#"{"a":"\ufffdy"}"#),
            (r#"{"a":"\ud83d\ud83d\ude00"}"#, r#"{"a":"\ufffd\ud83d\ude00"}"#),
            // An escaped backslash before `u` is not an escape.
            (r#"{"a":"\\ud83d"}"#, r#"{"a":"\\ud83d"}"#),
            (r#"{"a":"\ud83d\ude00"}"#, r#"{"a":"\ud83d\ude00"}"#),
        ] {
            assert_eq!(replace_lone_surrogates(given), want, "{given}");
        }
        assert!(matches!(replace_lone_surrogates(r#"{"a":"ok"}"#), Cow::Borrowed(_)));
    }

    /// Every kind of bad frame between two good ones: the good ones arrive, each bad one is
    /// answered or logged, and nothing ends the loop but the end of the input.
    #[test]
    fn bad_frames_are_answered_and_reading_goes_on() {
        let good = r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        let mut input = Vec::new();
        input.extend(frame(good));
        input.extend(b"Content-Length: nope\r\n\r\n");
        input.extend(frame("{not json"));
        input.extend(frame(r#"{"jsonrpc":"2.0","id":7,"method":5}"#));
        input.extend(frame(r#"[1,2]"#));
        input.extend(frame(r#"{"jsonrpc":"2.0","id":{"a":1},"method":"shutdown"}"#));
        input.extend(frame(&format!(r#"{{"jsonrpc":"2.0","method":"x","params":{{"t":"{}"}}}}"#, r"\ud83d")));
        input.extend(format!("X-Long: {}\r\n\r\n", "a".repeat(MAX_HEADER_LINE * 2)).into_bytes());
        input.extend(b"{\"orphan\": true}");
        input.extend(frame(good));
        let (tx, rx) = crossbeam_channel::unbounded();
        let (atx, arx) = crossbeam_channel::unbounded();
        read_loop(&mut io::Cursor::new(input), &tx, &atx).unwrap();
        let got: Vec<String> = rx.try_iter().map(|m| format!("{m:?}")).collect();
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(got[1].contains("\u{fffd}"), "{}", got[1]);
        let answers: Vec<String> = arx.try_iter().map(|m| serde_json::to_string(&m).unwrap()).collect();
        assert!(answers.iter().any(|a| a.contains("\"id\":7") && a.contains("-32600")), "{answers:#?}");
        assert!(answers.iter().any(|a| a.contains("not JSON")), "{answers:#?}");
        assert!(answers.iter().any(|a| a.contains("bad Content-Length")), "{answers:#?}");
        assert!(answers.iter().any(|a| a.contains("longer than")), "{answers:#?}");
        assert!(answers.iter().any(|a| a.contains("is not a number or a string")), "{answers:#?}");
    }

    #[test]
    fn an_oversized_frame_is_skipped_unread() {
        let good = r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        let mut input = format!("Content-Length: {}\r\n\r\n", MAX_FRAME + 1).into_bytes();
        input.resize(input.len() + MAX_FRAME + 1, b' ');
        input.extend(frame(good));
        let (tx, rx) = crossbeam_channel::unbounded();
        let (atx, arx) = crossbeam_channel::unbounded();
        read_loop(&mut io::Cursor::new(input), &tx, &atx).unwrap();
        assert_eq!(rx.try_iter().count(), 1);
        assert!(arx.try_iter().any(|m| format!("{m:?}").contains("over the limit")));
        // A length no input could have is not allocated either.
        let input = b"Content-Length: 99999999999999\r\n\r\n{}".to_vec();
        read_loop(&mut io::Cursor::new(input), &tx, &atx).unwrap();
    }
}
