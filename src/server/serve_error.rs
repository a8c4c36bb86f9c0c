//! The server layer's error: why a listener could not start or stopped, with the lower layer's error kept
//! as its source. `src/cmd` turns it into its own report (anyhow stays there).

/// Why a port could not be bound, a listener stopped, or the drain could not close the ledger.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listening address could not be bound.
    #[error("binding {addr}")]
    Bind {
        /// The address as given (flag, configuration key or test).
        addr: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The gRPC reflection service could not be built from the embedded descriptor sets.
    #[error("building the gRPC reflection service")]
    Reflection(#[source] tonic_reflection::server::Error),
    /// The gRPC port's TLS configuration (certificate, key, client CA) was refused.
    #[error("TLS configuration of the gRPC port")]
    Tls(#[source] tonic::transport::Error),
    /// The gRPC transport failed while serving.
    #[error("gRPC transport")]
    Transport(#[source] tonic::transport::Error),
    /// An HTTP port (the public page, the metrics endpoint) failed while serving.
    #[error("the {name} port")]
    Http {
        /// Which port (`http`, `metrics`).
        name: &'static str,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// Closing the ledger at the end of the drain failed (the blocking task did not finish).
    #[error("closing the ledger")]
    Close(#[source] tokio::task::JoinError),
}

#[cfg(test)]
mod tests {
    use super::ServeError;

    /// A port that cannot be bound names the address, and keeps the operating system's error as its source
    /// (`accord serve` prints the chain: `binding ADDR: Address already in use`).
    #[tokio::test]
    async fn a_taken_address_is_named_with_its_cause() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let e = crate::server::bind(&addr).await.unwrap_err();
        assert!(matches!(&e, ServeError::Bind { addr: a, .. } if *a == addr), "{e:?}");
        assert_eq!(e.to_string(), format!("binding {addr}"));
        let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(source.map(std::io::Error::kind), Some(std::io::ErrorKind::AddrInUse));
    }
}
