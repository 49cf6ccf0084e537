//! A provider (or a merchant's app) that is down: its address refuses every connection.

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpSocket;

/// A loopback address that refuses every connection for as long as this value lives.
///
/// The port is bound but never listened on, so a connection gets a reset at once, and no other
/// socket on the machine can take the port meanwhile (a port bound and closed again may be given
/// to the next test that asks for one).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let down = malipo_sim::Down::new().unwrap();
/// assert!(tokio::net::TcpStream::connect(down.addr()).await.is_err());
/// # }
/// ```
#[derive(Debug)]
pub struct Down {
    socket: TcpSocket,
    addr: SocketAddr,
}

impl Down {
    /// Binds a free loopback port without listening on it.
    pub fn new() -> io::Result<Down> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = socket.local_addr()?;
        Ok(Down { socket, addr })
    }

    /// The address that refuses connections.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Frees the port, so that a server coming back up can bind it; returns its address.
    pub fn release(self) -> SocketAddr {
        drop(self.socket);
        self.addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_while_held_and_frees_the_port_on_release() {
        let down = Down::new().unwrap();
        let addr = down.addr();
        let err = tokio::net::TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        // Another socket cannot take the port while it is held.
        assert!(std::net::TcpListener::bind(addr).is_err());
        let freed = down.release();
        assert_eq!(freed, addr);
        let up = tokio::net::TcpListener::bind(freed).await.unwrap();
        let (client, server) = tokio::join!(tokio::net::TcpStream::connect(freed), up.accept());
        client.unwrap();
        server.unwrap();
    }
}
