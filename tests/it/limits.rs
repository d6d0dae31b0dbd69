//! What an unauthenticated client can cost the server: idle connections, headers or bodies sent a
//! byte at a time, more connections than the server takes. Against the real `simpul serve`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::faults::harness::{Server, Site};

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// Connections to `port` the server has accepted and not closed: established IPv4 sockets whose
/// local port is `port` and that belong to a process (those still in the accept queue have no
/// inode yet), from `/proc/net/tcp`.
fn accepted(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields
                .get(1)
                .and_then(|local| local.rsplit(':').next())
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            local_port == Some(port)
                && fields.get(3) == Some(&"01")
                && fields.get(9).is_some_and(|inode| *inode != "0")
        })
        .count()
}

/// Polls `probe` every 20 ms until it holds; fails after `within`.
async fn until(what: &str, within: Duration, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !probe() {
        assert!(Instant::now() < deadline, "{what} (waited {within:?})");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET /healthz` on a fresh connection: the status line, or why there was none.
fn health(port: u16) -> Result<String, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: simpul\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(answer.lines().next().unwrap_or_default().to_owned())
}

/// Whether the server closed `stream` (end of stream or reset), waiting at most `within`.
fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buffer = [0u8; 512];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            // A 408 or another answer before closing: keep reading to the end.
            Ok(_) => continue,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

// 1,000 idle connections (no token needed to open one) used to cost the server about 2 MB each —
// 2 GB — and were never closed. Now they cost little, the server still answers beside them, and
// it closes them once the header timeout has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_cost_little_and_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::new(
        &format!("sqlite://{}", dir.path().join("simpul.db").display()),
        dir.path(),
    );
    let server = Server::start_with(&site, "idle", &["--header-timeout", "10"]).await;
    let pid = server.pid().unwrap();
    let rss_before = rss_kib(pid);

    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(TcpStream::connect(("127.0.0.1", server.port)).unwrap());
    }
    until(
        "the server accepted the 1,000 connections",
        Duration::from_secs(20),
        || accepted(server.port) >= 1000,
    )
    .await;
    let grown = rss_kib(pid).saturating_sub(rss_before);
    assert!(
        grown < 200 * 1024,
        "1,000 idle connections took {grown} KiB (about 2 GB before the fix)"
    );
    assert_eq!(
        health(server.port).unwrap(),
        "HTTP/1.1 200 OK",
        "answers beside them"
    );
    // Idle past the header timeout: the server closes them.
    for stream in idle.iter_mut().step_by(100) {
        assert!(
            closed_by_server(stream, Duration::from_secs(30)),
            "an idle connection stayed open"
        );
    }
    until(
        "the server closed the idle connections",
        Duration::from_secs(30),
        || accepted(server.port) < 50,
    )
    .await;
}

// A client sending its headers, or its body, a byte at a time is cut off after the header timeout
// (the connection closed) or the body timeout (408).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_slow_bodies_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::new(
        &format!("sqlite://{}", dir.path().join("simpul.db").display()),
        dir.path(),
    );
    let server = Server::start_with(
        &site,
        "slow",
        &["--header-timeout", "2", "--body-timeout", "2"],
    )
    .await;
    let port = server.port;
    let token = site.admin_token();

    let slow_headers = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let started = Instant::now();
        let request = b"GET /healthz HTTP/1.1\r\nHost: simpul\r\nX-Slow: ".to_vec();
        let mut sent = 0;
        // One byte every 100 ms, never finishing the headers: the server must hang up.
        while started.elapsed() < Duration::from_secs(20) {
            let byte = request.get(sent).copied().unwrap_or(b'a');
            if stream.write_all(&[byte]).is_err() {
                return started.elapsed();
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(100));
            let mut probe = [0u8; 64];
            stream.set_nonblocking(true).unwrap();
            let closed = matches!(stream.read(&mut probe), Ok(0));
            stream.set_nonblocking(false).unwrap();
            if closed {
                return started.elapsed();
            }
        }
        panic!("a header sent a byte at a time was never cut off");
    });
    let slow_body = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let head = format!(
            "POST /api/v1/communities HTTP/1.1\r\nHost: simpul\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n{{\"name\":"
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut answer = [0u8; 128];
        let n = stream.read(&mut answer).unwrap_or(0);
        String::from_utf8_lossy(&answer[..n]).into_owned()
    });
    let cut_after = slow_headers.await.unwrap();
    assert!(
        cut_after < Duration::from_secs(15),
        "cut off after {cut_after:?}"
    );
    let answer = slow_body.await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a body that stops arriving is a 408: {answer:?}"
    );
}

// More connections than `--max-connections`: the server serves that many and leaves the rest in
// the kernel's backlog (its own sockets and memory stay bounded); as connections close, the
// waiting ones are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::new(
        &format!("sqlite://{}", dir.path().join("simpul.db").display()),
        dir.path(),
    );
    let server = Server::start_with(
        &site,
        "capped",
        &["--max-connections", "50", "--header-timeout", "6"],
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(("127.0.0.1", server.port)).unwrap());
    }
    until(
        "the server accepted up to its cap",
        Duration::from_secs(20),
        || accepted(server.port) >= 50,
    )
    .await;
    let open = accepted(server.port);
    assert!(
        open <= 50,
        "{open} connections accepted beyond the cap of 50"
    );
    // The idle ones time out, the backlog drains, and a new request gets its answer.
    let port = server.port;
    let status = tokio::task::spawn_blocking(move || health(port))
        .await
        .unwrap();
    assert_eq!(status.unwrap(), "HTTP/1.1 200 OK");
    drop(idle);
}

// What every answer says about itself: no sniffing, no framing, a policy that loads nothing (the
// docs page: only its own files, no inline script), API answers never cached; the bearer scheme
// in any case (RFC 9110); query strings never logged, not even at debug level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_security_headers_and_logs_carry_no_query_strings() {
    let dir = tempfile::tempdir().unwrap();
    let mut site = Site::new(
        &format!("sqlite://{}", dir.path().join("simpul.db").display()),
        dir.path(),
    );
    site.log = "debug".to_owned();
    let server = Server::start(&site, "headers").await;
    let token = site.admin_token();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let answer = client
        .get(server.api("/regions/34?secret=Rahasia-Kueri-123"))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        200,
        "a lower-case `bearer` is a bearer token"
    );
    let headers = answer.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));

    let docs = client
        .get(format!("{}/api/docs", server.base))
        .send()
        .await
        .unwrap();
    let policy = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(
        !policy.contains("script-src 'self' 'unsafe-inline'"),
        "{policy}"
    );
    let page = docs.text().await.unwrap();
    assert!(
        !page.contains("<script>"),
        "no inline script on the docs page"
    );
    let slash = client
        .get(format!("{}/api/docs/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(slash.status(), 308);

    let unauthorized = client
        .get(server.api("/communities?token=Rahasia-Token-456"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(unauthorized.headers()["x-content-type-options"], "nosniff");
    let log = server.log_text();
    assert!(
        log.contains("/api/v1/regions/34"),
        "the path is logged: {log}"
    );
    assert!(
        !log.contains("Rahasia-Kueri-123") && !log.contains("Rahasia-Token-456"),
        "a query string reached the log"
    );
}
