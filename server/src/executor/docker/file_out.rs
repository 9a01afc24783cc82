//! One file read out of a container through Docker's archive API, streamed with a cap: the
//! container decides how big the file is, so the server never holds more of it (or of the tar
//! stream around it) than the cap. The tar is read on a blocking thread from a small channel
//! of chunks; once the file is read or refused, the stream is dropped and Docker stops
//! sending.

use bollard::Docker;
use futures_util::StreamExt;
use hyper::body::Bytes;
use std::io::Read;

/// Chunks in flight between the stream and the tar reader (each at most a few tens of KiB).
const CHUNKS_IN_FLIGHT: usize = 4;
/// Tar headers and entries before the file (a folder's, say) may take this much besides it.
const ARCHIVE_SLACK: u64 = 1024 * 1024;

#[derive(Debug)]
pub enum ReadFileError {
    /// Docker found nothing at the path (or the container is gone).
    Missing(String),
    /// A file is there but is bigger than the cap (`size` as its tar header says).
    TooBig { size: u64, cap: u64 },
    /// The path holds no plain file (a link, a device, an empty folder).
    NotAFile,
    /// The stream broke, or the archive was not one.
    Broken(String),
}

impl std::fmt::Display for ReadFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadFileError::Missing(why) => write!(f, "there is no file ({why})"),
            ReadFileError::TooBig { size, cap } => write!(f, "the file is {size} bytes; the limit is {cap} bytes"),
            ReadFileError::NotAFile => f.write_str("it is not a plain file"),
            ReadFileError::Broken(why) => write!(f, "reading it failed: {why}"),
        }
    }
}

impl std::error::Error for ReadFileError {}

/// The first plain file of the archive of `path` in `container`, at most `cap` bytes.
pub async fn read_file(docker: &Docker, container: &str, path: &str, cap: u64) -> Result<Vec<u8>, ReadFileError> {
    let opts = bollard::query_parameters::DownloadFromContainerOptionsBuilder::default().path(path).build();
    let mut stream = docker.download_from_container(container, Some(opts));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    let reader = tokio::task::spawn_blocking(move || {
        let budget = cap + 1 + ARCHIVE_SLACK;
        first_file(ChannelReader { rx, chunk: Bytes::new(), left: budget }, cap)
    });
    let mut failed = None;
    let mut first = true;
    while let Some(chunk) = stream.next().await {
        match chunk {
            // The reader has hung up: it has the file, or refused it.
            Ok(bytes) => {
                if tx.send(bytes).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                failed = Some(if first {
                    ReadFileError::Missing(e.to_string())
                } else {
                    ReadFileError::Broken(e.to_string())
                });
                break;
            }
        }
        first = false;
    }
    drop((tx, stream));
    let read = reader.await.map_err(|e| ReadFileError::Broken(e.to_string()))?;
    match (read, failed) {
        (Ok(bytes), _) => Ok(bytes),
        (Err(e @ ReadFileError::TooBig { .. }), _) => Err(e),
        (Err(_), Some(stream_error)) => Err(stream_error),
        (Err(e), None) => Err(e),
    }
}

fn first_file(reader: impl Read, cap: u64) -> Result<Vec<u8>, ReadFileError> {
    let broken = |e: std::io::Error| ReadFileError::Broken(e.to_string());
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(broken)? {
        let entry = entry.map_err(broken)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let size = entry.size();
        if size > cap {
            return Err(ReadFileError::TooBig { size, cap });
        }
        let mut out = Vec::with_capacity(size as usize);
        entry.take(cap + 1).read_to_end(&mut out).map_err(broken)?;
        return match out.len() as u64 {
            n if n > cap => Err(ReadFileError::TooBig { size: n, cap }),
            _ => Ok(out),
        };
    }
    Err(ReadFileError::NotAFile)
}

/// The chunks of the channel as a `Read`, which ends with an error past `left` bytes.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    chunk: Bytes,
    left: u64,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.chunk = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        if n as u64 > self.left {
            return Err(std::io::Error::other("the archive is larger than the file it may hold"));
        }
        self.left -= n as u64;
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_size(0);
        dir.set_mode(0o755);
        dir.set_cksum();
        b.append_data(&mut dir, "data/", std::io::empty()).unwrap();
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn the_first_plain_file_within_the_cap() {
        let tar = archive(&[("data/cfg", b"{}"), ("data/other", b"x")]);
        assert_eq!(first_file(tar.as_slice(), 10).unwrap(), b"{}");
    }

    #[test]
    fn a_file_over_the_cap_is_refused_by_its_header_without_reading_it() {
        let big = vec![b'x'; 4096];
        let tar = archive(&[("data/cfg", &big)]);
        // Only the headers are readable: reading the data would fail.
        let headers_only = &tar[..1024];
        match first_file(headers_only, 100) {
            Err(ReadFileError::TooBig { size: 4096, cap: 100 }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_plain_file_is_an_error() {
        assert!(matches!(first_file(archive(&[]).as_slice(), 10), Err(ReadFileError::NotAFile)));
    }

    #[test]
    fn the_channel_reader_stops_past_its_budget() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.try_send(Bytes::from(vec![0u8; 100])).unwrap();
        drop(tx);
        let mut r = ChannelReader { rx, chunk: Bytes::new(), left: 50 };
        let mut buf = vec![0u8; 100];
        assert!(r.read(&mut buf).is_err());
    }
}
