//! `TCP_NODELAY` on the PostgreSQL and MySQL connections.
//!
//! sqlx 0.9.0 opens its TCP sockets without `TCP_NODELAY` (a regression:
//! <https://github.com/transact-rs/sqlx/issues/4335>, fixed upstream by
//! <https://github.com/transact-rs/sqlx/pull/4336> but not released as of
//! 0.9.0). With Nagle's algorithm on, the tail of every message longer than
//! a TCP segment (a `COPY`'s data, a multi-row `INSERT`) waits for the
//! server's delayed ACK, up to 40 ms per statement: a PostgreSQL `COPY` of
//! 1,100 rows took 55 ms instead of 6 (`cargo xtask bench sinks`). libpq
//! and the MySQL client library always set it.
//!
//! sqlx offers no way to the socket, so right after a connection is made,
//! [`postgres`] or [`mysql`] asks the server for the connection's client port
//! and sets the option on this process's TCP socket bound to that port,
//! reached through `pidfd_getfd` (a duplicate of the descriptor; the option
//! belongs to the socket both share). Linux 5.6 or later; elsewhere, or if
//! the kernel refuses, the connection works as sqlx made it, only slower.
//! Remove this module once sqlx releases the fix.

use sea_orm::sqlx;
use tracing::debug;

/// The client port in what the server says of the connection (PostgreSQL:
/// the port; MySQL/MariaDB: `host:port` of the processlist); `None` for a
/// Unix-socket connection.
fn parse_port(text: &str) -> Option<u16> {
    let port = text.rsplit_once(':').map_or(text, |(_, port)| port);
    port.parse().ok()
}

/// Sets `TCP_NODELAY` on the socket of a PostgreSQL connection just made.
/// Never fails: what goes wrong is logged.
pub(crate) async fn postgres(conn: &mut sqlx::PgConnection) {
    let port = sqlx::query_scalar::<_, Option<String>>("SELECT inet_client_port()::TEXT")
        .fetch_one(conn)
        .await;
    apply(port);
}

/// Sets `TCP_NODELAY` on the socket of a MySQL/MariaDB connection just made.
/// Never fails: what goes wrong is logged.
pub(crate) async fn mysql(conn: &mut sqlx::MySqlConnection) {
    let port = sqlx::query_scalar::<_, Option<String>>(
        "SELECT host FROM information_schema.processlist WHERE id = CONNECTION_ID()",
    )
    .fetch_one(conn)
    .await;
    apply(port);
}

fn apply(client: Result<Option<String>, sqlx::Error>) {
    let port = match client {
        Ok(text) => text.as_deref().and_then(parse_port),
        Err(e) => {
            debug!(%e, "no client port to set TCP_NODELAY on");
            None
        }
    };
    let Some(port) = port else { return };
    match set_on_local_port(port) {
        Ok(true) => {}
        Ok(false) => debug!(port, "no socket of this process on the connection's client port"),
        Err(e) => debug!(%e, port, "TCP_NODELAY not set; statements may wait for delayed ACKs"),
    }
}

/// Sets `TCP_NODELAY` on this process's TCP socket bound to local port
/// `port`; whether there was one.
fn set_on_local_port(port: u16) -> std::io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        let Some(socket) = tcp_socket_on_local_port(port)? else { return Ok(false) };
        rustix::net::sockopt::set_tcp_nodelay(&socket, true)?;
        Ok(true)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = port;
        Ok(false)
    }
}

/// Whether this process's TCP socket bound to local `port` has
/// `TCP_NODELAY` (`None`: no such socket, or not Linux). For tests.
#[cfg(feature = "testing")]
pub(crate) fn nodelay_on_local_port(port: u16) -> Option<bool> {
    #[cfg(target_os = "linux")]
    {
        let socket = tcp_socket_on_local_port(port).ok()??;
        rustix::net::sockopt::tcp_nodelay(&socket).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = port;
        None
    }
}

/// A duplicate of this process's TCP socket bound to local `port`, reached
/// through `pidfd_getfd` (options set on it are the socket's).
#[cfg(target_os = "linux")]
fn tcp_socket_on_local_port(port: u16) -> std::io::Result<Option<std::os::fd::OwnedFd>> {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};

    let me = pidfd_open(getpid(), PidfdFlags::empty())?;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let entry = entry?;
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        // The descriptor may have been closed since the listing; skip it then.
        let Ok(dup) = pidfd_getfd(&me, fd, PidfdGetfdFlags::empty()) else { continue };
        let local = rustix::net::getsockname(&dup)
            .ok()
            .and_then(|a| std::net::SocketAddr::try_from(a).ok());
        if local.is_some_and(|a| a.port() == port)
            && rustix::net::sockopt::socket_type(&dup)? == rustix::net::SocketType::STREAM
        {
            return Ok(Some(dup));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ports_parse_from_either_server() {
        assert_eq!(parse_port("52814"), Some(52814));
        assert_eq!(parse_port("127.0.0.1:52814"), Some(52814));
        assert_eq!(parse_port("[::1]:52814"), Some(52814));
        assert_eq!(parse_port("localhost"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_socket_on_a_local_port_gets_nodelay() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        assert!(!client.nodelay().expect("nodelay"));
        let port = client.local_addr().expect("local address").port();
        assert!(set_on_local_port(port).expect("set"));
        assert!(client.nodelay().expect("nodelay"));
    }
}
