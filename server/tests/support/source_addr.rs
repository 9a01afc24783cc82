//! A TCP connection from a chosen loopback address: on Linux the whole of 127.0.0.0/8 is the
//! loopback, so a test can be several clients (127.0.0.2, 127.0.0.3, …) at once. The client
//! socket is bound before it connects, which `std::net` cannot do; tokio's `TcpSocket` can.
//!
//! Included with `#[path]` by the test files that use it.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};

/// A blocking connection from `source` (an IPv4 address, any port) to `to` (`HOST:PORT`).
pub fn connect_from(source: &str, to: &str) -> TcpStream {
    let to: SocketAddr = to.parse().expect("an address HOST:PORT");
    let from: SocketAddr = format!("{source}:0").parse().expect("an IPv4 address");
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(from).unwrap_or_else(|e| panic!("cannot bind to {from}: {e}"));
        socket.connect(to).await.unwrap_or_else(|e| panic!("cannot connect from {from} to {to}: {e}"))
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}
