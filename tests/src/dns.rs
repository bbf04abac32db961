//! A loopback DNS server (UDP and TCP) whose records the test changes at will.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, SOA};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};

/// The default TTL of every answer, in seconds.
const DEFAULT_TTL: u32 = 1;
/// Longest CNAME chain followed before answering SERVFAIL.
const MAX_CNAME_CHAIN: usize = 8;

/// What the server does with a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    Answer = 0,
    Silent = 1,
    ServFail = 2,
}

impl Mode {
    fn from_u8(value: u8) -> Mode {
        match value {
            1 => Mode::Silent,
            2 => Mode::ServFail,
            _ => Mode::Answer,
        }
    }
}

/// The records of one name.
#[derive(Clone, Debug)]
enum Entry {
    /// A and AAAA records (either list may be empty: the name exists but has
    /// no data of that type).
    Addresses { a: Vec<Ipv4Addr>, aaaa: Vec<Ipv6Addr> },
    /// A CNAME to another name.
    Alias(String),
    /// A records answered `per_answer` at a time, round robin: each A query
    /// starts one address further (a reader endpoint, Route 53 multivalue).
    Rotating { a: Vec<Ipv4Addr>, per_answer: usize, next: Arc<AtomicUsize> },
    /// A records answered `per_answer` at a time, chosen at random for each
    /// A query, as Route 53 multivalue answers are.
    Random { a: Vec<Ipv4Addr>, per_answer: usize, random: Arc<Mutex<fastrand::Rng>> },
    /// Queries for this name get no answer at all (per-name [`Mode::Silent`]).
    Silent,
    /// Queries for this name get SERVFAIL.
    ServFail,
}

#[derive(Debug)]
struct State {
    records: Mutex<HashMap<String, Entry>>,
    mode: AtomicU8,
    ttl: AtomicU32,
    queries: Mutex<Vec<String>>,
}

/// A real DNS server on `127.0.0.1` (UDP and TCP on the same free port),
/// answering from an in-memory record map that the test changes at any time.
///
/// * Names are case-insensitive; a trailing dot is optional.
/// * Unknown names get NXDOMAIN; a known name without records of the asked
///   type gets an empty NOERROR answer (NODATA). Negative answers carry an
///   SOA whose minimum is the TTL, so resolvers cache them only that long.
/// * A CNAME is followed inside the map: a query for `A` of an alias is
///   answered with the CNAME record(s) followed by the target's A records.
/// * Every answer has the configured TTL (1 second unless changed with
///   [`DnsServer::set_ttl`]).
/// * [`DnsServer::stop_answering`] makes it drop every query without a
///   response (clients time out); [`DnsServer::servfail_mode`] makes it
///   answer SERVFAIL; [`DnsServer::resume_answering`] returns to normal.
///
/// The server runs as a task on the test's tokio runtime and stops when
/// dropped. It answers only while that runtime runs, so do not block the
/// runtime (use `tokio::time::sleep`, not `std::thread::sleep`).
pub struct DnsServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Box<dyn Fn() + Send + Sync>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsServer {
    /// Binds UDP and TCP on `127.0.0.1:<free port>` and starts serving.
    ///
    /// # Panics
    ///
    /// If no port can be bound for both protocols.
    pub async fn start() -> DnsServer {
        let state = Arc::new(State {
            records: Mutex::new(HashMap::new()),
            mode: AtomicU8::new(Mode::Answer as u8),
            ttl: AtomicU32::new(DEFAULT_TTL),
            queries: Mutex::new(Vec::new()),
        });
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().expect("local address of the DNS socket");
        let mut server = Server::new(Handler { state: state.clone() });
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 32);
        let token = server.shutdown_token().clone();
        let task = tokio::spawn(async move {
            if let Err(e) = server.block_until_done().await {
                eprintln!("[dns {addr}] server stopped: {e}");
            }
        });
        DnsServer { addr, state, stop: Box::new(move || token.cancel()), task }
    }

    /// The address of the server (same port for UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the A records of `name` (replacing its A records or CNAME; AAAA
    /// records are kept). An empty list leaves the name existing without A
    /// records.
    pub fn set_a(&self, name: &str, addresses: &[Ipv4Addr]) {
        self.update(name, |entry| match entry {
            Some(Entry::Addresses { aaaa, .. }) => Entry::Addresses { a: addresses.to_vec(), aaaa },
            _ => Entry::Addresses { a: addresses.to_vec(), aaaa: Vec::new() },
        });
    }

    /// Sets the AAAA records of `name` (replacing its AAAA records or CNAME;
    /// A records are kept).
    pub fn set_aaaa(&self, name: &str, addresses: &[Ipv6Addr]) {
        self.update(name, |entry| match entry {
            Some(Entry::Addresses { a, .. }) => Entry::Addresses { a, aaaa: addresses.to_vec() },
            _ => Entry::Addresses { a: Vec::new(), aaaa: addresses.to_vec() },
        });
    }

    /// Sets A and/or AAAA records of `name` from a mixed list, replacing all
    /// of its records.
    pub fn set_addresses(&self, name: &str, addresses: &[IpAddr]) {
        let mut a = Vec::new();
        let mut aaaa = Vec::new();
        for address in addresses {
            match address {
                IpAddr::V4(v4) => a.push(*v4),
                IpAddr::V6(v6) => aaaa.push(*v6),
            }
        }
        self.update(name, |_| Entry::Addresses { a, aaaa });
    }

    /// Makes `name` answer `per_answer` of `addresses` per A query, rotating
    /// through them (replacing all of its records).
    pub fn set_rotating_a(&self, name: &str, addresses: &[Ipv4Addr], per_answer: usize) {
        let entry = Entry::Rotating { a: addresses.to_vec(), per_answer, next: Arc::new(AtomicUsize::new(0)) };
        self.update(name, |_| entry);
    }

    /// Makes `name` answer `per_answer` of `addresses` per A query, a subset
    /// picked at random each time from a generator seeded with `seed`
    /// (replacing all of its records).
    pub fn set_random_a(&self, name: &str, addresses: &[Ipv4Addr], per_answer: usize, seed: u64) {
        let random = Arc::new(Mutex::new(fastrand::Rng::with_seed(seed)));
        self.update(name, |_| Entry::Random { a: addresses.to_vec(), per_answer, random });
    }

    /// Makes `name` a CNAME for `target` (replacing all of its records).
    pub fn set_cname(&self, name: &str, target: &str) {
        self.update(name, |_| Entry::Alias(normalize(target)));
    }

    /// Removes every record of `name`: queries for it get NXDOMAIN.
    pub fn remove(&self, name: &str) {
        self.state.records.lock().unwrap().remove(&normalize(name));
    }

    /// Queries for `name` alone get no response at all (others are answered).
    /// Undo with `set_*` or [`DnsServer::remove`].
    pub fn stop_answering_name(&self, name: &str) {
        self.update(name, |_| Entry::Silent);
    }

    /// Queries for `name` alone get SERVFAIL. Undo with `set_*` or
    /// [`DnsServer::remove`].
    pub fn servfail_name(&self, name: &str) {
        self.update(name, |_| Entry::ServFail);
    }

    /// Sets the TTL of every answer from now on.
    pub fn set_ttl(&self, seconds: u32) {
        self.state.ttl.store(seconds, Ordering::SeqCst);
    }

    /// From now on every query is dropped without a response, so clients time
    /// out.
    pub fn stop_answering(&self) {
        self.state.mode.store(Mode::Silent as u8, Ordering::SeqCst);
    }

    /// From now on every query is answered with SERVFAIL.
    pub fn servfail_mode(&self) {
        self.state.mode.store(Mode::ServFail as u8, Ordering::SeqCst);
    }

    /// Back to answering from the record map.
    pub fn resume_answering(&self) {
        self.state.mode.store(Mode::Answer as u8, Ordering::SeqCst);
    }

    /// Every query received so far (answered or not), as `"<name> <TYPE>"`
    /// with the name lower-cased and without the trailing dot.
    pub fn queries(&self) -> Vec<String> {
        self.state.queries.lock().unwrap().clone()
    }

    fn update(&self, name: &str, change: impl FnOnce(Option<Entry>) -> Entry) {
        let mut records = self.state.records.lock().unwrap();
        let key = normalize(name);
        let old = records.remove(&key);
        records.insert(key, change(old));
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        (self.stop)();
        self.task.abort();
    }
}

/// Binds a UDP socket on a free port and a TCP listener on the same port.
async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind a UDP socket on 127.0.0.1");
        let port = udp.local_addr().expect("UDP local address").port();
        if let Ok(tcp) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn fqdn(name: &str) -> Name {
    Name::from_ascii(format!("{name}.")).unwrap_or_else(|e| panic!("bad DNS name {name:?}: {e}"))
}

/// The answer to one question: response code and answer records.
struct Answer {
    code: ResponseCode,
    records: Vec<Record>,
    /// `false`: send nothing at all.
    respond: bool,
}

impl State {
    fn answer(&self, name: &str, query_type: RecordType) -> Answer {
        let ttl = self.ttl.load(Ordering::SeqCst);
        let records = self.records.lock().unwrap();
        let mut answers = Vec::new();
        let mut current = name.to_owned();
        for _ in 0..MAX_CNAME_CHAIN {
            let owner = fqdn(&current);
            match records.get(&current) {
                None => {
                    return Answer { code: ResponseCode::NXDomain, records: answers, respond: true };
                }
                Some(Entry::Silent) => {
                    return Answer { code: ResponseCode::ServFail, records: Vec::new(), respond: false };
                }
                Some(Entry::ServFail) => {
                    return Answer { code: ResponseCode::ServFail, records: Vec::new(), respond: true };
                }
                Some(Entry::Alias(target)) => {
                    answers.push(Record::from_rdata(owner, ttl, RData::CNAME(CNAME(fqdn(target)))));
                    if query_type == RecordType::CNAME {
                        break;
                    }
                    current = target.clone();
                }
                Some(Entry::Rotating { a, per_answer, next }) => {
                    if matches!(query_type, RecordType::A | RecordType::ANY) && !a.is_empty() {
                        let start = next.fetch_add(1, Ordering::SeqCst);
                        let picked = (0..(*per_answer).min(a.len())).map(|i| a[(start + i) % a.len()]);
                        answers.extend(picked.map(|ip| Record::from_rdata(owner.clone(), ttl, RData::A(A(ip)))));
                    }
                    return Answer { code: ResponseCode::NoError, records: answers, respond: true };
                }
                Some(Entry::Random { a, per_answer, random }) => {
                    if matches!(query_type, RecordType::A | RecordType::ANY) {
                        let mut picked = a.clone();
                        random.lock().unwrap().shuffle(&mut picked);
                        picked.truncate(*per_answer);
                        answers.extend(
                            picked.into_iter().map(|ip| Record::from_rdata(owner.clone(), ttl, RData::A(A(ip)))),
                        );
                    }
                    return Answer { code: ResponseCode::NoError, records: answers, respond: true };
                }
                Some(Entry::Addresses { a, aaaa }) => {
                    if matches!(query_type, RecordType::A | RecordType::ANY) {
                        answers.extend(a.iter().map(|ip| Record::from_rdata(owner.clone(), ttl, RData::A(A(*ip)))));
                    }
                    if matches!(query_type, RecordType::AAAA | RecordType::ANY) {
                        answers.extend(
                            aaaa.iter().map(|ip| Record::from_rdata(owner.clone(), ttl, RData::AAAA(AAAA(*ip)))),
                        );
                    }
                    return Answer { code: ResponseCode::NoError, records: answers, respond: true };
                }
            }
        }
        if query_type == RecordType::CNAME {
            return Answer { code: ResponseCode::NoError, records: answers, respond: true };
        }
        Answer { code: ResponseCode::ServFail, records: Vec::new(), respond: true }
    }
}

/// The hickory request handler over the shared [`State`].
struct Handler {
    state: Arc<State>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let no_response = || {
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header { metadata, counts: HeaderCounts::default() })
        };

        let question = request
            .request_info()
            .ok()
            .map(|info| (normalize(&info.query.name().to_string()), info.query.query_type()));
        if let Some((name, query_type)) = &question {
            self.state.queries.lock().unwrap().push(format!("{name} {query_type}"));
        }

        let mode = Mode::from_u8(self.state.mode.load(Ordering::SeqCst));
        if mode == Mode::Silent {
            return no_response();
        }

        let mut edns = None;
        if let Some(request_edns) = &request.edns {
            let mut response_edns = Edns::new();
            response_edns.set_max_payload(request_edns.max_payload().max(512));
            edns = Some(response_edns);
        }
        let builder = MessageResponseBuilder::new(&request.queries, edns.as_ref());

        let answer = match (&question, mode, request.metadata.op_code) {
            (Some((name, query_type)), Mode::Answer, OpCode::Query) => self.state.answer(name, *query_type),
            (None, _, _) => Answer { code: ResponseCode::FormErr, records: Vec::new(), respond: true },
            (_, _, OpCode::Query) => Answer { code: ResponseCode::ServFail, records: Vec::new(), respond: true },
            _ => Answer { code: ResponseCode::NotImp, records: Vec::new(), respond: true },
        };
        if !answer.respond {
            return no_response();
        }

        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        metadata.recursion_available = true;
        metadata.response_code = answer.code;

        // Negative answers (NXDOMAIN, NODATA) carry an SOA so that resolvers
        // cache them for the TTL only.
        let ttl = self.state.ttl.load(Ordering::SeqCst);
        let soa = if answer.records.is_empty() && answer.code != ResponseCode::ServFail {
            vec![Record::from_rdata(
                Name::root(),
                ttl,
                RData::SOA(SOA::new(fqdn("ns.test"), fqdn("hostmaster.test"), 1, 60, 60, 3600, ttl)),
            )]
        } else {
            Vec::new()
        };

        let response =
            builder.build(metadata, answer.records.iter(), std::iter::empty(), soa.iter(), std::iter::empty());
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                eprintln!("[dns] failed to send a response: {e}");
                no_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_server::net::runtime::TokioRuntimeProvider;
    use hickory_server::resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
    use hickory_server::resolver::{Resolver, TokioResolver};

    /// A resolver that asks only `server`, without caching, with a short timeout.
    fn resolver(server: SocketAddr, tcp: bool) -> TokioResolver {
        let mut connection = if tcp { ConnectionConfig::tcp() } else { ConnectionConfig::udp() };
        connection.port = server.port();
        let config = ResolverConfig::from_parts(
            None,
            Vec::new(),
            vec![NameServerConfig::new(server.ip(), true, vec![connection])],
        );
        let mut opts = ResolverOpts::default();
        opts.cache_size = 0;
        opts.timeout = Duration::from_millis(500);
        opts.attempts = 1;
        opts.ndots = 0;
        Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()
            .expect("resolver")
    }

    async fn lookup(resolver: &TokioResolver, name: &str) -> Result<Vec<IpAddr>, String> {
        let mut ips: Vec<IpAddr> =
            resolver.lookup_ip(format!("{name}.")).await.map_err(|e| e.to_string())?.iter().collect();
        ips.sort();
        Ok(ips)
    }

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn set_change_remove_stop_resume() {
        let dns = DnsServer::start().await;
        let udp = resolver(dns.addr(), false);
        let tcp = resolver(dns.addr(), true);
        let name = "proxy-1.proxy-abc.us-east-1.rds.amazonaws.com";

        assert!(lookup(&udp, name).await.is_err(), "unknown name must fail");

        dns.set_a(name, &[v4("10.1.0.5"), v4("10.1.1.7")]);
        let expected: Vec<IpAddr> = vec!["10.1.0.5".parse().unwrap(), "10.1.1.7".parse().unwrap()];
        assert_eq!(lookup(&udp, name).await.unwrap(), expected);
        assert_eq!(lookup(&tcp, name).await.unwrap(), expected, "over TCP");
        assert_eq!(lookup(&udp, &name.to_uppercase()).await.unwrap(), expected, "case-insensitive");

        dns.set_a(name, &[v4("10.1.2.9")]);
        assert_eq!(lookup(&udp, name).await.unwrap(), vec![IpAddr::from(v4("10.1.2.9"))]);

        dns.set_aaaa(name, &["fd00::9".parse().unwrap()]);
        let both = lookup(&udp, name).await.unwrap();
        assert!(both.contains(&"fd00::9".parse().unwrap()), "{both:?}");

        dns.remove(name);
        assert!(lookup(&udp, name).await.is_err(), "removed name must fail");

        dns.set_a(name, &[v4("10.1.0.5")]);
        dns.stop_answering();
        let queries_before = dns.queries().len();
        let started = std::time::Instant::now();
        let err = lookup(&udp, name).await.unwrap_err();
        assert!(
            started.elapsed() >= Duration::from_millis(400),
            "must time out, got {err} after {:?}",
            started.elapsed()
        );
        assert!(dns.queries().len() > queries_before, "the query arrived but got no answer");

        dns.servfail_mode();
        assert!(lookup(&udp, name).await.is_err(), "SERVFAIL must fail");

        dns.resume_answering();
        assert_eq!(lookup(&udp, name).await.unwrap(), vec![IpAddr::from(v4("10.1.0.5"))]);
    }

    #[tokio::test]
    async fn random_subsets_differ_and_cover_the_set() {
        let dns = DnsServer::start().await;
        let udp = resolver(dns.addr(), false);
        let set: Vec<Ipv4Addr> = ["10.3.0.1", "10.3.0.2", "10.3.0.3"].iter().map(|a| v4(a)).collect();
        dns.set_random_a("rr.example.internal", &set, 2, 7);
        let mut answers = std::collections::BTreeSet::new();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..30 {
            let answer = lookup(&udp, "rr.example.internal").await.unwrap();
            assert_eq!(answer.len(), 2, "{answer:?}");
            seen.extend(answer.iter().copied());
            answers.insert(answer);
        }
        assert_eq!(answers.len(), 3, "every 2-of-3 subset comes up: {answers:?}");
        assert_eq!(seen.len(), 3);
    }

    #[tokio::test]
    async fn follows_cnames_and_answers_nodata() {
        let dns = DnsServer::start().await;
        let udp = resolver(dns.addr(), false);
        dns.set_cname("cluster.example.internal", "writer.example.internal");
        dns.set_a("writer.example.internal", &[v4("10.2.0.1")]);

        let lookup_a = udp.lookup("cluster.example.internal.", RecordType::A).await.expect("A via CNAME");
        let types: Vec<RecordType> = lookup_a.answers().iter().map(|r| r.record_type()).collect();
        assert_eq!(types, vec![RecordType::CNAME, RecordType::A]);
        assert_eq!(lookup(&udp, "cluster.example.internal").await.unwrap(), vec![IpAddr::from(v4("10.2.0.1"))]);
        assert!(lookup_a.answers().iter().all(|r| r.ttl == DEFAULT_TTL));

        // The name exists but has no AAAA: an empty answer, not an error
        // that would make lookup_ip fail.
        let aaaa = udp.lookup("writer.example.internal.", RecordType::AAAA).await;
        assert!(aaaa.is_err() || aaaa.unwrap().answers().is_empty());

        // Re-pointing the alias takes effect at once.
        dns.set_a("other.example.internal", &[v4("10.2.0.2")]);
        dns.set_cname("cluster.example.internal", "other.example.internal");
        assert_eq!(lookup(&udp, "cluster.example.internal").await.unwrap(), vec![IpAddr::from(v4("10.2.0.2"))]);

        dns.set_ttl(30);
        let lookup_a = udp.lookup("other.example.internal.", RecordType::A).await.unwrap();
        assert_eq!(lookup_a.answers()[0].ttl, 30);

        // Per-name failures leave other names alone.
        dns.stop_answering_name("writer.example.internal");
        dns.servfail_name("cluster.example.internal");
        assert!(lookup(&udp, "writer.example.internal").await.is_err());
        assert!(lookup(&udp, "cluster.example.internal").await.is_err());
        assert_eq!(lookup(&udp, "other.example.internal").await.unwrap(), vec![IpAddr::from(v4("10.2.0.2"))]);
    }
}
