//! The common stage of a sync test: a fake account with a network and an NLB,
//! and a DNS server.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use crate::addresses::{ipv4, target};
use crate::aws::{Aws, IpFamily, Network, TargetGroup};
use crate::dns::DnsServer;
use crate::lambda::{LambdaEmulator, LambdaEmulatorBuilder};
use crate::moto::Moto;

/// The VPC block of every sandbox; addresses used as DNS data in tests come
/// from it (they are never contacted, moto only stores them).
pub const VPC_CIDR: &str = "10.1.0.0/16";

/// One test's world: a fresh moto account holding a VPC ([`VPC_CIDR`], two
/// subnets) and an internal NLB, plus a [`DnsServer`].
///
/// [`Sandbox::target_group`] adds `ip` target groups to the NLB (one TCP
/// listener each) and tags them; [`Sandbox::function`] starts a function
/// binary whose AWS SDK talks to this moto and whose DNS queries go to this
/// DNS server (`NLB_SYNC_DNS_SERVER`).
pub struct Sandbox {
    /// The AWS stand-in.
    pub moto: Moto,
    /// Clients and fixture helpers for `moto`.
    pub aws: Aws,
    /// The DNS stand-in.
    pub dns: DnsServer,
    /// The VPC and its subnets.
    pub network: Network,
    /// ARN of the internal NLB.
    pub nlb_arn: String,
    next_listener_port: AtomicI32,
}

impl Sandbox {
    /// Starts moto and the DNS server and creates the network and the NLB.
    pub async fn start() -> Sandbox {
        let (moto, dns) = tokio::join!(Moto::start(), DnsServer::start());
        let aws = moto.aws().await;
        let network = aws.create_network(VPC_CIDR).await;
        let nlb_arn = aws.create_nlb("sandbox-nlb", &network.subnet_ids).await;
        Sandbox { moto, aws, dns, network, nlb_arn, next_listener_port: AtomicI32::new(5432) }
    }

    /// Creates an IPv4 `ip` target group (TCP 5432) behind the NLB; with
    /// `Some(sources)` also sets its `nlb-target-sync:sources` tag.
    pub async fn target_group(&self, name: &str, sources: Option<&str>) -> TargetGroup {
        self.target_group_with_family(name, sources, IpFamily::V4).await
    }

    /// [`Sandbox::target_group`] with a chosen address family.
    pub async fn target_group_with_family(&self, name: &str, sources: Option<&str>, family: IpFamily) -> TargetGroup {
        let tg = self.aws.create_ip_target_group(name, &self.network.vpc_id, family).await;
        let port = self.next_listener_port.fetch_add(1, Ordering::SeqCst);
        self.aws.create_listener(&self.nlb_arn, port, &tg.arn).await;
        if let Some(sources) = sources {
            self.aws.set_sources(&tg.arn, sources).await;
        }
        tg
    }

    /// A target group following `sources` that holds `targets` (addresses,
    /// on the target group's port) already.
    pub async fn group_holding(&self, name: &str, sources: &str, targets: &[&str]) -> TargetGroup {
        let tg = self.target_group(name, Some(sources)).await;
        let targets: Vec<String> = targets.iter().map(|t| target(t)).collect();
        let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
        self.aws.register_targets(&tg.arn, &targets).await;
        tg
    }

    /// The environment a function needs to use this sandbox: [`Moto::env`]
    /// plus `NLB_SYNC_DNS_SERVER=<dns addr>`.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = self.moto.env();
        env.push(("NLB_SYNC_DNS_SERVER".into(), self.dns.addr().to_string()));
        env
    }

    /// A builder for the workspace binary `binary` with [`Sandbox::env`]
    /// already set; add variables and call `start()`.
    pub fn function(&self, binary: &str) -> LambdaEmulatorBuilder {
        LambdaEmulator::builder(binary).env(self.env())
    }

    /// [`Sandbox::function`] with DNS lookups that give up quickly: 300 ms
    /// per query and one attempt (`NLB_SYNC_DNS_TIMEOUT_MS`,
    /// `NLB_SYNC_DNS_ATTEMPTS`), so a test of a name that gets no answer does
    /// not wait out the defaults. A later `var` overrides them.
    pub fn function_with_quick_dns(&self, binary: &str) -> LambdaEmulatorBuilder {
        self.function(binary).vars(&[("NLB_SYNC_DNS_TIMEOUT_MS", "300"), ("NLB_SYNC_DNS_ATTEMPTS", "1")])
    }

    /// `sync-on-failover` as [`Sandbox::function_with_quick_dns`] starts it,
    /// re-checking every 200 ms instead of every 2 s (`NLB_SYNC_RECHECK_MS`)
    /// for `watch` after each event (`NLB_SYNC_WATCH_SECONDS`, whole seconds).
    pub fn failover_function(&self, watch: Duration) -> LambdaEmulatorBuilder {
        self.function_with_quick_dns("sync-on-failover")
            .var("NLB_SYNC_RECHECK_MS", "200")
            .var("NLB_SYNC_WATCH_SECONDS", watch.as_secs().to_string())
    }

    /// Creates an RDS Proxy in the sandbox's subnets whose default endpoint
    /// resolves to `addresses` (IPv4); returns the endpoint's name.
    pub async fn proxy_resolving_to(&self, name: &str, addresses: &[&str]) -> String {
        let endpoint = self.aws.create_db_proxy(name, &self.network.subnet_ids).await;
        let addresses: Vec<_> = addresses.iter().map(|a| ipv4(a)).collect();
        self.dns.set_a(&endpoint, &addresses);
        endpoint
    }
}
