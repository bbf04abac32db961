//! DNS through hickory-resolver, with no cache: every run sees the current answer,
//! so nothing is hidden for longer than the record's TTL.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};

use crate::ports::{DnsError, DnsLookup};
use crate::target::AddressFamilies;

/// Where DNS queries go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameServer {
    /// The system resolver (`/etc/resolv.conf`; the VPC's resolver in Lambda).
    System,
    /// One server, e.g. from `NLB_SYNC_DNS_SERVER=127.0.0.1:5353`.
    At(SocketAddr),
}

/// The resolver could not be set up; nothing can be synced without it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsSetupError {
    #[error(
        "cannot read the system DNS configuration (/etc/resolv.conf): {0}; set NLB_SYNC_DNS_SERVER to a resolver's address"
    )]
    SystemConfig(String),
    #[error("cannot build the DNS resolver: {0}")]
    Build(String),
}

/// A [`DnsLookup`] backed by hickory-resolver.
pub struct HickoryDns {
    resolver: TokioResolver,
}

impl HickoryDns {
    /// Builds a resolver with caching off, `timeout` per attempt and `attempts` tries.
    pub fn new(server: NameServer, timeout: Duration, attempts: usize) -> Result<Self, DnsSetupError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = match server {
            NameServer::System => {
                TokioResolver::builder(provider).map_err(|e| DnsSetupError::SystemConfig(e.to_string()))?
            }
            NameServer::At(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut ns.connections {
                    connection.port = addr.port();
                }
                TokioResolver::builder_with_config(ResolverConfig::from_name_servers(vec![ns]), provider)
            }
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.cache_size = 0;
        options.timeout = timeout;
        options.attempts = attempts;
        let resolver = builder.build().map_err(|e| DnsSetupError::Build(e.to_string()))?;
        Ok(HickoryDns { resolver })
    }

    async fn lookup(&self, fqdn: &str, record_type: RecordType) -> Result<Vec<IpAddr>, NetError> {
        let lookup = self.resolver.lookup(fqdn, record_type).await?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })
            .collect())
    }
}

impl DnsLookup for HickoryDns {
    async fn addresses(&self, name: &str, families: AddressFamilies) -> Result<BTreeSet<IpAddr>, DnsError> {
        // A trailing dot makes the name fully qualified: no search-list queries.
        let fqdn = if name.ends_with('.') { name.to_string() } else { format!("{name}.") };
        let (v4, v6) = match families {
            AddressFamilies::V4 => (Some(self.lookup(&fqdn, RecordType::A).await), None),
            AddressFamilies::V6 => (None, Some(self.lookup(&fqdn, RecordType::AAAA).await)),
            AddressFamilies::Both => {
                let (a, b) = tokio::join!(self.lookup(&fqdn, RecordType::A), self.lookup(&fqdn, RecordType::AAAA));
                (Some(a), Some(b))
            }
        };
        let mut found = BTreeSet::new();
        let mut failure: Option<NetError> = None;
        for result in [v4, v6].into_iter().flatten() {
            match result {
                Ok(addrs) => found.extend(addrs),
                Err(e) => {
                    // A real failure outranks "no such record" when reporting.
                    if failure.as_ref().is_none_or(|f| f.is_no_records_found() && !e.is_no_records_found()) {
                        failure = Some(e);
                    }
                }
            }
        }
        if !found.is_empty() {
            return Ok(found);
        }
        let label = match families {
            AddressFamilies::V4 => "A",
            AddressFamilies::V6 => "AAAA",
            AddressFamilies::Both => "A or AAAA",
        };
        Err(match failure {
            Some(e) if e.is_nx_domain() => DnsError::NoSuchName { name: name.to_string() },
            Some(e) if !e.is_no_records_found() => DnsError::Failed { name: name.to_string(), message: e.to_string() },
            _ => DnsError::NoRecords { name: name.to_string(), families: label },
        })
    }
}
