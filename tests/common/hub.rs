//! A WebSub hub on loopback, for the tests of what Herald tells hubs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A hub on loopback: records each request's path and form body, and answers with
/// `status`.
pub struct Hub {
    pub url: String,
    requests: Arc<Mutex<Vec<(String, String)>>>,
}

impl Hub {
    pub fn start(status: u16) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hub", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let path = request_line
                    .split(' ')
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                seen.lock()
                    .unwrap()
                    .push((path, String::from_utf8(body).unwrap()));
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Hub { url, requests }
    }

    /// The feed URLs pinged since the last call, in order.
    pub fn take_pings(&self) -> Vec<String> {
        let requests = std::mem::take(&mut *self.requests.lock().unwrap());
        requests
            .into_iter()
            .map(|(path, body)| {
                assert_eq!(path, "POST /hub");
                let form: Vec<(String, String)> = url_decode_form(&body);
                assert_eq!(form[0], ("hub.mode".into(), "publish".into()), "{body}");
                assert_eq!(form[1].0, "hub.url", "{body}");
                form[1].1.clone()
            })
            .collect()
    }
}

fn url_decode_form(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}
