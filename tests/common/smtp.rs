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
    /// The envelope sender (`MAIL FROM`), without angle brackets.
    pub sender: String,
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
    /// Messages to these addresses get `552` (too large) in answer to DATA.
    pub too_large: HashSet<String>,
    /// Answer EHLO/HELO with `421` (service not available) while set.
    pub refuse_connections: bool,
    /// Pause before answering MAIL FROM (a slow server: nothing is accepted when
    /// the client gives up waiting).
    pub mail_delay: Duration,
}

#[derive(Clone)]
struct Recorder {
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    sender: String,
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
    fn helo(&mut self, _ip: std::net::IpAddr, _domain: &str) -> Response {
        if self.behaviour.lock().unwrap().refuse_connections {
            return mailin_embedded::response::NO_SERVICE;
        }
        OK
    }

    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, from: &str) -> Response {
        let delay = self.behaviour.lock().unwrap().mail_delay;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        self.sender = bare(from);
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
        // mailin stays in its DATA state after an error at the final dot, so "too
        // large" is answered to the DATA command itself.
        let too_large = {
            let b = self.behaviour.lock().unwrap();
            self.recipients.iter().any(|r| b.too_large.contains(r))
        };
        if too_large {
            self.recipients.clear();
            return mailin_embedded::response::NO_STORAGE;
        }
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
            sender: self.sender.clone(),
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
            sender: String::new(),
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

/// What the fault proxy does to the SMTP conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Relay everything.
    Pass,
    /// Cut the connection in the middle of the n-th message's DATA, before its final
    /// dot reaches the server (the server never accepts it).
    DropBeforeDot(usize),
    /// Relay the n-th message's final dot, then reset the connection before the
    /// server's reply reaches the client (the server has accepted it).
    ResetAfterDot(usize),
    /// From the first DATA command on, relay nothing in either direction but keep
    /// the connection open: a server that stops answering.
    SilentAtData,
    /// Relay the n-th message (the server accepts it and the client hears so),
    /// then cut every connection and refuse new ones: a relay that goes away in
    /// the middle of a send.
    StopAfter(usize),
}

/// A TCP proxy in front of a server that misbehaves at the network level.
pub struct FaultProxy {
    pub addr: SocketAddr,
    pub fault: Arc<Mutex<Fault>>,
    /// How many times the fault fired.
    pub fired: Arc<AtomicUsize>,
}

/// The DropBeforeDot-only proxy of earlier tests.
pub struct DroppingProxy {
    pub addr: SocketAddr,
    pub drops: Arc<AtomicUsize>,
}

impl DroppingProxy {
    pub fn start(backend: SocketAddr, drop_at: usize) -> DroppingProxy {
        let proxy = FaultProxy::start(backend, Fault::DropBeforeDot(drop_at));
        DroppingProxy {
            addr: proxy.addr,
            drops: proxy.fired,
        }
    }
}

impl FaultProxy {
    pub fn start(backend: SocketAddr, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let fired = Arc::new(AtomicUsize::new(0));
        let fault = Arc::new(Mutex::new(fault));
        let (fired_out, fault_out) = (fired.clone(), fault.clone());
        let dead = Arc::new(std::sync::atomic::AtomicBool::new(false));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if dead.load(Ordering::SeqCst) {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(backend) else {
                    continue;
                };
                let dead = dead.clone();
                let silent = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let (seen, fired, fault) = (seen.clone(), fired.clone(), fault.clone());
                let (mut server_read, mut client_write) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                let silent_reply = silent.clone();
                let dead_reply = dead.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n) = server_read.read(&mut buf) {
                        if n == 0 || dead_reply.load(Ordering::SeqCst) {
                            break;
                        }
                        if silent_reply.load(Ordering::SeqCst) {
                            continue;
                        }
                        if client_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
                std::thread::spawn(move || {
                    let (mut client, mut server) = (client, server);
                    let mut buf = [0u8; 8192];
                    let mut tail: Vec<u8> = Vec::new();
                    while let Ok(n) = client.read(&mut buf) {
                        if n == 0 || dead.load(Ordering::SeqCst) {
                            break;
                        }
                        if silent.load(Ordering::SeqCst) {
                            continue;
                        }
                        let mut window = tail.clone();
                        window.extend_from_slice(&buf[..n]);
                        let current = *fault.lock().unwrap();
                        if current == Fault::SilentAtData
                            && window
                                .windows(6)
                                .any(|w| w.eq_ignore_ascii_case(b"DATA\r\n"))
                        {
                            fired.fetch_add(1, Ordering::SeqCst);
                            silent.store(true, Ordering::SeqCst);
                            continue;
                        }
                        let ends = window.windows(5).filter(|w| w == b"\r\n.\r\n").count();
                        if ends > 0 {
                            let before = seen.fetch_add(ends, Ordering::SeqCst);
                            let hits = |k: usize| before < k && before + ends >= k;
                            match current {
                                Fault::DropBeforeDot(k) if hits(k) => {
                                    fired.fetch_add(1, Ordering::SeqCst);
                                    let _ = client.shutdown(std::net::Shutdown::Both);
                                    let _ = server.shutdown(std::net::Shutdown::Both);
                                    return;
                                }
                                Fault::StopAfter(k) if hits(k) => {
                                    fired.fetch_add(1, Ordering::SeqCst);
                                    let _ = server.write_all(&buf[..n]);
                                    std::thread::sleep(Duration::from_millis(200));
                                    dead.store(true, Ordering::SeqCst);
                                    let _ = client.shutdown(std::net::Shutdown::Both);
                                    let _ = server.shutdown(std::net::Shutdown::Both);
                                    return;
                                }
                                Fault::ResetAfterDot(k) if hits(k) => {
                                    fired.fetch_add(1, Ordering::SeqCst);
                                    // The server gets the whole message and accepts it; the
                                    // client is cut off before the 250 is relayed.
                                    silent.store(true, Ordering::SeqCst);
                                    let _ = server.write_all(&buf[..n]);
                                    std::thread::sleep(Duration::from_millis(200));
                                    let _ = client.shutdown(std::net::Shutdown::Both);
                                    let _ = server.shutdown(std::net::Shutdown::Both);
                                    return;
                                }
                                _ => {}
                            }
                        }
                        if server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        tail = window[window.len().saturating_sub(4)..].to_vec();
                    }
                    let _ = server.shutdown(std::net::Shutdown::Both);
                    let _ = client.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        FaultProxy {
            addr,
            fault: fault_out,
            fired: fired_out,
        }
    }
}
