//! A TCP proxy that adds a fixed delay to every byte in each direction: what a database across
//! the network adds to each round trip, on one machine (`baedal-bench delay-proxy`, and
//! `baedal-bench projections --delay`).
//!
//! `round_trip` is the delay added to a **round trip**: half of it is added to each direction
//! (client → server, and server → client), so a request and its answer arrive `round_trip`
//! later than on the direct socket. That is what a network hop adds (a few hundred µs each
//! way inside one availability zone, ~1 ms round trip with a managed database in another zone
//! of the same region); it adds no bandwidth limit and no loss.
//!
//! Order and pipelining are kept: per connection and per direction, a reader stamps each chunk
//! it reads with its due time (read time + half the delay) and queues it; a writer forwards the
//! chunks in order, each at its due time. A reader never waits for the writer, so a client
//! that pipelines several statements (sqlx sends Parse/Bind/Execute/Sync back to back) has
//! them all in flight at once, as on a real network; a lock held across round trips is held
//! for the delay as well, which is the point.
//!
//! Why OS threads and blocking sockets rather than tokio tasks: tokio's timer has millisecond
//! resolution, so a 0.5 ms sleep would become up to 1 ms or more and the proxy would add about
//! twice the delay asked for; `std::thread::sleep` (nanosleep, 50 µs of timer slack) keeps it
//! within tens of microseconds. Four small threads per connection (two per direction) are
//! cheap next to a database backend per connection.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Stack of each proxy thread: they only copy bytes.
const STACK: usize = 128 * 1024;
const CHUNK: usize = 64 * 1024;

/// A running proxy: accepts on [`DelayProxy::addr`], forwards to its upstream. Its threads run
/// until the process ends (a benchmark's proxy lives as long as the benchmark).
#[derive(Debug)]
pub struct DelayProxy {
    pub addr: SocketAddr,
}

/// Listen on `listen` (port 0: any free port) and forward every connection to `upstream`,
/// adding `round_trip` to each round trip (half each way).
pub fn start(
    listen: impl ToSocketAddrs,
    upstream: SocketAddr,
    round_trip: Duration,
) -> io::Result<DelayProxy> {
    let listener = TcpListener::bind(listen)?;
    let addr = listener.local_addr()?;
    let one_way = round_trip / 2;
    thread::Builder::new()
        .name("delay-proxy".into())
        .stack_size(STACK)
        .spawn(move || {
            for client in listener.incoming() {
                match client {
                    Ok(client) => {
                        if let Err(e) = connect(client, upstream, one_way) {
                            tracing::warn!(error = %e, "delay-proxy: connecting to upstream");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "delay-proxy: accept"),
                }
            }
        })?;
    Ok(DelayProxy { addr })
}

fn connect(client: TcpStream, upstream: SocketAddr, one_way: Duration) -> io::Result<()> {
    let server = TcpStream::connect(upstream)?;
    // No Nagle on either side: a small message is sent when it is due, not when the previous
    // one is acknowledged (which would add the delay a second time).
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    pipe(client.try_clone()?, server.try_clone()?, one_way)?;
    pipe(server, client, one_way)
}

/// Forward `from` → `to`, each chunk `delay` after it was read, in order.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) -> io::Result<()> {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::Builder::new().stack_size(STACK).spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        // Dropping `tx` tells the writer to close once it has forwarded what is queued.
    })?;
    thread::Builder::new().stack_size(STACK).spawn(move || {
        while let Ok((due, bytes)) = rx.recv() {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        // Pass the end on (FIN) and let the other direction finish by itself, as TCP would.
        let _ = to.shutdown(Shutdown::Write);
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes come back whole and in order through the proxy, pipelined writes included.
    #[test]
    fn forwards_in_order() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let upstream = echo.local_addr().unwrap();
        thread::spawn(move || {
            let (mut s, _) = echo.accept().unwrap();
            let mut buf = [0u8; 1024];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => s.write_all(&buf[..n]).unwrap(),
                }
            }
        });
        let proxy = start("127.0.0.1:0", upstream, Duration::from_micros(200)).unwrap();
        let mut c = TcpStream::connect(proxy.addr).unwrap();
        let sent: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        for part in sent.chunks(100) {
            c.write_all(part).unwrap();
        }
        let mut got = vec![0u8; sent.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, sent);
    }
}
