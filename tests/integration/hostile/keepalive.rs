//! A server that closes a kept-alive connection under the next request (as one with a
//! short keep-alive does when a request arrives just as it gives up on the connection):
//! baton sends an idempotent request once more on a fresh connection, never a POST.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::support::Test;

/// Requests and connections a [`KeepAlive`] server saw.
#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    connections: AtomicUsize,
}

/// Serves on 127.0.0.1:0: the first connection answers its first request (keep-alive),
/// then reads the second and closes without a byte; later connections answer every
/// request. At most 8 connections and 20 s.
fn keep_alive_server() -> (u16, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let seen = Arc::new(Seen::default());
    let (ready, up) = mpsc::channel();
    let counts = Arc::clone(&seen);
    std::thread::spawn(move || {
        let _ = ready.send(());
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) && counts.connections.load(Ordering::SeqCst) < 8 {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let first = counts.connections.fetch_add(1, Ordering::SeqCst) == 0;
            let counts = Arc::clone(&counts);
            std::thread::spawn(move || {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut writer = stream.try_clone().expect("clone");
                let mut reader = BufReader::new(stream);
                for n in 0..100 {
                    let Some(body_len) = read_head(&mut reader) else { return };
                    let mut body = vec![0; body_len.min(1 << 20)];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    counts.requests.fetch_add(1, Ordering::SeqCst);
                    if first && n == 1 {
                        return; // closed under the request: not a byte of answer
                    }
                    let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: keep-alive\r\n\r\n{\"ok\":true}";
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    up.recv_timeout(Duration::from_secs(5)).expect("server up");
    (port, seen)
}

/// Reads a request head; returns its `Content-Length` (0 without), `None` at EOF.
fn read_head(reader: &mut impl BufRead) -> Option<usize> {
    let mut length = 0;
    let mut lines = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || lines > 200 {
            return None;
        }
        lines += 1;
        let line = line.trim_end();
        if line.is_empty() {
            return Some(length);
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
}

fn two_steps(port: u16, second_method: &str) -> String {
    format!(
        "requests:\n  - name: first\n    url: http://127.0.0.1:{port}/a\n  - name: second\n    method: {second_method}\n    url: http://127.0.0.1:{port}/b\n    json: {{n: 2}}\n"
    )
}

#[test]
fn an_idempotent_request_is_sent_again_once_on_a_fresh_connection_when_the_server_closed_the_reused_one() {
    let (port, seen) = keep_alive_server();
    let out = Test::new().collection("c.yaml", &two_steps(port, "PUT")).args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("sent again on a fresh connection"), "{}", out.stdout);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 3, "first, second (closed), second again");
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
}

#[test]
fn a_post_is_never_sent_again_when_the_server_closed_the_connection() {
    let (port, seen) = keep_alive_server();
    let out = Test::new().collection("c.yaml", &two_steps(port, "POST")).args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("the server closed the connection without answering"), "{}", out.stdout);
    assert!(out.stdout.contains("a POST or PATCH is not sent again by itself"), "{}", out.stdout);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 2, "the POST went out once");
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
}
