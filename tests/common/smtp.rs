//! A real SMTP server on loopback for the tests: `mailin-embedded`, in-process, with
//! a handler that records every accepted message and can misbehave on purpose.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{INTERNAL_ERROR, NO_MAILBOX, OK};
use mailin_embedded::{Handler, Response, Server};

/// One message the server accepted (replied 250 to).
#[derive(Debug, Clone)]
pub struct Received {
    pub recipients: Vec<String>,
    pub data: Vec<u8>,
}

/// How the server misbehaves; changeable while it runs.
#[derive(Debug, Default)]
pub struct Behaviour {
    /// RCPT for these addresses gets `550 Mailbox unavailable`.
    pub reject: HashSet<String>,
    /// RCPT for these addresses gets `451` this many more times, then is accepted.
    pub greylist: HashMap<String, u32>,
    /// Pause before answering the end of DATA.
    pub data_delay: Duration,
}

#[derive(Clone)]
struct Recorder {
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    recipients: Vec<String>,
    data: Vec<u8>,
}

fn bare(address: &str) -> String {
    address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_lowercase()
}

impl Handler for Recorder {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, _from: &str) -> Response {
        self.recipients.clear();
        self.data.clear();
        OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let to = bare(to);
        let mut behaviour = self.behaviour.lock().unwrap();
        if behaviour.reject.contains(&to) {
            return NO_MAILBOX;
        }
        if let Some(left) = behaviour.greylist.get_mut(&to)
            && *left > 0
        {
            *left -= 1;
            return INTERNAL_ERROR;
        }
        self.recipients.push(to);
        OK
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.data.clear();
        mailin_embedded::response::START_DATA
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let delay = self.behaviour.lock().unwrap().data_delay;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        self.received.lock().unwrap().push(Received {
            recipients: std::mem::take(&mut self.recipients),
            data: std::mem::take(&mut self.data),
        });
        OK
    }
}

pub struct TestSmtp {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub behaviour: Arc<Mutex<Behaviour>>,
}

impl TestSmtp {
    pub fn start() -> TestSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(Behaviour::default()));
        let handler = Recorder {
            received: received.clone(),
            behaviour: behaviour.clone(),
            recipients: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(handler);
        server
            .with_name("test.invalid")
            .with_num_threads(16)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        TestSmtp {
            addr,
            received,
            behaviour,
        }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// How many accepted messages went to each address.
    pub fn per_recipient(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for m in self.messages() {
            for r in m.recipients {
                *counts.entry(r).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Waits (bounded) until at least `n` messages arrived.
    pub fn wait_for(&self, n: usize, limit: Duration) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if self.count() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

/// A TCP proxy in front of a server that cuts the connection in the middle of the
/// `drop_at`-th message's DATA (before its final dot reaches the server, so the
/// server never accepts that message).
pub struct DroppingProxy {
    pub addr: SocketAddr,
    pub drops: Arc<AtomicUsize>,
}

impl DroppingProxy {
    pub fn start(backend: SocketAddr, drop_at: usize) -> DroppingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let drops = Arc::new(AtomicUsize::new(0));
        let drops_out = drops.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(backend) else {
                    continue;
                };
                let (seen, drops) = (seen.clone(), drops.clone());
                let (mut server_read, mut client_write) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n) = server_read.read(&mut buf) {
                        if n == 0 || client_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
                std::thread::spawn(move || {
                    let (mut client, mut server) = (client, server);
                    let mut buf = [0u8; 8192];
                    let mut tail: Vec<u8> = Vec::new();
                    while let Ok(n) = client.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        let mut window = tail.clone();
                        window.extend_from_slice(&buf[..n]);
                        let ends = window.windows(5).filter(|w| w == b"\r\n.\r\n").count();
                        if ends > 0 {
                            let before = seen.fetch_add(ends, Ordering::SeqCst);
                            if before < drop_at && before + ends >= drop_at {
                                drops.fetch_add(1, Ordering::SeqCst);
                                let _ = client.shutdown(std::net::Shutdown::Both);
                                let _ = server.shutdown(std::net::Shutdown::Both);
                                return;
                            }
                        }
                        if server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        tail = window[window.len().saturating_sub(4)..].to_vec();
                    }
                    let _ = server.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        DroppingProxy {
            addr,
            drops: drops_out,
        }
    }
}
