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

use crate::ports::{DnsData, DnsError, DnsLookup, DnsRecord};
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

    async fn lookup(&self, fqdn: &str, record_type: RecordType) -> Result<Vec<DnsRecord>, NetError> {
        let lookup = self.resolver.lookup(fqdn, record_type).await?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| {
                let data = match &record.data {
                    RData::A(a) => DnsData::Address(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => DnsData::Address(IpAddr::V6(aaaa.0)),
                    RData::CNAME(cname) => DnsData::Alias(without_root_dot(&cname.0.to_string())),
                    _ => return None,
                };
                let name = without_root_dot(&record.name.to_string());
                Some(DnsRecord { name, data, ttl_seconds: Some(record.ttl) })
            })
            .collect())
    }

    /// The answer records of `name` in `families`; an error when no address
    /// came back, naming the worst failure.
    async fn query(&self, name: &str, families: AddressFamilies) -> Result<Vec<DnsRecord>, DnsError> {
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
        let mut found: Vec<DnsRecord> = Vec::new();
        let mut failure: Option<NetError> = None;
        for result in [v4, v6].into_iter().flatten() {
            match result {
                Ok(records) => {
                    // Both families' answers repeat the aliases.
                    for record in records {
                        if !found.contains(&record) {
                            found.push(record);
                        }
                    }
                }
                Err(e) => {
                    // A real failure outranks "no such record" when reporting.
                    if failure.as_ref().is_none_or(|f| f.is_no_records_found() && !e.is_no_records_found()) {
                        failure = Some(e);
                    }
                }
            }
        }
        if found.iter().any(|r| matches!(r.data, DnsData::Address(_))) {
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

fn without_root_dot(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_string()
}

impl DnsLookup for HickoryDns {
    async fn addresses(&self, name: &str, families: AddressFamilies) -> Result<BTreeSet<IpAddr>, DnsError> {
        let records = self.query(name, families).await?;
        Ok(records
            .into_iter()
            .filter_map(|r| match r.data {
                DnsData::Address(ip) => Some(ip),
                DnsData::Alias(_) => None,
            })
            .collect())
    }

    async fn records(&self, name: &str, families: AddressFamilies) -> Result<Vec<DnsRecord>, DnsError> {
        self.query(name, families).await
    }
}
